"""``vsr train``: train a compact SR preset from a configs/train TOML."""

from __future__ import annotations

import click

from vsr.train.config import load_train_config


@click.command("train")
@click.option("-c", "--config", "config", required=True, help="Training config: TOML path or a name in configs/train.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override a config value (repeatable).")
@click.option("--data", "data_dirs", multiple=True, type=click.Path(file_okay=False), help="HR image folder (repeatable; replaces data.dirs).")
@click.option("--fresh", is_flag=True, help="Ignore an existing checkpoint in run.dir and start over.")
def command(config: str, overrides: tuple[str, ...], data_dirs: tuple[str, ...], fresh: bool) -> None:
    """Train (or resume) a model; writes run.dir/checkpoint.pt and run.dir/<preset>.safetensors."""
    from vsr.train.loop import Trainer

    cfg = load_train_config(config, overrides)
    trainer = Trainer(cfg, progress=lambda line: click.echo(line, err=True))
    result = trainer.run(data_dirs, fresh=fresh)
    state = "finished" if result.finished else "stopped"
    click.echo(f"{state} at step {result.step} in {result.seconds:.0f} s; weights: {result.weights}")


if __name__ == "__main__":
    command()
