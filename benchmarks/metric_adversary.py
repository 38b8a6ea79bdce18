"""What does a perceptual metric reward when a network is free to please it? Optimise the pixels
of an upscale against each ST-LPIPS network and score the result with the other one.

A training loss is a metric that the network is optimised against, so what matters is not only how
well the metric ranks ordinary distortions but what it accepts as "close" once something searches
for it. For each image (a centre crop of the HR, ``--crop`` px) the starting point is the bicubic
upscale of its LR (MATLAB-like bicubic, 8-bit). For each network (alex, vgg) the pixels are moved by
Adam to lower ``ST-LPIPS_net(x, HR)`` alone for ``--steps`` steps (clamped to [0,1]). Reported per
image and on average: each result's distance under both networks, PSNR-Y and SSIM-Y against the
HR, beside the starting point's. A metric that a search drives to near zero while the other network,
PSNR and SSIM all say the picture got further from the truth is one a network can fool; with
``--sheet`` a PNG shows HR | start | alex-optimised | vgg-optimised for each image.

``--spectral-weight W`` (one or more) adds a pair of training losses: ST-LPIPS alex + W x
``SpectralLoss`` (``loss.spectral_weight``: a phase-free local amplitude-spectrum term), to see whether
the pair still accepts AlexNet's checker.

    python benchmarks/metric_adversary.py --data ../shared/data/eval/Kodak24 --max-images 4 \\
        --json benchmarks/results/<date>-cpu-metric-adversary.json --sheet benchmarks/results/<date>-cpu-metric-adversary.png
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch

NETS = ("alex", "vgg")


def _alex_and_spectral(alex, spectral, weight: float, x: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    return alex(x, hr).mean() + weight * spectral(x, hr)


def _line(what: str, r: dict) -> str:
    return (f"  {what:<24} ST-LPIPS alex {r['stlpips_alex']:.4f}  vgg {r['stlpips_vgg']:.4f}  "
            f"PSNR-Y {r['psnr_y']:6.2f}  SSIM-Y {r['ssim_y']:.4f}  spectral {r['spectral']:.4f}")


def optimise(start: torch.Tensor, hr: torch.Tensor, metric, steps: int, lr: float) -> torch.Tensor:
    """``start`` moved by Adam (``steps`` steps, learning rate ``lr``) to lower ``metric(x, hr)``, kept in [0,1]."""
    x = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        metric(x, hr).mean().backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    return x.detach()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", required=True, help="image folders (or a folder of them)")
    ap.add_argument("-s", "--scale", type=int, default=4)
    ap.add_argument("--crop", type=int, default=128, help="HR centre crop, px")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--max-images", type=int, default=0, help="per dataset (0: all)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--spectral-weight", type=float, nargs="*", default=[],
                    help="also optimise ST-LPIPS alex + W x the training's SpectralLoss, for each W given")
    ap.add_argument("--spectral-mode", default="both", choices=("both", "excess"), help="SpectralLoss mode")
    ap.add_argument("--json", type=str, default=None)
    ap.add_argument("--sheet", type=str, default=None, help="write a PNG of the crops")
    args = ap.parse_args(argv)

    from vsr.archs import load_model
    from vsr.bench.suite import git_commit
    from vsr.io.image import write_image
    from vsr.metrics import psnr_y, quantize, ssim_y
    from vsr.metrics.benchmark import find_datasets, load_hr
    from vsr.metrics.stlpips import STLPIPS
    from vsr.ops.resize import imresize_down
    from vsr.train.losses import SpectralLoss

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    s, c = args.scale, args.crop
    metrics = {n: STLPIPS(n) for n in NETS}
    spectral = SpectralLoss(mode=args.spectral_mode)
    objectives = {f"{n}-optimised": metrics[n] for n in NETS}
    for w in args.spectral_weight:
        objectives[f"alex+{w:g}{args.spectral_mode}-optimised"] = partial(_alex_and_spectral, metrics["alex"], spectral, w)
    bicubic = load_model("bicubic", s).module.eval()
    rows, tiles = [], []
    for dname, paths in find_datasets(args.data).items():
        for path in paths[: args.max_images or None]:
            hr = load_hr(path, s)
            h, w = hr.shape[-2:]
            if min(h, w) < c:
                continue
            y0, x0 = (h - c) // 2 // s * s, (w - c) // 2 // s * s
            hr = hr[..., y0 : y0 + c, x0 : x0 + c]
            with torch.no_grad():
                start = quantize(bicubic(quantize(imresize_down(hr, s))).clamp(0, 1))
            pictures = {"start": start}
            for what, objective in objectives.items():
                pictures[what] = quantize(optimise(start, hr, objective, args.steps, args.lr))
            row = {"image": f"{dname}/{path.name}"}
            with torch.no_grad():
                for what, x in pictures.items():
                    row[what] = {
                        **{f"stlpips_{n}": float(metrics[n](x, hr)[0]) for n in NETS},
                        "psnr_y": float(psnr_y(x, hr, crop=s)[0]), "ssim_y": float(ssim_y(x, hr, crop=s)[0]),
                        "spectral": float(spectral(x, hr)),
                    }
            rows.append(row)
            print(row["image"])
            for what in pictures:
                print(_line(what, row[what]))
            tiles.append(torch.cat([hr, *pictures.values()], -1))
    if not rows:
        print(f"no image of at least {c}x{c} px in {' '.join(args.data)}", file=sys.stderr)
        return 1
    mean = {what: {k: float(np.mean([r[what][k] for r in rows])) for k in rows[0][what]} for what in rows[0] if what != "image"}
    print(f"mean over {len(rows)} images:")
    for what, r in mean.items():
        print(_line(what, r))
    if args.sheet:
        sheet = torch.cat(tiles, -2)[0].permute(1, 2, 0)
        write_image(Path(args.sheet), (sheet.numpy() * 255).round().astype(np.uint8))
        print(f"wrote {args.sheet} (columns: HR, start, {', '.join(objectives)})")
    if args.json:
        doc = {
            "command": "python benchmarks/metric_adversary.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "date": datetime.date.today().isoformat(), "commit": git_commit(), "device": "cpu",
            "protocol": f"HR centre crop {c}px; start = bicubic x{s} of the MATLAB-like bicubic 8-bit LR; pixels optimised "
                        f"by Adam (lr {args.lr}, {args.steps} steps, clamped to [0,1]) against ST-LPIPS(net, HR) alone"
                        + "".join(f", and against ST-LPIPS(alex, HR) + {w:g} x SpectralLoss(HR, mode={args.spectral_mode})"
                                for w in args.spectral_weight)
                        + "; all pictures scored 8-bit",
            "images": rows, "mean": mean,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
