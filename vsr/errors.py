"""Error hierarchy.

One root, :class:`VsrError`; every subclass also inherits the matching builtin so callers can catch
either (``except FileNotFoundError`` works for a missing input). Messages name the bad value and what
would be valid; the CLI prints ``str(error)`` as one line.
"""

from __future__ import annotations


class VsrError(Exception):
    """Root of every error vsr raises on purpose."""


class ConfigError(VsrError, ValueError):
    """A bad option, config key or config value."""


class InputNotFoundError(VsrError, FileNotFoundError):
    """The input path does not exist."""

    def __str__(self) -> str:  # FileNotFoundError's default formatting is "[Errno ...]"
        return self.args[0] if self.args else "input not found"


class InvalidInputError(VsrError, ValueError):
    """The input exists but cannot be used (not media, no video stream, no decodable frame)."""


class OutputError(VsrError, OSError):
    """The output cannot be written (exists, same as input, directory not writable)."""

    def __str__(self) -> str:
        return self.args[0] if self.args else "output error"


class UnknownModelError(VsrError, LookupError):
    """No model of that name or file layout."""


class UnsupportedScaleError(VsrError, ValueError):
    """The model cannot upscale by the requested factor."""


class BackendUnavailableError(VsrError, RuntimeError):
    """An explicitly requested device, backend or encoder cannot run on this machine."""


class EncoderError(VsrError, RuntimeError):
    """The encoder or muxer failed."""


class StageError(VsrError, RuntimeError):
    """A pipeline stage failed; ``stage`` names it and ``__cause__`` holds the original error."""

    def __init__(self, stage: str, error: BaseException) -> None:
        self.stage = stage
        self.error = error
        super().__init__(f"{stage} stage failed: {describe(error)}")


class Interrupted(VsrError, KeyboardInterrupt):
    """The run was stopped by the user (SIGINT/SIGTERM)."""


def describe(error: BaseException) -> str:
    """One line for any exception: vsr errors as they are, others prefixed with their type."""
    if isinstance(error, VsrError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return " ".join(text.split())
