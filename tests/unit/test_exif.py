"""EXIF made right for an upscale (vsr.io.exif.upright), on hand-made TIFF structures."""

from __future__ import annotations

import struct

from vsr.io.exif import upright


def _tiff(order: str, orientation: int, thumbnail: bool) -> bytes:
    """A TIFF header, IFD0 (orientation, a pointer to an EXIF IFD) and, with ``thumbnail``, IFD1."""
    mark = b"II*\x00" if order == "<" else b"MM\x00*"
    ifd0, exif_ifd, ifd1 = 8, 8 + 2 + 2 * 12 + 4, 8 + 2 + 2 * 12 + 4 + 2 + 2 * 12 + 4
    out = mark + struct.pack(order + "I", ifd0)
    out += struct.pack(order + "H", 2)
    out += struct.pack(order + "HHIHH", 0x0112, 3, 1, orientation, 0)
    out += struct.pack(order + "HHII", 0x8769, 4, 1, exif_ifd)
    out += struct.pack(order + "I", ifd1 if thumbnail else 0)
    out += struct.pack(order + "H", 2)
    out += struct.pack(order + "HHIHH", 0xA002, 3, 1, 40, 0)  # PixelXDimension, SHORT
    out += struct.pack(order + "HHII", 0xA003, 4, 1, 30)  # PixelYDimension, LONG
    out += struct.pack(order + "I", 0)
    if thumbnail:
        out += struct.pack(order + "H", 1) + struct.pack(order + "HHII", 0x0103, 3, 1, 6) + struct.pack(order + "I", 0)
    return out


def test_upright_sets_orientation_size_and_drops_the_thumbnail_in_either_byte_order() -> None:
    for order in "<>":
        fixed = upright(b"Exif\x00\x00" + _tiff(order, 6, thumbnail=True), 60, 80)
        assert fixed is not None and len(fixed) == len(_tiff(order, 6, True))  # patched in place
        expected = _tiff(order, 1, thumbnail=False)
        assert fixed[: len(expected) - 24] == expected[:-24]  # orientation 1, IFD0 ends the chain
        x, = struct.unpack_from(order + "H", fixed, 8 + 2 + 2 * 12 + 4 + 2 + 8)
        y, = struct.unpack_from(order + "I", fixed, 8 + 2 + 2 * 12 + 4 + 2 + 12 + 8)
        assert (x, y) == (60, 80)


def test_what_is_not_a_tiff_structure_is_not_written() -> None:
    assert upright(b"not exif at all", 10, 10) is None
    assert upright(b"II*\x00" + struct.pack("<I", 4000), 10, 10) is None  # IFD0 past the end
