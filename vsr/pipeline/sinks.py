"""Sinks other than the encoder: the end of a pipeline that keeps nothing."""

from __future__ import annotations

import time
from typing import Any, Iterable

from vsr.io.media import Passthrough
from vsr.pipeline.stage import Stage
from vsr.pipeline.stages import Frame


class NullSinkStage(Stage):
    """Takes the encode stage's place and discards every frame and packet.

    It records each frame's latency (decode to sink, seconds) exactly as :class:`EncodeStage` does,
    so ``pipeline without encode`` and ``pipeline with encode`` differ only by the encoder.
    """

    name = "sink"
    accepts = (Frame, Passthrough)

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.frames = 0

    def process(self, item: Any) -> Iterable[Any]:
        if isinstance(item, Frame):
            self.latencies.append(time.perf_counter() - item.t_start)
            self.frames += 1
            item.planes = None
            item.decoded = None
        return ()
