"""``vsr bench [CLIP ...]``: how fast this machine upscales which video, and where the time goes."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from vsr.bench.clips import SWEEP_SIZES, parse_size
from vsr.bench.report import check_plot_path, format_report, plot_scaling, validate_report
from vsr.bench.suite import BenchRun, BenchSettings, resolve_clips
from vsr.cli.upscale import CONFIG_HELP, DETAIL_HELP, PRECISION_HELP, build_config
from vsr.engine.device import PRECISIONS
from vsr.errors import ConfigError, OutputError


def _sizes(text: str) -> tuple[str, ...]:
    sizes = tuple(s.strip() for s in text.split(",") if s.strip())
    if not sizes:
        raise ConfigError("--sweep-sizes needs at least one size (e.g. 360p,720p or 640x360)")
    for s in sizes:
        parse_size(s)
    return sizes


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option} takes numbers separated by commas, got {text!r}") from None
    if not values or min(values) < 1:
        raise ConfigError(f"{option} takes numbers >= 1, got {text!r}")
    return values


def _check_writable(path: Path, option: str) -> None:
    if path.is_dir():
        raise OutputError(f"{option} {path} is a directory")
    if not path.parent.exists():
        raise OutputError(f"{option} {path}: directory {path.parent} does not exist")


@click.command("bench")
@click.argument("clips", metavar="[CLIP]...", nargs=-1, type=str)
@click.option("-s", "--scale", type=int, default=None, help="Upscale factor: 2 or 4 (default 2).")
@click.option("-m", "--model", type=str, default=None, help="Model name (default: auto).")
@click.option("--detail", type=click.FloatRange(0, 1), default=None, help=DETAIL_HELP)
@click.option("--backend", type=str, default=None, help="eager | compile | tensorrt | auto.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None, help=PRECISION_HELP)
@click.option("--batch", type=int, default=None, help="Frames per forward pass (default 1).")
@click.option("--device", type=str, default=None, help="auto | cpu | cuda | cuda:N (default auto).")
@click.option("--frames", type=int, default=6, show_default=True,
              help="Frames measured per clip. The default keeps a full `vsr bench` to about two "
                   "minutes on a 2-core CPU; use 100+ on a GPU for stable figures.")
@click.option("--repeats", type=int, default=2, show_default=True,
              help="Timed passes of the engine alone (the fastest is kept).")
@click.option("--no-encode", is_flag=True,
              help="Encode nothing: no e2e-with-encode run, and the baselines run without encoding.")
@click.option("--codec", type=str, default=None, help="Encoder for the e2e runs (default libx264).")
@click.option("--preset", type=str, default=None, help="Encoder preset (default medium).")
@click.option("--crf", type=int, default=None, help="Encoder quality (default 18).")
@click.option("--no-baselines", is_flag=True, help="Skip the naive loop and FFmpeg scaler baselines.")
@click.option("--no-sweep", is_flag=True, help="Skip the resolution / batch scaling sweep.")
@click.option("--sweep-sizes", default=",".join(SWEEP_SIZES), show_default=True,
              help="Input sizes of the sweep (360p..2160p or WxH).")
@click.option("--sweep-batches", default="1,2,4,8", show_default=True,
              help="Batch sizes of the sweep (at the first sweep size).")
@click.option("--sweep-frames", type=int, default=0, show_default=True,
              help="Frames per sweep point (times the batch in the batch sweep); 0 = max(2, frames/3).")
@click.option("--content", type=click.Choice(["auto", "footage", "procedural"]), default="auto",
              show_default=True,
              help="Built-in clips: footage (needs the samples extra) or a procedural moving texture.")
@click.option("--json", "json_path", type=str, default=None, help="Write the full report as JSON.")
@click.option("--plot", "plot_path", type=str, default=None,
              help="Write the scaling sweep as a PNG plot (needs the plot extra: matplotlib).")
@click.option("--config", "config_path", type=str, default=None, help=CONFIG_HELP)
@click.option("--set", "sets", multiple=True, metavar="SECTION.KEY=VALUE", help="Override any config key.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines; the report table only.")
def command(clips: tuple[str, ...], scale: int | None, model: str | None, detail: float | None, backend: str | None,
            precision: str | None, batch: int | None, device: str | None, frames: int, repeats: int,
            no_encode: bool, codec: str | None, preset: str | None, crf: int | None,
            no_baselines: bool, no_sweep: bool, sweep_sizes: str, sweep_batches: str, sweep_frames: int,
            content: str,
            json_path: str | None, plot_path: str | None, config_path: str | None,
            sets: tuple[str, ...], quiet: bool) -> None:
    """Measure upscaling throughput on CLIP files (or sample:NAME, bench:SIZE).

    Without CLIP it uses built-in clips at 360p, 540p, 720p and 1080p (bench:360p ... bench:1080p;
    made on the spot and cached, nothing downloaded). Per clip: decode alone, engine alone, the
    pipeline end to end without and with encode, efficiency, busiest stage, per-frame latency,
    peak memory, GPU telemetry where NVML works, and the naive-loop and FFmpeg-scaler baselines;
    then fps and memory against input size and batch. With the defaults a full run takes about two
    minutes on a 2-core CPU.
    """
    if scale is not None and scale not in (2, 3, 4):
        raise ConfigError(f"unsupported scale {scale} (supported: 2, 4; 3 for classic scalers)")
    if plot_path and no_sweep:
        raise ConfigError("--plot draws the scaling sweep; drop --no-sweep")
    plot = check_plot_path(plot_path) if plot_path else None
    if plot is not None:
        _check_writable(plot, "--plot")
    out_json = Path(json_path) if json_path else None
    if out_json is not None:
        _check_writable(out_json, "--json")
    config = build_config(
        config_path,
        {
            "model.scale": scale, "model.name": model, "model.detail": detail, "model.backend": backend,
            "model.precision": precision, "model.batch": batch, "runtime.device": device,
            "encode.codec": codec, "encode.preset": preset, "encode.crf": crf,
        },
        sets,
    )
    settings = BenchSettings(
        config=config, frames=frames, repeats=repeats, encode=not no_encode,
        baselines=not no_baselines, sweep=not no_sweep, sweep_sizes=_sizes(sweep_sizes),
        sweep_batches=_ints(sweep_batches, "--sweep-batches"), sweep_frames=sweep_frames, content=content,
    )
    settings.check()
    say = (lambda text: None) if quiet else (lambda text: click.echo(f"vsr bench: {text}", err=True))
    say("preparing clips")
    resolved = resolve_clips(clips, frames, content)
    report = BenchRun(settings, progress=say).run(resolved, command=shlex.join(["vsr", *sys.argv[1:]]))
    click.echo(format_report(report))
    for problem in validate_report(report):
        click.echo(f"vsr: warning: inconsistent figure (timing noise?): {problem}", err=True)
    if out_json is not None:
        out_json.write_text(json.dumps(report, indent=2) + "\n")
        say(f"wrote {out_json}")
    if plot is not None:
        plot_scaling(report, plot)
        say(f"wrote {plot}")
