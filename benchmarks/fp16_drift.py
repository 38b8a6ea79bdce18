"""fp16 safety of SR models on real images: the largest |fp16 - fp32| output difference.

For each model, over every image of the given dataset folders (HR cropped to a multiple of the scale,
LR = the eval protocol's antialiased bicubic downscale, 8-bit), runs the network in fp32 and in fp16
on the same device and reports the largest absolute difference of the unclamped outputs in 1/255
units, and how many 8-bit output levels differ after rounding. The model issue's bar is 0.5/255.
Two fp16 forms are measured: ``engine``, what the engine runs (``PlainSR.mixed_half``: fp32 input,
head conv and skip, fp16 body), and ``all-fp16`` (the input and every layer in fp16).

    python benchmarks/fp16_drift.py -m compact-x2-fast -s 2 --data ../shared/data/eval/Set5 ../shared/data/eval/Set14

On the CPU, PyTorch's fp16 convolutions are used (slow, and not the CUDA kernels); on CUDA the
result is what the engine's fp16 path sees. Prints one line per model; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import sys
from pathlib import Path

import torch


def drift(model_name: str, scale: int, images: list[Path], device: torch.device) -> dict:
    from vsr.archs import load_model, set_precision
    from vsr.metrics.benchmark import load_hr
    from vsr.metrics.fidelity import quantize
    from vsr.ops.resize import imresize_down

    net = load_model(model_name, scale).module.to(device).eval()
    forms = {"all-fp16": (copy.deepcopy(net).half(), torch.float16)}
    engine_form = copy.deepcopy(net)
    if set_precision(engine_form, torch.float16) == torch.float32:  # the network has an fp32-head form
        forms["engine"] = (engine_form, torch.float32)
    levels = lambda t: (t.clamp(0, 1) * 255).round()  # noqa: E731
    lrs = [quantize(imresize_down(load_hr(path, scale), scale)).to(device) for path in images]
    with torch.no_grad():
        refs = [net(lr) for lr in lrs]
    row: dict = {"model": model_name, "scale": scale, "images": len(images)}
    for form, (module, in_dtype) in forms.items():
        worst, worst_levels, levels_changed, pixels = 0.0, 0, 0, 0
        for lr, ref in zip(lrs, refs):
            with torch.no_grad():
                half = module(lr.to(in_dtype)).float()
            worst = max(worst, (half - ref).abs().max().item() * 255)
            step = (levels(half) - levels(ref)).abs()
            levels_changed += int((step > 0).sum())
            worst_levels = max(worst_levels, int(step.max()))
            pixels += ref.numel()
        row[form] = {"max_abs_diff_255": worst, "max_level_diff": worst_levels,
                     "fraction_levels_changed": levels_changed / max(pixels, 1), "within_bar": worst <= 0.5}
    return row


def main(argv: list[str] | None = None) -> int:
    from vsr.metrics.benchmark import find_datasets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", action="append", required=True, help="model name or weight file (repeatable)")
    ap.add_argument("-s", "--scale", type=int, required=True)
    ap.add_argument("--data", nargs="+", required=True, help="dataset folders of HR images")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    images = [p for paths in find_datasets(args.data).values() for p in paths]
    rows = []
    for name in args.model:
        row = drift(name, args.scale, images, device)
        rows.append(row)
        for form in ("engine", "all-fp16"):
            if form in row:
                r = row[form]
                print(f"{name} x{args.scale} on {device}, {form}: max |fp16 - fp32| = {r['max_abs_diff_255']:.3f}/255 over "
                      f"{row['images']} images; 8-bit levels changed: {100 * r['fraction_levels_changed']:.4f}% "
                      f"(at most {r['max_level_diff']}); bar 0.5/255: {'met' if r['within_bar'] else 'NOT met'}")
    if args.json:
        from vsr.bench.suite import git_commit

        doc = {"date": datetime.date.today().isoformat(), "commit": git_commit(), "device": str(device) if device.type == "cpu" else
               torch.cuda.get_device_name(device), "torch": torch.__version__,
               "command": " ".join(["python", *sys.argv]), "rows": rows}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
