"""``vsr upscale INPUT -o OUTPUT``: upscale a video file (or a still image)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any, Callable

import click

from vsr import config as cfg
from vsr.config import PipelineConfig
from vsr.engine.device import PRECISIONS
from vsr.errors import ConfigError, Interrupted
from vsr.io.deinterlace import MODES as DEINTERLACE_MODES
from vsr.io.geometry import OUTSCALE_HELP, SIZE_HELP, check_geometry
from vsr.io.image import is_sequence_pattern
from vsr.io.span import Span, as_option
from vsr.pipeline.monitor import PERCEPTUAL, MonitorOptions, summary_line
from vsr.pipeline.upscale import UpscaleJob, UpscaleResult, folder_contents, is_folder, is_folder_job

CONFIG_HELP = "TOML pipeline config (see configs/pipelines/); options given here override it."


class Progress:
    """A one-line progress display on a terminal: frames, fps, ETA. Silent when not a TTY."""

    def __init__(self, enabled: bool, stream=sys.stderr, status: Callable[[], str] | None = None,
                 unit: str = "frames") -> None:
        self.enabled = enabled and stream.isatty()
        self.unit = unit  # what is counted: frames, or a folder's images
        self.rate = "fps" if unit == "frames" else f"{unit}/s"
        self.status = status
        self.stream = stream
        self.total = 0
        self.t0 = time.perf_counter()
        self.last = 0.0

    def start(self, total: int) -> None:
        self.total = total
        self.t0 = time.perf_counter()

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last < 0.2 and done != self.total:
            return
        self.last = now
        elapsed = max(now - self.t0, 1e-9)
        fps = done / elapsed
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "#" * int(frac * 24)
            eta = (self.total - done) / fps if fps > 0 and done < self.total else 0.0
            text = (f"\r[{bar:<24}] {done}/{self.total} {self.unit}  {fps:6.2f} {self.rate}  "
                    f"ETA {int(eta // 60):02d}:{int(eta % 60):02d} ")
        else:
            text = f"\r{done} {self.unit}  {fps:6.2f} {self.rate} "
        extra = self.status() if self.status is not None else ""
        if extra:
            text += f" | {extra} "
        self.stream.write(text)
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def build_config(config_path: str | None, options: dict[str, object], sets: tuple[str, ...]) -> PipelineConfig:
    """Config file, then --set overrides, then explicit options (highest precedence)."""
    overrides = list(sets)
    for key, value in options.items():
        if value is not None:
            overrides.append(f"{key}={_toml_value(value)}")
    return cfg.load(PipelineConfig, config_path, overrides)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def install_signal_handlers(job: Any) -> Callable[[], None]:
    """First SIGINT/SIGTERM: finish what is in flight and write a playable file; second: abort.

    Returns a function that restores the previous handlers.
    """
    hits = [0]
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: FrameType | None) -> None:
        hits[0] += 1
        if hits[0] == 1:
            click.echo("\nvsr: stopping; finishing the frames in flight (again to abort)", err=True)
            job.request_stop()
        else:
            job.abort()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)

    def restore() -> None:
        for sig, h in previous.items():
            signal.signal(sig, h)

    return restore


def monitor_options(monitor_file: str | None, every: int | None, metric: str | None = None,
                    budget: float | None = None) -> MonitorOptions | None:
    """The monitor runs when asked for, by a file to write, a sampling period, a metric or a budget."""
    if every is not None and every < 1:
        raise ConfigError(f"--monitor-every must be >= 1, got {every}")
    if budget is not None and not 0 <= budget <= 1:
        raise ConfigError(f"--monitor-budget must be in [0, 1], got {budget}")
    if monitor_file is None and every is None and metric is None and budget is None:
        return None
    return MonitorOptions(every=every or 30, perceptual=metric or MonitorOptions.perceptual,
                          budget=MonitorOptions.budget if budget is None else budget)


DEINTERLACE_HELP = ("auto (default): deinterlace frames flagged interlaced (bwdif, one frame per frame) "
                    "before upscaling; on: every frame; off: upscale fields as they are.")
MONITOR_METRIC_HELP = ("Learned metric for the cross-scale score: the distilled ST-LPIPS student (default, "
                       "~30x cheaper), ST-LPIPS itself, both, or none.")
MONITOR_BUDGET_HELP = ("Most of the wall time the monitor may spend scoring (default 0.1): after each scored "
                       "pair it rests in proportion. 0 = score whenever free.")
PRECISION_HELP = ("auto: fp16 on CUDA, fp32 on the CPU; bf16: the network body in bfloat16, about 2x "
                  "the CPU's fp32 speed where it runs bf16 natively (AVX512-BF16, AMX), output within "
                  "2.4/255 of fp32, PSNR-Y within 0.005 dB (see README, CPU speed)")


DETAIL_HELP = ("0..1: blend the fidelity model (0: faithful, the highest PSNR) with a fine-tune of it (1: "
               "more texture) by mixing their weights, as ESRGAN's network interpolation and Real-ESRGAN's "
               "-dn: the perceptual one at x2 (or -m compact-xN-fast), the -video one at x4 (whose default "
               "is 0.5 of it) or with -m compact-xN-fast-video (see README, Detail).")


def summary(result: UpscaleResult, span: Span | None = None) -> str:
    if result.videos:  # a folder of videos, each into its own file
        return (f"vsr: {result.videos} video{'s' if result.videos != 1 else ''}, {result.frames} frames in "
                f"{result.seconds:.2f} s ({result.fps:.2f} fps, {result.model} on {result.device}) -> {result.output}")
    if result.images:  # a folder of still images, each at its own size
        return (f"vsr: {result.frames} image{'s' if result.frames != 1 else ''} in {result.seconds:.2f} s "
                f"({result.model} on {result.device}) -> {result.output}")
    part = f" ({span.describe()})" if span is not None else ""
    return (
        f"vsr: {result.frames} frame{'s' if result.frames != 1 else ''}{part} "
        f"{result.width}x{result.height} -> {result.out_width}x{result.out_height} "
        f"in {result.seconds:.2f} s ({result.fps:.2f} fps, {result.model} on {result.device}) "
        f"-> {result.output}"
    )


def settle_geometry(config: PipelineConfig, scale: int | None) -> PipelineConfig:
    """Check ``--size``/``--outscale`` before any input is opened; without ``-s`` (``scale`` None) the
    network's scale is left to the input's size (``model.scale = 0``, see ``plan_output``)."""
    check_geometry(config.encode.size, config.encode.outscale)
    if scale is None and (config.encode.size or config.encode.outscale):
        return replace(config, model=replace(config.model, scale=0))
    return config


@click.command("upscale")
@click.argument("input_path", metavar="INPUT", type=str)
@click.option("-o", "--output", "output_path", required=True, type=str,
              help="Output file; the container comes from its extension (.mp4, .mkv, .mov, .png...).")
@click.option("-s", "--scale", type=int, default=None,
              help="The model's upscale factor: 2 or 4 (default 2; with --size/--outscale, the one that reaches it).")
@click.option("--size", type=str, default=None, help=SIZE_HELP)
@click.option("--outscale", type=float, default=None, help=OUTSCALE_HELP)
@click.option("-m", "--model", type=str, default=None,
              help="Model name (bicubic, lanczos, shipped presets) or a .pth/.safetensors file.")
@click.option("--detail", type=click.FloatRange(0, 1), default=None, help=DETAIL_HELP)
@click.option("--device", type=str, default=None, help="auto | cpu | cuda | cuda:N (default auto).")
@click.option("--backend", type=str, default=None, help="eager | compile | tensorrt | auto.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None, help=PRECISION_HELP)
@click.option("--codec", type=str, default=None,
              help="Video encoder: auto (default: libx264, or the container's own where it cannot hold "
                   "H.264, e.g. VP9 in .webm), libx264, libx265, libsvtav1, h264_nvenc, hevc_nvenc...")
@click.option("--crf", type=int, default=None,
              help="Quality, lower is better (default 18): crf of x264/x265/SVT-AV1/VP9, NVENC's cq, "
                   "a fixed quantizer for VP8 and MPEG-1/2/4.")
@click.option("--preset", type=str, default=None,
              help="Encoder speed, ultrafast..placebo (default medium; also NVENC p1-p7, SVT-AV1 -1..13).")
@click.option("--pix-fmt", "pix_fmt", type=str, default=None,
              help="Output pixel format (auto keeps 8/10-bit 4:2:0; yuv444p, yuv420p10le...).")
@click.option("--batch", type=int, default=None, help="Frames per forward pass.")
@click.option("--tile", type=int, default=None, help="Tile size in input pixels (0 = whole frames, tiled only where one would not fit in memory).")
@click.option("--tile-overlap", type=int, default=None, help="Tile overlap (0 = model's context).")
@click.option("--frames", "max_frames", type=int, default=0, help="Stop after N frames (0 = all).")
@click.option("--start", type=str, default=None, metavar="TIME",
              help="Upscale from TIME into the video (as ffmpeg's -ss: 90, 1:30, 00:01:30.5), frame-exact; "
                   "the output starts at zero.")
@click.option("--duration", type=str, default=None, metavar="TIME",
              help="Upscale only TIME of it (as ffmpeg's -t); with audio, subtitles and chapters cut alike.")
@click.option("--to", "to", type=str, default=None, metavar="TIME",
              help="Upscale up to TIME into the video (as ffmpeg's -to), instead of --duration.")
@click.option("--no-audio", "no_audio", is_flag=True, help="Leave the input's audio out (ffmpeg's -an).")
@click.option("--no-subtitles", "no_subtitles", is_flag=True,
              help="Leave its subtitle tracks out (ffmpeg's -sn); closed captions in the pictures stay.")
@click.option("--no-metadata", "no_metadata", is_flag=True,
              help="Leave a photo's EXIF (camera, date, place) and a video's file tags out (ffmpeg's -map_metadata -1).")
@click.option("--ext", type=str, default=None, metavar="EXT",
              help="For a folder: write every output as EXT (png, jpg, webp... for images; mkv, mp4... for "
                   "videos), as Real-ESRGAN's --ext; default: each in its input's format.")
@click.option("--deinterlace", type=click.Choice(DEINTERLACE_MODES), default=None, help=DEINTERLACE_HELP)
@click.option("--fps", type=str, default=None,
              help="Frame rate of an image-sequence input: 24, 29.97, 30000/1001... (default 25, as ffmpeg).")
@click.option("--config", "config_path", type=str, default=None, help=CONFIG_HELP)
@click.option("--set", "sets", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override any config key, e.g. --set runtime.queue_size=8.")
@click.option("--monitor", "monitor_file", type=str, default=None,
              help="Score quality while upscaling (cross-scale ST-LPIPS/PSNR, fidelity, detail, "
                   "flicker) and write one JSON line per scored frame to FILE; see `vsr report`.")
@click.option("--monitor-every", type=int, default=None,
              help="Score frames k and k+1 for every k multiple of N (default 30; enables the monitor).")
@click.option("--monitor-metric", type=click.Choice(PERCEPTUAL), default=None, help=MONITOR_METRIC_HELP)
@click.option("--monitor-budget", type=float, default=None, help=MONITOR_BUDGET_HELP)
@click.option("--overwrite", "-y", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
def command(input_path: str, output_path: str, scale: int | None, size: str | None, outscale: float | None,
            model: str | None, detail: float | None,
            device: str | None, backend: str | None, precision: str | None, codec: str | None,
            crf: int | None, preset: str | None, pix_fmt: str | None, batch: int | None,
            tile: int | None, tile_overlap: int | None, max_frames: int, start: str | None, duration: str | None,
            to: str | None, no_audio: bool, no_subtitles: bool, no_metadata: bool, ext: str | None,
            deinterlace: str | None,
            fps: str | None, config_path: str | None,
            sets: tuple[str, ...], monitor_file: str | None, monitor_every: int | None, monitor_metric: str | None,
            monitor_budget: float | None, overwrite: bool, quiet: bool) -> None:
    """Upscale INPUT (a video FFmpeg reads, an image, or a folder of either) into OUTPUT.

    Audio, subtitles and timestamps are kept; the output is written under a temporary name and
    renamed when complete. Ctrl-C finishes the frames in flight and leaves a playable file.
    """
    if scale is not None and scale not in (2, 3, 4):
        raise ConfigError(f"unsupported scale {scale} (supported: 2, 4; 3 for classic scalers)")
    if max_frames < 0:
        raise ConfigError(f"--frames must be >= 0, got {max_frames}")
    span = Span.of(start, duration, to)
    config = build_config(
        config_path,
        {
            "model.scale": scale, "model.name": model, "model.detail": detail, "runtime.device": device,
            "model.backend": backend, "model.precision": precision, "encode.codec": codec,
            "encode.crf": crf, "encode.preset": preset, "encode.pix_fmt": pix_fmt,
            "model.batch": batch, "model.tile": tile, "model.tile_overlap": tile_overlap,
            "decode.deinterlace": deinterlace, "decode.fps": fps, "encode.size": size,
            "encode.outscale": outscale, "encode.audio": False if no_audio else None,
            "encode.subtitles": False if no_subtitles else None, "encode.metadata": False if no_metadata else None,
        },
        sets,
    )
    config = settle_geometry(config, scale)
    if output_path == "-":
        raise ConfigError("vsr upscale writes files (atomically, renamed when complete); to write to a pipe, "
                          "use vsr stream INPUT - (--format nut|mpegts|matroska)")
    folder_job = is_folder_job(input_path, output_path)
    if Path(output_path).suffix == "" and not is_folder(output_path):
        hint = f"; or {output_path}/ for a folder of images" if Path(input_path).is_dir() else ""
        raise ConfigError(f"output {output_path!r} has no extension (e.g. .mp4, .mkv, .png{hint})")
    monitor = monitor_options(monitor_file, monitor_every, monitor_metric, monitor_budget)
    job = UpscaleJob(input_path, output_path, config, overwrite=overwrite, max_frames=max_frames, span=span, ext=ext,
                     monitor=monitor, monitor_file=monitor_file)
    progress = Progress(enabled=not quiet,
                        status=(lambda: job.monitor.latest() if job.monitor else "") if monitor else None,
                        unit="images" if folder_job and folder_contents(input_path)[0] else "frames")
    restore = install_signal_handlers(job)
    try:
        result = job.run(on_start=progress.start, on_frame=progress.update)
    finally:
        restore()
        progress.finish()
    for warning in result.warnings:
        click.echo(f"vsr: warning: {warning}", err=True)
    if not quiet:
        click.echo(summary(result, span), err=True)
        if result.monitor:
            click.echo(f"vsr: {summary_line(result.monitor)}", err=True)
    if result.interrupted:
        if result.videos:
            raise Interrupted(f"interrupted: {result.output} holds {result.videos} video"
                              f"{'s' if result.videos != 1 else ''}, the last one cut short (playable)")
        if result.images:
            raise Interrupted(f"interrupted: {result.output} holds the first {result.frames} images")
        kept = "as numbered images" if is_sequence_pattern(result.output) else "(playable)"
        rest = f"; --start {as_option(result.rest_from)} upscales the rest" if result.rest_from is not None else ""
        raise Interrupted(f"interrupted: {result.output} holds the first {result.frames} frames {kept}{rest}")
