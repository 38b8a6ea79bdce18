"""HDR10 static metadata: the mastering display (SMPTE ST 2086) and content light levels (MaxCLL,
MaxFALL) of a video, read from its decoded frames and handed to the encoder of the output.

The colour tags (BT.2020, PQ/HLG) travel with the stream's colour description; these two travel in
SEI messages (or AV1 metadata OBUs) that a new encode only writes when told to, through the
encoder's own parameters, exactly as ffmpeg users pass them (``-x265-params master-display=...``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction

import av

# AVMasteringDisplayMetadata: AVRational display_primaries[3][2] (R, G, B; x, y), white_point[2],
# min_luminance, max_luminance (each num, den), then int has_primaries, has_luminance.
_MASTERING = struct.Struct("<22i")
# AVContentLightMetadata: unsigned MaxCLL, MaxFALL.
_LIGHT = struct.Struct("<2I")


@dataclass(frozen=True)
class HdrMetadata:
    """Chromaticities as CIE 1931 x, y; luminances in cd/m^2. ``None`` where the source had none."""

    primaries: tuple[tuple[Fraction, Fraction], ...] | None = None  # R, G, B
    white_point: tuple[Fraction, Fraction] | None = None
    luminance: tuple[Fraction, Fraction] | None = None  # min, max
    max_cll: int | None = None
    max_fall: int | None = None

    def describe(self) -> str:
        parts = []
        if self.luminance is not None:
            parts.append(f"mastering display {float(self.luminance[1]):g}/{float(self.luminance[0]):g} cd/m2")
        elif self.primaries is not None:
            parts.append("mastering display primaries")
        if self.max_cll is not None:
            parts.append(f"MaxCLL {self.max_cll}, MaxFALL {self.max_fall}")
        return ", ".join(parts)


def _ratio(num: int, den: int) -> Fraction:
    return Fraction(num, den) if den else Fraction(0)


def read_hdr(frame: av.VideoFrame) -> HdrMetadata | None:
    """The HDR10 static metadata a decoded frame carries, or None."""
    kinds = {sd.type.name: bytes(sd) for sd in frame.side_data}
    primaries = white = luminance = None
    cll = fall = None
    raw = kinds.get("MASTERING_DISPLAY_METADATA")
    if raw is not None and len(raw) >= _MASTERING.size:
        v = _MASTERING.unpack_from(raw)
        if v[20]:  # has_primaries
            primaries = tuple((_ratio(v[4 * i], v[4 * i + 1]), _ratio(v[4 * i + 2], v[4 * i + 3]))
                              for i in range(3))
            white = (_ratio(v[12], v[13]), _ratio(v[14], v[15]))
        if v[21]:  # has_luminance
            luminance = (_ratio(v[16], v[17]), _ratio(v[18], v[19]))
    raw = kinds.get("CONTENT_LIGHT_LEVEL")
    if raw is not None and len(raw) >= _LIGHT.size:
        cll, fall = _LIGHT.unpack_from(raw)
    if primaries is None and luminance is None and cll is None:
        return None
    return HdrMetadata(primaries, white, luminance, cll, fall)


# How each encoder is told: (private option, mastering display key, light level key, units of a
# chromaticity and of a luminance). x265 and x264 take integers in 0.00002 and 0.0001 cd/m^2;
# SVT-AV1 (units None) takes decimals.
_SPELLING = {
    "libx265": ("x265-params", "master-display", "max-cll", 50000, 10000),
    "libx264": ("x264-params", "mastering-display", "cll", 50000, 10000),
    "libsvtav1": ("svtav1-params", "mastering-display", "content-light", None, None),
}
ENCODERS = tuple(_SPELLING)  # the encoders vsr tells about it


def encoder_params(codec: str, meta: HdrMetadata) -> tuple[str, str] | None:
    """``(private option, value)`` that makes ``codec`` write ``meta``, or None where vsr knows no way.
    Primaries go in the order G, B, R, then the white point, then L(max, min)."""
    spelling = _SPELLING.get(codec)
    if spelling is None:
        return None
    key, mastering, light, xy_unit, lum_unit = spelling

    def number(value: Fraction, unit: int | None, digits: int) -> str:
        return str(round(value * unit)) if unit else f"{float(value):.{digits}f}"

    def xy(point: tuple[Fraction, Fraction]) -> str:
        return f"({number(point[0], xy_unit, 5)},{number(point[1], xy_unit, 5)})"

    parts = []
    if meta.primaries is not None and meta.white_point is not None and meta.luminance is not None:
        r, g, b = meta.primaries
        lo, hi = meta.luminance
        parts.append(f"{mastering}=G{xy(g)}B{xy(b)}R{xy(r)}WP{xy(meta.white_point)}"
                     f"L({number(hi, lum_unit, 4)},{number(lo, lum_unit, 4)})")
    if meta.max_cll is not None:
        parts.append(f"{light}={meta.max_cll},{meta.max_fall}")
    return (key, ":".join(parts)) if parts else None


def merge_params(options: dict[str, str], key: str, value: str) -> None:
    """Add ``value`` to the ``a=b:c=d`` list ``options[key]`` (which may hold settings already)."""
    options[key] = f"{options[key]}:{value}" if options.get(key) else value
