"""The perceptual-metric monitor tap.

It sits on a side branch after the infer stage and receives frames only when it is free (the runner
offers, never waits), so it can never slow the main path. Scoring arrives with the monitor issue;
until then it counts the frames it was offered, which is what the pipeline tests check.
"""

from __future__ import annotations

from typing import Iterable

from vsr.pipeline.stage import Stage
from vsr.pipeline.stages import Frame


class MonitorStage(Stage):
    """Side-branch stage: sees every ``every``-th frame it is offered; emits nothing downstream."""

    name = "monitor"
    accepts = Frame

    def __init__(self, every: int = 1) -> None:
        self.every = max(1, every)
        self.seen = 0
        self.sampled = 0

    def process(self, frame: Frame) -> Iterable[Frame]:
        self.seen += 1
        if frame.index % self.every == 0:
            self.sampled += 1
        return ()
