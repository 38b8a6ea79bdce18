"""ICC colour profiles of still images, read from and written into the files' own bytes.

A photo from a phone or a wide-gamut camera (Display P3, Adobe RGB) says what its RGB values mean in
an embedded ICC profile; an upscaled copy without it is shown as sRGB, its colours dulled. FFmpeg's
decoders read the profile, but PyAV can neither hand it over reliably nor attach it to a frame it
encodes, so the few bytes are carried here: PNG ``iCCP``, JPEG ``APP2 ICC_PROFILE`` and WebP
``ICCP`` are read and written (TIFF and BMP outputs say they lost it).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG_ICC = b"ICC_PROFILE\x00"
_JPEG_CHUNK = 65535 - 2 - len(_JPEG_ICC) - 2  # an APP2 segment's room for profile bytes
# PNG chunks an embedded profile replaces (the spec lets iCCP stand with none of them)
_PNG_COLOUR = (b"sRGB", b"gAMA", b"cHRM", b"iCCP")


def _png_chunks(data: bytes):
    pos = len(_PNG)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        yield kind, data[pos + 8:pos + 8 + length], pos, pos + 12 + length
        pos += 12 + length


def _jpeg_segments(data: bytes):
    """(marker, payload) of the segments before the image data."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: what follows is image data
            return
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        yield marker, data[pos + 4:pos + 2 + length], pos, pos + 2 + length
        pos += 2 + length


def _webp_chunks(data: bytes):
    """(fourcc, payload) of a WebP file's chunks."""
    pos = 12
    while pos + 8 <= len(data):
        kind, (length,) = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])
        yield kind, data[pos + 8:pos + 8 + length]
        pos += 8 + length + (length & 1)


def read_icc(path: str | Path) -> bytes | None:
    """The ICC profile embedded in a PNG, JPEG or WebP file, or None (none, or another format)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    try:
        if data.startswith(_PNG):
            for kind, body, _, _ in _png_chunks(data):
                if kind == b"iCCP":
                    name_end = body.index(b"\x00")
                    return zlib.decompress(body[name_end + 2:])  # after the name: a method byte (0, zlib)
                if kind == b"IDAT":
                    return None
        elif data.startswith(b"\xff\xd8"):
            parts = {}
            for marker, body, _, _ in _jpeg_segments(data):
                if marker == 0xE2 and body.startswith(_JPEG_ICC):
                    parts[body[len(_JPEG_ICC)]] = body[len(_JPEG_ICC) + 2:]
            return b"".join(parts[k] for k in sorted(parts)) or None
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return next((body for kind, body in _webp_chunks(data) if kind == b"ICCP"), None)
    except (ValueError, IndexError, KeyError, struct.error, zlib.error):
        return None  # a damaged profile is no profile
    return None


def icc_space(profile: bytes) -> str:
    """The colour space a profile describes, from its header: 'RGB', 'GRAY', 'CMYK'..."""
    return profile[16:20].decode("ascii", "replace").strip() if len(profile) >= 20 else ""


def _webp_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def write_icc(path: str | Path, profile: bytes, size: tuple[int, int] | None = None, alpha: bool = False) -> bool:
    """Embed ``profile`` into the PNG, JPEG or WebP file at ``path`` (rewritten in place); False for
    any other format, which is left as it is. A simple WebP becomes an extended one, which needs the
    picture's ``size`` (width, height) and whether it has ``alpha``."""
    path = Path(path)
    data = path.read_bytes()
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        chunks = [c for c in _webp_chunks(data) if c[0] != b"ICCP"]
        if chunks and chunks[0][0] == b"VP8X":
            head = bytes([chunks[0][1][0] | 0x20]) + chunks[0][1][1:]
        elif size is not None:
            w, h = size
            head = bytes([0x20 | (0x10 if alpha else 0), 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
            chunks.insert(0, (b"VP8X", b""))
        else:
            return False
        body = _webp_chunk(b"VP8X", head) + _webp_chunk(b"ICCP", profile)
        body += b"".join(_webp_chunk(kind, payload) for kind, payload in chunks[1:])
        path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body)
        return True
    if data.startswith(_PNG):
        body = b"ICC profile\x00\x00" + zlib.compress(profile, 9)
        chunk = struct.pack(">I", len(body)) + b"iCCP" + body + struct.pack(">I", zlib.crc32(b"iCCP" + body))
        out, placed = [data[:len(_PNG)]], False
        for kind, _, start, end in _png_chunks(data):
            if kind in _PNG_COLOUR:
                continue
            out.append(data[start:end])
            if kind == b"IHDR" and not placed:  # iCCP goes before PLTE and IDAT
                out.append(chunk)
                placed = True
        path.write_bytes(b"".join(out))
        return placed
    if data.startswith(b"\xff\xd8"):
        pieces = [profile[i:i + _JPEG_CHUNK] for i in range(0, len(profile), _JPEG_CHUNK)] or [b""]
        if len(pieces) > 255:
            return False
        app2 = b"".join(
            b"\xff\xe2" + struct.pack(">H", 2 + len(_JPEG_ICC) + 2 + len(p)) + _JPEG_ICC + bytes([i + 1, len(pieces)]) + p
            for i, p in enumerate(pieces)
        )
        at = 2
        for marker, _, _, end in _jpeg_segments(data):
            if marker != 0xE0:  # after JFIF's APP0, where readers look for it
                break
            at = end
        path.write_bytes(data[:at] + app2 + data[at:])
        return True
    return False


__all__ = ["icc_space", "read_icc", "write_icc"]
