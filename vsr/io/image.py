"""Still images through FFmpeg's image2 demuxer/muxer (PNG, JPEG, BMP, TIFF, WebP...)."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from vsr.errors import InputNotFoundError, InvalidInputError, OutputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

_ENCODERS = {
    ".png": ("png", "rgb24"),
    ".jpg": ("mjpeg", "yuvj444p"),
    ".jpeg": ("mjpeg", "yuvj444p"),
    ".bmp": ("bmp", "bgr24"),
    ".tif": ("tiff", "rgb24"),
    ".tiff": ("tiff", "rgb24"),
    ".webp": ("libwebp", "yuv420p"),
}


def is_image_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


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
        raise InvalidInputError(f"cannot decode image {path}: {e}") from None
    return frame.to_ndarray(format="rgba" if alpha else "rgb24")


def image_has_alpha(path: str | os.PathLike[str]) -> bool:
    try:
        with av.open(str(path)) as container:
            fmt = container.streams.video[0].codec_context.pix_fmt or ""
    except (av.FFmpegError, IndexError):
        return False
    return "a" in fmt.replace("gray", "").replace("pal", "") or fmt in ("pal8", "ya8", "ya16be")


def write_image(path: str | os.PathLike[str], rgb: np.ndarray, quality: int = 95) -> None:
    """Encode ``(H,W,3)`` uint8 RGB (or ``(H,W,4)`` RGBA for PNG) to ``path``, format by suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _ENCODERS:
        raise OutputError(
            f"cannot write image {path}: unknown suffix (valid: {', '.join(sorted(_ENCODERS))})"
        )
    codec, pix_fmt = _ENCODERS[suffix]
    src_format = "rgb24"
    if rgb.ndim == 3 and rgb.shape[2] == 4:
        if suffix != ".png":
            rgb = np.ascontiguousarray(rgb[..., :3])
        else:
            src_format = pix_fmt = "rgba"
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=src_format)
    h, w = rgb.shape[:2]
    try:
        with av.open(str(path), "w", format="image2") as out:
            stream = out.add_stream(codec, rate=1)
            stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
            if codec == "mjpeg":
                stream.codec_context.color_range = 2  # JPEG: full range
                qscale = max(2, min(31, round(2 + (100 - quality) * 29 / 100)))
                # A fixed quantiser: with PyAV 18 only qmin = qmax pins it (qscale/global_quality
                # alone leave mjpeg at its default).
                stream.codec_context.qmin = stream.codec_context.qmax = qscale
                stream.codec_context.flags |= av.codec.context.Flags.qscale
                stream.codec_context.global_quality = qscale * 118  # FF_QP2LAMBDA
            frame = frame.reformat(format=pix_fmt)
            frame.pts = 0
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    except av.FFmpegError as e:
        raise OutputError(f"cannot write image {path}: {e}") from None
