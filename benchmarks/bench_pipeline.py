"""Pipeline benchmark: how much of the engine's speed survives decode, colour, encode and threading.

In one run, on the same clip, model, frames and encoder settings, it measures:

- engine alone: the model on pre-decoded, pre-uploaded frames (warmed up, synchronised) — a ceiling;
- naive loop: decode a frame, convert, infer, convert back, encode, repeat, in one thread;
- pipeline: ``vsr upscale`` itself (an :class:`UpscaleJob`: threaded stages, bounded queues, pinned
  rings/streams on CUDA, atomic output);

and prints fps and the ratios pipeline/naive (speed-up from the staged design) and pipeline/engine
(efficiency: 1.0 means I/O is fully hidden behind inference). Results go to JSON with the device,
date, command, commit and library versions. The measurements are the library's (``vsr.bench``),
shared with ``vsr bench`` and ``benchmarks/bench_suite.py``; this script adds the real
``UpscaleJob`` and interleaved repeats.

    python benchmarks/bench_pipeline.py --clip sample:bikes --frames 100 --json benchmarks/results/x.json
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from vsr.bench import measure
from vsr.bench.suite import result_header, write_result
from vsr.config import PipelineConfig, load
from vsr.io.media import MediaInput
from vsr.io.samples import is_sample, resolve_sample
from vsr.pipeline.upscale import UpscaleJob, build_engine


def pipeline(clip: str, config: PipelineConfig, frames: int, out: Path) -> dict:
    result = UpscaleJob(clip, out, config, overwrite=True, max_frames=frames).run()
    report = measure.stage_report(result.stats) if result.stats else {}
    return {**measure.timing(result.frames, result.seconds), **report,
            "latency_p50_ms": result.latency_p50_ms}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="sample:bikes", help="video file or sample:NAME")
    ap.add_argument("--model", default="auto")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--preset", default="medium", help="x264 preset for both encoding runs")
    ap.add_argument("--codec", default="libx264")
    ap.add_argument("--repeat", type=int, default=1, help="alternate naive/pipeline runs N times; best kept")
    ap.add_argument("--torch-threads", type=int, default=0, help="0 = vsr's auto choice (same for all runs)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    clip = str(resolve_sample(args.clip)) if is_sample(args.clip) else args.clip
    config = load(PipelineConfig, None, [
        f'model.name="{args.model}"', f"model.scale={args.scale}", f"model.batch={args.batch}",
        f'runtime.device="{args.device}"', f'encode.preset="{args.preset}"', f'encode.codec="{args.codec}"',
        f"runtime.torch_threads={args.torch_threads}",
    ])
    model, engine = build_engine(config)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        rgb = measure.preload(clip, args.frames, engine)
        results["engine_alone"] = measure.engine_alone(engine, rgb, args.batch)
        del rgb
        for i in range(args.repeat):  # interleaved so slow drift of the machine hits both alike
            naive = measure.naive_loop(clip, engine, config, args.frames, Path(tmp) / f"naive{i}.mkv")
            piped = pipeline(clip, config, args.frames, Path(tmp) / f"pipe{i}.mkv")
            if naive["fps"] > results.get("naive_loop", {}).get("fps", 0):
                results["naive_loop"] = naive
            if piped["fps"] > results.get("pipeline", {}).get("fps", 0):
                results["pipeline"] = piped
    with MediaInput(clip) as media:
        clip_desc = f"{Path(clip).name} {media.info.width}x{media.info.height}"
    ratios = {
        "pipeline_over_naive": results["pipeline"]["fps"] / results["naive_loop"]["fps"],
        "pipeline_over_engine": results["pipeline"]["fps"] / results["engine_alone"]["fps"],
    }
    record = {
        **result_header("pipeline", argv, engine.device),
        "clip": clip_desc,
        "model": f"{model.name} x{args.scale}",
        "encoder": f"{args.codec} preset {args.preset}",
        "results": results,
        "ratios": ratios,
    }
    print(f"{clip_desc}, {model.name} x{args.scale}, {args.frames} frames, {record['device']}")
    print(f"{'run':<14}{'fps':>9}{'seconds':>10}")
    for name in ("engine_alone", "naive_loop", "pipeline"):
        r = results[name]
        print(f"{name:<14}{r['fps']:>9.2f}{r['seconds']:>10.2f}")
    print(f"pipeline / naive loop  = {ratios['pipeline_over_naive']:.2f}x")
    print(f"pipeline / engine alone = {ratios['pipeline_over_engine']:.2f} (efficiency)")
    print(f"stage busy fraction: {results['pipeline']['stage_busy']}")
    if args.json:
        write_result(args.json, record)
    return record


if __name__ == "__main__":
    main()
