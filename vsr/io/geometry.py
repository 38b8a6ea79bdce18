"""The output's size when it is not the model's scale: ``--size`` and ``--outscale``.

Real-ESRGAN's ``--outscale 3.5`` and Video2X's output width/height: the network upscales by its own
factor (2 or 4) and the result is then resized to the size asked for (antialiased bicubic when it
shrinks, as Pillow and ffmpeg's swscale do). A size with one side left out keeps the input's
storage aspect, rounded to even (ffmpeg's ``scale=-2:1080``); a size that changes the aspect keeps
the display aspect through the sample aspect ratio, as ffmpeg's scale filter does.
"""

from __future__ import annotations

import re
from fractions import Fraction

from vsr.errors import ConfigError

# Names for common heights (the width follows the aspect).
HEIGHTS = {"480p": 480, "540p": 540, "576p": 576, "720p": 720, "1080p": 1080, "1440p": 1440,
           "2160p": 2160, "4k": 2160, "4320p": 4320, "8k": 4320}
MAX_SIDE = 16384  # what H.264/HEVC levels and most players stop at
MAX_AREA = (2**31 - 1) // 8  # FFmpeg's av_image_check_size: (w + 128) * (h + 128) below this
MAX_OUTSCALE = 16.0
SIZE_HELP = ("Output size instead of the model's scale: WxH, W (or Wx), xH, or 720p/1080p/1440p/4k; "
             "a missing side keeps the aspect.")
OUTSCALE_HELP = "Output scale, any factor (e.g. 1.5, 3): the model's 2 or 4, then resized (as Real-ESRGAN)."


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> (1920, 1080); ``"1920"``/``"1920x"`` -> (1920, 0); ``"x1080"``/``"1080p"``
    -> (0, 1080): 0 means "from the other side and the aspect"."""
    t = text.strip().lower()
    if t in HEIGHTS:
        return 0, HEIGHTS[t]
    a, _, b = t.replace(":", "x").partition("x")
    if not re.fullmatch(r"\d*", a) or not re.fullmatch(r"\d*", b) or not (a or b):
        raise ConfigError(f"bad size {text!r} (use WxH, W, xH or 720p/1080p/1440p/4k, e.g. 1920x1080 or x1080)")
    w, h = int(a or 0), int(b or 0)
    if (a and not 1 <= w <= MAX_SIDE) or (b and not 1 <= h <= MAX_SIDE):
        raise ConfigError(f"bad size {text!r}: each side must be 1..{MAX_SIDE} pixels")
    return w, h


def check_geometry(size: str = "", outscale: float = 0.0) -> None:
    """A clear error for a bad ``--size``/``--outscale`` before any input is opened."""
    if size and outscale:
        raise ConfigError("give --size or --outscale, not both")
    if outscale and not 0 < outscale <= MAX_OUTSCALE:
        raise ConfigError(f"--outscale must be in (0, {MAX_OUTSCALE:g}], got {outscale:g}")
    if size:
        parse_size(size)


def _even(x: float) -> int:
    return max(2, 2 * round(x / 2))


def output_size(width: int, height: int, scale: int, size: str = "", outscale: float = 0.0,
                turned: bool = False) -> tuple[int, int]:
    """The output's stored ``(width, height)`` for a ``width x height`` input: the model's ``scale``
    unless ``size`` or ``outscale`` says otherwise (a computed side that is not whole is rounded to
    even, for 4:2:0). ``size`` is of the picture as shown: ``turned``, the input is stored on its
    side and shown a quarter turn round (a phone's portrait video), so its sides are swapped, as
    ffmpeg sizes it after its autorotate; and a named height (``1080p``) is the short side, as a
    phone calls its portrait recording 1080p (1080x1920)."""
    check_geometry(size, outscale)
    if outscale:  # whole products are kept (63 x 3 = 189, as -s 3 gives); others rounded to even
        w, h = (round(x * outscale) if abs(x * outscale - round(x * outscale)) < 1e-6 else _even(x * outscale)
                for x in (width, height))
    elif size:
        shown_w, shown_h = (height, width) if turned else (width, height)
        w, h = parse_size(size)
        if size.strip().lower() in HEIGHTS and shown_h > shown_w:  # a portrait picture's "1080p"
            w, h = h, 0
        if not w:
            w = _even(h * shown_w / shown_h)
        elif not h:
            h = _even(w * shown_h / shown_w)
        if turned:
            w, h = h, w
    else:
        w, h = width * scale, height * scale
    if w > MAX_SIDE or h > MAX_SIDE or (w + 128) * (h + 128) >= MAX_AREA:
        raise ConfigError(f"the output would be {w}x{h}; at most {MAX_SIDE} pixels a side and "
                          f"{MAX_AREA // 10**6 - 1} megapixels (FFmpeg's frame limit)")
    return w, h


def quarter_turned(rotation: float | None) -> bool:
    """Whether a picture shown ``rotation`` degrees round (its display matrix) is shown on its side."""
    return round((rotation or 0) / 90) % 2 == 1


def model_scale_for(width: int, height: int, out_width: int, out_height: int,
                    scales: tuple[int, ...] = (2, 4)) -> int:
    """The smallest model scale that reaches the output size without upsampling afterwards (the
    largest where none does): x2 for up to 2x, else x4."""
    need = max(out_width / width, out_height / height)
    for s in sorted(scales):
        if s >= need - 1e-9:
            return s
    return max(scales)


def output_sar(sar: Fraction | None, width: int, height: int, out_width: int, out_height: int) -> Fraction | None:
    """The sample aspect ratio that keeps the display aspect through a resize, as ffmpeg's scale
    filter sets it (an unknown one stays unknown), except that a side rounded to even (under 1% off)
    keeps the input's: square pixels stay 1:1, not 14400:14399."""
    if not sar:
        return sar
    change = Fraction(out_height * width, out_width * height)
    return sar if abs(change - 1) < Fraction(1, 100) else sar * change


__all__ = ["HEIGHTS", "OUTSCALE_HELP", "SIZE_HELP", "check_geometry", "model_scale_for", "output_sar", "output_size",
           "parse_size", "quarter_turned"]
