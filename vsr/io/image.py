"""Still images through FFmpeg's image2 demuxer/muxer (PNG, JPEG, BMP, TIFF, WebP...)."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from vsr.errors import InputNotFoundError, InvalidInputError, OutputError
from vsr.io.color import unlike_srgb
from vsr.io.exif import orientation, read_exif, upright_pixels, write_exif
from vsr.io.icc import icc_space, profile_for, read_icc, write_icc

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".avif",
                  ".tga", ".ppm", ".pgm", ".pam", ".qoi",  # Targa: game textures; Netpbm; QOI
                  ".dds",  # DirectDraw Surface textures: read only
                  ".heic", ".heif")  # phones' photos: read only, with pillow-heif (the `heic` extra)
# formats vsr reads but cannot write: their upscales are written as PNG
READ_ONLY = {".dds": "DDS", ".heic": "HEIC", ".heif": "HEIF"}
HEIF_SUFFIXES = (".heic", ".heif")
# an ffmpeg frame-number pattern in a file name: frame_%04d.png
FRAME_NUMBER = re.compile(r"%(0?\d*)d")

def is_image_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_sequence_pattern(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names numbered images (``frames/%04d.png``), as ffmpeg's image2 reads and
    writes them."""
    return is_image_path(path) and FRAME_NUMBER.search(Path(path).name) is not None


def numbered_files(pattern: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """The existing files a frame-number pattern names, with their numbers, in number order."""
    path = Path(pattern)
    match = FRAME_NUMBER.search(path.name)
    if match is None or not path.parent.is_dir():
        return []
    head, tail = path.name[: match.start()], path.name[match.end():]
    width = match.group(1)
    digits = rf"\d{{{int(width)}}}" if width.startswith("0") and width != "0" else r"\d+"
    rx = re.compile(re.escape(head) + f"({digits})" + re.escape(tail) + "$")
    return sorted((int(m.group(1)), p) for p in path.parent.iterdir() if (m := rx.match(p.name)))


def image_codec(suffix: str) -> str:
    """The encoder FFmpeg writes an image of this suffix with (.png: png, .jpg: mjpeg...)."""
    if suffix.lower() in READ_ONLY:
        raise OutputError(f"cannot write {suffix.lower()} images: {read_only_reason(suffix)}")
    if suffix.lower() == ".avif":  # FFmpeg's image2 would write bare AV1, not AVIF files
        raise OutputError("numbered .avif frames are not written (FFmpeg writes AVIF one file at a time): "
                          "use .png or .webp frames, or a video (.mkv, .mp4)")
    return _FORMATS[suffix.lower()][0]


def read_only_reason(suffix: str) -> str:
    kind = READ_ONLY[suffix.lower()]
    if suffix.lower() in HEIF_SUFFIXES:
        return f"vsr reads {kind} photos but does not write them: write .png, .jpg or .avif"
    return (f"FFmpeg reads {kind} but cannot write it: write .png or .tga (and compress to {kind} with a "
            f"texture tool)")


def written_name(name: str, taken: Set[str] = frozenset(), ext: str | None = None) -> str:
    """The name a file of a folder is written under: its own, or with ``ext`` (``--ext``) in place
    of its suffix, or for a format FFmpeg cannot write (DDS) the same stem as PNG. Where another of
    ``taken`` (the folder's names) would be written under that name, the whole name is kept before
    the new suffix: ``a.dds.png``."""
    path = Path(name)
    suffix = f".{ext}" if ext else ".png" if path.suffix.lower() in READ_ONLY else path.suffix
    if suffix.lower() == path.suffix.lower():
        return name
    renamed = path.with_suffix(suffix).name
    clash = renamed in taken or (ext is not None and any(Path(o).stem == path.stem for o in taken if o != name))
    return f"{name}{suffix}" if clash else renamed


def is_animated_webp(path: Path) -> bool:
    """A WebP whose extended header says it is an animation (VP8X with the animation flag)."""
    try:
        with open(path, "rb") as f:
            head = f.read(21)
    except OSError:
        return False
    return head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02)


