r"""The runner: a thread per stage, bounded queues between them, one error surfaced once.

```
source --q--> stage 1 --q--> stage 2 ... --q--> last stage --> on_output(item)
                          \--tap q (never blocks)--> tap stage
```

- Edges are bounded. Policy ``block`` (files): a full queue blocks the producer, nothing is lost.
  Policy ``drop_oldest`` (live): a full queue discards its oldest droppable item (newest frame wins)
  and counts it; items that are not droppable (audio packets, end of stream) are never discarded.
- End of stream is a sentinel: each stage flushes, forwards the sentinel and ends, in order.
- An exception in any stage sets the abort event; every thread leaves at its next queue operation;
  every stage's ``close`` still runs; :meth:`Runner.run` raises one :class:`StageError` naming the
  first stage that failed.
- :meth:`Runner.request_stop` is a graceful stop (the source ends, everything queued is processed and
  flushed); :meth:`Runner.abort` stops at once without flushing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from vsr.errors import Interrupted, StageError
from vsr.pipeline.stage import Source, Stage

log = logging.getLogger("vsr.pipeline")

_END = object()  # end-of-stream sentinel
_POLL = 0.05  # seconds between checks of the abort event while blocked


@dataclass
class StageStats:
    """Counters of one stage, filled by the runner."""

    name: str
    items_in: int = 0
    items_out: int = 0
    busy_s: float = 0.0  # time inside setup/process/flush
    setup_s: float = 0.0
    dropped_in: int = 0  # items dropped from this stage's input queue (drop_oldest policy)
    max_queue: int = 0  # high-water mark of this stage's input queue

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RunStats:
    wall_s: float = 0.0
    stages: list[StageStats] = field(default_factory=list)
    taps: list[StageStats] = field(default_factory=list)
    tap_skipped: dict[str, int] = field(default_factory=dict)
    stopped_early: bool = False  # request_stop() ended the input before its end

    def stage(self, name: str) -> StageStats:
        for s in (*self.stages, *self.taps):
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def dropped(self) -> int:
        return sum(s.dropped_in for s in self.stages)


class Edge:
    """A bounded queue with a policy, aware of the runner's abort event."""

    def __init__(
        self,
        maxsize: int,
        policy: str,
        abort: threading.Event,
        stats: StageStats,
        droppable: Callable[[Any], bool],
        on_drop: Callable[[Any], None] | None = None,
    ) -> None:
        if policy not in ("block", "drop_oldest"):
            raise ValueError(f"unknown queue policy {policy!r} (valid: block, drop_oldest)")
        self.q: queue.Queue[Any] = queue.Queue(maxsize=max(1, maxsize))
        self.policy = policy
        self.abort = abort
        self.stats = stats
        self.droppable = droppable
        self.on_drop = on_drop

    def put(self, item: Any) -> bool:
        """Put ``item``; False if the run was aborted first. Each edge has a single producer."""
        may_drop = self.policy == "drop_oldest" and item is not _END and self.droppable(item)
        while not self.abort.is_set():
            try:
                if may_drop:
                    self.q.put_nowait(item)
                else:
                    self.q.put(item, timeout=_POLL)
                self._note_size()
                return True
            except queue.Full:
                if may_drop and not self._drop_one():
                    time.sleep(_POLL / 5)  # only undroppable items queued: wait for the consumer
        return False

    def _drop_one(self) -> bool:
        with self.q.mutex:
            for i, queued in enumerate(self.q.queue):
                if queued is not _END and self.droppable(queued):
                    del self.q.queue[i]
                    self.q.not_full.notify()
                    self.stats.dropped_in += 1
                    break
            else:
                return False
        if self.on_drop is not None:
            self.on_drop(queued)
        return True

    def _note_size(self) -> None:
        size = self.q.qsize()
        if size > self.stats.max_queue:
            self.stats.max_queue = size

    def get(self) -> Any:
        """Next item, or ``_END`` if aborted."""
        while not self.abort.is_set():
            try:
                return self.q.get(timeout=_POLL)
            except queue.Empty:
                continue
        return _END

    def offer(self, item: Any) -> bool:
        """Non-blocking put for taps: False (item skipped) when full."""
        try:
            self.q.put_nowait(item)
            return True
        except queue.Full:
            return False


