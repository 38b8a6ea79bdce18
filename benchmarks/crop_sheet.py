"""Look before you believe a metric: crops of several models' outputs side by side, one PNG.

For each ``--crop IMAGE:Y:X:SIZE`` (HR pixels; the image is cropped to a multiple of the scale) the
whole image is degraded as ``vsr eval`` degrades it (MATLAB-like bicubic, 8-bit; with ``--lr-crf``
then H.264), each model upscales the whole LR, and the sheet gets one row: HR | model 1 | model 2 ...
(each tile ``SIZE`` px, enlarged ``--zoom`` times with nearest neighbour so single pixels show).

    python benchmarks/crop_sheet.py -s 4 -m lanczos -m compact-x4-fast -m compact-x4-fast-video \\
        --crop ../shared/data/eval/Kodak24/kodim13.png:40:300:128 -o sheet.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch


def parse_crop(text: str) -> tuple[Path, int, int, int]:
    path, y, x, size = text.rsplit(":", 3)
    return Path(path), int(y), int(x), int(size)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", action="append", required=True, help="a model (repeatable), in column order")
    ap.add_argument("-s", "--scale", type=int, required=True)
    ap.add_argument("--crop", action="append", required=True, type=parse_crop, help="IMAGE:Y:X:SIZE (repeatable)")
    ap.add_argument("--lr-crf", type=int, default=None, help="also H.264-compress the LR at this crf")
    ap.add_argument("--zoom", type=int, default=2)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)

    from vsr.archs import load_model
    from vsr.io.image import write_image
    from vsr.metrics import quantize
    from vsr.metrics.benchmark import load_hr
    from vsr.ops.resize import imresize_down

    s = args.scale
    nets = [load_model(m, s).module.eval() for m in args.model]
    rows = []
    for path, y, x, size in args.crop:
        hr = load_hr(path, s)
        if y + size > hr.shape[-2] or x + size > hr.shape[-1]:
            print(f"crop {y}:{x}:{size} is outside {path} ({hr.shape[-1]}x{hr.shape[-2]})", file=sys.stderr)
            return 1
        lr = quantize(imresize_down(hr, s))
        if args.lr_crf is not None:
            from vsr.train.degrade import h264_roundtrip

            lr = quantize(h264_roundtrip(lr[0], args.lr_crf)[None])
        tiles = [hr]
        with torch.no_grad():
            tiles += [quantize(net(lr).clamp(0, 1)) for net in nets]
        rows.append(torch.cat([t[..., y : y + size, x : x + size] for t in tiles], -1))
    sheet = torch.cat(rows, -2)[0].permute(1, 2, 0)
    sheet = sheet.repeat_interleave(args.zoom, 0).repeat_interleave(args.zoom, 1)
    write_image(Path(args.output), (sheet.numpy() * 255).round().astype(np.uint8))
    print(f"wrote {args.output} (columns: HR, {', '.join(args.model)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
