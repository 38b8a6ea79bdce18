"""One measurement at a time, each on the first ``frames`` frames of one clip.

Every function returns a plain dict (JSON-ready) with at least ``frames``, ``seconds`` and ``fps``.
Timings use ``time.perf_counter``; on CUDA the engine-alone timing is bracketed by
``torch.cuda.synchronize`` and the pipeline's download stage already waits for the device, so every
figure is wall time for work that really finished.
"""

from __future__ import annotations

import os
import re
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import av
import numpy as np
import torch

from vsr.config import PipelineConfig
from vsr.engine.engine import Engine
from vsr.errors import ConfigError
from vsr.io.media import DecodedFrame, MediaInput, MediaOutput, frame_planes, layout_for
from vsr.ops.colorconv import rgb_to_yuv
from vsr.pipeline.monitor import MonitorStage
from vsr.pipeline.runner import Runner, RunStats
from vsr.pipeline.sinks import NullSinkStage
from vsr.pipeline.stages import (
    DecodeStage,
    DownloadStage,
    EncodeStage,
    InferStage,
    UploadStage,
    host_planes,
    host_tensor,
    output_yuv_spec,
    planes_to_rgb,
)
from vsr.pipeline.upscale import encode_options

SWSCALE = {"bicubic": "BICUBIC", "lanczos": "LANCZOS"}


def timing(frames: int, seconds: float, **extra: Any) -> dict[str, Any]:
    if frames <= 0:
        raise ConfigError("the clip gave no frame to measure")
    seconds = max(seconds, 1e-9)
    return {"frames": frames, "seconds": round(seconds, 6), "fps": round(frames / seconds, 4), **extra}


def percentiles_ms(values_s: Sequence[float]) -> dict[str, float] | None:
    """p50/p95/p99 of latencies given in seconds, in milliseconds (linear interpolation)."""
    if not values_s:
        return None
    p = np.percentile(np.asarray(values_s, dtype=np.float64) * 1000.0, [50, 95, 99])
    return {"p50": round(float(p[0]), 3), "p95": round(float(p[1]), 3), "p99": round(float(p[2]), 3)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- memory ----------------------------------------------------------------------------------------


def _reset_host_peak() -> bool:
    """Reset the kernel's peak-RSS counter (Linux ``clear_refs`` 5); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _host_peak_mib() -> float:
    try:
        with open("/proc/self/status") as f:
            m = re.search(r"^VmHWM:\s+(\d+)\s+kB", f.read(), re.M)
        if m:
            return int(m.group(1)) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


class PeakMemory:
    """Peak host RSS and peak CUDA memory allocated by torch inside a ``with`` block.

    Host: Linux's VmHWM, reset at entry (``host_scope = "block"``); elsewhere the process's peak
    so far (``ru_maxrss``, ``host_scope = "process"``). GPU: ``torch.cuda.max_memory_allocated``
    after a reset, None on the CPU.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.host_mib = 0.0
        self.gpu_mib: float | None = None
        self.host_scope = "process"

    def __enter__(self) -> "PeakMemory":
        self.host_scope = "block" if _reset_host_peak() else "process"
        if self.device.type == "cuda":
            sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc: object) -> None:
        self.host_mib = round(_host_peak_mib(), 1)
        if self.device.type == "cuda":
            sync(self.device)
            self.gpu_mib = round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)

    def as_dict(self) -> dict[str, Any]:
        return {"peak_host_mib": self.host_mib, "peak_gpu_mib": self.gpu_mib,
                "host_scope": self.host_scope}


# -- decode and engine alone -----------------------------------------------------------------------


def decoded_frames(clip: str | Path, frames: int, threads: int = 0) -> Iterable[DecodedFrame]:
    with MediaInput(clip, threads=threads) as media:
        n = 0
        for item in media.items():
            if isinstance(item, DecodedFrame):
                if n >= frames:
                    return
                n += 1
                yield item


def decode_alone(clip: str | Path, frames: int, threads: int = 0) -> dict[str, Any]:
    """Demux + decode + conversion to planes (what the decode stage does), nothing else."""
    t0 = time.perf_counter()
    n = sum(1 for _ in decoded_frames(clip, frames, threads))
    return timing(n, time.perf_counter() - t0)


