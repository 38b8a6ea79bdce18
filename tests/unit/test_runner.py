"""The runner's contract, with fake stages: order, end of stream, errors, bounded queues, policies."""

from __future__ import annotations

import threading
import time

import pytest

from vsr.errors import Interrupted, StageError
from vsr.pipeline.runner import Runner
from vsr.pipeline.stage import FunctionStage, IterableSource, Source, Stage


class Recorder(Stage):
    def __init__(self, name: str, log: list, delay: float = 0.0, hold: int = 0) -> None:
        self.name, self.log, self.delay, self.hold = name, log, delay, hold
        self.held: list = []
        self.thread: str | None = None

    def setup(self) -> None:
        self.thread = threading.current_thread().name
        self.log.append((self.name, "setup"))

    def process(self, item):
        assert threading.current_thread().name == self.thread  # always the stage's own thread
        if self.delay:
            time.sleep(self.delay)
        if self.hold:
            self.held.append(item)
            if len(self.held) < self.hold:
                return ()
            out, self.held = self.held, []
            return out
        return (item,)

    def flush(self):
        self.log.append((self.name, "flush"))
        out, self.held = self.held, []
        return out

    def close(self) -> None:
        self.log.append((self.name, "close"))


def test_items_arrive_in_order_and_every_stage_flushes_in_order() -> None:
    log: list = []
    got: list = []
    stages = [FunctionStage(lambda x: x * 2, "double"), Recorder("batch", log, hold=3),
              Recorder("last", log)]
    stats = Runner(IterableSource(range(10)), stages, queue_size=2, on_output=got.append).run()
    assert got == [x * 2 for x in range(10)]
    flushes = [name for name, what in log if what == "flush"]
    assert flushes == ["batch", "last"]  # upstream flushes before downstream
    assert ("batch", "close") in log and ("last", "close") in log
    assert stats.stage("double").items_in == 10 and stats.stage("last").items_out == 10


def test_error_stops_everything_and_names_the_stage() -> None:
    log: list = []

    def boom(x):
        if x == 5:
            raise ZeroDivisionError("bad frame")
        return x

    runner = Runner(IterableSource(range(1000)), [FunctionStage(boom, "infer"), Recorder("encode", log)],
                    queue_size=2)
    with pytest.raises(StageError) as err:
        runner.run()
    assert err.value.stage == "infer"
    assert "infer stage failed" in str(err.value) and "bad frame" in str(err.value)
    assert isinstance(err.value.__cause__, ZeroDivisionError)
    assert ("encode", "close") in log  # every stage is closed, even after a failure
    assert ("encode", "flush") not in log  # no flush after an error


def test_error_in_source_and_in_setup_surface_once() -> None:
    class Broken(Source):
        name = "decode"

        def produce(self, stop):
            yield 1
            raise ValueError("corrupt input")

    with pytest.raises(StageError, match="decode stage failed: ValueError: corrupt input"):
        Runner(Broken(), [FunctionStage(lambda x: x, "a")]).run()

    class BadSetup(Stage):
        name = "upload"

        def setup(self):
            raise RuntimeError("no device")

    with pytest.raises(StageError, match="upload stage failed"):
        Runner(IterableSource(range(100)), [BadSetup()], queue_size=1).run()


def test_block_policy_bounds_queues_and_loses_nothing() -> None:
    got: list = []
    runner = Runner(IterableSource(range(50)), [Recorder("slow", [], delay=0.002)], queue_size=3,
                    on_output=got.append)
    stats = runner.run()
    assert got == list(range(50))
    assert 1 <= stats.stage("slow").max_queue <= 3
    assert stats.dropped == 0