def animation_plays(path: str | os.PathLike[str]) -> int | None:
    """How many times an animation file says it is played (0: forever), or None where it is not
    one that says (a video, a still image, a file that cannot be read). A GIF plays once without a
    NETSCAPE2.0 loop extension, and 1 + its loop count with one (browsers' reading; 0 is
    forever); an animated WebP says it in its ANIM chunk, an APNG in its acTL chunk."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)  # the loop extension comes before the first picture
    except OSError:
        return None
    if head[:6] in (b"GIF87a", b"GIF89a"):
        at = head.find(b"NETSCAPE2.0\x03\x01")
        if at < 0:
            at = head.find(b"ANIMEXTS1.0\x03\x01")
        if at < 0 or at + 15 > len(head):
            return 1
        count = int.from_bytes(head[at + 13 : at + 15], "little")
        return 0 if count == 0 else count + 1
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":  # an animated WebP: its ANIM chunk
        at = 12
        while at + 8 <= len(head):
            size, kind = int.from_bytes(head[at + 4 : at + 8], "little"), head[at : at + 4]
            if kind == b"ANIM" and at + 14 <= len(head):
                return int.from_bytes(head[at + 12 : at + 14], "little")
            at += 8 + size + (size & 1)
        return None
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        at = 8
        while at + 8 <= len(head):
            size, kind = int.from_bytes(head[at : at + 4], "big"), head[at + 4 : at + 8]
            if kind == b"acTL" and at + 16 <= len(head):
                return int.from_bytes(head[at + 12 : at + 16], "big")
            if kind in (b"IDAT", b"IEND"):
                break
            at += 12 + size
    return None


def undecodable(path: Path, e: BaseException) -> InvalidInputError:
    if is_animated_webp(path):  # FFmpeg's WebP decoder reads still images only
        return InvalidInputError(f"{path} is an animated WebP, which FFmpeg cannot decode (vsr writes them; "
                                 f"to upscale one, convert it to .gif, .webm or frames first)")
    if isinstance(e, (StopIteration, KeyError)):
        return InvalidInputError(f"cannot decode image {path}: no picture could be read from it")
    reason = " ".join(str(getattr(e, "strerror", None) or e).split())
    return InvalidInputError(f"cannot decode image {path}: damaged, or not an image FFmpeg reads ({reason})")


def read_image(path: str | os.PathLike[str], alpha: bool = False) -> np.ndarray:
    """Decode an image file to ``(H,W,3)`` uint8 RGB, or ``(H,W,4)`` RGBA when ``alpha`` is True."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"input not found: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidInputError(f"not an image: {path} has no picture in it")
            frame = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration) as e:
        raise undecodable(path, e) from None
    return frame.to_ndarray(format="rgba" if alpha else "rgb24")


def has_alpha(fmt: av.VideoFormat) -> bool:
    """Whether frames of this pixel format can carry transparency (an alpha plane, or a palette)."""
    return fmt.name == "pal8" or any(getattr(c, "is_alpha", False) for c in fmt.components)


@dataclass
class Picture:
    """A still image as the upscaler takes it: upright (EXIF orientation applied), RGB in [0,1],
    and what the output should keep: transparency (only where it is used), depth, grayness."""

    rgb: np.ndarray  # (H,W,3) float32 in [0,1]
    alpha: np.ndarray | None  # (H,W) float32 in [0,1], None where the image is opaque
    deep: bool  # more than 8 bits per channel (16-bit PNG/TIFF)
    gray: bool
    icc: bytes | None = None  # the embedded ICC colour profile (Display P3, Adobe RGB...), to write back
    jpeg_quality: int | None = None  # a JPEG's libjpeg-equivalent quality (:func:`jpeg_quality`)
    # the colour primaries and transfer the file says its RGB is in without a profile (AVIF's and
    # HEIF's nclx, PNG's cICP or sRGB chunks), as ISO/IEC 23091-2 code points; None where it says none
    primaries: int | None = None
    trc: int | None = None
    exif: bytes | None = None  # the photo's EXIF (date taken, camera...), to write back (vsr.io.exif)


def _code(value: int | None) -> int | None:
    """A colour code point, or None for 0 (reserved) and 2 (unspecified)."""
    return value if value not in (None, 0, 2) else None


