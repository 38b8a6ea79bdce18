"""Deinterlacing decoded frames before they are upscaled.

An interlaced frame holds two fields captured 1/50 or 1/60 s apart on alternate lines. Upscaled as
one picture, the comb where the fields disagree is magnified into stripes 2-4 lines thick that no
player can deinterlace afterwards (the output is progressive and the field lines are gone). So, as
HandBrake and VLC do by default, frames flagged interlaced are deinterlaced first: FFmpeg's
``bwdif`` (motion-adaptive, one frame out per frame in, timestamps kept), in the decoder thread.
"""

from __future__ import annotations

from fractions import Fraction

import av

from vsr.errors import ConfigError

MODES = ("auto", "on", "off")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"unknown deinterlace mode {mode!r} (valid: {', '.join(MODES)})")
    return mode


class Deinterlacer:
    """Frames in, frames out, in order; ``bwdif`` holds one frame back (it looks one ahead).

    ``auto``: the filter starts at the first frame flagged interlaced and from then on deinterlaces
    only flagged frames (progressive ones pass through it unchanged); until then frames are not
    touched. ``on``: every frame, flagged or not (for sources that are interlaced but not flagged).
    ``off``: frames pass untouched.
    """

    def __init__(self, mode: str = "auto") -> None:
        self.mode = check_mode(mode)
        self.graph: av.filter.Graph | None = None
        self._key: tuple | None = None
        self.interlaced = 0  # frames flagged interlaced that went through the filter
        self.failure = ""  # why the filter was given up (the frames then pass untouched)

    def push(self, frame: av.VideoFrame) -> list[av.VideoFrame]:
        if self.mode == "off":
            return [frame]
        if self.graph is None and self.mode == "auto" and not frame.interlaced_frame:
            return [frame]
        out: list[av.VideoFrame] = []
        key = (frame.width, frame.height, frame.format.name, frame.time_base)
        if self.graph is not None and key != self._key:  # new size or format: a new graph
            out += self.flush()
        try:
            if self.graph is None:
                self._open(frame)
                self._key = key
            assert self.graph is not None
            self.graph.push(frame)
        except av.FFmpegError as e:  # a format bwdif cannot take: upscale as it is, and say so
            self.failure = f"{frame.format.name} {frame.width}x{frame.height}: {e}"
            self.mode, self.graph = "off", None
            return out + [frame]
        self.interlaced += bool(frame.interlaced_frame)
        return out + self._pull()

    def flush(self) -> list[av.VideoFrame]:
        """What the filter still holds; the next frame opens a new graph."""
        if self.graph is None:
            return []
        self.graph.push(None)
        out = self._pull()
        self.graph = None
        return out

    def _open(self, frame: av.VideoFrame) -> None:
        self._time_base = Fraction(frame.time_base) if frame.time_base else Fraction(1, 90000)
        graph = av.filter.Graph()
        source = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                  time_base=self._time_base)
        deint = "interlaced" if self.mode == "auto" else "all"
        bwdif = graph.add("bwdif", f"mode=send_frame:parity=auto:deint={deint}")
        graph.link_nodes(source, bwdif, graph.add("buffersink")).configure()
        self.graph = graph

    def _pull(self) -> list[av.VideoFrame]:
        assert self.graph is not None
        out = []
        while True:
            try:
                frame = self.graph.pull()
            except (av.BlockingIOError, BlockingIOError, av.EOFError):
                return out
            # bwdif works in a time base of half the input's (for its field mode): back to the input's
            if frame.pts is not None and frame.time_base and Fraction(frame.time_base) != self._time_base:
                frame.pts = round(frame.pts * Fraction(frame.time_base) / self._time_base)
            frame.time_base = self._time_base
            out.append(frame)