def test_drop_oldest_drops_stale_items_but_never_undroppable_ones() -> None:
    got: list = []
    items = [("frame", i) for i in range(60)] + [("audio", 0)]
    items = [x for pair in zip(items[:30], [("audio", i) for i in range(1, 31)]) for x in pair] + items[30:]
    dropped: list = []
    runner = Runner(
        IterableSource(items),
        [Recorder("slow", [], delay=0.004)],
        queue_size=2,
        policy="drop_oldest",
        droppable=lambda item: item[0] == "frame",
        on_output=got.append,
        on_drop=dropped.append,
    )
    stats = runner.run()
    frames = [i for kind, i in got if kind == "frame"]
    audio = [i for kind, i in got if kind == "audio"]
    assert stats.dropped > 0
    assert len(frames) + stats.dropped == 60
    # each discarded item is handed to on_drop once: those and the ones out are all the frames
    assert len(dropped) == stats.dropped and sorted(frames + [i for _, i in dropped]) == list(range(60))
    assert frames == sorted(frames)  # drops leave gaps, never reorder
    assert frames[-1] == 59  # the newest frame wins
    assert sorted(audio) == [0, *range(1, 31)]  # nothing undroppable was lost


def test_graceful_stop_flushes_and_abort_does_not() -> None:
    log: list = []
    got: list = []

    def endless():
        i = 0
        while True:
            yield i
            i += 1
            time.sleep(0.001)

    runner = Runner(IterableSource(endless()), [Recorder("hold", log, hold=1000)], on_output=got.append)
    threading.Timer(0.1, runner.request_stop).start()
    stats = runner.run()
    assert stats.stopped_early
    assert ("hold", "flush") in log and len(got) > 0  # held items were flushed out
    assert got == list(range(len(got)))

    log2: list = []
    runner2 = Runner(IterableSource(endless()), [Recorder("hold", log2, hold=1000)])
    threading.Timer(0.1, runner2.abort).start()
    with pytest.raises(Interrupted):
        runner2.run()
    assert ("hold", "flush") not in log2 and ("hold", "close") in log2


def test_a_slow_tap_never_slows_or_blocks_the_main_path() -> None:
    class SlowTap(Stage):
        name = "monitor"

        def __init__(self):
            self.seen = 0

        def process(self, item):
            self.seen += 1
            time.sleep(0.05)
            return ()

    got: list = []
    tap = SlowTap()
    runner = Runner(IterableSource(range(200)), [FunctionStage(lambda x: x, "infer")],
                    taps={"infer": tap}, on_output=got.append)
    t0 = time.perf_counter()
    stats = runner.run()
    main_path_s = time.perf_counter() - t0
    assert got == list(range(200))
    assert stats.tap_skipped["monitor"] > 100  # most samples were skipped, not waited for
    assert tap.seen + stats.tap_skipped["monitor"] == 200
    assert main_path_s < 200 * 0.05 / 4  # far less than the tap would need for every item


def test_unknown_policy_and_duplicate_names_are_errors() -> None:
    with pytest.raises(ValueError, match="unique"):
        Runner(IterableSource([]), [FunctionStage(abs, "a"), FunctionStage(abs, "a")])
    with pytest.raises(ValueError, match="policy"):
        Runner(IterableSource([]), [FunctionStage(abs, "a")], policy="lifo")
    with pytest.raises(ValueError, match="tap on unknown"):
        Runner(IterableSource([]), [FunctionStage(abs, "a")], taps={"b": Stage()})


def test_items_a_stage_does_not_accept_pass_through_in_order() -> None:
    class OnlyInts(Stage):
        name = "ints"
        accepts = int

        def process(self, item):
            return (item * 10,)

    got: list = []
    Runner(IterableSource([1, "a", 2, "b"]), [OnlyInts()], on_output=got.append).run()
    assert got == [10, "a", 20, "b"]


def test_a_source_stuck_in_a_read_is_left_behind_after_the_grace_period() -> None:
    release = threading.Event()

    class Stuck(Source):
        name = "decode"

        def produce(self, stop):
            yield 1
            yield 2
            release.wait(10)  # a read that never returns in time (silent network source)
            yield 3

    log: list = []
    got: list = []
    runner = Runner(Stuck(), [Recorder("encode", log, hold=100)], on_output=got.append, stop_grace=0.2)
    threading.Timer(0.2, runner.request_stop).start()
    t0 = time.perf_counter()
    stats = runner.run()
    assert time.perf_counter() - t0 < 5
    assert got == [1, 2] and ("encode", "flush") in log  # everything before the stop was flushed
    assert stats.stopped_early
    release.set()
