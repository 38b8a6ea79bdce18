"""The benchmark suite behind the README's performance section: ``vsr bench`` on the built-in clips
(360p, 540p, 720p, 1080p) plus the resolution (360p..2160p) and batch sweep, written to
``benchmarks/results/<date>-<device>[-<label>].json`` (and ``.png`` when matplotlib is installed).

Each clip records, separately: decode alone, the engine alone, the pipeline end to end without
encode, and with a software encode (libx264 by default: H100/H200 have no NVENC, so a GPU run still
encodes on the CPU; pass ``--codec h264_nvenc`` on a GPU that has it, as an extra run), with the
naive loop and FFmpeg's scalers beside them.

    python benchmarks/bench_suite.py --label smoke                # CPU-sized: 6 frames a clip (~2 min)
    python benchmarks/bench_suite.py --frames 200 --repeats 3     # on a GPU: stable figures
    python benchmarks/bench_suite.py --frames 200 --batch 4 --backend compile --label compile-b4
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import sys
from pathlib import Path

from vsr.bench.clips import DEFAULT_CLIPS, SWEEP_SIZES
from vsr.bench.report import format_report, plot_scaling, validate_report
from vsr.bench.suite import BenchRun, BenchSettings, resolve_clips, write_result
from vsr.config import PipelineConfig, load

RESULTS = Path(__file__).resolve().parent / "results"


def result_name(report: dict, label: str) -> str:
    """``2026-11-22-cpu-amd-epyc`` / ``2026-11-22-nvidia-h100-80gb-hbm3`` (+ ``-label``)."""
    day = report["date"][:10]
    machine = report["machine"]
    what = machine["gpu"] if report["device"].startswith("cuda") else f"cpu {machine['cpu']}"
    slug = re.sub(r"[^a-z0-9]+", "-", what.lower()).strip("-")[:40]
    return "-".join(part for part in (day, slug, label) if part)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="*", help=f"default: the built-in {', '.join(DEFAULT_CLIPS)}")
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--model", default="auto")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--backend", default="eager")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--codec", default="libx264")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--sweep-sizes", default=",".join(SWEEP_SIZES))
    ap.add_argument("--sweep-batches", default="1,2,4,8")
    ap.add_argument("--label", default="", help="suffix of the result's name, e.g. smoke")
    ap.add_argument("--note", default="", help="free text stored in the JSON (what this run is)")
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    config = load(PipelineConfig, None, [
        f'model.name="{args.model}"', f"model.scale={args.scale}", f"model.batch={args.batch}",
        f'model.backend="{args.backend}"', f'runtime.device="{args.device}"',
        f'encode.codec="{args.codec}"', f'encode.preset="{args.preset}"',
    ])
    settings = BenchSettings(
        config=config, frames=args.frames, repeats=args.repeats,
        sweep_sizes=tuple(args.sweep_sizes.split(",")),
        sweep_batches=tuple(int(b) for b in args.sweep_batches.split(",")),
    )
    command = shlex.join(["python", "benchmarks/bench_suite.py", *(argv if argv is not None else sys.argv[1:])])
    progress = lambda text: print(f"bench_suite: {text}", file=sys.stderr, flush=True)  # noqa: E731
    suite = {"label": args.label, "note": args.note}

    def save(report: dict, quiet: bool = True) -> Path:
        # after each clip too ("complete": false until the end): a run stopped by a time limit
        # keeps the clips it measured
        stem = args.out_dir / result_name(report, args.label)
        write_result(stem.with_suffix(".json"), {**report, "suite": suite}, quiet=quiet)
        return stem

    report = BenchRun(settings, progress).run(resolve_clips(args.clips, args.frames), command=command, on_part=save)
    report["suite"] = suite
    print(format_report(report))
    for problem in validate_report(report):
        print(f"warning: inconsistent figure: {problem}", file=sys.stderr)
    stem = save(report, quiet=False)
    if importlib.util.find_spec("matplotlib") is not None:
        plot_scaling(report, stem.with_suffix(".png"))
        print(f"wrote {stem.with_suffix('.png')}")
    return report


if __name__ == "__main__":
    main()
