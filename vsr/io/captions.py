"""Closed captions (CEA-608/708, as ATSC A/53 carries them) kept through the upscale.

A broadcast recording or a US TV/streaming master carries its captions inside the video
bitstream: each picture's SEI message (``user_data_registered_itu_t_t35``, "GA94") holds the
caption bytes shown with that picture. FFmpeg's decoders hand them over as the frame's ``A53_CC``
side data; a new encode drops them unless the encoder is given them again. ffmpeg does that by
default for H.264 and HEVC (libx264/libx265 ``-a53cc``), from side data that PyAV cannot attach
to a frame it encodes. So vsr writes the SEI itself: each encoded H.264/HEVC access unit gets the
caption bytes of the input picture with the same timestamp, in an SEI NAL unit placed before the
picture's first slice (after any SEI the encoder wrote, as a buffering-period SEI must come first).

A live run drops frames when it falls behind; :class:`CaptionCarry` hands a dropped frame's
caption bytes to the next frame written, so a caption's text arrives whole, a frame or two late,
instead of with letters missing (ffmpeg loses them with the frame).

Only the caption bytes (``cc_data`` triplets) travel; the SEI around them is built here from the
spec (ATSC A/53 Part 4, 6.2.3; ANSI/SCTE 128), with emulation prevention as any NAL payload needs.
"""

from __future__ import annotations

import threading

import av

# ITU-T T.35: country United States, provider ATSC, user identifier "GA94", cc_data.
_A53_PREFIX = bytes((0xB5, 0x00, 0x31)) + b"GA94" + bytes((0x03,))
_MAX_TRIPLETS = 31  # cc_count is 5 bits
# SEI NAL unit headers: H.264 type 6; HEVC prefix SEI type 39, layer 0, temporal id 0 (+1).
_SEI_HEADER = {"h264": b"\x06", "hevc": bytes((39 << 1, 0x01))}
CODECS = tuple(_SEI_HEADER)  # the output codecs whose captions vsr writes


def read_captions(frame: av.VideoFrame) -> bytes | None:
    """A decoded frame's caption bytes (``cc_data`` triplets), or None where it has none."""
    for sd in frame.side_data:
        if sd.type.name == "A53_CC":
            data = bytes(sd)
            return data[: len(data) - len(data) % 3] or None
    return None


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
    """One SEI NAL unit (no start code) with ``cc_data``, ``codec`` ``h264`` or ``hevc``.

    At most 31 triplets fit one message; more (a caption burst after dropped frames, say) are
    truncated there, as a decoder would read no further."""
    triplets = cc_data[: 3 * _MAX_TRIPLETS]
    count = len(triplets) // 3
    # process_em_data_flag 0 (reserved 1), process_cc_data_flag 1, additional_data_flag 0, cc_count;
    # em_data 0xFF; the triplets; marker_bits 0xFF.
    payload = _A53_PREFIX + bytes((0x40 | count, 0xFF)) + triplets[: 3 * count] + b"\xff"
    message = bytes((4, len(payload))) + payload  # type 4 (T.35); at most 105 bytes: one size byte
    return _SEI_HEADER[codec] + _escaped(message + b"\x80")  # rbsp_trailing_bits


def _nal_type(codec: str, header: int) -> int:
    return header & 0x1F if codec == "h264" else (header >> 1) & 0x3F


def _is_slice(codec: str, nal_type: int) -> bool:
    return 1 <= nal_type <= 5 if codec == "h264" else nal_type <= 31


def _annexb_units(data: bytes) -> list[tuple[int, int]]:
    """``(start code offset, NAL offset)`` of each NAL unit in an Annex B buffer."""
    units = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        start = i - 1 if i > 0 and data[i - 1] == 0 else i
        units.append((start, i + 3))
        i = data.find(b"\x00\x00\x01", i + 3)
    return units


def with_captions(codec: str, data: bytes, cc_data: bytes) -> bytes | None:
    """An encoded access unit with ``cc_data``'s SEI put before its first slice, or None where
    ``data`` is not an Annex B access unit holding a slice (what H.264/HEVC encoders hand out)."""
    units = _annexb_units(data)
    if not units or units[0][0] != 0:
        return None
    for start, nal in units:
        if nal < len(data) and _is_slice(codec, _nal_type(codec, data[nal])):
            return data[:start] + b"\x00\x00\x00\x01" + sei_nal(codec, cc_data) + data[start:]
    return None


def codec_family(codec: av.Codec) -> str | None:
    """``h264``/``hevc`` for an encoder whose access units get captions here, else None."""
    name = codec.canonical_name if hasattr(codec, "canonical_name") else codec.name
    return name if name in _SEI_HEADER else None


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
