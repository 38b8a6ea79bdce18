"""The monitor's duty-cycle budget: after scoring it rests in proportion, but finishes a pair."""

from __future__ import annotations

import time

import pytest

from vsr.pipeline.monitor import MonitorOptions, MonitorStage, Sample


class TimedMonitor(MonitorStage):
    """Scores take a known time; no engine work."""

    cost_s = 0.05

    def _score(self, index, pts, decoded, out):
        time.sleep(self.cost_s)
        return {"index": index, "time_s": None}


def sample(i: int) -> Sample:
    return Sample(i, None, None, None, None)


def test_budget_rests_between_pairs_but_keeps_the_pair() -> None:
    m = TimedMonitor(engine=object(), options=MonitorOptions(every=1, budget=0.25))
    m.process(sample(0))  # the first pair (warm-up) sets no rest
    m.process(sample(1))
    m.process(sample(10))  # scored; rest ~3 x 0.05 s
    m.process(sample(11))  # second of the pair: scored despite the rest
    m.process(sample(12))  # a new pair during the rest: passed over
    m.process(sample(13))
    assert [r["index"] for r in m.records] == [0, 1, 10, 11] and m.rested == 2
    time.sleep(m.cost_s * 3 + 0.05)
    m.process(sample(14))
    assert [r["index"] for r in m.records] == [0, 1, 10, 11, 14]
    summary = m.summary()
    assert summary["frames_rested"] == 2 and summary["busy_s"] >= 5 * m.cost_s


def test_no_budget_scores_whenever_offered() -> None:
    m = TimedMonitor(engine=object(), options=MonitorOptions(every=1, budget=0))
    for i in (0, 5, 9):
        m.process(sample(i))
    assert [r["index"] for r in m.records] == [0, 5, 9] and m.rested == 0


def test_budget_is_validated() -> None:
    with pytest.raises(ValueError, match="budget"):
        MonitorOptions(budget=1.5)
