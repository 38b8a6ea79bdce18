"""Steadiness under motion, measured on stills: does a model give the same output for one picture
whatever the sub-pixel phase at which it was sampled (and, with ``--lr-crf``, whatever codec noise
it got)? Side by side for several models in one run.

For each image (HR cropped to a multiple of the scale) and each shift ``(dy, dx)`` of a fixed set
(HR pixels; most not multiples of the scale, so the two LR frames sample the picture at different
phases): frame A is the HR crop at the origin, frame B the same-size crop moved by the shift. Both
are degraded on their own (MATLAB-like bicubic, 8-bit; with ``--lr-crf`` each then goes through
H.264 as the second frame of its own two-frame clip, as ``vsr eval --lr-crf`` does) and upscaled.
Where they overlap the truth is identical, so any difference between the two outputs there is
detail that would shimmer in a video of a slow pan. Reported per dataset and method:

- ``spsnr_y``: PSNR-Y of output A against output B on the overlap (8-bit, ``4 * scale`` pixels
  of each crop edge left out): higher is steadier (inf = identical);
- ``disagreement``: mean absolute RGB difference there, in [0,1] units (what
  :class:`vsr.train.losses.ShiftConsistencyLoss` trains down, with the same margin at x4).

It is the quantity the temporal training loss optimises, measured here on images it never trained
on; ``vsr eval --temporal`` on real frames (Vid4) is the independent check.

    python benchmarks/eval_stability.py -s 4 -m compact-x4-fast -m compact-x4-fast-video --data ../shared/data/eval/Set14 \\
        [--lr-crf 23] --json benchmarks/results/<date>-cpu-eval-stability-x4.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from pathlib import Path

import torch

SHIFTS_HR = ((1, 0), (0, 2), (3, 1), (2, 3), (5, 6))  # HR pixels; at x2 and x4 mostly sub-LR-pixel phases


def shifted_pair(hr: torch.Tensor, shift: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Two equal crops of ``hr (1,3,H,W)``, the second moved by ``shift`` (non-negative), so that
    ``b[..., y, x] == a[..., y + dy, x + dx]``; sizes ``H - max_shift`` rounded down to a multiple of 8."""
    dy, dx = shift
    m = max(s for pair in SHIFTS_HR for s in pair)
    h, w = (hr.shape[-2] - m) // 8 * 8, (hr.shape[-1] - m) // 8 * 8
    return hr[..., :h, :w], hr[..., dy : dy + h, dx : dx + w]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", action="append", required=True, help="a model (repeatable); bicubic and lanczos are added")
    ap.add_argument("-s", "--scale", type=int, required=True)
    ap.add_argument("--data", nargs="+", required=True, help="dataset folders (or a folder of them)")
    ap.add_argument("--lr-crf", type=int, default=None, help="also H.264-compress each LR frame at this crf")
    ap.add_argument("--max-images", type=int, default=0, help="per dataset (0: all)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", type=str, default=None)
    args = ap.parse_args(argv)
    with torch.no_grad():  # not set_grad_enabled: the caller's grad mode (a test's) is left as it was
        return _run(args, argv)


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    from vsr.archs import load_model
    from vsr.bench.suite import git_commit
    from vsr.metrics.benchmark import find_datasets, load_hr
    from vsr.metrics.fidelity import quantize, rgb_to_y
    from vsr.train.degrade import BicubicDegradation, h264_roundtrip
    from vsr.train.losses import shifted_overlap

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    s = args.scale
    names = list(dict.fromkeys([*args.model, "bicubic", "lanczos"]))
    nets = {n: load_model(n, s).module.eval() for n in names}
    degrade = BicubicDegradation(s)
    margin = 4 * s
    results: dict[str, dict[str, dict[str, float]]] = {}
    for dname, paths in find_datasets(args.data).items():
        paths = paths[: args.max_images or None]
        sums = {n: {"mse": 0.0, "l1": 0.0} for n in names}
        count = 0
        for path in paths:
            hr = load_hr(path, s)
            for k, shift in enumerate(SHIFTS_HR):
                frames = []
                for j, crop in enumerate(shifted_pair(hr, shift)):
                    lr = degrade(crop)
                    if args.lr_crf is not None:  # a codec shift of its own per frame, as each frame's noise is its own
                        lr = quantize(h264_roundtrip(lr[0], args.lr_crf, (1 + j, k % 3 - 1))[None])
                    frames.append(lr)
                for n, net in nets.items():
                    a, b = (quantize(net(lr).clamp(0, 1)) for lr in frames)
                    # b shows the picture moved by the shift: a[..., y + dy, x + dx] == b[..., y, x] in the truth
                    oa, ob = shifted_overlap(a, b, *shift, margin)
                    sums[n]["l1"] += float((oa - ob).abs().mean())
                    sums[n]["mse"] += float((rgb_to_y(oa.double()) - rgb_to_y(ob.double())).pow(2).mean()) / 255**2
                count += 1
        results[dname] = {
            n: {"spsnr_y": (10 * math.log10(count / v["mse"]) if v["mse"] > 0 else math.inf),
                "disagreement": v["l1"] / count, "pairs": count}
            for n, v in sums.items()
        }
        print(f"{dname} ({len(paths)} images x {len(SHIFTS_HR)} shifts, x{s}"
              f"{f', LR crf {args.lr_crf}' if args.lr_crf is not None else ''}):")
        print(f"  {'method':<34} {'sPSNR-Y':>8} {'disagreement':>12}")
        for n, r in results[dname].items():
            print(f"  {n:<34} {r['spsnr_y']:8.2f} {r['disagreement']:12.4f}")
    if args.json:
        doc = {
            "command": "python benchmarks/eval_stability.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "date": datetime.date.today().isoformat(), "commit": git_commit(), "device": "cpu",
            "scale": s, "lr_crf": args.lr_crf, "shifts_hr": SHIFTS_HR, "margin": margin,
            "protocol": "pairs of equal HR crops moved by each shift, each degraded on its own (bicubic, 8-bit; "
                        "with lr_crf H.264 per frame); sPSNR-Y = PSNR-Y of one output against the other on their "
                        "overlap (pooled MSE over pairs), margin px of each crop edge left out; disagreement = mean |A-B| RGB",
            "datasets": results,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
