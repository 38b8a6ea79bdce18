"""The ``vsr`` command group and the one place errors become exit codes."""

from __future__ import annotations

import logging
import sys

import click

from vsr import __version__
from vsr.errors import Interrupted, VsrError, describe

log = logging.getLogger("vsr")


_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


class VsrGroup(click.Group):
    """Runs a subcommand; a known error becomes one line on stderr and exit code 1 (130 if interrupted)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        """As click's, but a bad option or argument is one line too (click writes the usage, a hint
        and the error on three), exit code 2 as click's."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS as e:  # a bare `vsr` (or a group without its command): the help, as click shows it
            click.echo(e.ctx.get_help() if e.ctx is not None else e.format_message(), err=True)
            sys.exit(e.exit_code)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx is not None else (prog_name or "vsr")
            click.echo(f"vsr: error: {e.format_message().rstrip('.')} (see {where} --help)", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except click.exceptions.Abort:
            click.echo("vsr: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except Interrupted as e:
            click.echo(f"vsr: {describe(e)}", err=True)
            ctx.exit(130)
        except VsrError as e:
            click.echo(f"vsr: error: {describe(e)}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("vsr: interrupted", err=True)
            ctx.exit(130)
        except MemoryError:
            click.echo("vsr: error: out of memory (try --tile 256 or a smaller --batch)", err=True)
            ctx.exit(1)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as e:  # a bug: still one line for the user, the traceback on -vv
            log.debug("internal error", exc_info=True)
            click.echo(f"vsr: internal error: {describe(e)} (a bug: run with -vv for details)", err=True)
            ctx.exit(2)


@click.group("vsr", cls=VsrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vsr")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """vsr: real-time video super-resolution."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="vsr: %(message)s", stream=sys.stderr)
    from vsr.engine.device import tune_host_allocator

    tune_host_allocator()  # before any decoder or stage thread exists (see its docstring)


def _register() -> None:
    from vsr.cli import bench, report, stream, train, upscale
    from vsr.cli import eval as eval_

    cli.add_command(upscale.command, "upscale")
    cli.add_command(stream.command, "stream")
    cli.add_command(bench.command, "bench")
    cli.add_command(train.command, "train")
    cli.add_command(eval_.command, "eval")
    cli.add_command(report.command, "report")


_register()


def main() -> None:
    cli(prog_name="vsr")
