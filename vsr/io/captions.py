"""Closed captions (CEA-608/708, as ATSC A/53 carries them) kept through the upscale.

A broadcast recording or a US TV/streaming master carries its captions inside the video
bitstream: each picture carries the caption bytes shown with it ("GA94" ``cc_data``), in an SEI
message (H.264, HEVC), in picture user data (MPEG-2) or in an ITU-T T.35 metadata OBU (AV1).
FFmpeg's decoders hand them over as the frame's ``A53_CC`` side data; a new encode drops them
unless the encoder is given them again. ffmpeg does that by default for H.264 and HEVC
(libx264/libx265 ``-a53cc``), from side data that PyAV cannot attach to a frame it encodes. So vsr
writes them itself: each encoded picture of an H.264, HEVC, MPEG-2 or AV1 output gets the caption
bytes of the input picture with the same timestamp, placed before the picture's first slice (after
any SEI the encoder wrote, as a buffering-period SEI must come first) or frame OBU.

A master's captions may instead ride in a track of their own beside the video (QuickTime's
``c608``, which only MOV holds): :class:`TrackCaptions` writes such a track into the pictures of an
output that cannot hold it.

A live run drops frames when it falls behind; :class:`CaptionCarry` hands a dropped frame's
caption bytes to the next frame written, so a caption's text arrives whole, a frame or two late,
instead of with letters missing (ffmpeg loses them with the frame).

Only the caption bytes (``cc_data`` triplets) travel; what wraps them is built here from the specs
(ATSC A/53 Part 4, 6.2.3; ANSI/SCTE 128; AV1 5.8 and the AOM T.35 registration), with emulation
prevention where a NAL payload needs it.
"""

from __future__ import annotations

import threading
from typing import Iterator

import av

_T35_ATSC = bytes((0xB5, 0x00, 0x31))  # ITU-T T.35 country United States, provider ATSC
_MAX_TRIPLETS = 31  # cc_count is 5 bits
# SEI NAL unit headers: H.264 type 6; HEVC prefix SEI type 39, layer 0, temporal id 0 (+1).
_SEI_HEADER = {"h264": b"\x06", "hevc": bytes((39 << 1, 0x01))}
CODECS = ("h264", "hevc", "mpeg2video", "av1")  # the output codecs whose captions vsr writes


def read_captions(frame: av.VideoFrame) -> bytes | None:
    """A decoded frame's caption bytes (``cc_data`` triplets), or None where it has none."""
    for sd in frame.side_data:
        if sd.type.name == "A53_CC":
            data = bytes(sd)
            return data[: len(data) - len(data) % 3] or None
    return None


def _ga94(cc_data: bytes) -> bytes:
    """``ATSC_user_data`` holding ``cc_data``: "GA94", user_data_type_code 3, then
    process_em_data_flag 0, process_cc_data_flag 1, additional_data_flag 0, cc_count; em_data
    0xFF; the triplets; marker_bits 0xFF. At most 31 triplets fit: more (a caption burst after
    dropped frames, say) are cut there, as a decoder would read no further."""
    triplets = cc_data[: 3 * _MAX_TRIPLETS]
    count = len(triplets) // 3
    return b"GA94\x03" + bytes((0x40 | count, 0xFF)) + triplets[: 3 * count] + b"\xff"


def _escaped(rbsp: bytes) -> bytes:
    """Emulation prevention: a 0x03 after every two zero bytes that precede a byte <= 3."""
    out = bytearray()
    zeros = 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def sei_nal(codec: str, cc_data: bytes) -> bytes:
    """One SEI NAL unit (no start code) with ``cc_data``, ``codec`` ``h264`` or ``hevc``."""
    payload = _T35_ATSC + _ga94(cc_data)
    message = bytes((4, len(payload))) + payload  # type 4 (T.35); at most 105 bytes: one size byte
    return _SEI_HEADER[codec] + _escaped(message + b"\x80")  # rbsp_trailing_bits


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n >> 7 else 0))
        n >>= 7
        if not n:
            return bytes(out)


def metadata_obu(cc_data: bytes) -> bytes:
    """An AV1 metadata OBU (type 5, with its size) of type ITU-T T.35 holding ``cc_data``."""
    payload = _leb128(4) + _T35_ATSC + _ga94(cc_data) + b"\x80"  # metadata_type 4; trailing bits
    return bytes((5 << 3 | 0x02,)) + _leb128(len(payload)) + payload


