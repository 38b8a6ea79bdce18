"""The video stages: decode -> upload -> infer -> download -> encode.

On CUDA, upload and download copy through rings of pinned host buffers on their own CUDA streams,
colour conversion runs on the GPU (only Y'CbCr planes cross PCIe), and stages hand frames over with
CUDA events: a consumer stream waits on the producer's event, never on the host. Only the download
stage waits for the host (it must, to hand numpy planes to the encoder). On the CPU the same stages
run with plain tensors.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from vsr.engine.engine import Engine
from vsr.io.media import DecodedFrame, MediaInput, MediaOutput, OutputSpec, Passthrough
from vsr.ops.colorconv import (
    YuvSpec,
    gray_to_rgb,
    packed_rgb_to_planar,
    rgb_to_yuv,
    yuv_to_rgb,
)
from vsr.ops.resize import resize_to
from vsr.pipeline.stage import Source, Stage


@dataclass
class Frame:
    """A video frame travelling through the pipeline; each stage fills the next field.

    ``rgb``: ``(3,H,W)`` [0,1] in the engine's input dtype, on its device; ``out``: ``(3,sH,sW)`` in its compute dtype;
    ``planes``: host planes for the encoder; ``ready``: CUDA event after which ``rgb``/``out`` are
    valid on any stream (None on CPU).
    """

    index: int
    pts: int | None
    decoded: DecodedFrame | None
    t_start: float = field(default_factory=time.perf_counter)
    rgb: torch.Tensor | None = None
    out: torch.Tensor | None = None
    planes: tuple[np.ndarray, ...] | None = None
    ready: Any = None


def is_droppable(item: Any) -> bool:
    """Live policy: video frames may be dropped, passthrough packets (audio) never."""
    return isinstance(item, Frame)


class DecodeStage(Source):
    """Yields :class:`Frame` and :class:`Passthrough` items from a :class:`MediaInput`."""

    name = "decode"

    def __init__(self, media: MediaInput, max_frames: int = 0) -> None:
        self.media = media
        self.max_frames = max_frames
        self.frames = 0

    def produce(self, stop: threading.Event) -> Iterator[Any]:
        for item in self.media.items(stop):
            if isinstance(item, DecodedFrame):
                if self.max_frames and self.frames >= self.max_frames:
                    return
                self.frames += 1
                yield Frame(item.index, item.pts, item)
            else:
                yield item


class _PinnedRing:
    """A few pinned host buffers per shape; a slot is reused only after its copy event completed."""

    def __init__(self, slots: int = 4) -> None:
        self.slots = slots
        self._rings: dict[tuple[tuple[int, ...], torch.dtype], list[list[Any]]] = {}
        self._next: dict[tuple[tuple[int, ...], torch.dtype], int] = {}

    def take(self, shape: tuple[int, ...], dtype: torch.dtype) -> tuple[torch.Tensor, list[Any]]:
        key = (tuple(shape), dtype)
        ring = self._rings.setdefault(key, [])
        i = self._next.get(key, 0)
        if len(ring) < self.slots:
            ring.append([torch.empty(shape, dtype=dtype, pin_memory=True), None])
            i = len(ring) - 1
        slot = ring[i]
        self._next[key] = (i + 1) % self.slots
        if slot[1] is not None:
            slot[1].synchronize()  # the previous copy out of/into this slot must be done
        return slot[0], slot


def host_tensor(plane: np.ndarray, bits: int) -> torch.Tensor:
    """numpy plane -> torch without surprises for 16-bit codes (torch's uint16 support is thin)."""
    if plane.dtype == np.uint16:
        plane = plane.view(np.int16) if bits < 16 else plane.astype(np.int32)
    return torch.from_numpy(plane)


def planes_to_rgb(planes: list[torch.Tensor], d: DecodedFrame, dtype: torch.dtype) -> torch.Tensor:
    """Decoded planes (as tensors, on any device) -> ``(3,H,W)`` R'G'B' in [0,1] of ``dtype``."""
    layout = d.layout
    if layout.family == "rgb":
        return packed_rgb_to_planar(planes[0], layout.bits, dtype)
    spec = YuvSpec(d.color.matrix, d.color.full_range, layout.bits, layout.chroma_shift_w,
                   layout.chroma_shift_h)
    if layout.family == "gray":
        return gray_to_rgb(planes[0], spec, dtype)
    return yuv_to_rgb(planes[0], planes[1], planes[2], spec, dtype)


def output_yuv_spec(spec: OutputSpec) -> YuvSpec:
    return YuvSpec(spec.matrix, spec.full_range, spec.bits, spec.chroma_shift_w, spec.chroma_shift_h)


def host_planes(planes: Iterable[torch.Tensor]) -> tuple[np.ndarray, ...]:
    """Integer code tensors on the host -> the numpy planes the encoder takes (uint8/uint16)."""
    out = []
    for t in planes:
        a = t.numpy().copy() if t.is_pinned() else t.numpy()
        if a.dtype == np.int16:
            a = a.view(np.uint16)
        elif a.dtype == np.int32:
            a = a.astype(np.uint16)
        out.append(a)
    return tuple(out)


class _CudaStage(Stage):
    """A stage that, on CUDA, owns a side stream and a pinned ring (created in its own thread)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.stream: Any = None

    def setup(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
            self.stream = torch.cuda.Stream(self.device)
            self.ring = _PinnedRing()


class UploadStage(_CudaStage):
    """Host planes -> device R'G'B' ``(3,H,W)`` in the engine's dtype."""

    name = "upload"
    accepts = Frame

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        super().__init__(device)
        self.dtype = dtype

    def _to_device(self, planes: tuple[np.ndarray, ...], bits: int) -> list[torch.Tensor]:
        host = [host_tensor(p, bits) for p in planes]
        if self.stream is None:
            return host
        out = []
        for t in host:
            pinned, slot = self.ring.take(tuple(t.shape), t.dtype)
            pinned.copy_(t)
            out.append(pinned.to(self.device, non_blocking=True))
            slot[1] = torch.cuda.Event()
            slot[1].record(self.stream)
        return out

    def process(self, frame: Frame) -> Iterable[Frame]:
        d = frame.decoded
        assert d is not None
        if self.stream is not None:
            with torch.cuda.stream(self.stream):
                frame.rgb = planes_to_rgb(self._to_device(d.planes, d.layout.bits), d, self.dtype)
                frame.ready = torch.cuda.Event()
                frame.ready.record(self.stream)
        else:
            frame.rgb = planes_to_rgb(self._to_device(d.planes, d.layout.bits), d, self.dtype)
        return (frame,)


class InferStage(Stage):
    """Batches frames of one size and runs the engine; emits frames with ``out`` set, in order."""

    name = "infer"
    accepts = Frame

    def __init__(self, engine: Engine, batch: int = 1) -> None:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.engine = engine
        self.batch = batch
        self.pending: list[Frame] = []
        self.stream: Any = None
        self.frames = 0

    def setup(self) -> None:
        if self.engine.device.type == "cuda":
            torch.cuda.set_device(self.engine.device)
            self.stream = torch.cuda.Stream(self.engine.device)

    def process(self, frame: Frame) -> Iterable[Frame]:
        out: list[Frame] = []
        if self.pending and self.pending[0].rgb.shape != frame.rgb.shape:  # type: ignore[union-attr]
            out += self._run()
        self.pending.append(frame)
        if len(self.pending) >= self.batch:
            out += self._run()
        return out

    def flush(self) -> Iterable[Frame]:
        return self._run() if self.pending else ()

    def _run(self) -> list[Frame]:
        frames, self.pending = self.pending, []
        if self.stream is None:
            y = self.engine(torch.stack([f.rgb for f in frames]))  # type: ignore[misc]
            for f, o in zip(frames, y):
                f.out, f.rgb = o, None
        else:
            with torch.cuda.stream(self.stream):
                for f in frames:
                    self.stream.wait_event(f.ready)
                    f.rgb.record_stream(self.stream)  # type: ignore[union-attr]
                y = self.engine(torch.stack([f.rgb for f in frames]))  # type: ignore[misc]
                ready = torch.cuda.Event()
                ready.record(self.stream)
            for f, o in zip(frames, y):
                f.out, f.rgb, f.ready = o, None, ready
        self.frames += len(frames)
        return frames


class DownloadStage(_CudaStage):
    """Device R'G'B' -> host Y'CbCr planes in the output's pixel format (and size: the network's
    output is resized here where ``--size``/``--outscale`` ask for another)."""

    name = "download"
    accepts = Frame

    def __init__(self, spec: OutputSpec, device: torch.device) -> None:
        super().__init__(device)
        self.spec = spec
        self.yuv = output_yuv_spec(spec)

    def _sized(self, out: torch.Tensor) -> torch.Tensor:
        """The network's output at the output's size (``--size``/``--outscale``)."""
        if tuple(out.shape[-2:]) == (self.spec.height, self.spec.width):
            return out
        return resize_to(out[None], self.spec.height, self.spec.width)[0]

    def process(self, frame: Frame) -> Iterable[Frame]:
        out = frame.out
        assert out is not None
        if self.stream is None:
            frame.planes = host_planes(rgb_to_yuv(self._sized(out), self.yuv))
        else:
            with torch.cuda.stream(self.stream):
                self.stream.wait_event(frame.ready)
                out.record_stream(self.stream)
                planes = rgb_to_yuv(self._sized(out), self.yuv)
                hosts = []
                for p in planes:
                    pinned, slot = self.ring.take(tuple(p.shape), p.dtype)
                    pinned.copy_(p, non_blocking=True)
                    slot[1] = torch.cuda.Event()
                    slot[1].record(self.stream)
                    hosts.append((pinned, slot[1]))
            for _, event in hosts:
                event.synchronize()  # the one host wait of the pipeline
            frame.planes = host_planes(p for p, _ in hosts)
        frame.out = None
        frame.ready = None
        return (frame,)


class EncodeStage(Stage):
    """Writes frames and passthrough packets to a :class:`MediaOutput`; flush writes the trailer."""

    name = "encode"
    accepts = (Frame, Passthrough)

    def __init__(
        self,
        output: MediaOutput,
        on_frame: Callable[[Frame], None] | None = None,
    ) -> None:
        self.output = output
        self.on_frame = on_frame
        self.latencies: list[float] = []

    def process(self, item: Frame | Passthrough) -> Iterable[Any]:
        if isinstance(item, Passthrough):
            self.output.write_passthrough(item)
            return ()
        assert item.planes is not None
        d = item.decoded
        self.output.write_frame(item.planes, item.pts, item.index,
                                d.alpha if d is not None else None, d.captions if d is not None else None)
        self.latencies.append(time.perf_counter() - item.t_start)
        item.planes = None
        item.decoded = None
        if self.on_frame is not None:
            self.on_frame(item)
        return (item,)

    def flush(self) -> Iterable[Any]:
        self.output.finish()
        return ()

    def close(self) -> None:
        self.output.close()
