"""Pipeline benchmark: how much of the engine's speed survives decode, colour, encode and threading.

In one run, on the same clip, model, frames and encoder settings, it measures:

- engine alone: the model on pre-decoded, pre-uploaded frames (warmed up, synchronised) — a ceiling;
- naive loop: decode a frame, convert, infer, convert back, encode, repeat, in one thread;
- pipeline: ``vsr upscale`` (threaded stages, bounded queues, pinned rings/streams on CUDA);

and prints fps and the ratios pipeline/naive (speed-up from the staged design) and pipeline/engine
(efficiency: 1.0 means I/O is fully hidden behind inference). Results go to JSON with the device,
date, command, commit and library versions.

    python benchmarks/bench_pipeline.py --clip sample:bikes --frames 100 --json benchmarks/results/x.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import torch

from vsr.archs import load_model
from vsr.config import PipelineConfig, load
from vsr.engine.device import configure_threads, describe_device, resolve_device
from vsr.engine.engine import Engine
from vsr.io.media import DecodedFrame, MediaInput, MediaOutput
from vsr.io.samples import is_sample, resolve_sample
from vsr.ops.colorconv import rgb_to_yuv
from vsr.pipeline.stages import host_planes, host_tensor, output_yuv_spec, planes_to_rgb
from vsr.pipeline.upscale import UpscaleJob, encode_options


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def to_rgb(d: DecodedFrame, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    planes = [host_tensor(p, d.layout.bits).to(device) for p in d.planes]
    return planes_to_rgb(planes, d, dtype)


def engine_alone(clip: str, engine: Engine, frames: int, batch: int) -> dict:
    with MediaInput(clip) as media:
        decoded = [x for x in media.items() if isinstance(x, DecodedFrame)][:frames]
    rgb = [to_rgb(d, engine.device, engine.dtype) for d in decoded]
    n = len(rgb)
    batches = [torch.stack(rgb[i:i + batch]) for i in range(0, n, batch)]
    for b in batches[:2]:  # warm-up
        engine(b)
    sync(engine.device)
    t0 = time.perf_counter()
    for b in batches:
        engine(b)
    sync(engine.device)
    seconds = time.perf_counter() - t0
    return {"frames": n, "seconds": seconds, "fps": n / seconds}


def naive_loop(clip: str, engine: Engine, config: PipelineConfig, frames: int, out: Path) -> dict:
    media = MediaInput(clip)
    output = MediaOutput(out, media, engine.scale, encode_options(config))
    yspec = output_yuv_spec(output.spec)
    n = 0
    t0 = time.perf_counter()
    for item in media.items():
        if not isinstance(item, DecodedFrame):
            output.write_passthrough(item)
            continue
        if n >= frames:
            break
        y = engine(to_rgb(item, engine.device, engine.dtype)[None])[0]
        output.write_frame(host_planes(p.cpu() for p in rgb_to_yuv(y, yspec)), item.pts, item.index)
        n += 1
    output.finish()
    seconds = time.perf_counter() - t0
    media.close()
    return {"frames": n, "seconds": seconds, "fps": n / seconds}


def pipeline(clip: str, config: PipelineConfig, frames: int, out: Path) -> dict:
    result = UpscaleJob(clip, out, config, overwrite=True, max_frames=frames).run()
    stats = result.stats
    busy = {s.name: round(s.busy_s / stats.wall_s, 3) for s in stats.stages} if stats else {}
    return {"frames": result.frames, "seconds": result.seconds, "fps": result.fps,
            "stage_busy_fraction": busy, "latency_p50_ms": result.latency_p50_ms}


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
    device = resolve_device(args.device)
    configure_threads(device, args.torch_threads)
    model = load_model(args.model, args.scale)
    engine = Engine(model, device)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["engine_alone"] = engine_alone(clip, engine, args.frames, args.batch)
        for i in range(args.repeat):  # interleaved so slow drift of the machine hits both alike
            naive = naive_loop(clip, engine, config, args.frames, Path(tmp) / f"naive{i}.mkv")
            piped = pipeline(clip, config, args.frames, Path(tmp) / f"pipe{i}.mkv")
            if naive["fps"] > results.get("naive_loop", {}).get("fps", 0):
                results["naive_loop"] = naive
            if piped["fps"] > results.get("pipeline", {}).get("fps", 0):
                results["pipeline"] = piped
    with av.open(clip) as c:
        v = c.streams.video[0]
        clip_desc = f"{Path(clip).name} {v.codec_context.width}x{v.codec_context.height}"
    ratios = {
        "pipeline_over_naive": results["pipeline"]["fps"] / results["naive_loop"]["fps"],
        "pipeline_over_engine": results["pipeline"]["fps"] / results["engine_alone"]["fps"],
    }
    record = {
        "benchmark": "pipeline",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "commit": git_commit(),
        "device": describe_device(device),
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {"torch": torch.__version__, "av": av.__version__, "ffmpeg": av.library_versions.get("libavcodec")},
        "clip": clip_desc,
        "model": f"{model.name} x{args.scale}",
        "encoder": f"{args.codec} preset {args.preset}",
        "results": results,
        "ratios": ratios,
    }
    print(f"{clip_desc}, {model.name} x{args.scale}, {args.frames} frames, {describe_device(device)}")
    print(f"{'run':<14}{'fps':>9}{'seconds':>10}")
    for name in ("engine_alone", "naive_loop", "pipeline"):
        r = results[name]
        print(f"{name:<14}{r['fps']:>9.2f}{r['seconds']:>10.2f}")
    print(f"pipeline / naive loop  = {ratios['pipeline_over_naive']:.2f}x")
    print(f"pipeline / engine alone = {ratios['pipeline_over_engine']:.2f} (efficiency)")
    print(f"stage busy fraction: {results['pipeline']['stage_busy_fraction']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")
    return record


if __name__ == "__main__":
    main()
