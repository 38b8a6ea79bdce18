"""The stage protocol: small classes that transform items and know nothing of threads or queues."""

from __future__ import annotations

import threading
from typing import Any, Iterable, Iterator


class Stage:
    """One step of the pipeline.

    ``setup``, ``process``, ``flush`` and ``close`` all run in the stage's own thread (so a stage can
    own a CUDA stream or a codec context). ``process`` returns the items to pass on (zero, one or
    many); ``flush`` returns what is still held at end of stream. Items that are not instances of
    ``accepts`` are forwarded untouched, in order, without calling ``process``.
    """

    name: str = "stage"
    accepts: type | tuple[type, ...] = object

    def setup(self) -> None:
        """Acquire per-thread resources."""

    def process(self, item: Any) -> Iterable[Any]:
        return (item,)

    def flush(self) -> Iterable[Any]:
        return ()

    def close(self) -> None:
        """Release resources; called once, after success or failure."""

    def snapshot(self, item: Any) -> Any:
        """As a tap: what to queue for ``process`` when ``item`` passes (None: not wanted). Runs in
        the tapped stage's thread, so it must be cheap; it lets a tap keep its own references to
        data the main path will release."""
        return item


class Source(Stage):
    """The first stage: produces items instead of transforming them."""

    name = "source"

    def produce(self, stop: threading.Event) -> Iterator[Any]:
        """Yield items until the input ends or ``stop`` is set."""
        raise NotImplementedError

    def interrupt(self) -> None:
        """Called from another thread to unblock a pending read when the run is stopped."""


class IterableSource(Source):
    """A source over any iterable (tests, pre-decoded frames)."""

    def __init__(self, items: Iterable[Any], name: str = "source") -> None:
        self.items = items
        self.name = name

    def produce(self, stop: threading.Event) -> Iterator[Any]:
        for item in self.items:
            if stop.is_set():
                return
            yield item


class FunctionStage(Stage):
    """A stage from a plain function ``item -> item`` (tests, small adapters)."""

    def __init__(self, fn: Any, name: str) -> None:
        self.fn = fn
        self.name = name

    def process(self, item: Any) -> Iterable[Any]:
        return (self.fn(item),)
