"""fp16 (and bf16) safety of SR models on real images: the largest |fp16 - fp32| output difference.

For each model, over every image of the given dataset folders (HR cropped to a multiple of the scale,
LR = the eval protocol's antialiased bicubic downscale, 8-bit), runs the network in fp32 and in fp16
on the same device and reports the largest absolute difference of the unclamped outputs in 1/255
units, how many 8-bit output levels differ after rounding, and the mean PSNR-Y against HR of each
form beside fp32's (the eval protocol: 8-bit output, crop = scale). The model issue's bar is 0.5/255.
Two fp16 forms are measured: ``engine``, what the engine runs (``PlainSR.mixed``: fp32 input,
head conv and skip, fp16 body), and ``all-fp16`` (the input and every layer in fp16); where the
device runs bf16 (a CUDA GPU with bf16, a CPU with native bf16), also ``engine-bf16``, the engine's
``--precision bf16`` form (the same with a bf16 body and an fp32 output). ``--forms`` picks some.

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


FORMS = ("engine", "all-fp16", "engine-bf16")


def bf16_runs(device: torch.device) -> bool:
    from vsr.engine.device import cpu_bf16_native

    return torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_bf16_native()


def drift(model_name: str, scale: int, images: list[Path], device: torch.device,
          forms: tuple[str, ...] = FORMS) -> dict:
    from vsr.archs import load_model, set_precision
    from vsr.metrics.benchmark import load_hr
    from vsr.metrics.fidelity import psnr_y, quantize
    from vsr.ops.resize import imresize_down

    net = load_model(model_name, scale).module.to(device).eval()
    modules: dict = {}
    if "all-fp16" in forms:
        modules["all-fp16"] = (copy.deepcopy(net).half(), torch.float16)
    for form, dtype in (("engine", torch.float16), ("engine-bf16", torch.bfloat16)):
        if form not in forms or (dtype == torch.bfloat16 and not bf16_runs(device)):
            continue
        engine_form = copy.deepcopy(net)
        if callable(getattr(engine_form, "mixed", None)):  # the network has an fp32-head form
            modules[form] = (engine_form, set_precision(engine_form, dtype))
    levels = lambda t: (t.clamp(0, 1) * 255).round()  # noqa: E731
    hrs = [load_hr(path, scale).to(device) for path in images]
    lrs = [quantize(imresize_down(hr.cpu(), scale)).to(device) for hr in hrs]
    with torch.no_grad():
        refs = [net(lr) for lr in lrs]
    psnr = lambda sr, hr: float(psnr_y(quantize(sr.clamp(0, 1)), hr, crop=scale)[0])  # noqa: E731
    row: dict = {"model": model_name, "scale": scale, "images": len(images),
                 "psnr_y_fp32": sum(psnr(r, hr) for r, hr in zip(refs, hrs)) / len(hrs)}
    for form, (module, in_dtype) in modules.items():
        worst, worst_levels, levels_changed, pixels, psnr_sum = 0.0, 0, 0, 0, 0.0
        for lr, ref, hr in zip(lrs, refs, hrs):
            with torch.no_grad():
                half = module(lr.to(in_dtype)).float()
            worst = max(worst, (half - ref).abs().max().item() * 255)
            step = (levels(half) - levels(ref)).abs()
            levels_changed += int((step > 0).sum())
            worst_levels = max(worst_levels, int(step.max()))
            pixels += ref.numel()
            psnr_sum += psnr(half, hr)
        row[form] = {"max_abs_diff_255": worst, "max_level_diff": worst_levels,
                     "fraction_levels_changed": levels_changed / max(pixels, 1), "within_bar": worst <= 0.5,
                     "psnr_y": psnr_sum / len(hrs)}
    return row


def main(argv: list[str] | None = None) -> int:
    from vsr.metrics.benchmark import find_datasets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", action="append", required=True, help="model name or weight file (repeatable)")
    ap.add_argument("-s", "--scale", type=int, required=True)
    ap.add_argument("--data", nargs="+", required=True, help="dataset folders of HR images")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--forms", nargs="+", choices=FORMS, default=list(FORMS))
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    images = [p for paths in find_datasets(args.data).values() for p in paths]
    rows = []
    for name in args.model:
        row = drift(name, args.scale, images, device, tuple(args.forms))
        rows.append(row)
        for form in FORMS:
            if form in row:
                r = row[form]
                low = "bf16" if form.endswith("bf16") else "fp16"
                print(f"{name} x{args.scale} on {device}, {form}: max |{low} - fp32| = {r['max_abs_diff_255']:.3f}/255 over "
                      f"{row['images']} images; 8-bit levels changed: {100 * r['fraction_levels_changed']:.4f}% "
                      f"(at most {r['max_level_diff']}); PSNR-Y {r['psnr_y']:.3f} dB (fp32 {row['psnr_y_fp32']:.3f}); "
                      f"bar 0.5/255: {'met' if r['within_bar'] else 'NOT met'}")
    if args.json:
        from vsr.bench.suite import git_commit

        doc = {"date": datetime.date.today().isoformat(), "commit": git_commit(), "device": str(device) if device.type == "cpu" else
               torch.cuda.get_device_name(device), "torch": torch.__version__,
               "command": " ".join(["python", *sys.argv]), "rows": rows}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
