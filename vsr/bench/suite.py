"""The whole benchmark: every measurement on every clip, the scaling sweep, one JSON report.

Per clip, on the same first ``frames`` frames, with one engine built once: decode alone; engine
alone (pre-loaded, warmed up, synchronised, best of ``repeats``); the staged pipeline without encode
(a null sink) and with encode; the naive sequential loop; FFmpeg's bicubic and lanczos scalers.
GPU telemetry (pynvml, in a background thread) runs around the engine and pipeline runs. The sweep
times the engine alone over input sizes (360p..2160p) and batch sizes, and fits how cost grows with
pixels. Keys are documented in the README ("Benchmarking").
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import numpy as np
import torch

from vsr import __version__
from vsr.bench import measure
from vsr.bench.clips import DEFAULT_CLIPS, SWEEP_SIZES, BenchClip, bench_clip, is_bench_clip, parse_size
from vsr.config import PipelineConfig
from vsr.engine.device import describe_device
from vsr.engine.engine import Engine
from vsr.errors import ConfigError, InputNotFoundError, InvalidInputError
from vsr.io.media import check_encoder
from vsr.io.samples import is_sample, resolve_sample
from vsr.pipeline.upscale import build_engine
from vsr.telemetry.nvml import GpuSampler


SCHEMA = "vsr-bench/1"
LINEAR_TOLERANCE = 0.15  # |exponent - 1| within this: "linear in pixels"


@dataclass(frozen=True)
class BenchSettings:
    """What to measure. ``config`` carries model, device, batch and encoder settings."""

    config: PipelineConfig = field(default_factory=PipelineConfig)
    frames: int = 6
    repeats: int = 2
    encode: bool = True
    baselines: bool = True
    sweep: bool = True
    sweep_sizes: tuple[str, ...] = SWEEP_SIZES
    sweep_batches: tuple[int, ...] = (1, 2, 4, 8)  # at the first of sweep_sizes
    sweep_frames: int = 0  # frames per sweep point (per batch of the batch sweep); 0 = max(2, frames // 3)
    content: str = "auto"
    gpu_interval: float = 0.1

    def check(self) -> None:
        if self.frames < 1:
            raise ConfigError(f"--frames must be >= 1, got {self.frames}")
        if self.repeats < 1:
            raise ConfigError(f"--repeats must be >= 1, got {self.repeats}")
        if self.config.model.batch < 1:
            raise ConfigError(f"--batch must be >= 1, got {self.config.model.batch}")
        if self.sweep_frames < 0:
            raise ConfigError(f"--sweep-frames must be >= 0, got {self.sweep_frames}")
        if any(b < 1 for b in self.sweep_batches):
            raise ConfigError(f"sweep batch sizes must be >= 1, got {list(self.sweep_batches)}")
        if self.sweep and not self.sweep_sizes:
            raise ConfigError("the sweep needs at least one input size")
        for size in self.sweep_sizes:
            parse_size(size)


def resolve_clips(specs: tuple[str, ...] | list[str], frames: int, content: str = "auto") -> list[BenchClip]:
    """CLIP arguments -> clips: files, ``sample:NAME``, ``bench:SIZE``; none -> the built-in set."""
    out = []
    for spec in specs or [f"bench:{s}" for s in DEFAULT_CLIPS]:
        if is_bench_clip(spec):
            out.append(bench_clip(spec, frames, content=content))
            continue
        path = resolve_sample(spec) if is_sample(spec) else Path(spec)
        if not path.exists():
            raise InputNotFoundError(f"clip not found: {spec} (give a video file, sample:NAME or bench:SIZE)")
        if path.is_dir():
            raise ConfigError(f"clip {spec} is a directory, not a video")
        try:
            with av.open(str(path)) as c:
                if not c.streams.video:
                    raise InvalidInputError(f"clip {spec} has no video stream")
                cc = c.streams.video[0].codec_context
                width, height = cc.width, cc.height
        except av.FFmpegError as e:
            reason = " ".join(str(getattr(e, "strerror", None) or e).split())
            raise InvalidInputError(f"clip {spec} is not a video FFmpeg can read ({reason})") from None
        out.append(BenchClip(Path(spec).name if not is_sample(spec) else spec, path, width, height,
                             "user clip"))
    return out


# -- environment -----------------------------------------------------------------------------------


def git_commit() -> str:
    """``git describe --always --dirty`` of the vsr source tree; ``$VSR_COMMIT`` where the tree was
    copied without its git history (the GPU machine's copy of a checkout), else "unknown"."""
    if os.environ.get("VSR_COMMIT"):
        return os.environ["VSR_COMMIT"]
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"], capture_output=True, text=True,
            cwd=Path(__file__).resolve().parent, check=True, timeout=10,
        ).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def nvml_devices(device: torch.device) -> list[int | str]:
    """NVML ids to try for a torch device: its PCI bus id when torch tells it (right whatever
    ``CUDA_VISIBLE_DEVICES`` says), then its index."""
    index = device.index or 0
    if device.type != "cuda":
        return [0]
    try:
        p = torch.cuda.get_device_properties(index)
        return [f"{p.pci_domain_id:08x}:{p.pci_bus_id:02x}:{p.pci_device_id:02x}.0", index]
    except (AttributeError, RuntimeError, AssertionError, TypeError, ValueError):
        return [index]


