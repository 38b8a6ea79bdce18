"""LiveClock: which frames of a live source arrive too far behind the source's own clock."""

from __future__ import annotations

import random
import threading
import time

from vsr.io.live import live_input
from vsr.pipeline.live import LiveClock, Pacer, runs_on_its_clock

FPS = 25


def judge(clock: LiveClock, arrivals: list[tuple[float, float]]) -> list[bool]:
    """``arrivals``: (wall time the frame was decoded, its pts in seconds)."""
    return [clock.late(wall, pts) for wall, pts in arrivals]


def test_a_source_we_keep_up_with_loses_nothing_even_with_network_jitter() -> None:
    rng = random.Random(1)
    clock = LiveClock(0.5)
    clock.seed(10.0, 0.0)
    arrivals = [(10.0 + i / FPS + rng.uniform(0, 0.3), i / FPS) for i in range(1, 500)]
    assert not any(judge(clock, arrivals))


def test_a_start_up_backlog_is_dropped_until_the_live_edge() -> None:
    # Opened at t=10 with frame 0; the engine then took 2 s to build while the sender went on at
    # real time. The backlog (frames 1..50) then decodes at 10x real time, then frames arrive live.
    clock = LiveClock(0.5)
    clock.seed(10.0, 0.0)
    arrivals, wall = [], 12.0
    for i in range(1, 200):
        wall = max(wall + 0.1 / FPS, 10.0 + i / FPS + 0.01)  # a backlog first, then the live edge
        arrivals.append((wall, i / FPS))
    late = judge(clock, arrivals)
    kept = [i for i, drop in zip(range(1, 200), late) if not drop]
    lags = {i: wall - (10.0 + i / FPS) for (wall, _), i in zip(arrivals, range(1, 200))}
    assert sum(late) >= 40  # most of the 2 s backlog
    assert all(lags[i] <= 0.5 for i in kept)  # nothing kept that was over the bound
    assert kept == list(range(kept[0], 200))  # caught up once, then every frame kept


def test_catching_up_goes_below_the_bound_not_just_to_it() -> None:
    clock = LiveClock(0.4)
    clock.seed(0.0, 0.0)
    # a backlog that shrinks by 10 ms a frame from 1 s: dropped down to a quarter of the bound
    arrivals = [(1.0 + i / FPS - 0.01 * i, i / FPS) for i in range(1, 101)]
    late = judge(clock, arrivals)
    first_kept = late.index(False)
    lag = arrivals[first_kept][0] - arrivals[first_kept][1]
    assert lag <= 0.1 + 1e-9 and all(late[:first_kept])


def test_a_delay_that_dropping_cannot_shrink_becomes_the_new_edge() -> None:
    # The sender stalled 1.5 s and then went on at real time, 1.5 s behind for good.
    clock = LiveClock(0.5, patience=2.0)
    clock.seed(0.0, 0.0)
    arrivals = [(i / FPS if i < 100 else 1.5 + i / FPS, i / FPS) for i in range(1, 400)]
    late = judge(clock, arrivals)
    dropped = [i for i, drop in zip(range(1, 400), late) if drop]
    assert dropped and dropped[0] == 100  # judged late at once ...
    assert len(dropped) <= 2.2 * FPS  # ... but for the patience only
    assert not any(late[200:])


def test_timestamps_that_restart_start_the_judging_afresh() -> None:
    clock = LiveClock(0.5)
    clock.seed(0.0, 100.0)
    first = [(i / FPS, 100.0 + i / FPS) for i in range(1, 50)]
    again = [(2.0 + i / FPS, i / FPS) for i in range(0, 50)]  # the source restarted at pts 0
    assert not any(judge(clock, first + again))


def test_only_streams_that_arrive_at_their_own_pace_are_judged() -> None:
    assert runs_on_its_clock(live_input("tcp://127.0.0.1:9000?listen"), "mpegts")
    assert runs_on_its_clock(live_input("udp://127.0.0.1:9000"), "mpegts")
    assert runs_on_its_clock(live_input("rtmp://127.0.0.1/live/a"), "flv")
    assert runs_on_its_clock(live_input("http://127.0.0.1/live.ts"), "mpegts")
    # HLS and DASH arrive a segment at a time; files and pipes are read as fast as they go
    assert not runs_on_its_clock(live_input("http://127.0.0.1/live.m3u8"), "hls")
    assert not runs_on_its_clock(live_input("https://127.0.0.1/live.mpd"), "dash")
    assert not runs_on_its_clock(live_input("-"), "mpegts")
    assert not runs_on_its_clock(live_input("in.ts"), "mpegts")


def test_the_pacer_waits_for_each_timestamp_but_not_across_a_jump() -> None:
    pacer, stop = Pacer(), threading.Event()
    t0 = time.perf_counter()
    for i in range(6):
        assert not pacer.wait(i * 0.05, stop)
    assert time.perf_counter() - t0 >= 0.25  # frame 5 is due 0.25 s after frame 0
    t1 = time.perf_counter()
    assert not pacer.wait(1000.0, stop) and not pacer.wait(2.0, stop)  # jumped ahead, then back
    assert time.perf_counter() - t1 < 0.1
    stop.set()
    assert pacer.wait(2.5, stop)  # due in 0.5 s, but a stop came first