def read_picture(path: str | os.PathLike[str]) -> Picture:
    """Decode an image file for upscaling; see :class:`Picture`."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"input not found: {path}")
    if path.suffix.lower() in HEIF_SUFFIXES:
        return _read_heif(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidInputError(f"not an image: {path} has no picture in it")
            # an AVIF's transparency is a picture of its own, in a second stream
            aux = [s for s in container.streams.video[1:] if s.metadata.get("title", "").lower() == "alpha"][:1]
            frames = _first_frames(container, [container.streams.video[0], *aux])
        frame = frames[0]
        fmt = frame.format
        deep = any(c.bits > 8 for c in fmt.components)
        gray = fmt.name.startswith(("gray", "ya", "monob", "monow")) and not aux
        alpha = has_alpha(fmt) or bool(aux)
        target = ("rgba64le" if has_alpha(fmt) else "rgb48le") if deep else ("rgba" if has_alpha(fmt) else "rgb24")
        array = frame.to_ndarray(format=target).astype(np.float32) / (65535.0 if deep else 255.0)
        if aux:
            plane = frames[1].reformat(width=frame.width, height=frame.height, format="gray16le" if deep else "gray")
            values = plane.to_ndarray().astype(np.float32) / (65535.0 if deep else 255.0)
            array = np.concatenate([array[..., :3], values[..., None]], axis=-1)
    except (av.FFmpegError, StopIteration, KeyError) as e:
        raise undecodable(path, e) from None
    # shown as its EXIF orientation says, all eight (FFmpeg hands over a rotation alone, which loses
    # the mirrored four: a selfie's flip); else as the frame's display rotation (AVIF's irot)
    exif = read_exif(path)
    turn = orientation(exif) if exif else None
    if turn:
        array = upright_pixels(array, turn)
    elif turns := round((frame.rotation or 0) / 90) % 4:
        array = np.rot90(array, turns)  # (degrees counter-clockwise)
    used = np.ascontiguousarray(array[..., 3]) if alpha and array[..., 3].min() < 1 else None
    return Picture(np.ascontiguousarray(array[..., :3]), used, deep, gray, read_icc(path), jpeg_quality(path),
                   _code(frame.color_primaries), _code(frame.color_trc), exif)


# libjpeg's luminance quantisation table at quality 50 (ITU T.81 Annex K), whose scaled copies its
# quality setting writes; only its sum is used, so the order does not matter
_LUMA_Q50_SUM = sum((16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                     14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99))


def jpeg_quality(source: str | os.PathLike[str] | bytes) -> int | None:
    """The quality (libjpeg's 1-100 scale) a JPEG file's luminance quantisation table stands for, as
    ImageMagick's ``identify -format %Q`` estimates it: the table's size against libjpeg's quality-50
    table, turned back through libjpeg's scaling (quality q scales it by 5000/q % below 50, by
    200-2q % from 50). A camera's or editor's own tables get the quality whose table is as coarse on
    average. ``source``: a file, or a JPEG's bytes (an MJPEG packet). None for one that is not a JPEG
    or whose header cannot be read."""
    try:
        with (io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")) as f:
            if f.read(2) != b"\xff\xd8":
                return None
            for _ in range(256):  # segments before the image data: APPn (EXIF, ICC...), DQT, SOF, DHT
                marker = f.read(2)
                if len(marker) < 2 or marker[0] != 0xFF or marker[1] in (0xD9, 0xDA):
                    return None  # the end, or the scan, came before a luminance table
                length = int.from_bytes(f.read(2), "big") - 2
                body = f.read(length) if length >= 0 else b""
                if length < 0 or len(body) < length:
                    return None
                while marker[1] == 0xDB and body:  # DQT: one or more tables, 8- or 16-bit entries
                    precision, table = body[0] >> 4, body[0] & 15
                    size = 128 if precision else 64
                    values = body[1:1 + size]
                    if len(values) < size:
                        return None
                    if table == 0:
                        total = sum(int.from_bytes(values[i:i + 2], "big") for i in range(0, 128, 2)) if precision \
                            else sum(values)
                        scale = 100 * total / _LUMA_Q50_SUM  # libjpeg's percentage
                        quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
                        return max(1, min(100, round(quality)))
                    body = body[1 + size:]
    except OSError:
        return None
    return None


def _read_heif(path: Path) -> Picture:
    """A HEIC/HEIF photo through libheif (pillow-heif): FFmpeg reads a single-picture HEIF, but a
    phone's photo is a grid of tiles that PyAV cannot put together. libheif assembles the grid and
    applies the file's rotation and mirroring (in HEIF those, not EXIF, say how it is shown)."""
    try:
        import pillow_heif
    except ImportError:
        raise InvalidInputError(f"cannot read {path}: HEIC/HEIF needs pillow-heif (pip install 'vsr[heic]')") from None
    try:
        heif = pillow_heif.open_heif(str(path), convert_hdr_to_8bit=False)
        pixels = np.asarray(heif)
        icc = heif.info.get("icc_profile") or None
        nclx = heif.info.get("nclx_profile") or {}
        exif = heif.info.get("exif") or None
    except (ValueError, RuntimeError, OSError) as e:
        raise InvalidInputError(f"cannot decode image {path}: damaged, or not a HEIF photo ({e})") from None
    deep = pixels.dtype == np.uint16
    array = pixels.astype(np.float32) / (65535.0 if deep else 255.0)
    if array.ndim == 2:
        array = array[..., None]
    gray = array.shape[2] in (1, 2)
    if gray:
        array = np.concatenate([array[..., :1]] * 3 + ([array[..., 1:]] if array.shape[2] == 2 else []), axis=-1)
    alpha = np.ascontiguousarray(array[..., 3]) if array.shape[2] == 4 and array[..., 3].min() < 1 else None
    return Picture(np.ascontiguousarray(array[..., :3]), alpha, deep, gray, bytes(icc) if icc else None,
                   primaries=_code(nclx.get("color_primaries")), trc=_code(nclx.get("transfer_characteristics")),
                   exif=bytes(exif) if exif else None)


