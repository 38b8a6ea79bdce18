"""``vsr report FILE``: summarise (and plot) the scores a `--monitor` run wrote."""

from __future__ import annotations

import math
from pathlib import Path

import click

from vsr.errors import ConfigError, InputNotFoundError, InvalidInputError
from vsr.pipeline.monitor import SCORES, read_records


@click.command("report")
@click.argument("monitor_file", metavar="FILE")
@click.option("--plot", "plot_path", type=str, default=None, help="Draw every score over time to a PNG.")
def command(monitor_file: str, plot_path: str | None) -> None:
    """Summarise the monitor scores in FILE (JSON lines from --monitor): mean, min, max per score,
    with what each means and which direction is better."""
    path = Path(monitor_file)
    if not path.exists():
        raise InputNotFoundError(f"monitor file not found: {path}")
    try:
        records = read_records(path)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"{path} is not a monitor file (JSON lines): {e}") from None
    if not records:
        raise InvalidInputError(f"{path} holds no scored frame")
    click.echo(f"{len(records)} scored frames in {path}")
    click.echo(f"{'score':<20}{'mean':>9}{'min':>9}{'max':>9}  meaning (better: ...)")
    for key, (meaning, better) in SCORES.items():
        values = [r[key] for r in records if key in r and math.isfinite(r[key])]
        if not values:
            continue
        click.echo(f"{key:<20}{sum(values) / len(values):>9.3f}{min(values):>9.3f}{max(values):>9.3f}"
                   f"  {meaning} (better: {better})")
    if plot_path:
        plot(records, plot_path)
        click.echo(f"wrote {plot_path}")


def plot(records: list[dict], plot_path: str) -> None:
    if not plot_path.lower().endswith(".png"):
        raise ConfigError(f"--plot wants a .png file, got {plot_path!r}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("--plot needs matplotlib: pip install 'vsr[plot]'") from None
    keys = [k for k in SCORES if any(k in r for r in records)]
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 2.2 * len(keys)), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        xs = [r["time_s"] if r.get("time_s") is not None else r["index"] for r in records if key in r]
        ys = [r[key] for r in records if key in r]
        ax.plot(xs, ys, marker=".", linewidth=1)
        ax.set_ylabel(key.replace("_", " "), fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(plot_path, dpi=100)
    plt.close(fig)
