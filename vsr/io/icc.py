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


def webp_with(data: bytes, kind: bytes, payload: bytes, size: tuple[int, int] | None = None,
              alpha: bool = False) -> bytes | None:
    """A WebP file's bytes with its ``kind`` chunk (``ICCP`` or ``EXIF``) set to ``payload``, in the
    extended format's order (the profile right after the header, EXIF after the picture), or None
    where a simple WebP cannot be extended: that needs the picture's ``size`` and ``alpha``."""
    flag = {b"ICCP": 0x20, b"EXIF": 0x08}[kind]
    chunks = [c for c in _webp_chunks(data) if c[0] != kind]
    if chunks and chunks[0][0] == b"VP8X":
        head, rest = bytes([chunks[0][1][0] | flag]) + chunks[0][1][1:], chunks[1:]
    elif size is not None:
        w, h = size
        head = bytes([flag | (0x10 if alpha else 0), 0, 0, 0]) + (w - 1).to_bytes(3, "little") + \
            (h - 1).to_bytes(3, "little")
        rest = chunks
    else:
        return None
    ours = _webp_chunk(kind, payload)
    others = b"".join(_webp_chunk(k, p) for k, p in rest)
    body = _webp_chunk(b"VP8X", head) + (ours + others if kind == b"ICCP" else others + ours)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def png_with(data: bytes, kind: bytes, body: bytes, replaces: tuple[bytes, ...] = ()) -> bytes | None:
    """A PNG file's bytes with a ``kind`` chunk of ``body`` right after its header (before PLTE and
    IDAT, where ``iCCP`` and ``eXIf`` belong), in place of any ``kind`` or ``replaces`` chunks."""
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    out, placed = [data[:len(_PNG)]], False
    for k, _, start, end in _png_chunks(data):
        if k == kind or k in replaces:
            continue
        out.append(data[start:end])
        if k == b"IHDR" and not placed:
            out.append(chunk)
            placed = True
    return b"".join(out) if placed else None


def jpeg_with(data: bytes, segments: bytes) -> bytes:
    """A JPEG file's bytes with ``segments`` (whole APPn segments) after its JFIF APP0, where
    readers look for them."""
    at = 2
    for marker, _, _, end in _jpeg_segments(data):
        if marker != 0xE0:
            break
        at = end
    return data[:at] + segments + data[at:]


def write_icc(path: str | Path, profile: bytes, size: tuple[int, int] | None = None, alpha: bool = False) -> bool:
    """Embed ``profile`` into the PNG, JPEG or WebP file at ``path`` (rewritten in place); False for
    any other format, which is left as it is. A simple WebP becomes an extended one, which needs the
    picture's ``size`` (width, height) and whether it has ``alpha``."""
    path = Path(path)
    data = path.read_bytes()
    out: bytes | None = None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        out = webp_with(data, b"ICCP", profile, size, alpha)
    elif data.startswith(_PNG):
        out = png_with(data, b"iCCP", b"ICC profile\x00\x00" + zlib.compress(profile, 9), _PNG_COLOUR)
    elif data.startswith(b"\xff\xd8"):
        pieces = [profile[i:i + _JPEG_CHUNK] for i in range(0, len(profile), _JPEG_CHUNK)] or [b""]
        if len(pieces) <= 255:
            out = jpeg_with(data, b"".join(
                b"\xff\xe2" + struct.pack(">H", 2 + len(_JPEG_ICC) + 2 + len(p)) + _JPEG_ICC
                + bytes([i + 1, len(pieces)]) + p for i, p in enumerate(pieces)))
    if out is None:
        return False
    path.write_bytes(out)
    return True


# -- profiles for colour tags ---------------------------------------------------------------------
# A picture tagged (nclx, cICP) rather than profiled is described by an ICC v4 matrix/TRC display
# profile made from its tags, for outputs that hold a profile but no tags (JPEG, WebP).