def to_rgb(d: DecodedFrame, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A decoded frame -> ``(3,H,W)`` ``dtype`` [0,1] on ``device`` (upload + colour, unpipelined)."""
    planes = [host_tensor(p, d.layout.bits).to(device) for p in d.planes]
    return planes_to_rgb(planes, d, dtype)


def preload(clip: str | Path, frames: int, engine: Engine, threads: int = 0) -> list[torch.Tensor]:
    """The clip's first ``frames`` frames as engine-ready tensors on the engine's device."""
    out = [to_rgb(d, engine.device, engine.input_dtype) for d in decoded_frames(clip, frames, threads)]
    sync(engine.device)
    return out


def engine_alone(engine: Engine, rgb: Sequence[torch.Tensor], batch: int, repeats: int = 2,
                 min_passes: int = 10, min_seconds: float = 0.3, budget_seconds: float = 2.0) -> dict[str, Any]:
    """The engine on pre-loaded frames, ``batch`` per call: warmed up on every batch shape, then
    timed passes over all frames (synchronised); the fastest pass is reported. ``repeats`` passes
    at least, and short passes are repeated until there are ``min_passes`` of them and they add up
    to ``min_seconds``, while they fit in ``budget_seconds``. On a busy machine a pass over a few
    small frames is often stalled 50-300 ms by the scheduler (measured here, 2 cores and one other
    busy process): two passes can both be stalled, and the engine then reads slower than the
    pipeline that runs it.

    It runs in a thread of its own, as the pipeline's infer stage runs the engine: torch's
    intra-op pool is per calling thread, and on a loaded host the main thread's pool, once other
    threads have run torch beside it, was measured at 10-100x the per-call time of a fresh
    thread's (2 cores, two busy processes), which made the engine read slower than the pipeline."""
    return _in_a_thread(lambda: _engine_alone(engine, rgb, batch, repeats, min_passes, min_seconds,
                                              budget_seconds))


def _in_a_thread(fn: Callable[[], Any]) -> Any:
    """``fn()`` in a fresh thread; its result, or its exception raised here."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vsr-bench") as pool:
        return pool.submit(fn).result()


def _engine_alone(engine: Engine, rgb: Sequence[torch.Tensor], batch: int, repeats: int, min_passes: int,
                  min_seconds: float, budget_seconds: float) -> dict[str, Any]:
    if batch < 1 or repeats < 1:
        raise ConfigError(f"batch and repeats must be >= 1, got {batch} and {repeats}")
    batches = [torch.stack(list(rgb[i:i + batch])) for i in range(0, len(rgb), batch)]
    if not batches:
        raise ConfigError("the clip gave no frame to measure")
    for b in {tuple(b.shape): b for b in batches}.values():  # warm-up: one call per shape
        engine(b)
    sync(engine.device)
    best, total, passes = float("inf"), 0.0, 0
    while passes < repeats or ((passes < min_passes or total < min_seconds) and total < budget_seconds):
        t0 = time.perf_counter()
        for b in batches:
            engine(b)
        sync(engine.device)
        elapsed = time.perf_counter() - t0
        best, total, passes = min(best, elapsed), total + elapsed, passes + 1
    return timing(len(rgb), best, batch=batch, repeats=passes)


# -- the staged pipeline ---------------------------------------------------------------------------


def stage_report(stats: RunStats) -> dict[str, Any]:
    """Busy fraction of wall time and input-queue high-water mark per stage; the busiest stage."""
    wall = max(stats.wall_s, 1e-9)
    busy = {s.name: round(min(s.busy_s / wall, 1.0), 4) for s in stats.stages}
    return {
        "stage_busy": busy,
        "bottleneck": max(busy, key=lambda k: busy[k]),
        "max_queue": {s.name: s.max_queue for s in stats.stages[1:]},
    }


def run_pipeline(clip: str | Path, engine: Engine, config: PipelineConfig, frames: int, out: Path,
                 *, encode: bool = True) -> dict[str, Any]:
    """decode -> upload -> infer -> download -> encode, as ``vsr upscale`` runs it (same stages,
    queues and monitor tap), writing ``out``; with ``encode=False`` a :class:`NullSinkStage` takes
    the encoder's place (the output's pixel format is still the one the encoder would take)."""
    media = MediaInput(clip, threads=config.runtime.decode_threads)
    output = None
    try:
        output = MediaOutput(out, media, engine.scale, encode_options(config))
        sink = EncodeStage(output) if encode else NullSinkStage()
        runner = Runner(
            DecodeStage(media, frames),
            [
                UploadStage(engine.device, engine.input_dtype),
                InferStage(engine, config.model.batch),
                DownloadStage(output.spec, engine.device),
                sink,
            ],
            queue_size=config.runtime.queue_size,
            policy="block",
            taps={"infer": MonitorStage()},
        )
        t0 = time.perf_counter()
        stats = runner.run()
        seconds = time.perf_counter() - t0
    finally:
        if output is not None:
            output.close()
        media.close()
    return timing(len(sink.latencies), seconds, latency_ms=percentiles_ms(sink.latencies),
                  **stage_report(stats))


# -- baselines -------------------------------------------------------------------------------------


def naive_loop(clip: str | Path, engine: Engine, config: PipelineConfig, frames: int, out: Path,
               *, encode: bool = True) -> dict[str, Any]:
    """Decode a frame, convert, infer, convert back, (encode,) repeat: one thread, no overlap (a
    fresh thread, for the reason :func:`engine_alone` gives)."""
    return _in_a_thread(lambda: _naive_loop(clip, engine, config, frames, out, encode))


def _naive_loop(clip: str | Path, engine: Engine, config: PipelineConfig, frames: int, out: Path,
                encode: bool) -> dict[str, Any]:
    media = MediaInput(clip, threads=config.runtime.decode_threads)
    output = None
    n = 0
    try:
        output = MediaOutput(out, media, engine.scale, encode_options(config))
        yspec = output_yuv_spec(output.spec)
        t0 = time.perf_counter()
        for item in media.items():
            if not isinstance(item, DecodedFrame):
                continue
            if n >= frames:
                break
            y = engine(to_rgb(item, engine.device, engine.input_dtype)[None])[0]
            planes = host_planes(p.cpu() for p in rgb_to_yuv(y, yspec))
            if encode:
                output.write_frame(planes, item.pts, item.index)
            n += 1
        if encode:
            output.finish()
        seconds = time.perf_counter() - t0
    finally:
        if output is not None:
            output.close()
        media.close()
    return timing(n, seconds)


def swscale_baseline(clip: str | Path, scale: int, kernel: str, config: PipelineConfig, frames: int,
                     out: Path, *, encode: bool = True) -> dict[str, Any]:
    """FFmpeg's own scaler (swscale, ``kernel`` = bicubic | lanczos): decode, scale to the same
    output size and pixel format as the model path, (encode with the same settings)."""
    if kernel not in SWSCALE:
        raise ConfigError(f"unknown swscale kernel {kernel!r} (valid: {', '.join(SWSCALE)})")
    with MediaInput(clip) as media:  # only for the output's settings, exactly as the model path
        output = MediaOutput(out, media, scale, encode_options(config))
        try:
            spec = output.spec
            layout = layout_for(av.VideoFormat(spec.pix_fmt))[1]
            n = 0
            t0 = time.perf_counter()
            with av.open(str(clip)) as c:
                v = c.streams.video[0]
                v.codec_context.thread_type = "AUTO"
                v.codec_context.thread_count = config.runtime.decode_threads
                for f in c.decode(v):
                    if n >= frames:
                        break
                    scaled = f.reformat(spec.width, spec.height, format=spec.pix_fmt,
                                        interpolation=SWSCALE[kernel])
                    if encode:
                        output.write_frame(frame_planes(scaled, layout), f.pts, n)
                    n += 1
            if encode:
                output.finish()
            seconds = time.perf_counter() - t0
        finally:
            output.close()
    return timing(n, seconds, kernel=kernel)


def cpu_model() -> str:
    """The CPU's model name (Linux), else the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def host_memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None
