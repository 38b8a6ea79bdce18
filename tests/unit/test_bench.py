"""Benchmark building blocks that need no real run: percentiles, the pixel-cost fit, clips, sinks."""

from __future__ import annotations

import time

import av
import numpy as np
import pytest
import torch

from vsr.bench import measure
from vsr.bench.clips import BenchClip, bench_clip, parse_size, procedural_frame
from vsr.bench.report import check_plot_path
from vsr.bench.suite import BenchSettings, pixel_cost, resolve_clips
from vsr.errors import BackendUnavailableError, ConfigError, InputNotFoundError
from vsr.pipeline.runner import Runner
from vsr.pipeline.sinks import NullSinkStage
from vsr.pipeline.stage import IterableSource
from vsr.pipeline.stages import Frame


def test_percentiles_are_in_milliseconds_and_ordered() -> None:
    p = measure.percentiles_ms([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert p["p50"] == pytest.approx(50.5) and p["p95"] == pytest.approx(95.05)
    assert p["p50"] <= p["p95"] <= p["p99"] <= 100
    assert measure.percentiles_ms([]) is None


def test_timing_refuses_zero_frames_and_derives_fps() -> None:
    t = measure.timing(10, 2.0, batch=2)
    assert t == {"frames": 10, "seconds": 2.0, "fps": 5.0, "batch": 2}
    with pytest.raises(ConfigError):
        measure.timing(0, 1.0)


class HiccupEngine:
    """Stands in for an engine: a fixed cost per call, and one timed pass hit by a 50 ms stall."""

    device = torch.device("cpu")

    def __init__(self, stall_on_call: int) -> None:
        self.calls, self.stall_on_call = 0, stall_on_call

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        time.sleep(0.05 if self.calls == self.stall_on_call else 0.002)
        return x


def test_engine_alone_times_short_passes_until_the_figure_is_steady() -> None:
    rgb = [torch.zeros(3, 8, 8)] * 2  # a pass: two calls, ~4 ms
    engine = HiccupEngine(stall_on_call=3)  # the first timed pass stalls (call 1 is the warm-up)
    t = measure.engine_alone(engine, rgb, 1, repeats=2, min_passes=3, min_seconds=0.1)
    assert t["repeats"] > 3 and engine.calls == 1 + 2 * t["repeats"]  # passes added up to >= 0.1 s
    assert t["seconds"] < 0.02  # the best pass, not the stalled one
    few = measure.engine_alone(HiccupEngine(0), rgb, 1, repeats=2, min_passes=5, min_seconds=0.0)
    assert few["repeats"] == 5
    long = measure.engine_alone(HiccupEngine(0), rgb, 1, repeats=2, min_seconds=1.0, budget_seconds=0.0)
    assert long["repeats"] == 2  # over the budget: just the repeats asked for


def _points(exponent: float) -> list[dict]:
    out = []
    for label, (w, h) in {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080)}.items():
        ms = 1e-5 * (w * h) ** exponent
        out.append({"size": label, "width": w, "height": h, "ms_per_frame": ms, "ns_per_pixel": ms * 1e6 / (w * h)})
    return out


def test_pixel_cost_says_whether_cost_is_linear_in_pixels() -> None:
    linear = pixel_cost(_points(1.0))
    assert linear["exponent"] == pytest.approx(1.0, abs=1e-3) and linear["linear"] is True
    assert "linear in pixels" in linear["note"]
    steep = pixel_cost(_points(1.3))
    assert steep["linear"] is False and "superlinear" in steep["note"]
    flat = pixel_cost(_points(0.6))
    assert flat["linear"] is False and "sublinear" in flat["note"]
    assert pixel_cost(_points(1.0)[:1])["exponent"] is None


def test_sizes_parse_or_fail_clearly() -> None:
    assert parse_size("720p") == ("720p", 1280, 720)
    assert parse_size("bench:2160p") == ("2160p", 3840, 2160)
    assert parse_size("64x48") == ("64x48", 64, 48)
    for bad in ("4k", "8x8", "x", "720"):
        with pytest.raises(ConfigError, match="valid: 360p"):
            parse_size(bad)


def test_procedural_frames_are_deterministic_textured_and_moving() -> None:
    a, b = procedural_frame(3, 96, 64), procedural_frame(3, 96, 64)
    assert a.shape == (64, 96, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert a.std() > 30  # texture, not flat colour
    assert np.abs(a.astype(int) - procedural_frame(4, 96, 64)).mean() > 5  # motion


def test_bench_clips_are_written_once_to_the_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VSR_CACHE_DIR", str(tmp_path))
    clip = bench_clip("bench:64x48", 5, content="procedural")
    assert clip.path.parent == tmp_path and (clip.width, clip.height) == (64, 48)
    with av.open(str(clip.path)) as c:
        assert sum(1 for _ in c.decode(video=0)) >= 5
        assert c.streams.video[0].codec_context.name == "h264"
    stamp = clip.path.stat().st_mtime_ns
    assert bench_clip("64x48", 3, content="procedural").path.stat().st_mtime_ns == stamp  # reused
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]
    with pytest.raises(ConfigError, match="content"):
        bench_clip("64x48", 3, content="cartoon")


def test_no_clip_means_the_builtin_360p_to_1080p_set(monkeypatch, tmp_path) -> None:
    made = []

    def fake(size, frames, content="auto"):
        made.append(size)
        return BenchClip(size, tmp_path / "x.mp4", 1, 1, "fake")

    monkeypatch.setattr("vsr.bench.suite.bench_clip", fake)
    assert [c.label for c in resolve_clips((), 4)] == ["bench:360p", "bench:540p", "bench:720p", "bench:1080p"]
    with pytest.raises(InputNotFoundError, match="clip not found: nope.mp4"):
        resolve_clips(("nope.mp4",), 4)


def test_null_sink_discards_frames_and_times_them() -> None:
    sink = NullSinkStage()
    frames = [Frame(i, i, None) for i in range(5)]
    out: list = []
    Runner(IterableSource(frames), [sink], on_output=out.append).run()
    assert out == [] and sink.frames == 5
    assert len(sink.latencies) == 5 and all(t >= 0 for t in sink.latencies)


def test_settings_are_checked_before_anything_runs() -> None:
    for bad in (dict(frames=0), dict(repeats=0), dict(sweep_batches=(0,)), dict(sweep_sizes=("9x9",)), dict(sweep_frames=-1)):
        with pytest.raises(ConfigError):
            BenchSettings(**bad).check()


def test_plot_path_is_checked_up_front(monkeypatch) -> None:
    with pytest.raises(ConfigError, match=".png"):
        check_plot_path("scaling.svg")
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'vsr\[plot\]'"):
        check_plot_path("scaling.png")


def test_peak_memory_reports_host_and_no_gpu_on_cpu() -> None:
    import torch

    with measure.PeakMemory(torch.device("cpu")) as m:
        block = np.ones(32 * 2**20 // 8)  # 32 MiB
        block += 1
    del block
    d = m.as_dict()
    assert d["peak_host_mib"] > 32 and d["peak_gpu_mib"] is None and d["host_scope"] in ("block", "process")
