"""How much high-frequency energy does an upscale invent, and how much does it lack?

For each model and image (MATLAB-like bicubic LR, 8-bit, as ``vsr eval``), the output and the HR are
compared window by window through the training's ``SpectralLoss`` (R, G and B; 16-px Hann windows
every 8 px; amplitude spectra, no phase): *excess* is the mean of the energy the output has beyond
the HR's, bin by bin (a pattern the picture lacks, like the x4 perceptual models' crosshatch),
*deficit* the mean of what it lacks (detail the LR no longer holds), and *two-sided* their sum (the
``mode="both"`` loss). Figures are x 1e-3, averaged over the images.

``--bins`` also prints, per model, where the excess sits: the mean excess of each DFT bin (rows: the
vertical frequency k/16 cycles per pixel, k = 0..15 with 8..15 the negative ones; columns: the
horizontal one, k = 0..8). A pattern locked to an x4 pixel-shuffle head's grid shows as peaks at k =
4 and 8 (periods of 4 and 2 pixels); the JSON always holds the map.

Excess is the ``mode="excess"`` training term itself, so it is a figure for models trained without
it; for those trained against it, look at the pictures (``benchmarks/crop_sheet.py``).

    python benchmarks/spectral_excess.py -s 4 -m compact-x4-fast -m compact-x4-fast-video \\
        --data ../shared/data/eval/BSD100 ../shared/data/eval/Kodak24 --max-images 8 --json out.json
"""

from __future__ import annotations

import argparse
import datetime
import sys

import torch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", action="append", required=True, help="a model or weight file (repeatable)")
    ap.add_argument("-s", "--scale", type=int, required=True)
    ap.add_argument("--data", nargs="+", required=True, help="image folders (or a folder of them)")
    ap.add_argument("--max-images", type=int, default=0, help="per dataset (0: all)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--bins", action="store_true", help="print each model's excess per DFT bin")
    ap.add_argument("--json", type=str, default=None)
    args = ap.parse_args(argv)

    from vsr.archs import load_model
    from vsr.bench.suite import git_commit, write_result
    from vsr.errors import VsrError
    from vsr.metrics import quantize
    from vsr.metrics.benchmark import find_datasets, load_hr
    from vsr.ops.resize import imresize_down
    from vsr.train.losses import SpectralLoss

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    loss = SpectralLoss(16, 8)
    nets = {m: load_model(m, args.scale).module.eval() for m in args.model}
    sums = {m: {"excess": 0.0, "deficit": 0.0} for m in args.model}
    bins = {m: torch.zeros(loss.patch, loss.patch // 2 + 1) for m in args.model}
    images = []
    try:
        datasets = find_datasets(args.data)
    except VsrError as e:
        print(f"spectral_excess: {e}", file=sys.stderr)
        return 1
    for dname, paths in datasets.items():
        for path in paths[: args.max_images or None]:
            hr = load_hr(path, args.scale)
            lr = quantize(imresize_down(hr, args.scale))
            truth = loss.spectrum(hr)
            images.append(f"{dname}/{path.name}")
            for m, net in nets.items():
                with torch.no_grad():
                    diff = loss.spectrum(quantize(net(lr).clamp(0, 1))) - truth
                sums[m]["excess"] += float(diff.clamp_min(0).mean())
                bins[m] += diff.clamp_min(0).mean((0, 1))
                sums[m]["deficit"] += float((-diff).clamp_min(0).mean())
    if not images:
        print(f"no image in {' '.join(args.data)}", file=sys.stderr)
        return 1
    rows = []
    print(f"{'model':<56} {'excess':>8} {'deficit':>8} {'two-sided':>9}   (x 1e-3, {len(images)} images)")
    for m in args.model:
        e, d = (sums[m][k] / len(images) * 1e3 for k in ("excess", "deficit"))
        grid = (bins[m] / len(images) * 1e3).tolist()
        rows.append({"model": m, "excess": round(e, 4), "deficit": round(d, 4), "two_sided": round(e + d, 4),
                     "excess_bins": [[round(v, 3) for v in row] for row in grid]})
        print(f"{m[-56:]:<56} {e:8.3f} {d:8.3f} {e + d:9.3f}")
    if args.bins:
        for r in rows:
            print(f"\n{r['model']}: excess per bin (x 1e-3; rows ky = 0..15, columns kx = 0..8, of 16)")
            for ky, row in enumerate(r["excess_bins"]):
                print(f"  {ky:2d} " + " ".join(f"{v:5.2f}" for v in row))
    if args.json:
        doc = {
            "command": "python benchmarks/spectral_excess.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "date": datetime.date.today().isoformat(), "commit": git_commit(), "device": "cpu",
            "protocol": f"x{args.scale}; LR = MATLAB-like bicubic, 8-bit; SpectralLoss(16, 8) amplitude spectra of R, G, B "
                        "windows of output and HR; excess = mean of the positive part of (output - HR), deficit of the "
                        "negative part; x 1e-3, mean over images",
            "images": images, "results": rows,
        }
        write_result(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