def _first_frames(container: av.container.InputContainer, streams: list) -> list[av.VideoFrame]:
    """The first picture of each of ``streams``, in their order (KeyError where one has none)."""
    got: dict[int, av.VideoFrame] = {}
    for packet in container.demux(*streams):
        for frame in packet.decode():
            got.setdefault(packet.stream.index, frame)
        if len(got) == len(streams):
            break
    return [got[s.index] for s in streams]


# suffix -> (encoder, pixel format per kind); a kind the encoder lacks falls back to the nearest it
# has (see write_image: alpha dropped last, which the caller is told)
_FORMATS = {
    ".png": ("png", {"rgb": "rgb24", "rgba": "rgba", "rgb16": "rgb48be", "rgba16": "rgba64be", "gray": "gray",
                     "graya": "ya8", "gray16": "gray16be", "graya16": "ya16be"}),
    ".tif": ("tiff", {"rgb": "rgb24", "rgba": "rgba", "rgb16": "rgb48le", "rgba16": "rgba64le", "gray": "gray",
                      "graya": "ya8", "gray16": "gray16le", "graya16": "ya16le"}),
    ".bmp": ("bmp", {"rgb": "bgr24", "rgba": "bgra", "gray": "gray"}),
    ".webp": ("libwebp", {"rgb": "yuv420p", "rgba": "yuva420p"}),
    ".jpg": ("mjpeg", {"rgb": "yuvj444p"}),
    ".tga": ("targa", {"rgb": "bgr24", "rgba": "bgra", "gray": "gray"}),
    ".ppm": ("ppm", {"rgb": "rgb24", "rgb16": "rgb48be"}),
    ".pgm": ("pgm", {"gray": "gray", "gray16": "gray16be"}),  # gray only: colour is made gray
    ".pam": ("pam", {"rgb": "rgb24", "rgba": "rgba", "rgb16": "rgb48be", "rgba16": "rgba64be", "gray": "gray",
                     "graya": "ya8", "gray16": "gray16be", "graya16": "ya16be"}),
    ".qoi": ("qoi", {"rgb": "rgb24", "rgba": "rgba"}),
    # AVIF: AV1 by SVT-AV1, which has no 4:0:0 for the gray plane AVIF's alpha needs: opaque
    ".avif": ("libsvtav1", {"rgb": "yuv420p", "rgb16": "yuv420p10le"}),
}
_FORMATS[".tiff"], _FORMATS[".jpeg"] = _FORMATS[".tif"], _FORMATS[".jpg"]


def _kind(gray: bool, alpha: bool, deep: bool) -> str:
    return ("gray" if gray else "rgb") + ("a" if alpha else "") + ("16" if deep else "")


