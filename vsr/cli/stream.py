"""``vsr stream INPUT_URL OUTPUT_URL``: upscale a live stream in real time."""

from __future__ import annotations

import click

from vsr.cli.upscale import (DEINTERLACE_HELP, DEINTERLACE_MODES, MONITOR_BUDGET_HELP, MONITOR_METRIC_HELP,
                             DETAIL_HELP, PRECISION_HELP, build_config, install_signal_handlers, monitor_options,
                             settle_geometry)
from vsr.pipeline.monitor import PERCEPTUAL, summary_line
from vsr.engine.device import PRECISIONS
from vsr.errors import ConfigError, Interrupted, VsrError
from vsr.io.geometry import OUTSCALE_HELP, SIZE_HELP
from vsr.io.span import Span
from vsr.pipeline.live import LiveOptions, StreamJob


@click.command("stream")
@click.argument("input_url", metavar="INPUT_URL")
@click.argument("output_url", metavar="OUTPUT_URL")
@click.option("-s", "--scale", type=int, default=None, help="Upscale factor: 2 or 4.")
@click.option("--size", type=str, default=None, help=SIZE_HELP)
@click.option("--outscale", type=float, default=None, help=OUTSCALE_HELP)
@click.option("-m", "--model", type=str, default=None, help="Model name or weights file.")
@click.option("--detail", type=click.FloatRange(0, 1), default=None, help=DETAIL_HELP)
@click.option("--device", type=str, default=None, help="auto | cpu | cuda | cuda:N.")
@click.option("--backend", type=str, default=None, help="eager | compile | tensorrt | auto.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None, help=PRECISION_HELP)
@click.option("--codec", type=str, default=None, help="Video encoder (auto: libx264; h264_nvenc...).")
@click.option("--crf", type=int, default=None, help="Encoder quality, lower is better (as vsr upscale; default 18).")
@click.option("--preset", type=str, default="veryfast", show_default=True, help="Encoder speed (as vsr upscale).")
@click.option("--gop", type=int, default=0, help="Keyframe interval in frames (0 = about 1 s).")
@click.option("-f", "--format", "output_format", type=str, default=None,
              help="Output container where the URL does not say: mpegts (udp/tcp/stdout default), nut, flv, matroska.")
@click.option("--input-format", type=str, default=None, help="Force the input container (e.g. mpegts).")
@click.option("--reconnect", type=int, default=0, show_default=True,
              help="Reconnect attempts after the source is lost (backoff doubles from --reconnect-delay).")
@click.option("--reconnect-delay", type=float, default=1.0, show_default=True)
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds without data before a network source counts as lost.")
@click.option("--wait", type=float, default=60.0, show_default=True,
              help="Seconds a listening (or udp) input waits for its sender.")
@click.option("--queue-size", type=int, default=2, show_default=True,
              help="Frames buffered per stage; beyond that the oldest frame is dropped.")
@click.option("--max-lag", type=float, default=0.5, show_default=True,
              help="Network inputs: drop frames that reach the decoder this many seconds behind the "
                   "source's clock, to catch up to the live edge (0: never).")
@click.option("--re/--no-re", "realtime", default=None,
              help="Read the input at its own frame rate, as ffmpeg -re (to stream a file out live; "
                   "frames drop where the engine falls behind). Default: only for HLS/DASH inputs, whose "
                   "segments arrive in bursts; a file without it goes as fast as the engine takes it, "
                   "every frame.")
@click.option("--stats", "stats_file", type=str, default=None, help="Write stats as JSON lines to FILE.")
@click.option("--stats-interval", type=float, default=5.0, show_default=True)
@click.option("--monitor", "monitor_file", type=str, default=None,
              help="Score quality of sampled frames; one JSON line per scored frame to FILE.")
@click.option("--monitor-every", type=int, default=None, help="Score frames k, k+1 every N (default 30).")
@click.option("--monitor-metric", type=click.Choice(PERCEPTUAL), default=None, help=MONITOR_METRIC_HELP)
@click.option("--monitor-budget", type=float, default=None, help=MONITOR_BUDGET_HELP)
@click.option("--deinterlace", type=click.Choice(DEINTERLACE_MODES), default=None, help=DEINTERLACE_HELP)
@click.option("--start", type=str, default=None, metavar="TIME",
              help="Start TIME into the input (ffmpeg's -ss: 90, 1:30): a file is sought, anything else read up to it.")
@click.option("--duration", type=str, default=None, metavar="TIME",
              help="Stop after TIME of the input (ffmpeg's -t): record a minute of a live feed, say.")
@click.option("--no-audio", "no_audio", is_flag=True, help="Leave the input's audio out (ffmpeg's -an).")
@click.option("--no-subtitles", "no_subtitles", is_flag=True, help="Leave its subtitle tracks out (-sn).")
@click.option("--no-metadata", "no_metadata", is_flag=True, help="Leave its file tags out (-map_metadata -1).")
@click.option("--config", "config_path", type=str, default=None)
@click.option("--set", "sets", multiple=True, metavar="SECTION.KEY=VALUE")
@click.option("--quiet", "-q", is_flag=True, help="No periodic stats on stderr.")
def command(input_url: str, output_url: str, scale: int | None, size: str | None, outscale: float | None,
            model: str | None, detail: float | None,
            device: str | None, backend: str | None, precision: str | None, codec: str | None, crf: int | None, preset: str, gop: int,
            output_format: str | None, input_format: str | None, reconnect: int,
            reconnect_delay: float, timeout: float, wait: float, queue_size: int, max_lag: float, realtime: bool | None, stats_file: str | None,
            stats_interval: float, monitor_file: str | None, monitor_every: int | None, monitor_metric: str | None,
            monitor_budget: float | None, deinterlace: str | None, start: str | None, duration: str | None,
            no_audio: bool, no_subtitles: bool, no_metadata: bool,
            config_path: str | None, sets: tuple[str, ...], quiet: bool) -> None:
    """Upscale a live stream from INPUT_URL to OUTPUT_URL with bounded latency.

    \b
    Inputs: udp://, tcp:// (add ?listen to wait for a sender), rtmp:// (?listen), http(s)://,
            - (stdin), or a file.
    Outputs: udp:// or tcp:// (mpegts, or --format nut), rtmp:// (flv), - (stdout), a file, or a
             live HLS/DASH playlist (out/live.m3u8, out/live.mpd: the last 6 segments).
    When the engine falls behind, stale frames are dropped (newest wins) and counted; timestamps
    are kept so drops leave gaps, not drift. Ctrl-C or SIGTERM flushes and closes the output.
    """
    if scale is not None and scale not in (2, 3, 4):
        raise ConfigError(f"unsupported scale {scale} (supported: 2, 4; 3 for classic scalers)")
    for name, value in (("--reconnect", reconnect), ("--gop", gop)):
        if value < 0:
            raise ConfigError(f"{name} must be >= 0, got {value}")
    for name, fvalue in (("--timeout", timeout), ("--wait", wait), ("--stats-interval", stats_interval),
                         ("--reconnect-delay", reconnect_delay)):
        if fvalue <= 0:
            raise ConfigError(f"{name} must be > 0, got {fvalue}")
    if queue_size < 1:
        raise ConfigError(f"--queue-size must be >= 1, got {queue_size}")
    if not max_lag >= 0:
        raise ConfigError(f"--max-lag must be >= 0, got {max_lag}")
    config = build_config(
        config_path,
        {"model.scale": scale, "model.name": model, "model.detail": detail, "runtime.device": device, "model.backend": backend,
         "model.precision": precision, "encode.codec": codec, "encode.crf": crf, "encode.preset": preset, "encode.gop": gop,
         "decode.deinterlace": deinterlace, "encode.size": size, "encode.outscale": outscale,
         "encode.audio": False if no_audio else None, "encode.subtitles": False if no_subtitles else None,
         "encode.metadata": False if no_metadata else None},
        sets,
    )
    config = settle_geometry(config, scale)
    span = Span.of(start, duration, None)
    if span is not None and reconnect:
        raise ConfigError("--start and --duration count on one session of the source; --reconnect would start "
                          "another (leave one out)")
    live = LiveOptions(reconnect=reconnect, reconnect_delay=reconnect_delay, timeout=timeout, wait=wait,
                       queue_size=queue_size, max_lag=max_lag, realtime=realtime,
                       stats_interval=stats_interval, span=span)
    echo = None if quiet else (lambda line: click.echo(line, err=True))
    job = StreamJob(input_url, output_url, config, live, input_format=input_format,
                    output_format=output_format, stats_file=stats_file, echo=echo,
                    monitor=monitor_options(monitor_file, monitor_every, monitor_metric, monitor_budget), monitor_file=monitor_file)
    restore = install_signal_handlers(job)
    try:
        result = job.run()
    finally:
        restore()
    for warning in result.warnings:
        click.echo(f"vsr: warning: {warning}", err=True)
    if result.monitor and not quiet:
        click.echo(f"vsr: {summary_line(result.monitor)}", err=True)
    if result.stopped:
        raise Interrupted(f"stopped: {result.frames_out} frames sent, output flushed and closed")
    if result.loss:
        raise VsrError(result.loss)
    if result.ended and not quiet:
        click.echo(f"vsr: {result.ended}", err=True)
