"""Consecutive frames of video clips as PNG folders, for ``vsr eval --temporal`` on real footage.

Each clip becomes ``OUT/<name>/00000000.png ...``: ``--count`` frames from frame ``--start`` (in
decode order, RGB as PyAV converts them). The clips' own frames are the HR; ``vsr eval`` makes the
LR from them.

    python benchmarks/clip_frames.py ../shared/data/video/sam2/01_dog.mp4 ... -o runs/clips [--start 60 --count 9]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def extract(clip: Path, out: Path, start: int, count: int) -> int:
    """Write frames ``start .. start+count-1`` of ``clip`` into ``out``; returns how many were written."""
    import av

    from vsr.io.image import write_image

    out.mkdir(parents=True, exist_ok=True)
    written = 0
    with av.open(str(clip)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i < start:
                continue
            write_image(out / f"{written:08d}.png", frame.to_ndarray(format="rgb24"))
            written += 1
            if written == count:
                break
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--start", type=int, default=60)
    ap.add_argument("--count", type=int, default=9)
    args = ap.parse_args(argv)
    for clip in args.clips:
        name = clip.stem.split("_")[-1]  # 01_dog -> dog
        n = extract(clip, args.out / name, args.start, args.count)
        print(f"{clip} -> {args.out / name}: {n} frames")
        if n < args.count:
            print(f"warning: {clip} has only {n} frames from frame {args.start}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
