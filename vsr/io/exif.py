"""A photo's EXIF (when it was taken, the camera, the exposure, where), carried into its upscale.

FFmpeg reads the orientation out of EXIF and drops the rest, and PyAV cannot attach it to a frame it
encodes, so the bytes are read from and written into the files themselves, as the ICC profile is
(:mod:`vsr.io.icc`): JPEG ``APP1``, PNG ``eXIf``, WebP ``EXIF``; a HEIF's through libheif. What no
longer holds is made right: the picture is written upright (orientation 1), at its new size
(PixelXDimension, PixelYDimension), and without the thumbnail (the old picture, on its side).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from vsr.io.icc import _PNG, _jpeg_segments, _png_chunks, _webp_chunks, jpeg_with, png_with, webp_with

_APP1 = b"Exif\x00\x00"
_ORIENTATION, _EXIF_IFD, _PIXEL_X, _PIXEL_Y = 0x0112, 0x8769, 0xA002, 0xA003
_SHORT, _LONG = 3, 4


def read_exif(path: str | Path) -> bytes | None:
    """The EXIF (a TIFF structure, from its byte-order mark) of a JPEG, PNG or WebP file, or None."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    try:
        if data.startswith(b"\xff\xd8"):
            return next((body[len(_APP1):] for marker, body, _, _ in _jpeg_segments(data)
                         if marker == 0xE1 and body.startswith(_APP1)), None)
        if data.startswith(_PNG):
            for kind, body, _, _ in _png_chunks(data):
                if kind == b"eXIf":
                    return body
                if kind == b"IDAT":
                    return None
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            body = next((body for kind, body in _webp_chunks(data) if kind == b"EXIF"), None)
            return body[len(_APP1):] if body is not None and body.startswith(_APP1) else body
    except (ValueError, IndexError, struct.error):
        return None
    return None


def orientation(exif: bytes) -> int | None:
    """The EXIF orientation (1-8: how the stored picture is turned and flipped to be shown), or
    None where it has none, or none vsr can read."""
    if exif.startswith(_APP1):
        exif = exif[len(_APP1):]
    if exif[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    order = "<" if exif[:2] == b"II" else ">"
    try:
        (ifd0,) = struct.unpack_from(order + "I", exif, 4)
        (n,) = struct.unpack_from(order + "H", exif, ifd0)
        for k in range(n):
            tag, kind, _, value = struct.unpack_from(order + "HHIH", exif, ifd0 + 2 + 12 * k)
            if tag == _ORIENTATION and kind == _SHORT:
                return value if 1 <= value <= 8 else None
    except struct.error:
        return None
    return None


def upright_pixels(pixels: np.ndarray, turn: int) -> np.ndarray:
    """``(H,W,C)`` pixels stored with EXIF orientation ``turn`` as they are shown (as Pillow's
    ``ImageOps.exif_transpose``): mirrored, turned, or both."""
    return {
        2: lambda a: a[:, ::-1],  # mirrored left to right
        3: lambda a: a[::-1, ::-1],  # a half turn
        4: lambda a: a[::-1],  # mirrored top to bottom
        5: lambda a: a.transpose(1, 0, 2),  # mirrored about the main diagonal
        6: lambda a: np.rot90(a, -1),  # a quarter turn clockwise
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # mirrored about the other diagonal
        8: lambda a: np.rot90(a, 1),  # a quarter turn counter-clockwise
    }.get(turn, lambda a: a)(pixels)


def upright(exif: bytes, width: int, height: int) -> bytes | None:
    """``exif`` for the upscaled picture: orientation 1 (it is written as shown), PixelXDimension
    and PixelYDimension ``width`` and ``height`` where it has them, no thumbnail (the IFD chain ends
    after the first). None where it is not a TIFF structure vsr can read."""
    if exif.startswith(_APP1):
        exif = exif[len(_APP1):]
    if exif[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    order = "<" if exif[:2] == b"II" else ">"
    out = bytearray(exif)
    try:
        (ifd0,) = struct.unpack_from(order + "I", out, 4)

        def entries(at: int):
            (n,) = struct.unpack_from(order + "H", out, at)
            for k in range(n):
                yield at + 2 + 12 * k, *struct.unpack_from(order + "HHI", out, at + 2 + 12 * k)

        def set_value(entry: int, kind: int, value: int) -> None:
            struct.pack_into(order + ("H" if kind == _SHORT else "I"), out, entry + 8, value)
        exif_ifd = None
        for entry, tag, kind, count in entries(ifd0):
            if tag == _ORIENTATION and kind == _SHORT:
                set_value(entry, kind, 1)
            elif tag == _EXIF_IFD:
                (exif_ifd,) = struct.unpack_from(order + "I", out, entry + 8)
        (n,) = struct.unpack_from(order + "H", out, ifd0)
        struct.pack_into(order + "I", out, ifd0 + 2 + 12 * n, 0)  # no IFD1: the thumbnail
        if exif_ifd:
            for entry, tag, kind, count in entries(exif_ifd):
                if tag in (_PIXEL_X, _PIXEL_Y) and kind in (_SHORT, _LONG) and count == 1:
                    set_value(entry, kind, width if tag == _PIXEL_X else height)
    except struct.error:
        return None
    return bytes(out)


def write_exif(path: str | Path, exif: bytes, size: tuple[int, int], alpha: bool = False) -> bool:
    """Write ``exif`` (:func:`upright` for ``size``) into the JPEG, PNG or WebP file at ``path``
    (rewritten in place); False for another format, or EXIF vsr cannot read."""
    path = Path(path)
    fixed = upright(exif, *size)
    if fixed is None:
        return False
    data = path.read_bytes()
    out: bytes | None = None
    if data.startswith(b"\xff\xd8") and len(fixed) + len(_APP1) + 2 <= 0xFFFF:
        out = jpeg_with(data, b"\xff\xe1" + struct.pack(">H", 2 + len(_APP1) + len(fixed)) + _APP1 + fixed)
    elif data.startswith(_PNG):
        out = png_with(data, b"eXIf", fixed)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        out = webp_with(data, b"EXIF", fixed, size, alpha)
    if out is None:
        return False
    path.write_bytes(out)
    return True


__all__ = ["orientation", "read_exif", "upright", "upright_pixels", "write_exif"]
