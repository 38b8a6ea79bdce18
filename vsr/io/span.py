"""The part of a video to upscale: ``--start``, ``--duration`` and ``--to``, as ffmpeg's input
``-ss``, ``-t`` and ``-to``.

Times count from the file's own start (its first timestamp, as ffmpeg's ``-ss`` does), and the cut
is frame-exact: the input is sought to the keyframe before the start, and the frames decoded up to
it are dropped. The output starts at zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from vsr.errors import ConfigError

_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")  # [HH:]MM:SS[.frac]
_UNITS = {"s": Fraction(1), "ms": Fraction(1, 1000), "us": Fraction(1, 10**6)}
_SECONDS = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(s|ms|us)?$")


def parse_time(text: str, option: str = "--start") -> Fraction:
    """``90``, ``90.5``, ``1:30``, ``00:01:30.5`` or ``1500ms`` (ffmpeg's time syntax, not
    negative) -> exact seconds."""
    t = text.strip()
    m = _CLOCK.match(t)
    if m:
        hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), Fraction(m.group(3))
        if (m.group(1) is None or minutes < 60) and seconds < 60:  # (minutes alone may run past 59)
            return hours * 3600 + minutes * 60 + seconds
    m = _SECONDS.match(t)
    if m:
        return Fraction(m.group(1)) * _UNITS[m.group(2) or "s"]
    raise ConfigError(f"{option}: bad time {text!r} (give seconds, 90.5 or 1500ms, or [HH:]MM:SS[.ms], 1:30)")


def clock(seconds: Fraction | float) -> str:
    """Seconds as a short clock reading: ``7.25 s``, ``2:03.5``, ``1:02:03``."""
    s = float(seconds)
    if s < 60:
        return f"{s:g} s"
    minutes, rest = divmod(s, 60)
    hours, minutes = divmod(int(minutes), 60)
    sec = f"{rest:06.3f}".rstrip("0").rstrip(".")
    return f"{hours}:{minutes:02d}:{sec}" if hours else f"{minutes}:{sec}"


def as_option(seconds: Fraction | float) -> str:
    """Seconds as a --start value, to the millisecond: ``5.980``, ``1:02:03.250``."""
    ms = round(float(seconds) * 1000)
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    if not hours and not minutes:
        return f"{rest / 1000:.3f}"
    return (f"{hours}:{minutes:02d}:" if hours else f"{minutes}:") + f"{rest // 1000:02d}.{rest % 1000:03d}"


@dataclass(frozen=True)
class Span:
    """A part of the input: from ``start`` seconds, ``duration`` seconds long (None: to the end)."""

    start: Fraction = Fraction(0)
    duration: Fraction | None = None

    @staticmethod
    def of(start: str | None, duration: str | None, to: str | None) -> "Span | None":
        """The span the options ask for, or None for the whole input."""
        if duration is not None and to is not None:
            raise ConfigError("give --duration or --to, not both")
        begin = parse_time(start, "--start") if start is not None else Fraction(0)
        length = parse_time(duration, "--duration") if duration is not None else None
        if to is not None:
            end = parse_time(to, "--to")
            if end <= begin:
                raise ConfigError(f"--to {to} is not after --start {start or 0}")
            length = end - begin
        if length is not None and length <= 0:
            raise ConfigError(f"--duration must be more than 0, got {duration}")
        if not begin and length is None:
            return None
        return Span(begin, length)

    def describe(self) -> str:
        end = f" to {clock(self.start + self.duration)}" if self.duration is not None else " to the end"
        return f"from {clock(self.start)}{end}"
