"""Monitor cost: `vsr upscale` fps with the quality monitor off and on, in one run.

Runs alternate (off, on, off, on, ...) on the same clip, model and frames so drift of the machine
hits both alike; the best run of each is kept. The goal is "on" within 5% of "off": the monitor is a
side branch that only takes frames when free. On a CPU-only machine it shares the cores with the
pipeline, so there it does cost throughput; on a GPU machine it runs on a low-priority stream.

    python benchmarks/bench_monitor.py --clip sample:bikes --frames 150 --every 30 --metrics student stlpips
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from vsr.bench.suite import result_header, write_result
from vsr.config import PipelineConfig, load
from vsr.engine.device import resolve_device
from vsr.io.samples import is_sample, resolve_sample
from vsr.pipeline.monitor import MonitorOptions
from vsr.pipeline.upscale import UpscaleJob


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="sample:bikes")
    ap.add_argument("--model", default="auto")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--every", type=int, default=30)
    ap.add_argument("--preset", default="veryfast")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--metrics", nargs="+", default=["student"], choices=["student", "stlpips", "both", "none"],
                    help="monitor metric(s) to compare against off, each in its own run")
    ap.add_argument("--budget", type=float, default=MonitorOptions.budget,
                    help="monitor duty-cycle budget (fraction of wall time it may score; 0 = whenever free)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    clip = str(resolve_sample(args.clip)) if is_sample(args.clip) else args.clip
    config = load(PipelineConfig, None, [f'model.name="{args.model}"', f"model.scale={args.scale}",
                                         f'encode.preset="{args.preset}"', f'runtime.device="{args.device}"'])
    best: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for mode in ("off", *args.metrics):
                monitor = MonitorOptions(every=args.every, perceptual=mode, budget=args.budget) if mode != "off" else None
                job = UpscaleJob(clip, Path(tmp) / f"{mode}{i}.mkv", config, overwrite=True,
                                 max_frames=args.frames, monitor=monitor)
                r = job.run()
                run = {"frames": r.frames, "seconds": round(r.seconds, 3), "fps": round(r.fps, 2)}
                if mode != "off":
                    run["scored"] = r.monitor["frames_scored"] if r.monitor else 0
                    run["skipped"] = r.stats.tap_skipped.get("monitor", 0) if r.stats else 0
                    run["rested"] = r.monitor["frames_rested"] if r.monitor else 0
                    run["busy_fraction"] = round(r.monitor["busy_s"] / r.seconds, 3) if r.monitor else 0
                    run["monitor_mean"] = r.monitor["mean"] if r.monitor else {}
                if run["fps"] > best.get(mode, {}).get("fps", 0):
                    best[mode] = run
                print(f"{mode:>7} run {i}: {run['fps']:.2f} fps"
                      + (f", {run['scored']} frames scored, {run['skipped']} skipped while busy, {run['rested']} passed over"
                         f" (budget), monitor busy {run['busy_fraction']:.0%} of the time" if mode != "off" else ""))
    ratios = {}
    for mode in args.metrics:
        ratios[mode] = ratio = round(best[mode]["fps"] / best["off"]["fps"], 3)
        print(f"monitor on ({mode}) / off = {ratio:.3f} ({(1 - ratio) * 100:+.1f}% slower), goal >= 0.95")
    record = {**result_header("monitor", argv, resolve_device(args.device)),
              "clip": Path(clip).name, "model": args.model, "every": args.every, "budget": args.budget, "frames": args.frames,
              "encoder": f"libx264 {args.preset}", "results": best, "on_over_off": ratios}
    if args.json:
        write_result(args.json, record)
    return record


if __name__ == "__main__":
    main()
