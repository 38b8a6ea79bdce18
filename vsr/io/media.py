"""Reading and writing media with PyAV: the video frames the pipeline upscales, and every other
stream (audio, subtitles, data) carried over untouched.

:class:`MediaInput` opens a file, URL or pipe, picks the video stream, decodes the first frame
eagerly (so colour, size, depth and rotation are known before anything else starts, and a file with
no decodable frame fails at once), then yields :class:`DecodedFrame` and :class:`Passthrough` items
in demux order. Damaged input is decoded as far as it goes: undecodable packets are skipped and
counted, a demuxer error ends the input early, and both are reported as warnings.

:class:`MediaOutput` is configured from a :class:`MediaInput`: video encoded with the requested codec
at the upscaled size, tagged with the input's colour description and rotation; other streams copied
packet for packet; container and stream metadata kept.
"""

from __future__ import annotations

import errno
import io
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Sequence

import av
import numpy as np

from vsr.errors import (
    BackendUnavailableError,
    ConfigError,
    EncoderError,
    InputNotFoundError,
    InvalidInputError,
    OutputError,
)
from vsr.io.captions import CaptionCarry, TrackCaptions, codec_family, read_captions, with_captions
from vsr.io.color import CS_BT470BG, CS_BT709, CS_SMPTE170M, ColorInfo, resolve_color
from vsr.io.deinterlace import Deinterlacer
from vsr.io.geometry import output_sar
from vsr.io.hdr import ENCODERS as HDR_ENCODERS
from vsr.io.hdr import HdrMetadata, encoder_params, merge_params, read_hdr
from vsr.io.image import (FRAME_NUMBER, IMAGE_SUFFIXES, animation_plays, has_alpha, image_codec, jpeg_quality,
                          numbered_files)
from vsr.io.refusal import encoder_settings
from vsr.io.refusal import explain as explain_refusal
from vsr.io.span import Span, clock

log = logging.getLogger("vsr.io")

# Formats the pipeline converts itself: name -> (family, bits, log2 chroma w, log2 chroma h).
PLANAR_FORMATS: dict[str, tuple[str, int, int, int]] = {
    "yuv420p": ("yuv", 8, 1, 1),
    "yuvj420p": ("yuv", 8, 1, 1),
    "yuv422p": ("yuv", 8, 1, 0),
    "yuvj422p": ("yuv", 8, 1, 0),
    "yuv444p": ("yuv", 8, 0, 0),
    "yuvj444p": ("yuv", 8, 0, 0),
    "yuv420p10le": ("yuv", 10, 1, 1),
    "yuv422p10le": ("yuv", 10, 1, 0),
    "yuv444p10le": ("yuv", 10, 0, 0),
    "yuv420p12le": ("yuv", 12, 1, 1),
    "yuv422p12le": ("yuv", 12, 1, 0),
    "yuv444p12le": ("yuv", 12, 0, 0),
    "yuv420p16le": ("yuv", 16, 1, 1),
    "yuv444p16le": ("yuv", 16, 0, 0),
    "gray": ("gray", 8, 0, 0),
    "gray10le": ("gray", 10, 0, 0),
    "gray12le": ("gray", 12, 0, 0),
    "gray16le": ("gray", 16, 0, 0),
    "rgb24": ("rgb", 8, 0, 0),
    "rgb48le": ("rgb", 16, 0, 0),
}
# Formats swscale repacks losslessly into one of the above.
REPACK: dict[str, str] = {
    "nv12": "yuv420p",
    "nv21": "yuv420p",
    "p010le": "yuv420p10le",
    "p016le": "yuv420p16le",
    "yuyv422": "yuv422p",
    "uyvy422": "yuv422p",
    "nv16": "yuv422p",
    "yuva420p": "yuv420p",
    "yuva444p": "yuv444p",
    "yuv420p10be": "yuv420p10le",
}
# Pixel formats the encoder side writes: name -> (bits, log2 chroma w, log2 chroma h, full range).
OUTPUT_FORMATS: dict[str, tuple[int, int, int, bool | None]] = {
    "yuv420p": (8, 1, 1, None),
    "yuv422p": (8, 1, 0, None),
    "yuv444p": (8, 0, 0, None),
    "yuvj420p": (8, 1, 1, True),
    "yuvj422p": (8, 1, 0, True),
    "yuvj444p": (8, 0, 0, True),
    "yuv420p10le": (10, 1, 1, None),
    "yuv422p10le": (10, 1, 0, None),
    "yuv444p10le": (10, 0, 0, None),
    "yuv420p12le": (12, 1, 1, None),
    "yuv444p12le": (12, 0, 0, None),
}


@dataclass(frozen=True)
class PlaneLayout:
    """How a decoded frame's planes are laid out: family yuv|gray|rgb, bit depth, chroma shifts."""

    pix_fmt: str
    family: str
    bits: int
    chroma_shift_w: int
    chroma_shift_h: int


@dataclass(frozen=True)
class VideoInfo:
    """What the pipeline needs to know about the input video stream (from its first frame)."""

    width: int
    height: int
    pix_fmt: str  # as decoded
    layout: PlaneLayout  # as handed to the pipeline
    color: ColorInfo
    time_base: Fraction
    rate: Fraction | None
    frames: int  # container's count, or an estimate from duration x rate; 0 when unknown
    duration: float | None  # seconds: the video stream's own where the container says it, else the file's
    rotation: float  # counter-clockwise degrees from the display matrix
    sample_aspect_ratio: Fraction | None
    codec: str
    hdr: HdrMetadata | None = None  # HDR10 mastering display and light levels, where the input has them


@dataclass
class DecodedFrame:
    """One decoded picture: planes as numpy arrays (uint8, or uint16 above 8 bit), pts in time_base.

    ``yuv``: ``(Y (H,W), U, V)`` with chroma subsampled per the layout; ``gray``: ``(Y,)``;
    ``rgb``: ``((H,W,3),)`` packed.
    """

    index: int
    pts: int | None
    time_base: Fraction
    planes: tuple[np.ndarray, ...]
    layout: PlaneLayout
    color: ColorInfo
    width: int
    height: int
    alpha: np.ndarray | None = None  # (H,W) uint8, or uint16 at 16-bit scale; None where not kept
    captions: bytes | None = None  # closed caption bytes (CEA-608/708 cc_data) shown with this picture


@dataclass
class Passthrough:
    """A packet of a stream that is copied to the output untouched."""

    packet: av.Packet
    stream_index: int


@dataclass
class Attachment:
    """A file the input carries beside its streams: a Matroska attachment (a subtitle font) or cover
    art (``cover``: the attached_pic stream FFmpeg shows it as)."""

    name: str
    mimetype: str
    data: bytes
    tags: dict[str, str]
    cover: av.stream.Stream | None = None


@dataclass
class InputReport:
    """What went wrong while reading, for the final warnings."""

    decode_errors: int = 0
    first_decode_error: str = ""
    demux_error: str = ""
    pts_fixed: int = 0
    resized: int = 0
    joins: int = 0  # timestamp jumps joined up (MediaInput._join)
    discarded: int = 0  # video packets the container marks as not to be shown
    warnings: list[str] = field(default_factory=list)


def is_url(text: str) -> bool:
    return "://" in text or text.startswith("pipe:") or text == "-"


