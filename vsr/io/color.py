"""Colour metadata of a video: what the tags say, and what we assume when they say nothing."""

from __future__ import annotations

from dataclasses import dataclass

# FFmpeg's AVColorSpace / AVColorPrimaries / AVColorTransferCharacteristic / AVColorRange values.
CS_BT709, CS_UNSPECIFIED, CS_FCC, CS_BT470BG, CS_SMPTE170M, CS_SMPTE240M = 1, 2, 4, 5, 6, 7
CS_BT2020_NCL, CS_BT2020_CL = 9, 10
PRI_BT709, PRI_UNSPECIFIED, PRI_BT470BG, PRI_SMPTE170M, PRI_BT2020 = 1, 2, 5, 6, 9
TRC_BT709, TRC_UNSPECIFIED, TRC_SMPTE170M, TRC_BT2020_10 = 1, 2, 6, 14
RANGE_UNSPECIFIED, RANGE_LIMITED, RANGE_FULL = 0, 1, 2

_MATRIX_OF_COLORSPACE = {
    CS_BT709: "bt709",
    CS_SMPTE240M: "bt709",  # 240M differs from 709 in the 4th decimal; treated as 709
    CS_BT470BG: "bt601",
    CS_SMPTE170M: "bt601",
    CS_FCC: "bt601",
    CS_BT2020_NCL: "bt2020",
    CS_BT2020_CL: "bt2020",
}
_MATRIX_OF_PRIMARIES = {PRI_BT709: "bt709", PRI_BT470BG: "bt601", PRI_SMPTE170M: "bt601", PRI_BT2020: "bt2020"}
_DEFAULT_TAGS = {  # matrix -> (colorspace, primaries, trc) written when the input was untagged
    "bt709": (CS_BT709, PRI_BT709, TRC_BT709),
    "bt601": (CS_SMPTE170M, PRI_SMPTE170M, TRC_SMPTE170M),
    "bt2020": (CS_BT2020_NCL, PRI_BT2020, TRC_BT2020_10),
}


@dataclass(frozen=True)
class ColorInfo:
    """Resolved colour description of a stream.

    ``matrix`` and ``full_range`` drive the Y'CbCr <-> R'G'B' conversion; ``colorspace``,
    ``primaries``, ``trc`` and ``range_tag`` are the tags the output is written with (the input's
    own, or, where it had none, those of the assumed matrix). ``assumed`` names what was guessed.
    """

    matrix: str
    full_range: bool
    colorspace: int
    primaries: int
    trc: int
    assumed: tuple[str, ...] = ()
    tagged: bool = False  # the primaries or transfer are the input's own (written on frames too: PNG takes them there)

    @property
    def range_tag(self) -> int:
        return RANGE_FULL if self.full_range else RANGE_LIMITED

    def describe(self) -> str:
        text = f"{self.matrix}, {'full' if self.full_range else 'limited'} range"
        return text + (f" (assumed: {', '.join(self.assumed)})" if self.assumed else "")


def resolve_color(
    colorspace: int | None,
    color_range: int | None,
    primaries: int | None,
    trc: int | None,
    width: int,
    height: int,
    pix_fmt: str,
) -> ColorInfo:
    """Resolve tags the way players do: untagged HD (>= 1280x720) is BT.709, untagged SD BT.601."""
    assumed: list[str] = []
    matrix = _MATRIX_OF_COLORSPACE.get(colorspace or CS_UNSPECIFIED)
    if matrix is None:
        matrix = _MATRIX_OF_PRIMARIES.get(primaries or PRI_UNSPECIFIED)
        if matrix is None:
            matrix = "bt709" if (width >= 1280 or height >= 720) else "bt601"
        assumed.append(f"matrix {matrix}")
    if color_range == RANGE_FULL:
        full = True
    elif color_range == RANGE_LIMITED:
        full = False
    else:
        full = pix_fmt.startswith("yuvj")
        if not full:
            assumed.append("limited range")
    d_cs, d_pri, d_trc = _DEFAULT_TAGS[matrix]
    cs = colorspace if colorspace in _MATRIX_OF_COLORSPACE else d_cs
    pri = primaries if primaries not in (None, PRI_UNSPECIFIED, 0) else d_pri
    tr = trc if trc not in (None, TRC_UNSPECIFIED, 0) else d_trc
    return ColorInfo(matrix, full, cs, pri, tr, tuple(assumed), tagged=pri == primaries or tr == trc)


# what a picture's primaries and transfer are called (those an sRGB display shows as meant are not named)
_PRIMARIES_NAMES = {9: "BT.2020", 10: "XYZ", 11: "DCI-P3", 12: "Display P3"}
_TRC_NAMES = {8: "linear", 16: "PQ (HDR)", 18: "HLG (HDR)"}


def unlike_srgb(primaries: int | None, trc: int | None) -> str:
    """How tags (ISO/IEC 23091-2 code points, as FFmpeg's) differ from what an untagged picture is
    shown as (sRGB): ``"Display P3 primaries"``, ``"BT.2020 primaries, PQ (HDR)"``; empty where they
    do not, or too little to matter (BT.601's primaries, BT.709's curve against sRGB's)."""
    named = [f"{_PRIMARIES_NAMES[primaries]} primaries"] if primaries in _PRIMARIES_NAMES else []
    return ", ".join(named + ([_TRC_NAMES[trc]] if trc in _TRC_NAMES else []))
