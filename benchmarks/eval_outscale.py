"""Quality at scales the networks do not have (``--outscale``/``--size``), side by side in one run.

For each factor (default 1.5 and 3) and each image of the given dataset folders: HR is cropped so
that HR / factor is whole, LR is HR shrunk by the factor (antialiased Keys bicubic, the eval
protocol's kernel, then 8-bit). Each method brings LR back to the HR size:

- ``ffmpeg-lanczos``, ``ffmpeg-bicubic``: swscale straight to the size (PyAV ``reformat``, what
  ``ffmpeg -vf scale=W:H:flags=lanczos`` does);
- ``lanczos`` (whole factors 2-4 only): vsr's own Lanczos-3, what ``vsr upscale -s 3`` runs;
- ``compact-x2-fast+resize``, ``compact-x4-fast+resize`` (and vsr's default networks where they
  differ, or the ``-m`` ones): the network at its own scale, then :func:`vsr.ops.resize.resize_to`
  to the size, as ``vsr upscale --outscale`` runs it (which picks the default network of x2 up to
  2x, else of x4: the row marked ``*``).

Reports mean PSNR-Y and SSIM-Y (8-bit output, ceil(factor) pixels cropped at each border) and
ST-LPIPS per dataset and factor; ``--json`` writes them with the command, date and commit.

    python benchmarks/eval_outscale.py --data ../shared/data/eval --json benchmarks/results/<date>-cpu-eval-outscale.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch


def swscale(lr: torch.Tensor, width: int, height: int, interpolation: str) -> torch.Tensor:
    """``(1,3,h,w)`` [0,1] -> ``(1,3,height,width)`` through swscale in RGB (no colour conversion)."""
    rgb = (lr[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    out = frame.reformat(width, height, "rgb24", interpolation=interpolation).to_ndarray()
    return torch.from_numpy(out).permute(2, 0, 1)[None].float().div(255)


def main(argv: list[str] | None = None) -> int:
    from vsr.archs import DEFAULT_MODELS, load_model, supported_scales
    from vsr.io.geometry import model_scale_for
    from vsr.metrics.benchmark import find_datasets, load_hr
    from vsr.metrics.fidelity import psnr_y, quantize, ssim_y
    from vsr.metrics.stlpips import STLPIPS
    from vsr.ops.resize import resize_to

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", required=True, help="dataset folders (or a folder of them)")
    ap.add_argument("--factors", nargs="+", type=Fraction, default=[Fraction(3, 2), Fraction(3)])
    ap.add_argument("--max-images", type=int, default=0, help="per dataset (0: all)")
    ap.add_argument("--no-lpips", action="store_true")
    ap.add_argument("-m", "--model", action="append", help="a x2 or x4 network to run (repeatable; default: "
                    "compact-x2-fast, compact-x4-fast and vsr's default networks)")
    ap.add_argument("--json", type=str, default=None)
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    datasets = find_datasets(args.data)
    names = args.model or list(dict.fromkeys(["compact-x2-fast", "compact-x4-fast", DEFAULT_MODELS[2], DEFAULT_MODELS[4]]))
    nets = {name: load_model(name, supported_scales(name.partition("@")[0])[0]).module.eval() for name in names}
    metric = None if args.no_lpips else STLPIPS("alex").eval()
    rows = []
    for factor in args.factors:
        step = factor.numerator  # HR sides multiple of this -> LR = HR / factor is whole
        crop = math.ceil(factor)
        for name, paths in datasets.items():
            paths = paths[: args.max_images] if args.max_images else paths
            sums: dict[str, list[float]] = {}
            auto = None
            for path in paths:
                hr = load_hr(path, step)
                H, W = hr.shape[-2:]
                h, w = int(H / factor), int(W / factor)
                lr = quantize(resize_to(hr, h, w))
                auto = f"{DEFAULT_MODELS[model_scale_for(w, h, W, H)]}+resize"
                outs = {
                    "ffmpeg-lanczos": swscale(lr, W, H, "LANCZOS"),
                    "ffmpeg-bicubic": swscale(lr, W, H, "BICUBIC"),
                }
                if factor.denominator == 1 and factor.numerator in (2, 3, 4):  # vsr's own -m lanczos
                    outs["lanczos"] = load_model("lanczos", factor.numerator).module(lr)
                for net_name, net in nets.items():
                    outs[f"{net_name}+resize"] = resize_to(net(lr).clamp(0, 1), H, W)
                for method, sr in outs.items():
                    sr = quantize(sr)
                    scores = [float(psnr_y(sr, hr, crop=crop)[0]), float(ssim_y(sr, hr, crop=crop)[0])]
                    if metric is not None:
                        scores.append(float(metric(sr[..., crop:-crop, crop:-crop], hr[..., crop:-crop, crop:-crop])[0]))
                    acc = sums.setdefault(method, [0.0] * len(scores))
                    for i, v in enumerate(scores):
                        acc[i] += v
            for method, acc in sums.items():
                n = len(paths)
                row = {"factor": str(factor), "dataset": name, "method": method, "images": n,
                       "psnr_y": round(acc[0] / n, 3), "ssim_y": round(acc[1] / n, 4),
                       "stlpips": round(acc[2] / n, 4) if metric is not None else None,
                       "vsr_auto": method == auto}
                rows.append(row)
                lp = f"  ST-LPIPS {row['stlpips']:.4f}" if metric is not None else ""
                print(f"x{float(factor):g} {name:9s} {method:34s}{'*' if row['vsr_auto'] else ' '} "
                      f"PSNR-Y {row['psnr_y']:6.2f}  SSIM-Y {row['ssim_y']:.4f}{lp}", flush=True)
    if args.json:
        from vsr.bench.suite import git_commit

        report = {
            "command": "python benchmarks/eval_outscale.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "date": datetime.date.today().isoformat(), "commit": git_commit(), "device": "cpu",
            "torch": torch.__version__, "protocol": __doc__.split("\n\n")[1], "rows": rows,
        }
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