def plane_array(plane: av.video.plane.VideoPlane, dtype: np.dtype, channels: int = 1) -> np.ndarray:
    """Copy a plane out of an FFmpeg frame, dropping the line padding."""
    itemsize = np.dtype(dtype).itemsize
    buf = np.frombuffer(plane, dtype=dtype).reshape(plane.height, plane.line_size // itemsize)
    arr = buf[:, : plane.width * channels]
    if channels > 1:
        arr = arr.reshape(plane.height, plane.width, channels)
    return arr.copy()


def alpha_plane(frame: av.VideoFrame) -> np.ndarray | None:
    """A frame's transparency as ``(H,W)`` uint8, or uint16 at full 16-bit scale where it has more
    than 8 bits; None where its format has none."""
    fmt = frame.format
    alpha = next((c for c in fmt.components if getattr(c, "is_alpha", False)), None)
    if alpha is None:
        if fmt.name != "pal8":  # a palette's entries may be transparent
            return None
        return frame.reformat(format="rgba").to_ndarray()[..., 3]
    bits = alpha.bits
    own_plane = sum(c.plane == alpha.plane for c in fmt.components) == 1
    if not own_plane or fmt.name.endswith("be"):  # packed (rgba, argb, ya8...): let swscale unpack it
        return frame.reformat(format="rgba64le" if bits > 8 else "rgba").to_ndarray()[..., 3].copy()
    a = plane_array(frame.planes[alpha.plane], np.uint8 if bits <= 8 else np.uint16)
    if 8 < bits < 16:  # 10 or 12 bits: to the 16-bit scale
        top = (1 << bits) - 1
        a = ((a.astype(np.uint32) * 65535 + top // 2) // top).astype(np.uint16)
    return a


def layout_for(format: av.VideoFormat) -> tuple[str, PlaneLayout]:
    """The format a frame is converted to before the pipeline sees it, and that format's layout."""
    name = format.name
    if name not in PLANAR_FORMATS:
        bits = max((c.bits for c in format.components), default=8)
        if name in REPACK:
            name = REPACK[name]
        elif format.is_rgb or format.has_palette:
            name = "rgb24" if bits <= 8 else "rgb48le"
        elif len(format.components) <= 2:
            name = "gray" if bits <= 8 else "gray16le"
        else:
            name = "yuv444p" if bits <= 8 else "yuv444p16le"
    family, bits, sw, sh = PLANAR_FORMATS[name]
    return name, PlaneLayout(name, family, bits, sw, sh)


def frame_planes(frame: av.VideoFrame, layout: PlaneLayout) -> tuple[np.ndarray, ...]:
    dtype = np.uint8 if layout.bits == 8 else np.uint16
    if layout.family == "rgb":
        return (plane_array(frame.planes[0], dtype, 3),)
    if layout.family == "gray":
        return (plane_array(frame.planes[0], dtype),)
    return tuple(plane_array(p, dtype) for p in frame.planes[:3])


class MediaInput:
    """An opened input with its video stream chosen and its first frame decoded."""

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        live: bool = False,
        format: str | None = None,
        options: dict[str, str] | None = None,
        threads: int = 0,
        timeout: float | None = None,
        deinterlace: str = "auto",
        framerate: str | None = None,
        span: Span | None = None,
    ) -> None:
        """``span``: only that part of a file (:mod:`vsr.io.span`), sought and cut frame-exactly."""
        url = str(url)
        self.url = "pipe:0" if url == "-" else url
        self.live = live
        self.report = InputReport()
        if not is_url(self.url):
            path = Path(self.url)
            sequence = image_sequence(path) if format is None else None
            if sequence is not None:  # a folder of images, or an ffmpeg pattern (frame%04d.png)
                self.url, seq_options = sequence
                if framerate:
                    seq_options["framerate"] = parse_rate(framerate)
                format, options = "image2", {**seq_options, **(options or {})}
                framerate = None
            elif not path.exists():
                raise InputNotFoundError(f"input not found: {self.url}")
            elif path.is_dir():
                raise InvalidInputError(f"input is a directory with no images in it: {self.url}")
        if framerate:
            raise ConfigError(f"--fps sets the frame rate of an image sequence; {self.url} is not one "
                              f"(a video keeps its own timestamps)")
        self._deinterlace = deinterlace
        t_open = time.perf_counter()
        try:
            self.container = av.open(
                self.url, "r", format=format, options=options or {}, timeout=timeout
            )
        except av.FFmpegError as e:
            if isinstance(e, (ConnectionError, TimeoutError)) or (
                    isinstance(e, OSError) and e.errno in _NETWORK_ERRNOS):
                raise InvalidInputError(f"cannot connect to {self.url} ({_ffmpeg_reason(e)})") from None
            if isinstance(e, (av.HTTPError, av.HTTPClientError, av.HTTPServerError)) or (
                    "://" in self.url and not self.url.startswith("file:") and isinstance(e, OSError)):
                raise InvalidInputError(f"cannot read {self.url} ({_ffmpeg_reason(e)})") from None
            raise InvalidInputError(
                f"cannot read {self.url}: not a video FFmpeg can open, or damaged beyond reading "
                f"({_ffmpeg_reason(e)})"
            ) from None
        self._open_as = (format, dict(options or {}), timeout)  # to read again (caption_track, seeks)
        self._threads = threads
        if not live and not is_url(self.url) and _unprobed(self.container) and not (
                {"analyzeduration", "probesize"} & set(self._open_as[1])):
            # an audio stream whose parameters FFmpeg found no packet for in its first 5 s / 5 MB (a
            # capture whose audio starts late, or stores it late): probed again further in, as one
            # would ask ffmpeg with -analyzeduration/-probesize
            self._open_as[1].update(LONG_PROBE)
            self._reopen()
        self.open_seconds = time.perf_counter() - t_open  # waiting for a sender, then probing
        try:
            self._choose_streams(threads)
            self.alpha_stored = self.alpha_used = self.want_alpha = False
            # the part asked for, on the input's clock: from its first timestamp, as ffmpeg's -ss
            self.origin = Fraction(self.container.start_time or 0, av.time_base)
            self.cut: tuple[Fraction, Fraction | None] | None = None
            if span is not None:
                self.cut = (self.origin + span.start, self.origin + span.start + span.duration
                            if span.duration is not None else None)
            first = self._seek_and_prime()
            # when the first frame came out of the decoder: a live job's first reading of the
            # source's clock (frames decoded later are judged against it)
            self.opened_at = time.perf_counter()
        except BaseException:
            self.container.close()
            raise
        self.info = self._describe(first)
        self.captioned = first.captions is not None  # the pictures carry closed captions of their own

    # -- set-up ------------------------------------------------------------------------------

    def _choose_streams(self, threads: int) -> None:
        videos = [
            s
            for s in self.container.streams.video
            if not (s.disposition & av.stream.Disposition.attached_pic)
        ]
        if not videos:
            kinds = ", ".join(
                f"{'cover art' if s.type == 'video' else s.type} ({s.codec_context.name if s.codec_context else '?'})"
                for s in self.container.streams
            )
            raise InvalidInputError(
                f"{self.url} has no video stream (it has: {kinds or 'no streams at all'})"
            )
        # as ffmpeg maps by default: the video stream of the highest resolution (the first among equals)
        self.video = max(videos, key=lambda v: (v.codec_context.width * v.codec_context.height
                                                if v.codec_context is not None else 0, -v.index))
        for other in videos:
            if other is not self.video:
                cc = other.codec_context
                what = f"{cc.name} {cc.width}x{cc.height}" if cc is not None else "no decoder"
                self.report.warnings.append(f"video stream #{other.index} ({what}) is not kept: one video "
                                            f"stream is upscaled (#{self.video.index})")
        cc = self.video.codec_context
        if cc is None:
            raise InvalidInputError(f"{self.url}: no decoder for its video codec")
        cc.thread_type = "SLICE" if self.live else "AUTO"
        cc.thread_count = threads
        self._decoder = cc
        if cc.name in ("vp8", "vp9") and self.video.metadata.get("alpha_mode") == "1":
            # A WebM with transparency carries the alpha of each frame beside it (BlockAdditional),
            # which FFmpeg's own VP8/VP9 decoders ignore; libvpx decodes it (ffmpeg -c:v libvpx-vp9 -i)
            try:
                libvpx = av.CodecContext.create("libvpx-vp9" if cc.name == "vp9" else "libvpx", "r")
            except (ValueError, av.FFmpegError):
                self.report.warnings.append(f"the input's alpha channel is not kept: this FFmpeg has no "
                                            f"libvpx decoder for {cc.name} with alpha")
            else:
                if cc.extradata:
                    libvpx.extradata = cc.extradata
                libvpx.thread_count = threads
                self._decoder = libvpx
        unprobed = _unprobed(self.container)
        for s in unprobed:
            seen = "its first 60 s" if self._open_as[1].get("analyzeduration") == LONG_PROBE["analyzeduration"] \
                else "the part of it probed"
            name = s.codec_context.codec.canonical_name
            self.report.warnings.append(f"dropped audio stream #{s.index} ({name}): it has no packets in {seen} "
                                        f"(an empty track, or one that starts later), so nothing says how to "
                                        f"decode or copy it")
        self.passthrough = [
            s
            for s in self.container.streams
            if s is not self.video and s.type in ("audio", "subtitle", "data") and s not in unprobed
        ]
        # fonts and other files a Matroska input carries (ASS subtitles name their fonts there), and
        # cover art (a picture attachment, which FFmpeg's demuxers show as an attached_pic video
        # stream): not demuxed with the rest, see attachment_files()
        self._attached = [s for s in self.container.streams if s.type == "attachment"
                          or (s.type == "video" and s.disposition & av.stream.Disposition.attached_pic)]
        self._streams = [self.video, *self.passthrough]

    def _reopen(self) -> None:
        """Open the input again, from its beginning, as it was opened."""
        self.container.close()
        format, options, timeout = self._open_as
        self.container = av.open(self.url, "r", format=format, options=options, timeout=timeout)

    def _begin(self, seek: Fraction | None) -> DecodedFrame:
        """Start reading (from ``seek`` seconds on the input's clock: the keyframe at or before it)
        and decode up to the first frame to upscale."""
        if seek is not None:
            self.container.seek(math.floor(seek / self.video.time_base), stream=self.video, backward=True)
            self._decoder.flush_buffers()  # (a decoder of vsr's own, libvpx's, is not the container's)
        self._deinterlacer = Deinterlacer(self._deinterlace)
        self._pending: list[DecodedFrame | Passthrough] = []
        self._demux = self.container.demux(self._streams)
        self._index = 0
        self._last_pts: int | None = None
        self._first_pts: int | None = None
        self._exhausted = False
        # a cut's reading: the first and last times decoded, whether the video is past its end, and
        # which other streams are
        self._decoded_from: Fraction | None = None
        self._decoded_to: Fraction | None = None
        self._video_done = False
        self._past_end: set[int] = set()
        self._late = Fraction(0)  # how far past the cut's end the demuxer has read
        # timestamp jumps joined up (see _join): the shift so far, and where each stream's next
        # packet is due and how far it has got
        self._discontinuous = bool(self.container.format.flags & av.format.Flags.ts_discont.value)
        self._frame = 1 / Fraction(self.video.average_rate or self.video.guessed_rate or 25)  # where unsaid
        self._joined = Fraction(0)
        self._shifts: dict[int, Fraction] = {}  # each stream's own (it takes a new one when it reaches the jump)
        self._due: dict[int, tuple[Fraction, Fraction]] = {}
        # one reader for the whole input: the first frame may come out of the decoder's final
        # drain (a clip shorter than the decoder's frame-thread delay), or with others from one
        # packet, and what follows it must come from the same reader, not a fresh one
        self._reader = self._read()
        return self._prime()

    def _seek_and_prime(self) -> DecodedFrame:
        """Read from the keyframe at or before the cut's start (a whole input from its beginning).
        A seek that lands after the start (an index that points past the keyframe, a transport
        stream's search landing between keyframes) is tried again further back, and last from the
        beginning; a pipe, and an input that cannot seek, is read from the beginning."""
        if self.cut is None or self.cut[0] <= self.origin or self.url.startswith("pipe:"):  # (a seek could eat a pipe)
            return self._begin(None)
        at = self.cut[0]
        said = list(self.report.warnings)
        first = None
        for seek in (at, at - 5, at - 30, self.origin):
            self.report = InputReport(warnings=list(said))  # (what a try that missed said is not so)
            try:
                first = self._begin(seek)
            except av.FFmpegError:  # no seeking (raw H.264), where trying may have read to the end
                self._reopen()
                self._choose_streams(self._threads)
                self.report = InputReport(warnings=list(said))
                return self._begin(None)
            except InvalidInputError:
                first = None
            if self._decoded_from is not None and self._decoded_from <= at:
                break
        if first is None:
            start, end = clock(at - self.origin), self.cut[1]
            if end is not None and self._decoded_to is not None and self._decoded_to >= end:  # a part between frames
                raise InvalidInputError(f"{self.url} has no video frame from {start} to {clock(end - self.origin)} "
                                        f"(the next is at {clock(self._decoded_to - self.origin)})")
            ends = "" if self._decoded_to is None else f": its video ends at {clock(self._decoded_to - self.origin)}"
            raise InvalidInputError(f"{self.url} has no video frame from --start {start} on{ends}")
        return first

    def _prime(self) -> DecodedFrame:
        """Decode up to the first video frame, buffering what comes before it."""
        for item in self._reader:
            self._pending.append(item)
            if isinstance(item, DecodedFrame):
                return item
        detail = ""
        if self.report.first_decode_error or self.report.demux_error:
            detail = f" ({self.report.first_decode_error or self.report.demux_error})"
        raise InvalidInputError(f"{self.url} has no decodable video frame{detail}")

    def _describe(self, first: DecodedFrame) -> VideoInfo:
        s = self.video
        tb = Fraction(s.time_base) if s.time_base else Fraction(1, 90000)
        rate = s.average_rate or s.guessed_rate or s.base_rate
        rate = Fraction(rate) if rate else None
        # the video's span from its first timestamp: the stream's own duration where the container
        # gives one; Matroska's DURATION tag and its segment duration are end times, counted from
        # zero (a capture that starts an hour in is not an hour long)
        start = float(s.start_time * tb) if s.start_time is not None else 0.0
        duration = None
        if s.duration and s.time_base:
            duration = float(s.duration * s.time_base)
        elif (tagged := _tag_seconds(s.metadata.get("DURATION"))) is not None:
            duration = tagged - start
        elif self.container.duration:
            duration = self.container.duration / av.time_base - start
        if duration is not None and duration <= 0:
            duration = None
        frames = int(s.frames or 0)
        if self.cut is not None:  # the cut's share
            begin, end = float(self.cut[0]), self.cut[1]
            last = start + duration if duration is not None else None
            if end is not None and (last is None or end < last):
                last = float(end)
            duration = last - max(begin, start) if last is not None else None
            frames = 0
        if not frames and duration and rate:
            frames = int(round(duration * rate))
        sar = s.sample_aspect_ratio
        return VideoInfo(
            width=first.width,
            height=first.height,
            pix_fmt=self._first_pix_fmt,
            layout=first.layout,
            color=first.color,
            time_base=tb,
            rate=rate,
            frames=frames,
            duration=duration,
            rotation=float(self._first_rotation or 0.0),
            sample_aspect_ratio=Fraction(sar) if sar else None,
            codec=s.codec_context.name,
            hdr=self._first_hdr,
        )

    # -- reading -----------------------------------------------------------------------------

    def items(self, stop: threading.Event | None = None) -> Iterator[DecodedFrame | Passthrough]:
        """Every decoded frame and passthrough packet, in demux order (first frame included)."""
        while self._pending:
            yield self._pending.pop(0)
        for item in self._reader:
            if stop is not None and stop.is_set():
                return
            yield item

    def _read(self) -> Iterator[DecodedFrame | Passthrough]:
        video = self.video
        while not self._exhausted and not (self._video_done and self._cut_read()):
            try:
                packet = next(self._demux)
            except StopIteration:
                self._exhausted = True
                break
            except av.EOFError:
                self._exhausted = True
                break
            except av.FFmpegError as e:
                self._exhausted = True
                self.report.demux_error = _ffmpeg_reason(e)
                if not self.live:  # a live job reports how its source ended itself
                    self.report.warnings.append(
                        f"input ends early after {self._index} frames: {self.report.demux_error}"
                    )
                break
            if self._discontinuous:
                self._join(packet)
            if packet.stream.index == video.index:
                if self._video_done:
                    continue
                if packet.is_discard:  # before an edit list's start (a cut made with -c copy): decoded, not shown
                    self.report.discarded += 1
                try:
                    frames = self._decoder.decode(packet)
                except av.EOFError:  # the decoder was already drained
                    continue
                except av.FFmpegError as e:
                    if self.cut is None or self._index:  # (not the lead-in to a cut: a seek may land
                        self.report.decode_errors += 1   # on frames that need an earlier keyframe)
                        if not self.report.first_decode_error:
                            self.report.first_decode_error = _ffmpeg_reason(e)
                    continue
                for frame in frames:
                    for ready in self._deinterlacer.push(frame):
                        yield from self._emit(ready)
            elif (packet.dts is not None or packet.pts is not None) and (self.cut is None or self._in_cut(packet)):
                yield Passthrough(packet, packet.stream.index)
        if self._video_done:
            return
        # Demuxing ended (or failed): drain whatever the decoder still holds.
        try:
            for frame in self._decoder.decode(None):
                for ready in self._deinterlacer.push(frame):
                    yield from self._emit(ready)
        except av.EOFError:
            pass
        except av.FFmpegError as e:  # a broken tail: keep what was decoded
            self.report.decode_errors += 1
            self.report.first_decode_error = self.report.first_decode_error or _ffmpeg_reason(e)
        for ready in self._deinterlacer.flush():
            yield from self._emit(ready)

    def _join(self, packet: av.Packet) -> None:
        """Join up a jump in the timestamps of a format that has them (MPEG-TS, MPEG-PS, FLV: two
        recordings put end to end with cat, an encoder restarted mid-broadcast), as ffmpeg does:
        where a packet is decoded more than 0.1 s before its stream's last one was, or (audio and
        video) more than 10 s after that one ended while no other stream has got that far (else
        this stream had a gap: sound that stopped while the pictures went on), the timestamps from
        there on are shifted to carry on where that stream left off, and every other stream takes
        the same shift when it reaches the jump (its last packets before it may still come after
        the first ones of another stream after it), so the part after keeps its own sync; a sparse
        stream (subtitles, KLV data) takes the shift that puts it nearest the others. Unjoined, the
        copied audio went back in time and the run failed, and the frames were squashed onto
        consecutive ticks."""
        ts = packet.dts if packet.dts is not None else packet.pts
        if ts is None or not packet.time_base:
            return
        tb = Fraction(packet.time_base)
        index = packet.stream.index
        shift = self._shifts.setdefault(index, self._joined)
        if tb == _MPEG_CLOCK and self.container.format.name in ("mpegts", "mpeg"):
            # MPEG's clock is 33 bits at 90 kHz and wraps every 26.5 h: a value past the wrap (an
            # audio priming packet stamped just under 2**33 ahead of pictures at 0, a capture 26.5 h
            # in) is taken as the one nearest where this stream is, or the others are
            near = self._due[index][0] if index in self._due else \
                max((r for _, r in self._due.values()), default=self.origin)
            wraps = round((ts - (near - shift) / tb) / _MPEG_WRAP)
            if wraps:
                ts -= wraps * _MPEG_WRAP
                packet.pts = packet.pts - wraps * _MPEG_WRAP if packet.pts is not None else None
                packet.dts = packet.dts - wraps * _MPEG_WRAP if packet.dts is not None else None
        t = ts * tb + shift  # (decoding time: a B-frame's is far from its showing time)
        if packet.stream.type not in ("audio", "video") and shift != self._joined:
            # a sparse stream (subtitles, KLV data) cannot tell a jump by its own times: it takes the
            # shift that puts it nearest where the pictures and sound are
            now = max((r for i, (_, r) in self._due.items() if i != index), default=t)
            if abs(ts * tb + self._joined - now) < abs(t - now):
                shift = self._shifts[index] = self._joined
                t = ts * tb + shift
        if index in self._due:
            due, reached = self._due[index]
            steady = packet.stream.type in ("audio", "video")  # (a sparse stream's gaps say nothing)

            def jumps(at: Fraction) -> bool:
                if at + Fraction(1, 10) < reached:
                    return True
                # 10 s ahead: the clock jumped, unless the other streams are there already (this
                # one had a gap: sound that stopped while the pictures went on)
                return steady and at - due > 10 and not any(
                    r > at - 10 for i, (_, r) in self._due.items() if i != index)
            if jumps(t):
                if shift != self._joined and not jumps(ts * tb + self._joined):
                    shift = self._joined  # the jump another stream has reached already
                else:
                    shift = self._joined = shift - (t - due)
                    self.report.joins += 1
                self._shifts[index] = shift
                t = ts * tb + shift
        if shift:
            ticks = round(shift / tb)
            packet.pts = packet.pts + ticks if packet.pts is not None else None
            packet.dts = packet.dts + ticks if packet.dts is not None else None
        # how long it lasts: where unsaid (video in MPEG-TS, KLV data), a frame of the video
        lasts = packet.duration * tb if packet.duration else self._frame
        self._due[index] = (t + lasts, max(t, self._due.get(index, (t, t))[1]))

    def _emit(self, frame: av.VideoFrame) -> Iterator[DecodedFrame]:
        """``frame`` converted, unless it lies outside the cut."""
        if self.cut is not None:
            if self._video_done:
                return
            tb = Fraction(frame.time_base) if frame.time_base else Fraction(self.video.time_base)
            if frame.pts is not None:
                t = frame.pts * tb
            else:  # (no timestamps, as in raw H.264, which cannot seek: counted from the beginning at its rate)
                t = self._decoded_to + self._frame if self._decoded_to is not None else self.origin
            self._decoded_to = t
            if self._decoded_from is None:
                self._decoded_from = t
            start, end = self.cut
            if t < start:
                return
            if end is not None and t >= end:
                self._video_done = True
                return
        yield self._convert(frame)

    def _in_cut(self, packet: av.Packet) -> bool:
        """Whether a passthrough packet starts within the cut (one that starts before it is left
        out, as ffmpeg's stream copy after -ss leaves it)."""
        t = (packet.pts if packet.pts is not None else packet.dts) * Fraction(packet.time_base)
        start, end = self.cut  # type: ignore[misc]
        if end is not None and t >= end:
            self._past_end.add(packet.stream.index)
            self._late = max(self._late, t - end)
            return False
        return t >= start

    def _cut_read(self) -> bool:
        """Whether a cut's other streams are read to its end, once its video is: each of them has
        a packet past it, or the demuxer is 2 s past it (files interleave their streams within a
        second; a subtitle stream may have nothing more to say)."""
        return len(self._past_end) >= len(self.passthrough) or self._late >= 2

    def _convert(self, frame: av.VideoFrame) -> DecodedFrame:
        captions = read_captions(frame)  # side data, which a reformatted frame no longer has
        if self._index == 0:
            self._first_pix_fmt = frame.format.name
            # a format with alpha is kept with it where the output can hold it (as ffmpeg does);
            # losing it is worth a warning only where it is used (a GIF decodes to bgra even when opaque)
            first_alpha = alpha_plane(frame) if has_alpha(frame.format) else None
            self.alpha_stored = first_alpha is not None
            self.want_alpha = self.alpha_stored  # the output turns it off where it cannot hold it
            self.alpha_used = first_alpha is not None and bool(
                first_alpha.min() < (65535 if first_alpha.dtype == np.uint16 else 255))
            self._first_rotation = getattr(frame, "rotation", 0) or 0
            self._first_hdr = read_hdr(frame)
            self._size = (frame.width, frame.height)
        elif (frame.width, frame.height) != self._size:
            # As ffmpeg does: one output size for the whole stream, later sizes scaled to it.
            if not self.report.resized:
                self.report.warnings.append(
                    f"the video changes size at frame {self._index} ({self._size[0]}x{self._size[1]} "
                    f"-> {frame.width}x{frame.height}); later frames are scaled to the first size"
                )
            self.report.resized += 1
            frame = frame.reformat(width=self._size[0], height=self._size[1],
                                   interpolation="BICUBIC")
        alpha = alpha_plane(frame) if self.want_alpha else None
        target, layout = layout_for(frame.format)
        src_format = frame.format.name
        color = resolve_color(
            frame.colorspace,
            frame.color_range,
            frame.color_primaries,
            frame.color_trc,
            frame.width,
            frame.height,
            src_format,
        )
        if target != src_format:
            frame = frame.reformat(format=target)
        pts = frame.pts
        if pts is not None and self._last_pts is not None and pts <= self._last_pts:
            self.report.pts_fixed += 1
        if pts is not None:
            self._last_pts = pts if self._last_pts is None else max(pts, self._last_pts)
            self._first_pts = pts if self._first_pts is None else min(pts, self._first_pts)
        item = DecodedFrame(
            index=self._index,
            pts=pts,
            time_base=Fraction(frame.time_base) if frame.time_base else Fraction(self.video.time_base),
            planes=frame_planes(frame, layout),
            layout=layout,
            color=color,
            width=frame.width,
            height=frame.height,
            alpha=alpha,
            captions=captions,
        )
        self._index += 1
        return item

    def caption_track(self, index: int) -> list[tuple[float, float | None, bytes]]:
        """The packets of closed caption stream ``index`` (a QuickTime ``c608`` track), read ahead
        from a second opening of the file with every other stream left unread (MOV/MP4 then read
        only its samples: a few bytes a frame), as ``(start, duration, cc_data)`` in seconds on
        the video's clock."""
        format, options, _ = self._open_as
        out: list[tuple[float, float | None, bytes]] = []
        with av.open(self.url, "r", format=format, options=options) as c:
            s = c.streams[index]
            for other in c.streams:
                if other is not s:
                    other.discard = type(other.discard).all  # AVDISCARD_ALL: its samples are not read
            tb = s.time_base or Fraction(1, av.time_base)
            start, end = self.cut or (None, None)
            for p in c.demux(s):
                if p.size and p.pts is not None and (start is None or start <= p.pts * tb) and (
                        end is None or p.pts * tb < end):
                    out.append((float(p.pts * tb), float(p.duration * tb) if p.duration else None, bytes(p)))
        return out

    def jpeg_quality(self) -> int | None:
        """For MJPEG video and JPEG sequences, the first frame's JPEG quality
        (:func:`vsr.io.image.jpeg_quality`), from its packet read on a second opening of the input;
        None for other codecs, and for live, piped and network inputs (which cannot be read twice)."""
        if self.info.codec != "mjpeg" or self.live or is_url(self.url):
            return None
        format, options, _ = self._open_as
        try:
            with av.open(self.url, "r", format=format, options=options) as c:
                for p in c.demux(c.streams[self.video.index]):
                    if p.size:
                        return jpeg_quality(bytes(p))
        except av.FFmpegError:
            return None
        return None

    @property
    def frames_read(self) -> int:
        return self._index

    def attachment_files(self) -> list[Attachment]:
        """The input's attachments and cover art. A cover's picture is its stream's one packet, read
        through a second opening of a file input (a live one's is left out)."""
        files = []
        for s in self._attached:
            tags = dict(s.metadata)
            if s.type == "video":  # a cover without Matroska's tags (MP4's) is named by its picture codec
                codec = s.codec_context.name if s.codec_context is not None else ""
                ext, kind = {"png": ("png", "image/png"), "bmp": ("bmp", "image/bmp")}.get(codec, ("jpg", "image/jpeg"))
                fallback = (f"cover.{ext}", kind)
            else:
                fallback = (f"attachment{s.index}", s.mimetype or "application/octet-stream")
            name = tags.pop("filename", None) or fallback[0]
            mime = tags.pop("mimetype", None) or fallback[1]
            if s.type == "attachment":
                data = bytes(s.data or b"")
            elif self.live:
                continue
            else:
                try:
                    with av.open(self.url) as again:
                        data = bytes(next(again.demux(again.streams[s.index]), None) or b"")
                except (av.FFmpegError, OSError, IndexError):
                    data = b""
            if data:
                files.append(Attachment(name, mime, data, tags, s if s.type == "video" else None))
        return files

    def _lost(self) -> list[str]:
        """What of a fully read input's video could not be decoded, by what its header announces: an
        exact frame count (MP4's) against the frames read; otherwise its first and last timestamps
        against the stream's start and duration (a count estimated as duration x rate is wrong for
        every variable-frame-rate clip). A cut stream lacks its head (no keyframe before the cut), a
        truncated file its tail."""
        info, s = self.info, self.video
        if self.cut is not None or self.report.joins or not self._exhausted or self.report.demux_error \
                or self._last_pts is None or self._first_pts is None:
            return []
        if s.frames:  # (which counts the samples an edit list leaves out)
            if self._index + self.report.discarded < info.frames * 0.95 - 1:
                return [f"input looks truncated: it ended after {self._index} of the {info.frames} frames its "
                        f"header announces"]
            return []
        step = float(1 / info.rate) if info.rate else 0.0
        start = s.start_time if s.start_time is not None else self._first_pts
        lost = []
        head = float((self._first_pts - start) * info.time_base)
        if head > 2 * step:
            lost.append(f"the input's first {head:.2f} s of video could not be decoded (it starts without a "
                        f"keyframe, as a cut stream does)")
        if info.duration:
            reached = float((self._last_pts - start) * info.time_base) + step
            if reached < info.duration * 0.95 - 2 * step:
                lost.append(f"input looks truncated: it ended after {reached:.2f} s of the {info.duration:.2f} s "
                            f"its header announces")
        return lost

    def warnings(self) -> list[str]:
        out = [f"{what}; every decodable frame was upscaled" for what in self._lost()]
        out = list(self.report.warnings) + out
        if self._deinterlacer.failure:
            out.append(f"frames could not be deinterlaced and were upscaled as they are "
                       f"({self._deinterlacer.failure})")
        if self._deinterlacer.interlaced:
            out.append(
                f"{self._deinterlacer.interlaced} interlaced frame(s) were deinterlaced (bwdif, one frame "
                f"per frame) before upscaling; --deinterlace off keeps the fields as they are"
            )
        if self.report.joins:
            out.append(f"the input's timestamps jump back or ahead {self.report.joins} time(s) (recordings put end "
                       f"to end, an encoder restarted): each part was put straight after the one before, as "
                       f"ffmpeg does")
        if self.report.decode_errors:
            out.append(
                f"input is damaged: {self.report.decode_errors} video packet(s) could not be decoded "
                f"({self.report.first_decode_error}); every decodable frame was kept"
            )
        return out

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> "MediaInput":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def image_sequence(path: Path) -> tuple[str, dict[str, str]] | None:
    """The image2 demuxer's URL and options for an image sequence, or None where ``path`` is none:
    a folder of images (the most common image type in it, in name order, as Real-ESRGAN's video
    script reads a folder of frames), or a name with an ffmpeg frame-number pattern such as
    ``frames/%04d.png`` (numbered from the lowest number present, which ffmpeg itself only finds
    among the first five). Frames are timed at 25 fps, ffmpeg's default for image sequences."""
    if path.is_dir():
        suffixes = [p.suffix.lower() for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not suffixes:
            return None
        suffix = max(sorted(set(suffixes)), key=suffixes.count)
        names = sorted(p.name for p in path.iterdir() if p.is_file() and p.suffix.lower() == suffix)
        common = os.path.commonprefix(names)
        pattern = glob_escape(str(path) + os.sep + common) + "*" + glob_escape(names[0][-len(suffix):])
        return pattern, {"pattern_type": "glob"}
    if path.exists() or not FRAME_NUMBER.search(path.name):
        return None
    numbers = [n for n, _ in numbered_files(path)]
    if not numbers:
        return None
    return str(path), {"start_number": str(min(numbers))}


def parse_rate(text: str) -> str:
    """A frame rate given as ``30``, ``29.97`` or ``30000/1001``, as FFmpeg's ``num/den``; NTSC's
    decimal spellings (23.976, 29.97, 59.94) mean their exact x/1001 rates, as ffmpeg reads them."""
    try:
        rate = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        rate = Fraction(0)
    if not 0 < rate <= 1000:
        raise ConfigError(f"bad frame rate {text!r} (give e.g. 25, 29.97 or 30000/1001)")
    for ntsc in (24000, 30000, 60000, 120000):
        if rate != Fraction(ntsc, 1001) and abs(rate - Fraction(ntsc, 1001)) < Fraction(1, 200):
            rate = Fraction(ntsc, 1001)
    return f"{rate.numerator}/{rate.denominator}"


def glob_escape(text: str) -> str:
    """``text`` matched literally by glob(3) (FFmpeg's pattern_type=glob)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


_NOPTS = -(1 << 63)  # AV_NOPTS_VALUE
ANIMATION_FORMATS = {".gif": "gif", ".webp": "webp", ".apng": "apng"}  # suffix -> muxer
# a source that was never reached, as opposed to one that was and is not a video
_NETWORK_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.EADDRNOTAVAIL}


_MPEG_CLOCK, _MPEG_WRAP = Fraction(1, 90000), 1 << 33  # MPEG-TS/PS timestamps: 33 bits at 90 kHz
# FFmpeg's probe, further in (60 s, 200 MB; its defaults are 5 s and 5 MB)
LONG_PROBE = {"analyzeduration": "60000000", "probesize": "200000000"}


def _unprobed(container: av.container.InputContainer) -> list[av.stream.Stream]:
    """Audio streams whose parameters FFmpeg's probe did not find (no sample rate: it saw no packet)."""
    return [s for s in container.streams.audio if s.codec_context is not None and not s.codec_context.sample_rate]


def _ffmpeg_reason(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return " ".join(str(text).split())


# -- output ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncodeOptions:
    """Encoder settings, like ffmpeg's ``-c:v -crf -preset -pix_fmt -tune -g``."""

    codec: str = "auto"  # auto: libx264 where the container holds H.264, else the container's own
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str = "auto"
    tune: str = ""
    gop: int = 0
    low_latency: bool = False
    audio: bool = True  # the input's audio streams copied (false: left out, as ffmpeg's -an)
    subtitles: bool = True  # and its subtitle streams (-sn)
    metadata: bool = True  # and the file's tags: title, creation time, place (false: -map_metadata -1)


X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                "veryslow", "placebo")
X264_TUNES = ("film", "animation", "grain", "stillimage", "psnr", "ssim", "fastdecode", "zerolatency")
X265_TUNES = ("psnr", "ssim", "grain", "zerolatency", "fastdecode", "animation")
NVENC_TUNES = ("hq", "ll", "ull", "lossless")
NVENC_PRESETS = {
    "ultrafast": "p1", "superfast": "p1", "veryfast": "p2", "faster": "p3", "fast": "p3",
    "medium": "p4", "slow": "p5", "slower": "p6", "veryslow": "p7", "placebo": "p7",
}
SVTAV1_PRESETS = {"ultrafast": 12, "superfast": 11, "veryfast": 10, "faster": 9, "fast": 8,
                  "medium": 6, "slow": 4, "slower": 3, "veryslow": 2, "placebo": 1}
# libvpx speed (-cpu-used) per preset name; medium is libvpx's own default (1), as medium is x264's.
VP9_SPEEDS = {"ultrafast": 5, "superfast": 5, "veryfast": 5, "faster": 4, "fast": 3, "medium": 1,
              "slow": 0, "slower": 0, "veryslow": 0, "placebo": 0}
VP8_SPEEDS = {"ultrafast": 16, "superfast": 12, "veryfast": 8, "faster": 6, "fast": 4, "medium": 1,
              "slow": 0, "slower": 0, "veryslow": 0, "placebo": 0}
# Encoders whose quality knob is a fixed quantizer (ffmpeg's -q:v), not a crf: MPEG-1/2/4 and kin.
QSCALE_ENCODERS = ("mpeg1video", "mpeg2video", "mpeg4", "msmpeg4", "msmpeg4v2", "h261", "h263", "h263p",
                   "flv", "wmv1", "wmv2", "mjpeg")
# The highest crf each encoder takes (NVENC's cq: 51; any other: 63). Lossless and palette encoders
# (ffv1, gif, png...) have no quality knob and ignore --crf.
CRF_RANGES = {"libx264": 51, "libx265": 51, "libsvtav1": 63, "libvpx-vp9": 63, "libvpx": 63}


def crf_to_qscale(crf: int) -> int:
    """The MPEG quantizer that matches ``crf`` by x264's rule of thumb (+6 crf = twice the
    quantizer): crf 18 -> 2 (the finest ffmpeg advises), 24 -> 4, 30 -> 8, ..., capped at 31."""
    return max(2, min(31, round(2 * 2 ** ((crf - 18) / 6))))


def _choice(what: str, value: str, codec: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {what} {value!r} for {codec} (valid: {', '.join(valid)})")


def encoder_options(opts: EncodeOptions, rate: Fraction | None = None, pixels: int = 0) -> dict[str, str]:
    """FFmpeg private options for ``opts.codec`` (an encoder's own name, as ``av.Codec(..).name``
    gives it): ``--crf``, ``--preset`` and ``--tune`` in each encoder's own terms, checked here so a
    bad value is one clear error before any file exists. ``rate`` and ``pixels`` (of an output frame)
    size VP8's bitrate ceiling."""
    codec, crf, preset, tune = opts.codec, opts.crf, opts.preset, opts.tune
    out: dict[str, str] = {}
    top = 51 if codec.endswith("_nvenc") else CRF_RANGES.get(codec, 63)
    if not 0 <= crf <= top:
        raise ConfigError(f"crf must be in 0..{top} for {codec}, got {crf}")
    presets: Sequence[str] = X26X_PRESETS
    tunes: tuple[str, ...] = ()
    if codec in ("libx264", "libx265"):
        out["crf"] = str(crf)
        out["preset"] = preset
        tunes = X264_TUNES if codec == "libx264" else X265_TUNES
        if opts.tune or opts.low_latency:
            out["tune"] = opts.tune or "zerolatency"
        if codec == "libx265":
            out["x265-params"] = "log-level=error"
    elif codec.endswith("_nvenc"):
        presets = [*NVENC_PRESETS, *(f"p{i}" for i in range(1, 8))]
        tunes = NVENC_TUNES
        out["preset"] = NVENC_PRESETS.get(preset, preset)
        out["rc"] = "vbr"
        out["cq"] = str(crf)
        if opts.tune:
            out["tune"] = opts.tune
        if opts.low_latency:
            out["tune"] = "ll"
            out["zerolatency"] = "1"
    elif codec == "libsvtav1":
        presets = [*SVTAV1_PRESETS, *(str(i) for i in range(-1, 14))]
        out["crf"] = str(crf)
        out["preset"] = str(SVTAV1_PRESETS.get(preset, preset))
    elif codec in ("libvpx-vp9", "libvpx"):
        vp9 = codec == "libvpx-vp9"
        speeds = VP9_SPEEDS if vp9 else VP8_SPEEDS
        if vp9:  # constant quality (ffmpeg's -crf N -b:v 0); rows in parallel, the same quality
            out.update({"crf": str(crf), "b": "0", "row-mt": "1"})
        else:  # VP8 has no constant-quality mode: in its constrained one the bitrate decides, not crf
            # (crf 10 and 40 came out 1.6x apart in size, where VP9 is 7.8x), so a fixed quantizer
            # = crf on the same 0..63 scale, under a ceiling of 1 bit per pixel it never reaches
            fps = float(rate) if rate else 30.0
            out.update({"qmin": str(crf), "qmax": str(crf), "b": str(max(1_000_000, round(pixels * fps)))})
        if preset in speeds and speeds[preset] != 1:
            out["cpu-used"] = str(speeds[preset])
        tunes = ("psnr", "ssim")
        if opts.tune:
            out["tune"] = opts.tune
        if opts.low_latency:
            out["deadline"] = "realtime"
            out["lag-in-frames"] = "0"
    elif codec in QSCALE_ENCODERS:  # a fixed quantizer, as ffmpeg's -q:v (its default is a bitrate)
        q = str(crf_to_qscale(crf))
        out.update({"flags": "+qscale", "qmin": q, "qmax": q})
    elif codec == "vc2":  # its own default bit rate, as ffmpeg keeps it: PyAV starts every stream at
        out["b"] = "600M"  # 0, to which the VC-2 (Dirac Pro) encoder sizes frames and refuses them all
    _choice("preset", preset, codec, presets)
    if tune:
        if not tunes:
            raise ConfigError(f"{codec} takes no tune (encode.tune is for libx264, libx265, libvpx "
                              f"and the NVENC encoders)")
        for part in tune.replace("+", ",").split(",") if codec == "libx264" else [tune]:
            _choice("tune", part, codec, tunes)
    return out


# Muxers that carry H.264 although FFmpeg's codec query for them does not say so.
H264_UNLISTED = ("mpegts",)


# containers to suggest for a stream the output's cannot hold: Matroska holds most; MOV holds
# QuickTime's own tracks (c608 captions) and old codecs (H.263, DV); AVI holds H.261
HOLDERS = ((".mkv", "matroska"), (".mov", "mov"), (".avi", "avi"))


def _muxer_refusal(fmt: str, add: Callable[[av.container.OutputContainer], object], header: bool = True) -> str | None:
    """Why FFmpeg's ``fmt`` muxer refuses the stream ``add(probe)`` adds (asked of an output in
    memory, with its header written where ``header``), or None where it takes it."""
    try:
        with av.open(io.BytesIO(), "w", format=fmt) as probe:
            add(probe)
            if header:
                probe.start_encoding()
    except (av.FFmpegError, ValueError, TypeError) as e:
        return _ffmpeg_reason(e)
    return None


def default_codec(container: av.container.OutputContainer) -> str:
    """The encoder ``--codec auto`` means for ``container``: libx264 wherever the container holds
    H.264, else the container's own default video encoder (webm: VP9, gif: GIF, ivf: VP8, ...), as
    ffmpeg picks it."""
    fmt = container.format.name
    if fmt == "image2":  # numbered images: the suffix says, as ffmpeg's image2 muxer reads it
        return image_codec(Path(container.name).suffix)
    if "h264" in container.supported_codecs or fmt in H264_UNLISTED:
        return "libx264"
    name = container.default_video_codec
    if not name or name == "none":
        raise ConfigError(f"the {fmt} container holds no video; write e.g. .mp4 or .mkv")
    try:
        return av.Codec(name, "w").name
    except (av.codec.codec.UnknownCodecError, ValueError):
        raise ConfigError(f"the {fmt} container wants {name} video, which this FFmpeg cannot encode; "
                          f"choose --codec or another extension (.mp4, .mkv)") from None


def check_encoder(codec: str) -> av.Codec:
    """The encoder, or a clear error if this FFmpeg lacks it or it cannot open on this machine
    (``auto`` is checked as libx264, what most containers get)."""
    codec = "libx264" if codec == "auto" else codec
    try:
        enc = av.Codec(codec, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        raise ConfigError(
            f"unknown encoder {codec!r} (this FFmpeg has e.g. libx264, libx265, libsvtav1, ffv1, "
            f"and h264_nvenc/hevc_nvenc on NVIDIA machines)"
        ) from None
    if enc.type != "video":
        raise ConfigError(f"{codec!r} is not a video encoder")
    if codec.endswith(("_nvenc", "_qsv", "_vaapi", "_amf", "_videotoolbox")):
        ctx = av.CodecContext.create(enc)
        ctx.width, ctx.height, ctx.pix_fmt = 256, 256, "yuv420p"
        ctx.time_base = Fraction(1, 25)
        try:
            ctx.open()
        except av.FFmpegError as e:
            raise BackendUnavailableError(
                f"encoder {codec} cannot run on this machine ({_ffmpeg_reason(e)}); "
                f"use --codec libx264 or libx265"
            ) from None
    return enc


# Encoders whose Y'CbCr is full range only (yuvj*)
FULL_RANGE_ENCODERS = {"mjpeg"}


def source_bits(info: VideoInfo) -> int:
    """Bits per sample of the input as decoded (12 for ProRes, where its planes are handed on in 16)."""
    try:
        return max(c.bits for c in av.VideoFormat(info.pix_fmt).components)
    except ValueError:
        return info.layout.bits


def choose_pix_fmt(info: VideoInfo, opts: EncodeOptions, enc: av.Codec, scale: int = 1,
                   size: tuple[int, int] | None = None, alpha: bool = False) -> str:
    """``size``: the output's (width, height) where it is not ``scale`` times the input's; ``alpha``:
    the input has transparency, so prefer a format the encoder also takes with alpha
    (:func:`alpha_format`), e.g. 4:4:4 10-bit for ProRes 4444."""
    plain = _choose_pix_fmt(info, opts, enc, scale, size)
    if enc.name in FULL_RANGE_ENCODERS and f"yuvj{plain[3:]}" in OUTPUT_FORMATS:
        # JPEG is full range: FFmpeg's encoder refuses limited-range 4:2:0 at open (Invalid argument)
        # unless made unofficial, so as ffmpeg converts for it: the same planes, full range
        plain = f"yuvj{plain[3:]}"
    if not alpha or opts.pix_fmt != "auto" or alpha_format(plain, enc):
        return plain
    supported = {f.name for f in (enc.video_formats or ())}
    width, height = size or (info.width * scale, info.height * scale)
    odd = width % 2 or height % 2
    deep = info.layout.bits > 8
    prefs = (["yuv420p10le", "yuv444p10le"] if deep else []) + ["yuv420p", "yuv444p"] + list(OUTPUT_FORMATS)
    for name in prefs:
        if odd and OUTPUT_FORMATS[name][1:3] != (0, 0):
            continue
        # (an RGB encoder takes none of these planes as they are: they are converted for it)
        if (not supported or name in supported or not supported & set(OUTPUT_FORMATS)) and alpha_format(name, enc):
            return name
    return plain


def _choose_pix_fmt(info: VideoInfo, opts: EncodeOptions, enc: av.Codec, scale: int,
                    size: tuple[int, int] | None) -> str:
    supported = {f.name for f in (enc.video_formats or ())}
    width, height = size or (info.width * scale, info.height * scale)
    odd = width % 2 or height % 2
    if opts.pix_fmt != "auto":
        if odd and opts.pix_fmt in OUTPUT_FORMATS and OUTPUT_FORMATS[opts.pix_fmt][1:3] != (0, 0):
            raise ConfigError(
                f"the output is {width}x{height}; {opts.pix_fmt} needs even dimensions "
                f"(use --pix-fmt yuv444p, or an even scale)"
            )
        if opts.pix_fmt not in OUTPUT_FORMATS:
            raise ConfigError(
                f"unsupported pix_fmt {opts.pix_fmt!r} (valid: auto, {', '.join(OUTPUT_FORMATS)})"
            )
        if supported and opts.pix_fmt not in supported:
            raise ConfigError(
                f"encoder {enc.name} cannot write {opts.pix_fmt} "
                f"(it takes: {', '.join(sorted(supported & set(OUTPUT_FORMATS)))})"
            )
        return opts.pix_fmt
    candidates = ["yuv420p10le", "yuv420p"] if info.layout.bits > 8 else ["yuv420p"]
    if odd:  # 4:2:0 cannot hold an odd size: keep every pixel with 4:4:4
        candidates = ["yuv444p10le", "yuv444p"] if info.layout.bits > 8 else ["yuv444p"]
    for name in candidates:
        if not supported or name in supported:
            return name
    usable = [f for f in OUTPUT_FORMATS if f in supported]
    if not usable:  # an RGB or palette encoder (gif, apng, ...): 4:4:4 planes, converted for it
        return "yuv444p10le" if info.layout.bits > 8 and supported & DEEP_RGB else "yuv444p"
    # the input's depth where the encoder has it (DNxHR: 10-bit 4:2:2 for a 10-bit source, not 8)
    return min(usable, key=lambda f: (OUTPUT_FORMATS[f][0] > 8) != (info.layout.bits > 8))


# What an encoder that takes none of OUTPUT_FORMATS gets, best first: RGB (16 bit where the source is
# deeper than 8), then a palette (built per frame, as ffmpeg's palettegen/paletteuse), then gray.
DEEP_RGB = {"rgb48le", "rgb48be", "gbrp16le", "gbrp10le"}
CONVERTED_FORMATS = ("rgb48le", "rgb48be", "gbrp16le", "gbrp10le", "rgb24", "bgr24", "gbrp", "rgba", "bgra",
                     "pal8", "rgb8", "bgr8", "gray")


# Formats with alpha an encoder may take where it has no Y'CbCr one with alpha (PNG, QuickTime RLE,
# Ut Video...), deep ones first; deep ones are given only for planes deeper than 8 bits.
RGB_ALPHA = ("rgba64le", "rgba64be", "gbrap16le", "gbrap12le", "gbrap10le", "gbrap", "rgba", "bgra", "argb", "abgr")
DEEP_RGB_ALPHA = {"rgba64le", "rgba64be", "gbrap16le", "gbrap12le", "gbrap10le"}
# Encoders that list a format with alpha they cannot open here (libx265's alpha layer needs an x265
# built with it, which the one in PyAV's FFmpeg is not)
NO_ALPHA_ENCODERS = {"libx265"}


def with_alpha(planes_fmt: str) -> str | None:
    """The Y'CbCr format with an alpha plane beside ``planes_fmt``'s (yuv420p -> yuva420p, yuvj444p
    -> yuva444p), or None where FFmpeg has none (yuv420p12le)."""
    name = planes_fmt.replace("yuvj", "yuv").replace("yuv", "yuva", 1)
    try:
        av.VideoFormat(name)
    except ValueError:
        return None
    return name


def alpha_format(planes_fmt: str, enc: av.Codec) -> str | None:
    """What ``enc`` is given to keep the alpha of frames whose colour is in ``planes_fmt``: the Y'CbCr
    format with alpha where it takes it (VP9, FFV1, ProRes 4444), else an RGB format with alpha
    (PNG, QuickTime RLE, Ut Video); None where it holds no alpha (H.264, GIF...)."""
    yuva = with_alpha(planes_fmt)
    if yuva is None or enc.name in NO_ALPHA_ENCODERS:
        return None
    supported = [f.name for f in (enc.video_formats or ())]
    if yuva in supported:
        return yuva
    deep = OUTPUT_FORMATS[planes_fmt][0] > 8
    for name in RGB_ALPHA:
        if name in supported and (deep or name not in DEEP_RGB_ALPHA):
            return name
    if enc.name == "gif":  # a palette with one transparent entry: see-through or not, as GIF is
        return "pal8"
    return None


def encoder_pix_fmt(planes_fmt: str, enc: av.Codec) -> str:
    """The format the encoder is given: the planes' own where it takes them, else the best of
    :data:`CONVERTED_FORMATS` it takes (deep RGB only for deep planes)."""
    supported = [f.name for f in (enc.video_formats or ())]
    if not supported or planes_fmt in supported:
        return planes_fmt
    deep = OUTPUT_FORMATS[planes_fmt][0] > 8
    for name in CONVERTED_FORMATS:
        if name in supported and (deep or name not in DEEP_RGB):
            return name
    raise ConfigError(f"encoder {enc.name} takes none of the pixel formats vsr can give it "
                      f"({', '.join(supported)})")


@dataclass(frozen=True)
class OutputSpec:
    """What the download stage produces for the encoder: planes of this format and colour."""

    pix_fmt: str
    width: int
    height: int
    bits: int
    chroma_shift_w: int
    chroma_shift_h: int
    matrix: str
    full_range: bool


STANDARD_RATES = {Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                  Fraction(50), Fraction(60000, 1001), Fraction(60)}
_SWS_MATRIX = {"bt601": "itu601", "bt709": "itu709", "bt2020": "bt2020"}


class FrameConverter:
    """Y'CbCr 4:4:4 frames (with alpha, where it is kept) -> what an RGB or palette encoder takes.
    RGB through swscale with the output's own matrix and range; a palette (GIF) built for each frame
    from its own colours (FFmpeg's palettegen with stats_mode=single, then paletteuse), as one would
    with ffmpeg, rather than swscale's fixed 3-3-2 colour cube (about 6x the error on photos)."""

    def __init__(self, spec: OutputSpec, target: str, time_base: Fraction, alpha: bool = False) -> None:
        """``alpha``: the frames carry alpha for the target to keep (a palette's transparent entry
        where the target is one: pixels under half opacity become see-through, as ffmpeg's paletteuse
        decides)."""
        self.spec, self.target = spec, target
        # a target with alpha is converted straight from the frame's Y'CbCr + alpha
        self.rgb = target if target in RGB_ALPHA else "rgb48le" if target in DEEP_RGB else "rgb24"
        self.graph = None
        if target == "pal8":
            self.rgb = "rgba" if alpha else "rgb24"
            g = av.filter.Graph()
            src = g.add_buffer(width=spec.width, height=spec.height, format=self.rgb, time_base=time_base)
            split = g.add("split")
            palette = g.add("palettegen", f"stats_mode=single:reserve_transparent={int(alpha)}")
            use = g.add("paletteuse", "new=1:alpha_threshold=128" if alpha else "new=1")
            sink = g.add("buffersink")
            src.link_to(split)
            split.link_to(palette, 0, 0)
            split.link_to(use, 1, 0)
            palette.link_to(use, 0, 1)
            use.link_to(sink)
            g.configure()
            self.graph = g

    def _to_rgb(self, frame: av.VideoFrame) -> av.VideoFrame:
        matrix = _SWS_MATRIX.get(self.spec.matrix, "itu709")
        rgb = frame.reformat(format=self.rgb, src_colorspace=matrix, dst_colorspace=matrix,
                             src_color_range="JPEG" if self.spec.full_range else "MPEG",
                             dst_color_range="JPEG")
        rgb.pts, rgb.time_base = frame.pts, frame.time_base
        return rgb

    def __call__(self, frame: av.VideoFrame | None) -> list[av.VideoFrame]:
        """The encoder's frames for ``frame``; ``None`` flushes what the palette graph holds."""
        if self.graph is None:
            if frame is None:
                return []
            rgb = self._to_rgb(frame)
            if self.target == self.rgb:
                return [rgb]
            out = rgb.reformat(format=self.target)
            out.pts, out.time_base = rgb.pts, rgb.time_base
            return [out]
        self.graph.push(None if frame is None else self._to_rgb(frame))
        out = []
        while True:
            try:
                out.append(self.graph.pull())
            except (av.BlockingIOError, av.EOFError):
                return out


# Audio and subtitle codecs MPEG-TS carries by standard (its muxer accepts anything else as data).
MPEGTS_CARRIES = {"aac", "aac_latm", "mp1", "mp2", "mp3", "ac3", "eac3", "opus", "dts", "truehd",
                  "dvb_subtitle", "dvb_teletext", "hdmv_pgs_subtitle"}


def held_in_name_only(fmt: str, kind: str, name: str, names: set[str]) -> bool:
    """Whether the muxer ``fmt`` accepts a ``kind`` stream of codec ``name`` that players would not
    read from it, so that, as ffmpeg would, it is re-encoded rather than copied: PCM in MP4 (only with
    a layout FFmpeg can name, rarely played); in FLV any audio but AAC/MP3 (Opus/FLAC need the
    "enhanced" RTMP ingest servers mostly refuse); in MPEG-TS audio or subtitles it does not carry
    by standard (written as an opaque data stream)."""
    if fmt == "mpegts":
        return kind in ("audio", "subtitle") and not names & MPEGTS_CARRIES
    if kind != "audio":
        return False
    return (fmt == "mp4" and name.startswith("pcm_")) or (fmt == "flv" and name not in ("aac", "mp3"))


def _tag_seconds(text: str | None) -> float | None:
    """A duration tag as Matroska's muxer writes it, ``HH:MM:SS.fraction``, in seconds."""
    m = re.fullmatch(r"(\d+):(\d\d):(\d\d(?:\.\d+)?)", (text or "").strip())
    return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None


def copy_stream_tags(source: av.stream.Stream, dest: av.stream.Stream) -> None:
    """What a player shows and picks a track by, as ffmpeg copies it: the per-stream tags (language,
    title, handler name; the start timecode, from which MOV/MP4 muxers write a timecode track) and
    the disposition (default, forced, hearing impaired, commentary...)."""
    for key in ("language", "title", "handler_name", "timecode"):
        if key in source.metadata:
            dest.metadata[key] = source.metadata[key]
    if source.disposition:
        dest.disposition = source.disposition


class AudioTranscoder:
    """An audio stream the output container cannot hold as it is, re-encoded to the container's own
    audio codec (webm: Opus, mp4/mov: AAC, avi: MP3, mpg/ts: MP2; flv: AAC, what RTMP ingest takes),
    as ffmpeg does, rather than dropped: input packets are decoded with the input stream's decoder,
    resampled to the encoder's sample format, rate and frame size, and keep their timestamps."""

    NAMED = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
    KEEP_LAYOUT = ("aac", "libopus", "opus", "ac3", "eac3", "flac", "libvorbis", "pcm_s16le", "pcm_s24le")
    # Containers that take only some rates where the codec takes any (MXF's PCM is 48 kHz: its header
    # refused 44.1 kHz, "Operation not permitted")
    CONTAINER_RATES = {"mxf": (48000,), "mxf_d10": (48000,), "mxf_opatom": (48000,)}

    def __init__(self, container: av.container.OutputContainer, source: av.stream.Stream) -> None:
        fmt = container.format.name
        name = "aac" if fmt == "flv" else container.default_audio_codec
        if not name or name == "none":
            raise ConfigError(f"the {fmt} container holds no audio")
        enc = av.Codec(name, "w")
        dec = source.codec_context
        rate = dec.sample_rate or 48000
        rates = list(enc.audio_rates or ()) or list(self.CONTAINER_RATES.get(fmt, ()))
        if rates and rate not in rates:
            rate = min(rates, key=lambda r: (abs(r - rate), -r))
        channels = dec.layout.nb_channels if dec.layout else 0
        layout = dec.layout.name if channels else "stereo"
        if layout.endswith("channels"):  # an unnamed order ("2 channels"): encoders want a named one
            layout = self.NAMED.get(channels, "stereo")
        if channels > 2 and enc.name not in self.KEEP_LAYOUT:
            layout = "stereo"
        self.codec = enc.name
        self.decoder = dec
        self.stream = container.add_stream(enc.name, rate=rate)
        cc = self.stream.codec_context
        cc.layout = layout
        if enc.audio_formats:
            cc.format = enc.audio_formats[0].name
        if source.time_base:
            self.stream.time_base = Fraction(1, rate)
        copy_stream_tags(source, self.stream)
        self.container = container
        self.resampler: av.AudioResampler | None = None

    def _resampled(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        if self.resampler is None:  # the encoder is open by now, so its frame size is known
            cc = self.stream.codec_context
            self.resampler = av.AudioResampler(format=cc.format.name, layout=cc.layout.name, rate=cc.sample_rate,
                                               frame_size=cc.frame_size or None)
        return self.resampler.resample(frame)

    def write(self, packet: av.Packet | None) -> None:
        """Re-encode one input packet; ``None`` flushes decoder, resampler and encoder."""
        frames = self.decoder.decode(packet)
        for frame in frames:
            for out in self._resampled(frame):
                for p in self.stream.encode(out):
                    self.container.mux(p)
        if packet is None:
            for out in self._resampled(None):
                for p in self.stream.encode(out):
                    self.container.mux(p)
            for p in self.stream.encode(None):
                self.container.mux(p)


class SubtitleTranscoder:
    """A text subtitle stream the output container cannot hold as it is (SRT in MP4, mov_text in
    Matroska, CEA-608 closed captions in anything but MOV, ...) converted to the container's text
    format (mov_text for MP4/MOV, ASS for Matroska, WebVTT for WebM), cue by cue with the same
    times, as ffmpeg does. Bitmap subtitles (PGS, DVD) cannot become text: those stay dropped, with
    the reason."""

    TEXT = ("subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text")  # what the encoders write
    TARGET = {"mp4": "mov_text", "mov": "mov_text", "ipod": "mov_text", "3gp": "mov_text", "matroska": "ass",
              "webm": "webvtt"}

    def __init__(self, container: av.container.OutputContainer, source: av.stream.Stream) -> None:
        fmt = container.format.name
        codec = source.codec_context.codec if source.codec_context is not None else None
        if codec is None or not codec.text_sub:  # the decoders of text (closed captions too) give ASS
            raise ConfigError("bitmap subtitles cannot become text" if codec is not None and codec.bitmap_sub
                              else "no decoder FFmpeg has reads them as text")
        name = self.TARGET.get(fmt) or container.default_subtitle_codec
        if not name or name == "none" or name not in self.TEXT:
            raise ConfigError(f"the {fmt} container holds no text subtitles")
        self.decoder = source.codec_context
        self.decoder.open()  # its ASS header is what the text encoders start from
        if not self.decoder.subtitle_header:  # (checked before the stream is added: a text encoder
            # without one fails the whole output when it opens)
            raise ConfigError("its subtitles carry no header to convert from")
        self.stream = container.add_stream(name)
        cc = self.stream.codec_context
        cc.time_base = source.time_base
        cc.subtitle_header = self.decoder.subtitle_header
        self.codec = name
        copy_stream_tags(source, self.stream)
        self.container = container

    def write(self, packet: av.Packet | None) -> None:
        if packet is None or packet.pts is None:
            return
        cues = self.decoder.decode2(packet)
        if cues is None:
            return
        out = self.stream.codec_context.encode_subtitle(cues)
        if out is None:
            return
        out.stream = self.stream
        # the cue's own times: a closed caption decoder hands a caption over when it is erased
        # (a later packet), with its start and how long it was shown
        pts, duration = packet.pts, packet.duration
        tb = packet.time_base
        if cues.pts is not None and cues.pts != _NOPTS and tb:
            pts = int(round((Fraction(cues.pts, av.time_base) + Fraction(cues.start_display_time, 1000)) / tb))
            if cues.start_display_time < cues.end_display_time < 0xFFFFFFFF:  # UINT32_MAX: not known
                duration = int(round(Fraction(cues.end_display_time - cues.start_display_time, 1000) / tb))
        out.time_base, out.pts, out.dts, out.duration = tb, pts, pts, duration
        self.container.mux(out)


class MediaOutput:
    """An output container: the upscaled video stream plus every input stream it can hold."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        source: MediaInput,
        scale: int,
        opts: EncodeOptions,
        *,
        format: str | None = None,
        options: dict[str, str] | None = None,
        container_options: dict[str, str] | None = None,
        name: str | None = None,
        size: tuple[int, int] | None = None,
    ) -> None:
        """``name``: what messages call the output (the user's name for it, where ``path`` is the
        temporary file it is written to); ``size``: the output's (width, height) where it is not
        ``scale`` times the input's (``--size``, ``--outscale``)."""
        self.path = str(path)
        self.name = name or self.path
        self.source = source
        info = source.info
        self.size = size or (info.width * scale, info.height * scale)
        if opts.codec != "auto":
            check_encoder(opts.codec)  # an unknown or unusable encoder fails before any file exists
        self.warnings: list[str] = []
        container_options = dict(container_options or {})
        start = source.container.start_time
        # a file starts at zero, as ffmpeg writes it: a broadcast capture's clock (an hour in, say)
        # would otherwise open an MP4 with an hour of nothing. Every stream and chapter shifts alike;
        # so does a live recording into a file (its later sessions continue the first one's clock),
        # while a live output to a network or a pipe keeps the source's clock.
        to_file = "://" not in self.path and self.path != "-" and not self.path.startswith("pipe:")
        # A cut (--start) starts at zero too, as ffmpeg -ss writes it.
        cut = getattr(source, "cut", None)
        origin = cut[0] if cut is not None else Fraction(start or 0, av.time_base)
        self._shift = origin if to_file and origin > 0 else Fraction(0)
        if self._shift:
            container_options.setdefault("output_ts_offset", f"{-float(self._shift):.6f}")
        # an animation (GIF, animated WebP, APNG) plays as often as the input did: a GIF sticker
        # that loops forever still does as a WebP (whose muxer, as APNG's, would play it once);
        # a video becomes one that loops forever, as ffmpeg's GIFs do
        animation = format or ANIMATION_FORMATS.get(Path(self.name).suffix.lower())
        if animation in ANIMATION_FORMATS.values():
            known = None if source.live or is_url(source.url) else animation_plays(source.url)
            plays = 0 if known is None else known  # 0: forever
            if animation == "gif":  # the GIF muxer's loop: -1 once (no loop extension), N: N more times
                container_options.setdefault("loop", str(-1 if plays == 1 else max(plays - 1, 0)))
            else:
                container_options.setdefault("plays" if animation == "apng" else "loop", str(plays))
        self._container_options = container_options
        try:
            self.container = av.open(
                self.path, "w", format=format, options=options or {},
                container_options=container_options,
            )
        except (av.FFmpegError, ValueError) as e:
            reason = _ffmpeg_reason(e)
            if format is None and "determine output format" in reason:
                raise ConfigError(f"cannot tell the container from the name {self.name} "
                                  f"(use an extension such as .mp4, .mkv, .mov or .webm)") from None
            raise EncoderError(f"cannot create output {self.name}: {reason}") from None
        try:
            enc = check_encoder(default_codec(self.container) if opts.codec == "auto" else opts.codec)
            opts = replace(opts, codec=enc.name)  # the encoder's own name: --codec h264 is libx264
            alpha = getattr(source, "alpha_stored", False)
            pix_fmt = choose_pix_fmt(info, opts, enc, size=self.size, alpha=alpha)
            # the encoder's format with alpha, where the input has it and the encoder can keep it
            self.alpha_pix_fmt = alpha_format(pix_fmt, enc) if alpha else None
            source.want_alpha = self.alpha_pix_fmt is not None
            if alpha and not self.alpha_pix_fmt and getattr(source, "alpha_used", False):
                self.warnings.append(
                    f"the input's alpha channel ({info.pix_fmt}) is not kept: the {enc.name} output is opaque "
                    f"(VP9 in .webm, ffv1 in .mkv, prores_ks (ProRes 4444) or png in .mov keep it)")
            bits, sw, sh, forced_full = OUTPUT_FORMATS[pix_fmt]
            if opts.pix_fmt == "auto" and info.layout.bits > 8 and bits == 8:
                self.warnings.append(
                    f"the input has {source_bits(info)} bits per sample and {enc.name} here writes 8: "
                    f"gradients may band (libx264, libx265 and libsvtav1 keep 10 bits, in .mkv or .mp4)")
            color = info.color
            if enc.name == "mpeg1video" and color.matrix != "bt601":  # MPEG-1 cannot say otherwise
                color = replace(color, matrix="bt601", colorspace=CS_SMPTE170M)
            if enc.name == "dnxhd" and color.matrix != "bt709":  # VC-3 is BT.709: its decoder says so
                color = replace(color, matrix="bt709", colorspace=CS_BT709)
            if enc.name == "vc2":  # VC-2 says SDTV only for BT.470BG's tag (the same matrix as 170M's)
                color = replace(color, colorspace=CS_BT470BG) if color.matrix == "bt601" else \
                    replace(color, matrix="bt709", colorspace=CS_BT709)  # and HDTV for anything else
            full = color.full_range if forced_full is None else forced_full
            self.spec = OutputSpec(pix_fmt, *self.size, bits, sw, sh, color.matrix, full)
            self.encode_pix_fmt = self.alpha_pix_fmt or encoder_pix_fmt(pix_fmt, enc)
            # the frames vsr builds: the planes' format, with an alpha plane where alpha is kept
            self._frame_fmt = with_alpha(pix_fmt) if self.alpha_pix_fmt else pix_fmt
            self._setup_video(info, opts, enc, color)
            self._covers: list[tuple[av.stream.Stream, bytes]] = []
            self._setup_passthrough({kind for kind, keep in (("audio", opts.audio), ("subtitle", opts.subtitles))
                                     if not keep}, opts.metadata)
            # Open the encoder and the destination now (a URL connects here): a bad encoder option
            # or an unreachable output fails before any frame is decoded, not mid-run.
            self.container.start_encoding()
            self._write_covers()
        except av.FFmpegError as e:
            reason = self._refusal(e)
            self.container.close()
            raise OutputError(f"cannot open output {self.name}: {reason}") from None
        except BaseException:
            self.container.close()
            raise
        self._convert = FrameConverter(self.spec, self.encode_pix_fmt, info.time_base, bool(self.alpha_pix_fmt)) \
            if self.encode_pix_fmt != self._frame_fmt else None
        self.frames_written = 0
        self.last_shown: Fraction | None = None  # the last frame's time on the input's clock
        self._last_pts: int | None = None
        self._pts_fixed = 0
        self._passthrough_at: dict[int, Fraction] = {}  # each copied stream's last decoding time
        self._passthrough_behind: dict[int, int] = {}  # and how many of its packets came before it
        self._closed = False
        # closed captions: H.264/HEVC/MPEG-2/AV1 pictures get each input picture's again (vsr.io.captions)
        self._cc_codec = codec_family(self.video.codec_context.codec)
        self._cc_pending: dict[int, bytes] = {}
        self.dropped_captions = CaptionCarry()  # a live run's dropped frames' captions go out with the next
        self._captions_lost = 0

    def _setup_video(self, info: VideoInfo, opts: EncodeOptions, enc: av.Codec, color: ColorInfo) -> None:
        in_video = self.source.video
        fmt = self.container.format.name
        try:
            stream = self.container.add_stream(enc.name, rate=info.rate if info.rate else None)
        except ValueError:  # the muxer refuses this codec
            holders = [ext for ext, other in HOLDERS if other != fmt and _muxer_refusal(
                other, lambda probe: probe.add_stream(enc.name, rate=25), header=False) is None]
            raise ConfigError(
                f"the {fmt} container cannot hold {enc.name} video; leave --codec at auto "
                f"(here {default_codec(self.container)}) or write "
                + (f"{' or '.join(holders[:2])}, which hold{'s' if len(holders) == 1 else ''} it" if holders
                   else "another container")
            ) from None
        cc = stream.codec_context
        stream.width, stream.height = self.spec.width, self.spec.height
        stream.pix_fmt = self.encode_pix_fmt
        stream.time_base = info.time_base
        cc.time_base = info.time_base
        if info.rate:
            cc.framerate = info.rate
        sar = output_sar(info.sample_aspect_ratio, info.width, info.height, *self.size)
        if sar:
            cc.sample_aspect_ratio = sar
        rgb = self.encode_pix_fmt != self._frame_fmt  # converted to RGB/palette for the encoder
        cc.colorspace = 0 if rgb else color.colorspace  # AVCOL_SPC_RGB
        cc.color_primaries = color.primaries
        cc.color_trc = color.trc
        cc.color_range = 2 if rgb or self.spec.full_range else 1
        self._encoder_tb: Fraction | None = None
        rates = {Fraction(r.numerator, r.denominator) for r in (getattr(enc, "frame_rates", None) or ())}
        if rates:  # the others in the encoder's list need -strict experimental
            rates &= STANDARD_RATES  # MPEG-1/2 video: only standard rates, time base 1/rate (timestamps are rescaled)
            if not info.rate or Fraction(info.rate) not in rates:
                raise ConfigError(
                    f"encoder {enc.name} takes only standard frame rates (24000/1001, 25, 30000/1001, 50, "
                    f"60...), and this video is {info.rate or 'variable'} fps; use --codec libx264 or .mp4/.mkv"
                )
            self._encoder_tb = 1 / Fraction(info.rate)
            cc.time_base = self._encoder_tb
        if opts.gop:
            cc.gop_size = opts.gop
        if opts.low_latency or fmt == "avi":  # AVI stores no reordering: B-frames break its timestamps
            cc.max_b_frames = 0
        options = encoder_options(opts, info.rate, self.spec.width * self.spec.height)
        if enc.name == "dnxhd":  # DNxHR, any frame size (from 256x120), not DNxHD's fixed formats
            options.setdefault("profile", "dnxhr_hqx" if self.spec.bits > 8 else "dnxhr_hq")
        if enc.name == "libsvtav1":  # SVT-AV1 logs its whole configuration to stderr: errors only
            os.environ.setdefault("SVT_LOG", "1")
        if info.hdr is not None:  # HDR10 static metadata: written where the encoder can be told it
            hdr = encoder_params(enc.name, info.hdr)
            if hdr is not None:
                merge_params(options, *hdr)
            else:
                self.warnings.append(
                    f"the input's HDR10 metadata ({info.hdr.describe()}) is not written by {enc.name}; "
                    f"{', '.join(HDR_ENCODERS)} keep it"
                )
        cc.options = options
        self._encoder_options = dict(options)
        if info.rotation:
            stream.set_display_rotation(info.rotation)
        copy_stream_tags(in_video, stream)
        self.video = stream
        self._color = color

    def _setup_passthrough(self, left_out: set[str], metadata: bool = True) -> None:
        """Map (or convert) every input stream beside the video, but those of the kinds in
        ``left_out`` (``--no-audio``, ``--no-subtitles``), and copy the file's tags where
        ``metadata`` (``--no-metadata``: not; the tracks' own, language and title, stay)."""
        self._map: dict[int, av.stream.Stream] = {}
        self._track_cc: TrackCaptions | None = None  # a c608 track written into the pictures
        self._transcode: dict[int, AudioTranscoder | SubtitleTranscoder] = {}
        supported = self.container.supported_codecs
        video_codec = self.video.codec_context.codec
        if not ({video_codec.name, video_codec.canonical_name} & supported):
            supported = set()  # the muxer's list is incomplete (mpegts lists 8 codecs): don't trust it
        for s in self.source.passthrough:
            if s.type in left_out:
                continue
            codec = s.codec_context.codec if s.codec_context else getattr(s, "codec", None)
            names = {codec.name, codec.canonical_name} if codec is not None else set()
            data_codec = getattr(s, "name", None) if s.type == "data" else None  # PyAV's only word on it
            name = codec.canonical_name if codec is not None else (data_codec or "unknown codec")
            where = f"{s.type} stream #{s.index} ({name})"
            awkward = held_in_name_only(self.container.format.name, s.type, name, names)
            if s.type == "data":
                # FFmpeg cannot copy a stream it has no codec for (a QuickTime timecode track: its
                # timecode rides on the video stream's tags instead, and MOV/MP4 muxers write their
                # own track from it, as ffmpeg does); one the muxer refuses would fail the whole file
                refused = self._refused(s) if data_codec else "no codec FFmpeg knows"
                if refused:
                    if data_codec or "timecode" not in s.metadata:
                        self.warnings.append(f"dropped {where}: the {self.container.format.name} muxer cannot "
                                             f"hold it ({refused})")
                    continue
            elif (supported and names and not (names & supported)) or awkward or self._refused(s):
                # (the muxer's codec list is incomplete, and a stream it refuses at the header would
                # fail the whole output: each copy is tried on a header in memory first)
                self._transcode_or_drop(s, where, name, awkward)
                continue
            try:
                out = self.container.add_stream_from_template(s)
            except ValueError:  # the muxer refuses it (where its codec list did not say)
                self._transcode_or_drop(s, where, name, False)
                continue
            except (av.FFmpegError, TypeError) as e:
                self.warnings.append(f"dropped {where}: {_ffmpeg_reason(e)}")
                continue
            copy_stream_tags(s, out)  # a template brings the codec parameters only
            self._map[s.index] = out
        self._copy_attachments()
        if metadata:
            self.container.metadata.update(
                {k: v for k, v in self.source.container.metadata.items() if k.lower() != "encoder"}
            )
        if not self.source.live:  # chapters, as ffmpeg copies them (muxers without chapters ignore them)
            try:
                chapters = self.source.container.chapters()
                cut = getattr(self.source, "cut", None)
                if cut is not None:  # the chapters of the part kept, cut to it
                    chapters = [ch for ch in chapters if ch["end"] * ch["time_base"] > cut[0]
                                and (cut[1] is None or ch["start"] * ch["time_base"] < cut[1])]
                for ch in chapters:
                    shift = int(self._shift / ch["time_base"])
                    if cut is not None and cut[1] is not None:
                        ch["end"] = min(ch["end"], math.ceil(cut[1] / ch["time_base"]))
                    ch["start"], ch["end"] = max(0, ch["start"] - shift), max(0, ch["end"] - shift)
                if chapters:
                    self.container.set_chapters(chapters)
            except (av.FFmpegError, ValueError, TypeError, AttributeError) as e:
                self.warnings.append(f"chapters not copied: {_ffmpeg_reason(e)}")

    def _refused(self, s: av.stream.Stream) -> str | None:
        """Why this output's muxer refuses a copy of stream ``s`` (tried on a header written to
        memory), or None."""
        return _muxer_refusal(self.container.format.name, lambda probe: probe.add_stream_from_template(s))

    def _copy_attachments(self) -> None:
        """The input's attachments (fonts for its subtitles, cover art) into a Matroska output, as
        ``ffmpeg -map 0`` copies them, and cover art into MP4 as its attached picture; what the
        output cannot hold is named in the warnings."""
        files = self.source.attachment_files()
        fmt = self.container.format.name
        if fmt == "matroska":
            for f in files:
                self.container.add_attachment(f.name, f.mimetype, f.data).metadata.update(f.tags)
            return
        if fmt in ("mp4", "ipod"):  # cover art, as an attached picture (written once the header is)
            for f in [f for f in files if f.cover is not None]:
                files.remove(f)
                if f.cover.codec_context is None or not f.cover.codec_context.width:  # the muxer needs its size
                    self.warnings.append(f"dropped cover art {f.name}: not a picture FFmpeg can read")
                    continue
                cover = self.container.add_stream_from_template(f.cover)
                cover.disposition = av.stream.Disposition.attached_pic
                self._covers.append((cover, f.data))
        if files:
            names = ", ".join(f.name for f in files)
            self.warnings.append(f"dropped {len(files)} attachment(s) ({names}): the {fmt} container cannot "
                                 f"hold them (write .mkv to keep them)")

    def _write_covers(self) -> None:
        for stream, data in self._covers:
            packet = av.Packet(data)
            packet.stream, packet.pts, packet.dts = stream, 0, 0
            self.container.mux(packet)

    def _transcode_or_drop(self, s: av.stream.Stream, where: str, name: str, awkward: bool) -> None:
        """A stream the container cannot hold as it is: audio and text subtitles are re-encoded to
        what it holds, as ffmpeg does; a closed caption track also goes into the video's pictures
        (:meth:`_embed_caption_track`); anything else, or what cannot be re-encoded, is dropped.
        Either way the warnings say so."""
        fmt = self.container.format.name
        keep = self._holder(s)
        embedded = name == "eia_608" and self._embed_caption_track(s, where, keep)
        if s.type not in ("audio", "subtitle"):
            self.warnings.append(f"dropped {where}: the {fmt} container cannot hold it"
                                 + (f" (write {keep} to keep it)" if keep else ""))
            return
        try:
            tx = (AudioTranscoder if s.type == "audio" else SubtitleTranscoder)(self.container, s)
        except (av.FFmpegError, ValueError, TypeError, ConfigError) as e:
            if not embedded:
                self.warnings.append(f"dropped {where}: the {fmt} container cannot hold it, and re-encoding failed "
                                     f"({_ffmpeg_reason(e)})" + (f"; write {keep} to keep it" if keep else ""))
            return
        self._transcode[s.index] = tx
        why = "is not played everywhere in" if awkward else "cannot go in"
        hint = f" (write {keep} to copy it unchanged)" if keep else ""
        self.warnings.append(f"re-encoded {where} to {tx.codec}: {name} {why} {fmt}{hint}")

    def _holder(self, s: av.stream.Stream) -> str | None:
        """The extension of another output that would hold stream ``s`` as it is (:data:`HOLDERS`),
        or None."""
        return next((ext for ext, fmt in HOLDERS[:2] if fmt != self.container.format.name and _muxer_refusal(
            fmt, lambda probe: probe.add_stream_from_template(s)) is None), None)

    def _embed_caption_track(self, s: av.stream.Stream, where: str, keep: str | None) -> bool:
        """A CEA-608 track beside the video (QuickTime ``c608``) that this container cannot hold,
        put into the output's pictures as A/53 closed captions (:class:`TrackCaptions`), where the
        encoder is one vsr writes captions for and the pictures carry none of their own; whether it was.
        A live input is not read ahead: there the track is left to the text conversion."""
        enc = self.video.codec_context.codec
        fmt = self.container.format.name
        if self._track_cc is not None or self.source.live or fmt == "image2":  # (numbered images: no video)
            return False
        if self.source.captioned:
            self.warnings.append(f"{where} not written into the video: its pictures carry closed captions of "
                                 f"their own, which are kept")
            return False
        if codec_family(enc) is None:
            self.warnings.append(f"{where} not written into the video as closed captions: {enc.name} cannot "
                                 f"carry them (libx264, libx265, mpeg2video and libsvtav1 can)")
            return False
        try:
            packets = self.source.caption_track(s.index)
        except (av.FFmpegError, OSError) as e:
            self.warnings.append(f"{where} not written into the video: reading it failed ({_ffmpeg_reason(e)})")
            return False
        self._track_cc = TrackCaptions(packets)
        self.warnings.append(f"wrote {where} into the video's pictures as closed captions (A/53), as the {fmt} "
                             f"container cannot hold the track" + (f" (write {keep} to copy it)" if keep else ""))
        return True

    @property
    def mapped_streams(self) -> dict[int, av.stream.Stream]:
        return dict(self._map)

    def write_frame(self, planes: tuple[np.ndarray, ...], pts: int | None, index: int,
                    alpha: np.ndarray | None = None, captions: bytes | None = None) -> None:
        """Encode one upscaled frame; ``planes`` match :attr:`spec` (uint8 or uint16); ``alpha``: the
        input frame's (:attr:`DecodedFrame.alpha`), upscaled here where the output keeps it;
        ``captions``: its closed caption bytes (:attr:`DecodedFrame.captions`)."""
        spec = self.spec
        frame = av.VideoFrame(spec.width, spec.height, self._frame_fmt)
        dtype = np.uint8 if spec.bits == 8 else np.uint16
        if self.alpha_pix_fmt:
            planes = (*planes, self._alpha_plane(alpha))
        for plane, data in zip(frame.planes, planes):
            itemsize = np.dtype(dtype).itemsize
            dst = np.frombuffer(plane, dtype=dtype).reshape(plane.height, plane.line_size // itemsize)
            dst[:, : plane.width] = data
        time_base = self.source.info.time_base
        shown = pts  # on the clock of the frames handed in (and of those dropped before)
        if pts is not None:
            self.last_shown = pts * time_base
        if pts is None:
            rate = self.source.info.rate or Fraction(25)
            pts = int(round(index / (rate * time_base)))
        if self._encoder_tb is not None:
            # half up: a source half a frame off the grid (MPEG-PS starts at 0.54 s, say) would
            # otherwise round to even, two frames onto one tick, every other frame
            pts, time_base = math.floor(pts * time_base / self._encoder_tb + Fraction(1, 2)), self._encoder_tb
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
            self._pts_fixed += 1
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = time_base
        frame.colorspace = self._color.colorspace
        frame.color_range = 2 if spec.full_range else 1
        if self._color.tagged:  # (a PNG frame's cICP/cHRM/gAMA come from here, not the stream)
            frame.color_primaries, frame.color_trc = self._color.primaries, self._color.trc
        captions = self.dropped_captions.take(captions, shown)
        if self._track_cc is not None:
            captions = self._track_cc.take(captions, float(pts * time_base))
        if captions:
            if self._cc_codec:
                self._cc_pending[pts] = captions
            else:
                self._captions_lost += 1
        try:
            for out in self._convert(frame) if self._convert else (frame,):
                for packet in self.video.encode(out):
                    self._mux_video(packet)
        except av.FFmpegError as e:
            # the first frame refused is the settings refused: say FFmpeg's reason (a later one's
            # depends on the encoder's state, which a replay would not have)
            reason = self._refusal(e) if self.frames_written == 0 else _ffmpeg_reason(e)
            raise EncoderError(f"encoding frame {index} failed: {reason}") from None
        self.frames_written += 1

    def _refusal(self, error: BaseException) -> str:
        """Why the encoder (or the muxer, at the header) refused: FFmpeg's own logged reason, from
        a replay of the video stream's settings in a process of its own (:mod:`vsr.io.refusal`),
        where it logged one; else the error code's text (``Invalid argument``)."""
        video = getattr(self, "video", None)
        code = getattr(error, "errno", None)
        # a system error other than "invalid argument" is the destination's (a refused connection, a
        # full disk), not the settings': nothing to replay. FFmpeg's own codes (EXPERIMENTAL...) are not.
        settings = not (isinstance(code, int) and 0 < code < 4096 and code not in (errno.EINVAL, errno.ENOSYS))
        if video is not None and settings:
            why = explain_refusal(encoder_settings(video, self.container.format.name, self._encoder_options,
                                                   self._container_options))
            if why:
                return f"{why} ({_ffmpeg_reason(error)})"
        return _ffmpeg_reason(error)

    def _alpha_plane(self, alpha: np.ndarray | None) -> np.ndarray:
        """The input's alpha at the output's size and depth: upscaled with bicubic (alpha is not
        colour: a still image's goes the same way, as Real-ESRGAN's does); opaque where a frame
        came without one."""
        spec = self.spec
        top = (1 << spec.bits) - 1
        if alpha is None:
            return np.full((spec.height, spec.width), top, np.uint8 if spec.bits == 8 else np.uint16)
        deep = alpha.dtype == np.uint16
        frame = av.VideoFrame.from_ndarray(alpha, format="gray16le" if deep else "gray")
        if (frame.width, frame.height) != (spec.width, spec.height):
            frame = frame.reformat(width=spec.width, height=spec.height, interpolation="BICUBIC")
        a = frame.to_ndarray()
        source_top = 65535 if deep else 255
        if source_top != top:
            a = (a.astype(np.uint32) * top + source_top // 2) // source_top
        return a.astype(np.uint8 if spec.bits == 8 else np.uint16)

    def write_passthrough(self, item: Passthrough) -> None:
        out = self._map.get(item.stream_index)
        tx = self._transcode.get(item.stream_index) if out is None else None
        if out is None and tx is None:  # a stream the output does not hold, or was asked to leave out
            return
        packet = item.packet
        ts = packet.dts if packet.dts is not None else packet.pts
        if ts is not None and packet.time_base:
            # a packet decoded before its stream's last one cannot be muxed (the run failed on it):
            # left out, as where two recordings joined overlap by a packet or two (subtitle cues and
            # data may share a time, as two lines of dialogue starting together do; audio may not)
            t = ts * Fraction(packet.time_base)
            last = self._passthrough_at.get(item.stream_index)
            if last is not None and (t < last or (t == last and packet.stream.type == "audio")):
                self._passthrough_behind[item.stream_index] = self._passthrough_behind.get(item.stream_index, 0) + 1
                return
            self._passthrough_at[item.stream_index] = t
        if tx is not None:
            try:
                tx.write(packet)
            except av.FFmpegError as e:
                raise EncoderError(f"re-encoding {tx.stream.type} failed: {_ffmpeg_reason(e)}") from None
            return
        packet.stream = out
        try:
            self.container.mux(packet)
        except av.FFmpegError as e:
            raise EncoderError(f"copying {out.type} packet failed: {_ffmpeg_reason(e)}") from None

    def finish(self) -> None:
        """Flush the encoder and write the trailer."""
        if self._closed:
            return
        try:
            for out in self._convert(None) if self._convert else ():
                for packet in self.video.encode(out):
                    self._mux_video(packet)
            for packet in self.video.encode(None):
                self._mux_video(packet)
            for tx in self._transcode.values():
                tx.write(None)
        except av.FFmpegError as e:
            raise EncoderError(f"flushing the encoder failed: {_ffmpeg_reason(e)}") from None
        finally:
            try:
                self.close()  # writes the trailer
            except av.FFmpegError as e:
                raise EncoderError(f"finishing {self.name} failed: {_ffmpeg_reason(e)}") from None
        if self._pts_fixed:
            self.warnings.append(f"{self._pts_fixed} frame(s) had non-increasing timestamps; nudged")
        for index, n in self._passthrough_behind.items():
            kind = self.source.container.streams[index].type
            self.warnings.append(f"{n} {kind} packet(s) of stream #{index} were left out: each came before the "
                                 f"one written last (where the input's timestamps jump back)")
        self._captions_lost += len(self._cc_pending)  # frames the encoder never handed back
        late = self._track_cc.left() if self._track_cc is not None else 0
        if late:
            self.warnings.append(f"{late} closed caption byte pair(s) of the caption track come after the last "
                                 f"frame and are not written")
        if self._captions_lost:
            why = "cannot carry them" if not self._cc_codec else "gave pictures vsr could not add them to"
            self.warnings.append(
                f"the input's closed captions (CEA-608/708) on {self._captions_lost} frame(s) are not kept: "
                f"{self.video.codec_context.codec.name} {why} (H.264, HEVC, MPEG-2 and AV1 keep them: libx264, libx265, "
                f"mpeg2video, libsvtav1)")

    def _mux_video(self, packet: av.Packet) -> None:
        """Mux an encoded video packet, with the closed captions of its picture put back in."""
        captions = self._cc_pending.pop(packet.pts, None) if self._cc_pending else None
        if captions is not None:
            data = with_captions(self._cc_codec, bytes(packet), captions)  # type: ignore[arg-type]
            if data is None:
                self._captions_lost += 1
            else:
                out = av.Packet(data)
                out.stream, out.time_base = packet.stream, packet.time_base
                out.pts, out.dts, out.duration = packet.pts, packet.dts, packet.duration
                out.is_keyframe = packet.is_keyframe
                packet = out
        self.container.mux(packet)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.container.close()
