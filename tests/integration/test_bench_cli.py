"""`vsr bench` on tiny clips: the JSON schema, consistent figures, error lines. No speed is asserted."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from click.testing import CliRunner

from clips import write_clip
from vsr.bench.report import CLIP_KEYS, E2E_KEYS, SWEEP_KEYS, TOP_KEYS, format_report, validate_report
from vsr.bench.suite import BenchRun, BenchSettings, resolve_clips
from vsr.cli.main import cli
from vsr.config import PipelineConfig, load

TINY_SWEEP = ["--sweep-sizes", "48x32,96x64", "--sweep-batches", "1,2", "--content", "procedural"]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch) -> None:
    monkeypatch.setenv("VSR_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "bench-cache"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("bench") / "tiny.mp4", frames=10, width=64, height=48, audio=True)


@pytest.fixture(scope="module")
def report(tiny, tmp_path_factory) -> dict:
    mp = pytest.MonkeyPatch()
    mp.setenv("VSR_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "bench-cache"))
    try:
        config = load(PipelineConfig, None, ['encode.preset="ultrafast"', "model.batch=2"])
        # best of 5 passes: the engine-alone figure (a 40 ms pass here) bounds the pipeline's below, and
        # one scheduler hiccup on a busy 2-core machine must not decide that comparison
        settings = BenchSettings(config=config, frames=5, sweep_sizes=("48x32", "96x64"),
                                 sweep_batches=(1, 2), content="procedural", repeats=5)
        return BenchRun(settings).run(resolve_clips((str(tiny),), 5), command="test")
    finally:
        mp.undo()


def bench(*args: str):
    return CliRunner().invoke(cli, ["bench", *args])


def test_report_has_every_documented_key(report) -> None:
    assert set(TOP_KEYS) <= set(report) and report["schema"] == "vsr-bench/1"
    assert report["commit"] and report["device"] and report["versions"]["torch"] and report["machine"]["cores"]
    (clip,) = report["clips"]
    assert set(CLIP_KEYS) <= set(clip)
    for run in ("e2e_no_encode", "e2e_encode"):
        assert set(E2E_KEYS) <= set(clip[run])
    assert list(clip["e2e_encode"]["stage_busy"]) == ["decode", "upload", "infer", "download", "encode"]
    assert list(clip["e2e_no_encode"]["stage_busy"])[-1] == "sink"
    assert set(clip["baselines"]) == {"naive_loop", "swscale_bicubic", "swscale_lanczos"}
    for p in report["scaling"]["resolution"] + report["scaling"]["batch"]:
        assert set(SWEEP_KEYS) <= set(p)
    assert [p["batch"] for p in report["scaling"]["batch"]] == [1, 2]
    json.dumps(report)  # JSON-ready as it is


def test_every_figure_is_positive_and_consistent(report) -> None:
    assert validate_report(report, compare_timings=False) == []
    (c,) = report["clips"]
    n = c["frames"]
    assert n == 5
    for run in ("decode", "engine", "e2e_no_encode", "e2e_encode"):
        assert c[run]["frames"] == n and c[run]["fps"] > 0 and c[run]["seconds"] > 0
    # the pipeline cannot beat the engine it runs, on the same frames and batch
    assert c["e2e_no_encode"]["fps"] <= c["engine"]["fps"] * 1.05
    assert c["e2e_encode"]["fps"] <= c["engine"]["fps"] * 1.05
    assert 0 < c["efficiency"] <= 1.05
    assert c["efficiency"] == pytest.approx(c["e2e_no_encode"]["fps"] / c["engine"]["fps"], rel=1e-3)
    lat = c["e2e_encode"]["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    assert c["memory"]["peak_host_mib"] > 0
    assert report["settings"]["batch"] == 2 and c["engine"]["batch"] == 2


def test_gpu_figures_are_absent_not_faked_without_nvidia(report) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA machine: telemetry may be real here")
    assert report["telemetry"]["available"] is False and report["telemetry"]["reason"]
    (c,) = report["clips"]
    assert all("gpu" not in c[run] for run in ("engine", "e2e_no_encode", "e2e_encode"))
    assert c["memory"]["peak_gpu_mib"] is None
    assert "GPU telemetry: absent" in format_report(report)


@pytest.mark.parametrize("breakage, message", [
    (lambda r: r["clips"][0]["e2e_no_encode"].update(fps=r["clips"][0]["engine"]["fps"] * 2,
                                                     seconds=r["clips"][0]["engine"]["seconds"] / 2),
     "exceeds the engine alone"),
    (lambda r: r["clips"][0].update(efficiency=1.3), "efficiency"),
    (lambda r: r["clips"][0]["decode"].update(fps=-1.0), "not a positive number"),
    (lambda r: r["clips"][0]["engine"].update(frames=3), "but the clip measured"),
    (lambda r: r["clips"][0]["e2e_encode"]["latency_ms"].update(p50=1e9), "p50 <= p95"),
    (lambda r: r["telemetry"].update(util_pct={"mean": 0, "min": 0, "max": 0}), "holds figures"),
    (lambda r: r["clips"][0]["engine"].update(gpu={"available": False}), "measured summary"),
    (lambda r: r.pop("commit"), "lacks commit"),
])
def test_validation_catches_inconsistent_reports(report, breakage, message) -> None:
    broken = copy.deepcopy(report)
    breakage(broken)
    assert any(message in p for p in validate_report(broken)), validate_report(broken)


def test_cli_on_a_tiny_clip_prints_the_table_and_writes_json(tiny, tmp_path) -> None:
    out = tmp_path / "r.json"
    result = bench(str(tiny), "--frames", "4", "--preset", "ultrafast", "--json", str(out), *TINY_SWEEP)
    assert result.exit_code == 0, result.stderr
    assert "tiny.mp4" in result.stdout and "effic." in result.stdout and "bottleneck" in result.stdout
    assert "swscale_bicubic" in result.stdout and "pixels^" in result.stdout
    assert "inconsistent" not in result.stderr
    data = json.loads(out.read_text())
    assert validate_report(data, compare_timings=False) == []
    assert data["command"].startswith("vsr") and data["clips"][0]["frames"] == 4  # argv is pytest's here


def test_cli_without_encode_baselines_or_sweep(tiny, tmp_path) -> None:
    out = tmp_path / "r.json"
    result = bench(str(tiny), "bench:64x48", "--frames", "3", "--no-encode", "--no-baselines", "--no-sweep",
                   "--content", "procedural", "-q", "--json", str(out))
    assert result.exit_code == 0, result.stderr
    # quiet: no progress or summary; only the timing-noise warning a busy machine can cause (its
    # 3-frame figures cross)
    noisy = [line for line in result.stderr.splitlines() if "inconsistent figure (timing noise?)" not in line]
    assert noisy == []
    data = json.loads(out.read_text())
    assert validate_report(data, compare_timings=False) == []
    assert [c["clip"] for c in data["clips"]] == ["tiny.mp4", "64x48"]
    assert all(c["e2e_encode"] is None and c["baselines"] is None for c in data["clips"])
    assert data["settings"]["encode"] is None and data["scaling"] is None


@pytest.mark.parametrize("args, message", [
    (["missing.mp4"], "clip not found: missing.mp4"),
    (["{tiny}", "--frames", "0"], "--frames must be >= 1"),
    (["{tiny}", "--batch", "0"], "batch must be >= 1"),
    (["{tiny}", "--scale", "5"], "unsupported scale 5"),
    (["{tiny}", "--model", "waifu"], "unknown model 'waifu'"),
    (["{tiny}", "--device", "tpu"], "bad device 'tpu'"),
    (["{tiny}", "--plot", "out.svg"], "ending in .png"),
    (["{tiny}", "--plot", "out.png", "--no-sweep"], "drop --no-sweep"),
    (["{tiny}", "--sweep-sizes", "4k"], "bad clip size '4k'"),
    (["{tiny}", "--sweep-batches", "1,x"], "--sweep-batches takes numbers"),
    (["{tiny}", "--sweep-frames", "-1"], "--sweep-frames must be >= 0"),
    (["{tiny}", "--json", "{tmp}/no/such/dir/r.json"], "does not exist"),
    (["{tmp}"], "is a directory"),
    (["sample:nope"], "unknown sample 'nope'"),
    (["{junk}"], "is not a video FFmpeg can read"),
    (["{tiny}", "--codec", "nocodec"], "unknown encoder 'nocodec'"),
])
def test_bad_input_is_one_clear_line(tiny, tmp_path, args, message) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(bytes(range(256)) * 16)
    argv = [a.format(tiny=tiny, tmp=tmp_path, junk=junk) for a in args]
    result = bench(*argv, "--no-sweep" if "--plot" not in argv else "--quiet")
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("vsr bench:")]
    assert len(lines) == 1 and lines[0].startswith("vsr: error:"), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_plot_without_matplotlib_is_one_line(tiny, monkeypatch) -> None:
    real = __import__("importlib").util.find_spec
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    result = bench(str(tiny), "--plot", "s.png", "-q")
    assert result.exit_code == 1
    assert result.stderr.strip() == "vsr: error: --plot needs matplotlib: pip install 'vsr[plot]'"


def test_plot_is_written(tiny, tmp_path) -> None:
    pytest.importorskip("matplotlib")  # in the test extra: CI runs this
    png = tmp_path / "scaling.png"
    result = bench(str(tiny), "--frames", "3", "--no-baselines", "--no-encode", "--plot", str(png), "-q",
                   *TINY_SWEEP)
    assert result.exit_code == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_sampled_gpu_figures_land_in_each_phase(tiny, monkeypatch) -> None:
    """With a (fake) NVML GPU the engine and e2e runs each carry a measured summary."""
    from fake_nvml import fake_nvml
    from vsr.telemetry.nvml import GpuSampler

    def open_fake(self, device) -> None:
        self.sampler = GpuSampler(0, interval=0.01, nvml=fake_nvml())
        self.telemetry = {"available": True, "source": "pynvml", "gpu": self.sampler.name,
                          "driver": self.sampler.driver, "interval_s": 0.01}

    monkeypatch.setattr(BenchRun, "_open_sampler", open_fake)
    settings = BenchSettings(frames=3, baselines=False, sweep=False, encode=False)
    report = BenchRun(settings).run(resolve_clips((str(tiny),), 3))
    assert validate_report(report, compare_timings=False) == []
    (c,) = report["clips"]
    for run in ("engine", "e2e_no_encode"):
        gpu = c[run]["gpu"]
        assert gpu["available"] is True and gpu["samples"] >= 2 and gpu["power_w"]["mean"] == 250.0
    text = format_report(report)
    assert "GPU telemetry (Fake GPU 80GB" in text and "power 250 W" in text


def test_a_run_hands_over_each_clip_as_it_is_measured(tiny, tmp_path) -> None:
    # what benchmarks/bench_suite.py saves as it goes: a suite stopped by a time limit keeps its clips
    parts = []
    settings = BenchSettings(frames=3, baselines=False, sweep=False, encode=False)
    second = tmp_path / "second.mp4"
    second.write_bytes(tiny.read_bytes())
    report = BenchRun(settings).run(resolve_clips((str(tiny), str(second)), 3),
                                    on_part=lambda r: parts.append((r["complete"], [c["clip"] for c in r["clips"]])))
    assert parts == [(False, ["tiny.mp4"]), (False, ["tiny.mp4", "second.mp4"])]
    assert report["complete"] is True and validate_report(report, compare_timings=False) == []


def test_help_names_the_builtin_clips_and_the_run_time() -> None:
    result = bench("--help")
    assert result.exit_code == 0
    assert "360p, 540p, 720p and 1080p" in result.stdout and "two" in result.stdout
    assert "--no-encode" in result.stdout and "--plot" in result.stdout