PERF_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "PYTORCH_CUDA_ALLOC_CONF",
            "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "LD_PRELOAD")


def environment(device: torch.device) -> dict[str, Any]:
    av_codec = ".".join(map(str, av.library_versions.get("libavcodec", ())))
    versions = {
        "vsr": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "torch_cuda": torch.version.cuda, "av": av.__version__, "libavcodec": av_codec,
        "numpy": np.__version__,
    }
    if device.type == "cuda":
        versions["cudnn"] = torch.backends.cudnn.version()
    return {
        "commit": git_commit(),
        "device": describe_device(device),
        "machine": {
            "cpu": measure.cpu_model(), "cores": os.cpu_count(), "arch": platform.machine(),
            "memory_gib": measure.host_memory_gib(), "os": platform.platform(terse=True),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        },
        "versions": versions,
        "env": {k: os.environ[k] for k in PERF_ENV if k in os.environ},
    }


def result_header(benchmark: str, argv: list[str] | None, device: torch.device) -> dict[str, Any]:
    """The common head of a benchmark script's JSON: what ran, when, where, on which commit."""
    import datetime as dt
    import sys
    from pathlib import Path as _Path

    return {
        "benchmark": benchmark,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([_Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        **environment(device),
    }


def write_result(path: Any, record: dict[str, Any], quiet: bool = False) -> None:
    """Write ``record`` as JSON, atomically: a reader (or a run killed mid-write) never sees half a
    file, so a script may rewrite it after every measurement."""
    import json
    import os
    from pathlib import Path as _Path

    path = _Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)
    if not quiet:
        print(f"wrote {path}")


# -- the run ---------------------------------------------------------------------------------------


class BenchRun:
    """Runs the benchmark; ``progress(text)`` hears what is being measured (for a status line)."""

    def __init__(self, settings: BenchSettings, progress: Callable[[str], None] | None = None) -> None:
        settings.check()
        self.settings = settings
        self.config = settings.config
        self.progress = progress or (lambda text: None)
        self.engine: Engine | None = None
        self.sampler: GpuSampler | None = None
        self.telemetry: dict[str, Any] = {}

    @contextmanager
    def _gpu(self, into: dict[str, Any]) -> Iterator[None]:
        """Sample the GPU around a block; the summary goes to ``into["gpu"]`` only when measured."""
        if self.sampler is None or not self.sampler.available:
            yield
            return
        self.sampler.start()
        try:
            yield
        finally:
            into["gpu"] = self.sampler.stop()

    def _open_sampler(self, device: torch.device) -> None:
        for candidate in nvml_devices(device):
            sampler = GpuSampler(candidate, interval=self.settings.gpu_interval)
            if sampler.available:
                break
        if sampler.available and device.type != "cuda":
            sampler.close()
            self.telemetry = {"available": False, "source": "pynvml",
                              "reason": "the benchmark runs on the CPU; no GPU to sample"}
            return
        self.sampler = sampler
        self.telemetry = sampler.summary()
        if sampler.available:
            self.telemetry = {k: self.telemetry[k] for k in ("available", "source", "gpu", "driver", "interval_s")}

    def run(self, clips: list[BenchClip], command: str = "",
            on_part: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """The report; ``on_part(report)`` hears it after each clip (``complete`` stays False until
        the sweep is done too), so a caller can keep what a run stopped part-way had measured."""
        s = self.settings
        if s.encode:
            check_encoder(self.config.encode.codec)  # an encoder that cannot run fails before any timing
        model, engine = build_engine(self.config)
        self.engine = engine
        self._open_sampler(engine.device)
        mc, ec = self.config.model, self.config.encode
        report: dict[str, Any] = {
            "schema": SCHEMA,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": command,
            **environment(engine.device),
            "settings": {
                "model": model.name, "scale": model.scale, "backend": engine.backend,
                "precision": "fp16" if engine.dtype == torch.float16 else "fp32",
                "batch": mc.batch, "tile": mc.tile, "frames": s.frames, "repeats": s.repeats,
                # the runs write Matroska, where --codec auto is libx264
                "encode": ({"codec": "libx264" if ec.codec == "auto" else ec.codec, "preset": ec.preset,
                            "crf": ec.crf} if s.encode else None),
                "torch_threads": torch.get_num_threads(), "queue_size": self.config.runtime.queue_size,
            },
            "telemetry": self.telemetry,
            "clips": [],
            "scaling": None,
            "complete": False,
        }
        part = on_part or (lambda report: None)
        try:
            with tempfile.TemporaryDirectory(prefix="vsr-bench-") as tmp:
                for clip in clips:
                    report["clips"].append(self.measure_clip(clip, engine, Path(tmp)))
                    part(report)
            if s.sweep:
                report["scaling"] = self.sweep(engine)
        finally:
            if self.sampler is not None:
                self.sampler.close()
        report["complete"] = True
        return report

    def measure_clip(self, clip: BenchClip, engine: Engine, tmp: Path) -> dict[str, Any]:
        s, config = self.settings, self.config
        threads = config.runtime.decode_threads
        frames = s.frames
        say = lambda what: self.progress(f"{clip.label}: {what}")  # noqa: E731
        out: dict[str, Any] = {
            "clip": clip.label, "path": str(clip.path), "content": clip.content,
            "width": clip.width, "height": clip.height,
            "out_width": clip.width * engine.scale, "out_height": clip.height * engine.scale,
            "frames": frames,
        }
        with measure.PeakMemory(engine.device) as memory:
            say("decode alone")
            out["decode"] = measure.decode_alone(clip.path, frames, threads)
            frames = out["frames"] = out["decode"]["frames"]  # a short clip measures what it has
            say("engine alone")
            rgb = measure.preload(clip.path, frames, engine, threads)
            phase: dict[str, Any] = {}
            with self._gpu(phase):
                phase.update(measure.engine_alone(engine, rgb, config.model.batch, s.repeats))
            out["engine"] = phase
            del rgb
            say("pipeline without encode")
            phase = {}
            with self._gpu(phase):
                phase.update(measure.run_pipeline(clip.path, engine, config, frames, tmp / "null.mkv",
                                                  encode=False))
            out["e2e_no_encode"] = phase
            if s.encode:
                say("pipeline with encode")
                phase = {}
                with self._gpu(phase):
                    phase.update(measure.run_pipeline(clip.path, engine, config, frames, tmp / "e2e.mkv"))
                out["e2e_encode"] = phase
            else:
                out["e2e_encode"] = None
        out["memory"] = memory.as_dict()
        out["efficiency"] = round(out["e2e_no_encode"]["fps"] / out["engine"]["fps"], 4)
        e2e = out["e2e_encode"] or out["e2e_no_encode"]
        if s.baselines:
            say("baselines")
            base = {"naive_loop": measure.naive_loop(clip.path, engine, config, frames, tmp / "naive.mkv",
                                                     encode=s.encode)}
            for kernel in measure.SWSCALE:
                base[f"swscale_{kernel}"] = measure.swscale_baseline(
                    clip.path, engine.scale, kernel, config, frames, tmp / f"sws_{kernel}.mkv",
                    encode=s.encode)
            out["baselines"] = base
            out["ratios"] = {f"e2e_over_{k}": round(e2e["fps"] / v["fps"], 4) for k, v in base.items()}
        else:
            out["baselines"] = None
            out["ratios"] = None
        return out

    def _sweep_point(self, engine: Engine, size: str, frames: int, batch: int) -> dict[str, Any]:
        clip = bench_clip(size, frames, content=self.settings.content)
        with measure.PeakMemory(engine.device) as memory:
            rgb = measure.preload(clip.path, frames, engine, self.config.runtime.decode_threads)
            t = measure.engine_alone(engine, rgb, batch, repeats=1)
            del rgb
        pixels = clip.width * clip.height
        spf = t["seconds"] / t["frames"]
        return {
            "size": clip.label, "width": clip.width, "height": clip.height, "batch": batch,
            "megapixels": round(pixels / 1e6, 4), "frames": t["frames"], "fps": t["fps"],
            "ms_per_frame": round(spf * 1000, 3), "ns_per_pixel": round(spf / pixels * 1e9, 3),
            "megapixels_per_s": round(pixels / spf / 1e6, 3), **memory.as_dict(),
        }

    def sweep(self, engine: Engine) -> dict[str, Any]:
        s = self.settings
        n = s.sweep_frames or max(2, s.frames // 3)
        resolution = []
        for size in s.sweep_sizes:
            self.progress(f"sweep: {size}")
            resolution.append(self._sweep_point(engine, size, n, self.config.model.batch))
        batch = []
        at = s.sweep_sizes[0]
        for b in s.sweep_batches:
            self.progress(f"sweep: batch {b} at {at}")
            batch.append(self._sweep_point(engine, at, b * n, b))
        return {"resolution": resolution, "batch": batch, **pixel_cost(resolution)}


def pixel_cost(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Fit seconds-per-frame = c * pixels^k over the sweep and say whether cost is linear in pixels."""
    xs = [math.log(p["width"] * p["height"]) for p in points]
    ys = [math.log(p["ms_per_frame"]) for p in points]
    if len(set(xs)) < 2:
        return {"exponent": None, "linear": None, "note": "one input size only: no fit"}
    k = float(np.polyfit(xs, ys, 1)[0])
    per_px = [p["ns_per_pixel"] for p in points]
    spread = max(per_px) / min(per_px)
    if abs(k - 1) <= LINEAR_TOLERANCE:
        verdict, why = True, "linear in pixels"
    elif k > 1:
        verdict, why = False, "superlinear: the cost per pixel rises with size (memory/cache bound)"
    else:
        verdict, why = False, "sublinear: fixed per-frame costs weigh on small frames"
    note = (f"time per frame grows as pixels^{k:.2f} ({why}); time per pixel varies {spread:.2f}x "
            f"across {', '.join(p['size'] for p in points)}")
    return {"exponent": round(k, 3), "linear": verdict, "note": note}