def _avif_frame(stream: av.video.stream.VideoStream, frame: av.VideoFrame, pix_fmt: str, tags: tuple[int, int],
                quality: int) -> av.VideoFrame:
    """Set SVT-AV1 up for a still AVIF and hand back ``frame`` converted for it: full-range BT.601
    in sRGB, as libavif writes its stills; crf 10 at quality 95 (about a JPEG's at q 95, in
    PSNR and size, on a Kodak photo), 2 more for every quality point below."""
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 logs its whole configuration otherwise
    cc = stream.codec_context
    cc.color_range, cc.colorspace = 2, 5  # full range, BT.470BG
    cc.color_primaries, cc.color_trc = tags
    cc.options = {"crf": str(max(0, min(63, round((100 - quality) * 2)))), "preset": "6"}
    return frame.reformat(format=pix_fmt, dst_colorspace=av.video.reformatter.Colorspace.ITU601,
                          dst_color_range=av.video.reformatter.ColorRange.JPEG)


def _packed(pixels: np.ndarray, pix_fmt: str) -> av.VideoFrame:
    """A frame of a packed format (``ya8``, ``ya16be``...) holding ``pixels`` ``(H,W,C)`` as they are."""
    h, w, c = pixels.shape
    frame = av.VideoFrame(w, h, pix_fmt)
    dtype = np.dtype(np.uint8) if pixels.dtype == np.uint8 else np.dtype(">u2" if pix_fmt.endswith("be") else "<u2")
    plane = frame.planes[0]
    rows = np.frombuffer(plane, dtype=dtype).reshape(h, plane.line_size // dtype.itemsize)
    rows[:, : w * c] = pixels.reshape(h, w * c)
    return frame


def write_image(path: str | os.PathLike[str], pixels: np.ndarray, quality: int = 95,
                icc: bytes | None = None, primaries: int | None = None, trc: int | None = None,
                exif: bytes | None = None) -> list[str]:
    """Encode ``pixels`` to ``path``, format by suffix. ``pixels`` is ``(H,W,C)`` uint8 or uint16
    (16 bit per channel, kept where the format has it: PNG, TIFF) with C = 3 (RGB), 4 (RGBA),
    1 (gray) or 2 (gray + alpha); gray stays gray where the format has it. ``icc``: the colour
    profile the pixels are in, embedded where the format and the pixels' kind allow; without one,
    ``primaries`` and ``trc`` (:attr:`Picture.primaries`) are written where the format has tags for
    them: PNG (cICP, cHRM, gAMA or sRGB chunks, by FFmpeg's encoder) and AVIF (nclx). ``exif``:
    the photo's EXIF, written upright at the new size where the format holds it (JPEG, PNG, WebP;
    :mod:`vsr.io.exif`). Returns what could not be kept (e.g. alpha in a JPEG), for the caller to say."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in READ_ONLY:
        raise OutputError(f"cannot write image {path}: {read_only_reason(suffix)}")
    if suffix not in _FORMATS:
        raise OutputError(
            f"cannot write image {path}: unknown suffix (valid: {', '.join(sorted(_FORMATS))})"
        )
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    codec, formats = _FORMATS[suffix]
    deep = pixels.dtype == np.uint16
    channels = pixels.shape[2]
    gray, alpha = channels in (1, 2), channels in (2, 4)
    lost = []
    colour = any(k.startswith("rgb") for k in formats)
    if not gray and not colour:  # a gray-only format: the luma
        lost.append(f"{suffix} holds gray only: the colour was dropped (write .ppm or .png to keep it)")
    # the kind the format keeps nearest the pixels': alpha is kept before grayness, and both before depth
    grays = ((True, False) if colour else (True,)) if gray else ((False,) if colour else (True,))
    kept = [(a, g, d) for a in dict.fromkeys((alpha, False)) for g in grays for d in dict.fromkeys((deep, False))
            if _kind(g, a, d) in formats]
    if not kept:
        raise OutputError(f"cannot write image {path}: {suffix} holds none of this picture's kinds")
    keeps_alpha, gray, deep = kept[0]
    kind = _kind(gray, keeps_alpha, deep)
    if alpha and not keeps_alpha:
        lost.append(f"{suffix} holds no transparency: the alpha channel was dropped (write .png to keep it)"
                    if suffix != ".avif" else "the alpha channel was dropped: vsr writes AVIF opaque (SVT-AV1 "
                    "cannot encode the gray plane AVIF keeps it in; write .png or .webp to keep it)")
    alpha = keeps_alpha
    pix_fmt = formats[kind]
    # the source frame: PyAV builds frames from gray, RGB or RGBA arrays (gray + alpha goes as RGBA)
    if channels == 2:
        pixels = np.concatenate([pixels[..., :1]] * 3 + [pixels[..., 1:]], axis=-1)
    src = {(1, False): "gray", (3, False): "rgb24", (4, False): "rgba",
           (1, True): "gray16le", (3, True): "rgb48le", (4, True): "rgba64le"}[(pixels.shape[2], pixels.dtype == np.uint16)]
    if pixels.dtype == np.uint16 and not deep:
        pixels = (pixels.astype(np.float32) / 257.0).round().astype(np.uint8)
        src = {"gray16le": "gray", "rgb48le": "rgb24", "rgba64le": "rgba"}[src]
    if not alpha and pixels.shape[2] == 4:
        pixels = pixels[..., :3]
        src = {"rgba": "rgb24", "rgba64le": "rgb48le"}[src]
    array = np.ascontiguousarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    frame = av.VideoFrame.from_ndarray(array, format=src)
    h, w = pixels.shape[:2]
    if gray and alpha:  # gray + alpha stored as it is: swscale's way there from RGBA moved alpha by 1
        frame = _packed(pixels[..., [0, 3]], pix_fmt)
    try:
        with av.open(str(path), "w", format="avif" if suffix == ".avif" else "image2") as out:
            stream = out.add_stream(codec, rate=1)
            stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
            tags = (primaries or 1, trc or 13) if not icc and (primaries or trc) else None
            if suffix == ".avif":  # (sRGB where the input says nothing, as libavif writes it)
                frame = _avif_frame(stream, frame, pix_fmt, tags or (1, 13), quality)
            if codec == "mjpeg":
                stream.codec_context.color_range = 2  # JPEG: full range
                qscale = max(2, min(31, round(2 + (100 - quality) * 29 / 100)))
                # A fixed quantiser: with PyAV 18 only qmin = qmax pins it (qscale/global_quality
                # alone leave mjpeg at its default).
                stream.codec_context.qmin = stream.codec_context.qmax = qscale
                stream.codec_context.flags |= av.codec.context.Flags.qscale
                stream.codec_context.global_quality = qscale * 118  # FF_QP2LAMBDA
            if frame.format.name != pix_fmt:
                frame = frame.reformat(format=pix_fmt)
            if tags and codec == "png":
                frame.color_primaries, frame.color_trc = tags
            frame.pts = 0
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    except av.FFmpegError as e:
        raise OutputError(f"cannot write image {path}: {e}") from None
    unlike = unlike_srgb(primaries, trc) if not icc and not gray and suffix != ".avif" else ""
    if unlike:  # tags alone: a profile made of them, where the format holds one (PNG: beside cICP)
        profile = profile_for(primaries, trc)
        if not (profile and write_icc(path, profile, size=(w, h), alpha=alpha)) and suffix != ".png":
            lost.append(f"the input's colour ({unlike}) has no tag or profile in {suffix}: it is shown as sRGB "
                        f"(write .png{', .jpg, .webp' if profile else ''} or .avif to keep it)")
    if icc:
        space = icc_space(icc)
        if space != ("GRAY" if gray else "RGB"):
            lost.append(f"the input's ICC colour profile ({space or 'unreadable'}) does not describe this "
                        f"{'gray' if gray else 'RGB'} output: not written, colours are shown as sRGB")
        elif not write_icc(path, icc, size=(w, h), alpha=alpha):
            lost.append(f"{suffix} is not written with the input's ICC colour profile: colours are shown as "
                        f"sRGB (write .png, .jpg or .webp to keep it)")
    if exif and not write_exif(path, exif, (w, h), alpha):
        lost.append(f"the input's EXIF (when and how it was taken) is not written into {suffix} "
                    f"(write .jpg, .png or .webp to keep it)")
    return lost
