"""Loopback streaming helpers: a sender paced in real time and a receiver, both PyAV, on 127.0.0.1.

Each sent picture carries its frame index as 12 black/white blocks along the top edge, so the
receiver identifies every frame by its content: latency is measured per frame (arrival at the
receiver minus sending time) without trusting any container's timestamp offsets.
"""

from __future__ import annotations

import socket
import threading
import time
from fractions import Fraction

import av
import numpy as np

from clips import pattern

BITS = 12
BLOCK = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stamped(index: int, width: int, height: int) -> np.ndarray:
    rgb = pattern(index, width, height)
    rgb[: BLOCK * 2] = 128
    for bit in range(BITS):
        value = 255 if (index >> bit) & 1 else 0
        rgb[:BLOCK, bit * BLOCK:(bit + 1) * BLOCK] = value
    return rgb


def read_stamp(rgb: np.ndarray, scale: int = 1) -> int:
    b = BLOCK * scale
    index = 0
    for bit in range(BITS):
        cell = rgb[b // 4: 3 * b // 4, bit * b + b // 4: (bit + 1) * b - b // 4]
        if cell.mean() > 128:
            index |= 1 << bit
    return index


class PacedSender(threading.Thread):
    """Encodes ``frames`` stamped pictures and writes them to ``url`` at ``fps`` in real time."""

    def __init__(self, url: str, frames: int, *, fps: int = 25, size: tuple[int, int] = (128, 96),
                 format: str = "mpegts", options: dict[str, str] | None = None, audio: bool = False,
                 connect_timeout: float = 20.0, start_index: int = 0) -> None:
        super().__init__(daemon=True)
        self.url, self.frames, self.fps, self.size, self.format = url, frames, fps, size, format
        self.options = options or {}
        self.audio = audio
        self.connect_timeout = connect_timeout
        self.start_index = start_index
        self.sent: dict[int, float] = {}
        self.error: BaseException | None = None

    def _open(self) -> av.container.OutputContainer:
        deadline = time.monotonic() + self.connect_timeout
        while True:
            out = av.open(self.url, "w", format=self.format, options=dict(self.options),
                          container_options={"flush_packets": "1"})
            v = out.add_stream("libx264", rate=self.fps)
            v.width, v.height = self.size
            v.pix_fmt = "yuv420p"
            v.time_base = Fraction(1, self.fps)
            v.codec_context.time_base = Fraction(1, self.fps)
            v.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}
            v.codec_context.gop_size = self.fps // 2
            v.codec_context.max_b_frames = 0
            a = None
            if self.audio:
                a = out.add_stream("aac", rate=48000)
                a.layout = "mono"
            try:
                out.start_encoding()
                return out
            except (ConnectionRefusedError, av.error.ConnectionRefusedError):
                out.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def run(self) -> None:
        try:
            out = self._open()
            v = out.streams.video[0]
            a = out.streams.audio[0] if self.audio else None
            w, h = self.size
            t0 = time.monotonic()
            for i in range(self.frames):
                target = t0 + i / self.fps
                delay = target - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                index = self.start_index + i
                frame = av.VideoFrame.from_ndarray(stamped(index, w, h), format="rgb24").reformat(format="yuv420p")
                frame.pts = index
                for packet in v.encode(frame):
                    out.mux(packet)
                self.sent[index] = time.monotonic()
                if a is not None:
                    n = 48000 // self.fps
                    samples = np.zeros((1, n), np.float32)
                    af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                    af.sample_rate, af.pts = 48000, index * n
                    for packet in a.encode(af):
                        out.mux(packet)
            for packet in v.encode(None):
                out.mux(packet)
            out.close()
        except BaseException as e:  # noqa: BLE001 - the test reads it
            self.error = e


class Receiver(threading.Thread):
    """Listens on ``url`` (tcp/rtmp, ``listen=1``) or reads it, decoding every frame that arrives."""

    def __init__(self, url: str, *, listen: bool = True, scale: int = 2, timeout: float = 30.0,
                 format: str | None = None, read_timeout: float | None = None) -> None:
        super().__init__(daemon=True)
        self.url, self.listen, self.scale, self.timeout, self.format = url, listen, scale, timeout, format
        self.read_timeout = read_timeout or timeout
        self.frames: list[tuple[int, float, float, int, int]] = []  # index, pts s, arrival, w, h
        self.error: BaseException | None = None
        self.audio_packets = 0

    def run(self) -> None:
        try:
            options = {"listen": "1"} if self.listen else {}
            options.update(probesize="100000", analyzeduration="300000")
            with av.open(self.url, format=self.format, options=options,
                         timeout=(self.timeout, self.read_timeout)) as c:
                streams = [c.streams.video[0], *c.streams.audio]
                for packet in c.demux(streams):
                    if packet.stream.type == "audio":
                        self.audio_packets += packet.size > 0
                        continue
                    for f in packet.decode():
                        rgb = f.to_ndarray(format="rgb24")
                        self.frames.append(
                            (read_stamp(rgb, self.scale), float(f.pts * f.time_base) if f.pts is not None else -1.0,
                             time.monotonic(), f.width, f.height)
                        )
        except BaseException as e:  # noqa: BLE001
            self.error = e


def latencies(sender: PacedSender, receiver: Receiver) -> list[float]:
    return [arrival - sender.sent[i] for i, _, arrival, _, _ in receiver.frames if i in sender.sent]


def main(argv: list[str]) -> None:
    """``send URL FRAMES START [listen]`` or ``receive URL LISTEN SCALE FORMAT TIMEOUT``, in a process
    of its own: in PyAV an output that listens, and an rtmp input that listens, hold the
    interpreter's lock while they wait for the peer, which would stall every other thread."""
    import json
    import sys

    if argv[0] == "receive":
        url, listen, scale, fmt, read_timeout = argv[1], argv[2] == "1", int(argv[3]), argv[4], float(argv[5])
        r = Receiver(url, listen=listen, scale=scale, timeout=60, read_timeout=read_timeout, format=fmt or None)
        r.run()
        json.dump({"frames": r.frames, "audio_packets": r.audio_packets}, sys.stdout)
        return
    url, frames, start = argv[1], int(argv[2]), int(argv[3])
    listen = argv[4:] == ["listen"]
    sender = PacedSender(url + ("?listen=1" if listen else ""), frames, start_index=start)
    sender.run()
    if sender.error is not None:
        raise SystemExit(f"sender: {sender.error!r}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