def user_data(cc_data: bytes) -> bytes:
    """MPEG-2 picture user data (start code 0x1B2) holding ``cc_data``."""
    return b"\x00\x00\x01\xb2" + _ga94(cc_data)


def _annexb_units(data: bytes) -> Iterator[tuple[int, int]]:
    """``(start code offset, unit offset)`` of each unit after a ``00 00 01`` start code, in order
    (found as they are asked for: a caller that stops at the first slice reads no further)."""
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        yield (i - 1 if i > 0 and data[i - 1] == 0 else i), i + 3
        i = data.find(b"\x00\x00\x01", i + 3)


def _is_picture_data(codec: str, header: int) -> bool:
    """Whether a unit whose first byte is ``header`` holds coded picture data."""
    if codec == "h264":
        return 1 <= header & 0x1F <= 5  # slices
    if codec == "hevc":
        return (header >> 1) & 0x3F <= 31  # VCL NAL units
    return 0x01 <= header <= 0xAF  # MPEG-2 slice start codes


def _obus(data: bytes) -> list[tuple[int, int]] | None:
    """``(type, offset)`` of each OBU of an AV1 temporal unit (low-overhead format), or None."""
    out, i = [], 0
    while i < len(data):
        header = data[i]
        if header & 0x80 or not header & 0x02:  # forbidden bit, or no size field
            return None
        j, size, shift = i + 1 + (header >> 2 & 1), 0, 0
        while True:
            if j >= len(data) or shift > 56:
                return None
            b = data[j]
            j, size, shift = j + 1, size | (b & 0x7F) << shift, shift + 7
            if not b & 0x80:
                break
        out.append((header >> 3 & 0x0F, i))
        i = j + size
    return out if i == len(data) else None


def with_captions(codec: str, data: bytes, cc_data: bytes) -> bytes | None:
    """An encoded picture (``codec`` one of :data:`CODECS`) with ``cc_data`` put before its first
    slice or frame, or None where ``data`` is not what that codec's encoders hand out (an Annex B
    access unit, an MPEG-2 picture, an AV1 temporal unit) with picture data in it."""
    if codec == "av1":
        for kind, at in _obus(data) or ():
            if kind in (3, 6):  # OBU_FRAME_HEADER, OBU_FRAME
                return data[:at] + metadata_obu(cc_data) + data[at:]
        return None
    if not data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        return None
    if codec == "mpeg2video":
        wrapped = user_data(cc_data)
        if b"\x00\x00\x01" in wrapped[4:] or wrapped.endswith(b"\x00\x00"):
            return None  # such bytes would read as a start code (no valid cc_data has them)
    else:
        wrapped = b"\x00\x00\x00\x01" + sei_nal(codec, cc_data)
    for start, unit in _annexb_units(data):
        if unit < len(data) and _is_picture_data(codec, data[unit]):
            return data[:start] + wrapped + data[start:]
    return None


def codec_family(codec: av.Codec) -> str | None:
    """The :data:`CODECS` entry of an encoder whose pictures get captions here, else None."""
    name = codec.canonical_name if hasattr(codec, "canonical_name") else codec.name
    return name if name in CODECS else None


def _meaningful(cc_data: bytes) -> bytes:
    """The triplets worth carrying to another frame: valid ones, less CEA-608 null pairs (the
    padding a caption encoder sends between captions); DTVCC packet bytes are all kept."""
    out = bytearray()
    for i in range(0, len(cc_data) - len(cc_data) % 3, 3):
        flags, a, b = cc_data[i : i + 3]
        if not flags & 0x04:  # cc_valid
            continue
        if flags & 0x03 < 2 and (a & 0x7F, b & 0x7F) == (0, 0):
            continue
        out += cc_data[i : i + 3]
    return bytes(out)