class Runner:
    """Runs ``source -> stages...`` with one thread per stage.

    ``on_output`` receives every item the last stage emits (in the last stage's thread).
    ``taps`` maps a stage name to a side stage that gets that stage's outputs when it is free.
    ``droppable`` decides which items the ``drop_oldest`` policy may discard; ``on_drop`` is
    called with each discarded item (in the thread that discarded it).
    """

    def __init__(
        self,
        source: Source,
        stages: Sequence[Stage],
        *,
        queue_size: int = 4,
        policy: str = "block",
        taps: dict[str, Stage] | None = None,
        tap_queue_size: int = 1,
        on_output: Callable[[Any], None] | None = None,
        droppable: Callable[[Any], bool] = lambda item: True,
        on_drop: Callable[[Any], None] | None = None,
        stop_grace: float | None = None,
    ) -> None:
        names = [source.name, *(s.name for s in stages)]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")
        for tapped in taps or {}:
            if tapped not in names:
                raise ValueError(f"tap on unknown stage {tapped!r} (stages: {', '.join(names)})")
        self.source = source
        self.stages = list(stages)
        self.taps = dict(taps or {})
        self.on_output = on_output
        self.abort_event = threading.Event()
        self.stop_event = threading.Event()
        self.stats = RunStats(
            stages=[StageStats(n) for n in names],
            taps=[StageStats(f"{t.name}") for t in self.taps.values()],
        )
        self.edges = [
            Edge(queue_size, policy, self.abort_event, self.stats.stages[i + 1], droppable, on_drop)
            for i in range(len(self.stages))
        ]
        self.tap_edges = {
            tapped: Edge(tap_queue_size, "block", self.abort_event, self.stats.taps[i], droppable)
            for i, tapped in enumerate(self.taps)
        }
        self.stats.tap_skipped = {t.name: 0 for t in self.taps.values()}
        self._error: tuple[str, BaseException] | None = None
        self._error_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._ran = False
        # A source blocked in a read (a silent network input, stdin) cannot see the stop event.
        # After ``stop_grace`` seconds the runner ends the stream itself, so every stage still
        # flushes, and leaves the source thread behind (it is a daemon; whatever it emits later
        # is ignored).
        self.stop_grace = stop_grace
        self._stop_time: float | None = None
        self._source_detached = False

    # -- control -------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Graceful stop: the source ends now; queued items are processed and every stage flushes."""
        self.stop_event.set()
        self.stats.stopped_early = True
        if self._stop_time is None:
            self._stop_time = time.monotonic()
        try:
            self.source.interrupt()
        except Exception:  # noqa: BLE001 - best effort from a signal handler
            log.debug("source interrupt failed", exc_info=True)

    def abort(self) -> None:
        """Hard stop: every thread leaves as soon as it can; nothing more is flushed."""
        self.stop_event.set()
        self.abort_event.set()
        try:
            self.source.interrupt()
        except Exception:  # noqa: BLE001
            log.debug("source interrupt failed", exc_info=True)

    @property
    def aborted(self) -> bool:
        return self.abort_event.is_set()

    def _fail(self, name: str, error: BaseException) -> None:
        with self._error_lock:
            if self._error is None:
                self._error = (name, error)
                log.debug("stage %s failed", name, exc_info=error)
        self.abort_event.set()
        self.stop_event.set()

    # -- threads -------------------------------------------------------------------------------

    def _emit(self, index: int, items: Any) -> bool:
        """Send a stage's outputs downstream (and to its tap); False if aborted."""
        if index == 0 and self._source_detached:
            return False
        stats = self.stats.stages[index]
        name = stats.name
        tap_edge = self.tap_edges.get(name)
        tap = self.taps.get(name)
        for item in items:
            stats.items_out += 1
            if tap is not None and isinstance(item, tap.accepts):
                view = tap.snapshot(item)
                if view is not None and not tap_edge.offer(view):  # type: ignore[union-attr]
                    self.stats.tap_skipped[tap.name] += 1
            if index < len(self.stages):
                if not self.edges[index].put(item):
                    return False
            elif self.on_output is not None:
                self.on_output(item)
        return True

    def _end(self, index: int) -> None:
        tap_edge = self.tap_edges.get(self.stats.stages[index].name)
        if tap_edge is not None:
            tap_edge.put(_END)
        if index < len(self.stages):
            self.edges[index].put(_END)

    def _run_source(self) -> None:
        stats = self.stats.stages[0]
        try:
            t0 = time.perf_counter()
            self.source.setup()
            stats.setup_s = time.perf_counter() - t0
            iterator = iter(self.source.produce(self.stop_event))
            while not self.abort_event.is_set():
                t0 = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                finally:
                    stats.busy_s += time.perf_counter() - t0
                if not self._emit(0, (item,)):
                    break
                if self.stop_event.is_set():
                    break
            if not self.abort_event.is_set() and not self._source_detached:
                self._end(0)
        except BaseException as e:  # noqa: BLE001 - carried to the caller
            if not self._source_detached:
                self._fail(self.source.name, e)
        finally:
            self._close(self.source)

    def _run_stage(self, index: int) -> None:
        stage = self.stages[index - 1]
        stats = self.stats.stages[index]
        inbox = self.edges[index - 1]
        try:
            t0 = time.perf_counter()
            stage.setup()
            stats.setup_s = time.perf_counter() - t0
            while True:
                item = inbox.get()
                if item is _END:
                    break
                stats.items_in += 1
                if not isinstance(item, stage.accepts):
                    if not self._emit(index, (item,)):
                        return
                    continue
                t0 = time.perf_counter()
                out = list(stage.process(item))
                stats.busy_s += time.perf_counter() - t0
                if not self._emit(index, out):
                    return
            if self.abort_event.is_set():
                return
            t0 = time.perf_counter()
            out = list(stage.flush())
            stats.busy_s += time.perf_counter() - t0
            if self._emit(index, out):
                self._end(index)
        except BaseException as e:  # noqa: BLE001
            self._fail(stage.name, e)
        finally:
            self._close(stage)

    def _run_tap(self, tapped: str, stage: Stage, stats: StageStats) -> None:
        inbox = self.tap_edges[tapped]
        try:
            stage.setup()
            while True:
                item = inbox.get()
                if item is _END:
                    break
                stats.items_in += 1
                t0 = time.perf_counter()
                for _ in stage.process(item):
                    stats.items_out += 1
                stats.busy_s += time.perf_counter() - t0
            if not self.abort_event.is_set():
                list(stage.flush())
        except BaseException as e:  # noqa: BLE001
            self._fail(stage.name, e)
        finally:
            self._close(stage)

    def _close(self, stage: Stage) -> None:
        try:
            stage.close()
        except BaseException as e:  # noqa: BLE001
            self._fail(stage.name, e)

    def _source_overdue(self) -> bool:
        return (
            self.stop_grace is not None
            and self._stop_time is not None
            and not self.abort_event.is_set()
            and time.monotonic() - self._stop_time > self.stop_grace
        )

    # -- entry point ---------------------------------------------------------------------------

    def run(self) -> RunStats:
        """Run to completion; raise :class:`StageError` if a stage failed, ``Interrupted`` if aborted."""
        if self._ran:
            raise RuntimeError("a Runner runs once")
        self._ran = True
        t0 = time.perf_counter()
        source_thread = threading.Thread(
            target=self._run_source, name=f"vsr-{self.source.name}", daemon=True
        )
        self._threads = [source_thread]
        for i, stage in enumerate(self.stages, start=1):
            self._threads.append(
                threading.Thread(target=self._run_stage, args=(i,), name=f"vsr-{stage.name}")
            )
        for i, (tapped, stage) in enumerate(self.taps.items()):
            self._threads.append(
                threading.Thread(
                    target=self._run_tap, args=(tapped, stage, self.stats.taps[i]),
                    name=f"vsr-tap-{stage.name}", daemon=True,
                )
            )
        for t in self._threads:
            t.start()
        try:
            for t in self._threads:
                while t.is_alive():
                    t.join(timeout=0.1)  # short joins keep the main thread responsive to signals
                    if t is source_thread and self._source_overdue():
                        self._source_detached = True
                        self._end(0)
                        break
        except BaseException:
            self.abort()
            for t in self._threads:
                t.join()
            raise
        self.stats.wall_s = time.perf_counter() - t0
        if self._error is not None:
            name, error = self._error
            raise StageError(name, error) from error
        if self.abort_event.is_set():
            raise Interrupted("stopped before the end")
        return self.stats