# ISO/IEC 23091-2 primaries -> CIE xy of red, green, blue and white
_PRIMARIES = {
    1: ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), (0.3127, 0.3290)),  # BT.709, sRGB
    5: ((0.640, 0.330), (0.290, 0.600), (0.150, 0.060), (0.3127, 0.3290)),  # BT.470BG (PAL)
    6: ((0.630, 0.340), (0.310, 0.595), (0.155, 0.070), (0.3127, 0.3290)),  # SMPTE 170M (NTSC)
    9: ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), (0.3127, 0.3290)),  # BT.2020
    11: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.314, 0.351)),  # DCI-P3 (its own white)
    12: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.3127, 0.3290)),  # Display P3
}
_NAMES = {1: "BT.709", 5: "BT.470BG", 6: "SMPTE 170M", 9: "BT.2020", 11: "DCI-P3", 12: "Display P3"}
# transfer -> ICC parametric curve (function type, parameters): Y = (aX + b)^g above d, cX below
_SRGB_CURVE = (3, (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
_BT709_CURVE = (3, (1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081))  # the inverse of its camera curve
_CURVES = {13: _SRGB_CURVE, 1: _BT709_CURVE, 6: _BT709_CURVE, 14: _BT709_CURVE, 15: _BT709_CURVE,
           4: (0, (2.2,)), 5: (0, (2.8,)), 8: (0, (1.0,))}
_CURVE_NAMES = {13: "sRGB", 4: "gamma 2.2", 5: "gamma 2.8", 8: "linear"}  # (the others: BT.709's)
_D50 = (0.9642, 1.0, 0.8249)  # the profile connection space's white
_BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))


def _xyz(x: float, y: float) -> tuple[float, float, float]:
    return x / y, 1.0, (1 - x - y) / y


def _mul(a, b):
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)) for i in range(3))


def _inverse(m):
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det), \
           ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det), \
           ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det)


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _mluc(text: str) -> bytes:
    body = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II", 1, 12) + b"enUS" + struct.pack(">II", len(body), 28) + body


def profile_for(primaries: int | None, trc: int | None) -> bytes | None:
    """An ICC v4 display profile for pictures tagged with these ISO/IEC 23091-2 primaries and
    transfer (None: BT.709's primaries, sRGB's curve, as untagged pictures are shown), or None
    where a matrix/TRC profile cannot say it (PQ and HLG, unknown code points)."""
    if (primaries or 1) not in _PRIMARIES or (trc or 13) not in _CURVES:
        return None
    (r, g, b, w), (kind, params) = _PRIMARIES[primaries or 1], _CURVES[trc or 13]
    # RGB -> XYZ under the picture's white: the primaries' XYZ, scaled so that RGB = 1 is that white
    p = tuple(zip(_xyz(*r), _xyz(*g), _xyz(*b)))
    white = _xyz(*w)
    s = [sum(row[j] * white[j] for j in range(3)) for row in _inverse(p)]
    rgb_xyz = tuple(tuple(p[i][j] * s[j] for j in range(3)) for i in range(3))
    # adapted to the PCS's D50 white (Bradford, as ICC v4 asks of a display profile)
    cone_src = [sum(_BRADFORD[i][j] * white[j] for j in range(3)) for i in range(3)]
    cone_dst = [sum(_BRADFORD[i][j] * _D50[j] for j in range(3)) for i in range(3)]
    scale = tuple(tuple((cone_dst[i] / cone_src[i]) if i == j else 0.0 for j in range(3)) for i in range(3))
    chad = _mul(_inverse(_BRADFORD), _mul(scale, _BRADFORD))
    adapted = _mul(chad, rgb_xyz)
    curve = b"para" + bytes(4) + struct.pack(">HH", kind, 0) + b"".join(_s15(v) for v in params)
    name = f"{_NAMES[primaries or 1]}, {_CURVE_NAMES.get(trc or 13, 'BT.709')} curve (vsr)"
    tags = [
        (b"desc", _mluc(name)),
        (b"cprt", _mluc("No copyright, use freely")),
        (b"wtpt", b"XYZ " + bytes(4) + b"".join(_s15(v) for v in _D50)),
        (b"chad", b"sf32" + bytes(4) + b"".join(_s15(v) for row in chad for v in row)),
        *((sig, b"XYZ " + bytes(4) + b"".join(_s15(adapted[i][c]) for i in range(3)))
          for c, sig in enumerate((b"rXYZ", b"gXYZ", b"bXYZ"))),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),  # (one curve, its data shared)
    ]
    table, data, offsets = b"", b"", {}
    start = 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        if body not in offsets:
            offsets[body] = start + len(data)
            data += body + bytes(-len(body) % 4)
        table += sig + struct.pack(">II", offsets[body], len(body))
    size = start + len(data)
    header = struct.pack(">I", size) + bytes(4) + b"\x04\x30\x00\x00" + b"mntrRGB XYZ " + \
        struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + bytes(4 + 4 + 4 + 4 + 8 + 4) + \
        b"".join(_s15(v) for v in _D50) + bytes(4 + 16 + 28)
    return header + struct.pack(">I", len(tags)) + table + data


__all__ = ["icc_space", "jpeg_with", "png_with", "profile_for", "read_icc", "webp_with", "write_icc"]