class CaptionCarry:
    """Caption bytes of dropped frames, waiting for the next frame written after them (thread-safe:
    frames are dropped in the decoder's and the queues' threads, written in the encoder's).

    A frame dropped at the decoder may be later than frames still on their way through the
    network: its bytes wait until a frame with a later timestamp is written, so they never go out
    ahead of an earlier picture's. A frame takes what is waiting before its own bytes, 31 triplets
    at most, and what does not fit goes first with the next one. At most ``limit`` triplets wait
    (beyond it the oldest are let go)."""

    def __init__(self, limit: int = 8 * _MAX_TRIPLETS) -> None:
        self.limit = limit
        self._held: list[tuple[float | None, bytes]] = []  # (time of the dropped frame, its bytes)
        self._spill = b""  # bytes due that did not fit the last frame's message
        self._lock = threading.Lock()

    def drop(self, cc_data: bytes | None, when: float | None) -> None:
        """A frame shown at ``when`` (any clock the frames written use; None: unknown) was dropped."""
        kept = _meaningful(cc_data) if cc_data else b""
        if not kept:
            return
        with self._lock:
            self._held.append((when, kept))
            excess = len(self._spill) + sum(len(b) for _, b in self._held) - 3 * self.limit
            while excess > 0:
                if self._spill:
                    cut = min(excess, len(self._spill))
                    self._spill, excess = self._spill[cut:], excess - cut
                else:
                    cut = min(excess, len(self._held[0][1]))
                    when0, first = self._held[0]
                    self._held[0] = (when0, first[cut:])
                    if not self._held[0][1]:
                        self._held.pop(0)
                    excess -= cut

    def take(self, cc_data: bytes | None, when: float | None) -> bytes | None:
        """The caption bytes to write with a frame shown at ``when`` whose own are ``cc_data``."""
        with self._lock:
            due = [b for t, b in self._held if t is None or when is None or t < when]
            if not due and not self._spill:
                return cc_data
            self._held = [(t, b) for t, b in self._held if not (t is None or when is None or t < when)]
            merged = self._spill + b"".join(due) + _meaningful(cc_data or b"")
            self._spill = merged[3 * _MAX_TRIPLETS :]
        return merged[: 3 * _MAX_TRIPLETS] or None


FRAME_608 = 1001 / 30000  # CEA-608 sends one byte pair per field per NTSC frame


class TrackCaptions:
    """A closed caption track beside the video (QuickTime's ``c608``, as ProRes masters and Apple
    exports carry CEA-608) that the output container cannot hold, written into the output's
    pictures instead (A/53, as :func:`with_captions` does), where every player and TV decoder
    reads closed captions.

    ``packets``: the track's ``(start seconds, duration seconds or None, cc_data)``, on the clock of
    the frames written. A packet's pairs follow one another, field by field, one per NTSC frame
    (1001/30000 s) or closer where the packet's duration is shorter: a one-frame sample holds one
    pair per field, and a Scenarist line of eleven words goes out a word a frame, as the format
    means it. Then each picture takes the pairs due by its time, 31 triplets at most
    (more wait for the next one)."""

    def __init__(self, packets: list[tuple[float, float | None, bytes]]) -> None:
        due: list[tuple[float, bytes]] = []
        for start, duration, data in packets:
            fields: dict[int, list[bytes]] = {}
            for i in range(0, len(data) - len(data) % 3, 3):
                fields.setdefault(data[i] & 0x03, []).append(data[i : i + 3])
            for triplets in fields.values():
                step = min(duration / len(triplets), FRAME_608) if duration else FRAME_608
                due += [(start + k * step, t) for k, t in enumerate(triplets)]
        due.sort(key=lambda d: d[0])  # (stable: pairs due together keep the track's order)
        self._due = due
        self._next = 0

    def take(self, cc_data: bytes | None, when: float) -> bytes | None:
        """The caption bytes for a picture shown at ``when`` seconds whose own are ``cc_data``:
        its own, then the track's pairs due by then, as many as fit."""
        own = cc_data or b""
        room = _MAX_TRIPLETS - len(own) // 3
        end = self._next
        while end < len(self._due) and end - self._next < room and self._due[end][0] <= when + 1e-6:
            end += 1
        taken = b"".join(b for _, b in self._due[self._next : end])
        self._next = end
        return own + taken or None

    def left(self) -> int:
        """How many caption pairs (less padding) are still waiting: those after the last picture."""
        return len(_meaningful(b"".join(b for _, b in self._due[self._next :]))) // 3
