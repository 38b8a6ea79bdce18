"""benchmarks/bench_backends.py keeps what it measured when it is stopped part-way (the GPU run gives
each stage a time limit, and a cold max-autotune build can outlast it)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "benchmarks" / "bench_backends.py"


def _module(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_backends", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # process-wide settings the script makes for itself: not for the test session
    monkeypatch.setattr(mod, "configure_threads", lambda *a: None)
    monkeypatch.setattr(mod, "tune_host_allocator", lambda: None)
    return mod


def test_every_row_is_on_disk_as_soon_as_it_is_measured(monkeypatch, tmp_path) -> None:
    mod = _module(monkeypatch)
    out = tmp_path / "backends.json"
    calls = []
    real_fps = mod._fps

    def fps_then_stop(engine, x, iters):
        calls.append(tuple(x.shape))
        if len(calls) == 2:  # stopped while timing batch 2, as `timeout` would stop it
            raise KeyboardInterrupt
        return real_fps(engine, x, 3)

    monkeypatch.setattr(mod, "_fps", fps_then_stop)
    args = ["--models", "compact-x2-fast", "--sizes", "32x24", "--batches", "1", "2", "--backends", "eager",
            "tensorrt", "--device", "cpu", "--json", str(out)]
    with pytest.raises(KeyboardInterrupt):
        mod.main(args)
    doc = json.loads(out.read_text())
    assert doc["complete"] is False and doc["command"].endswith(" ".join(args))
    # batch 1 measured (and tensorrt's skip, no CUDA), nothing of the stopped row
    assert [(r["batch"], r["backend"], "fps" in r, "skipped" in r) for r in doc["results"]] == [
        (1, "eager", True, False), (1, "tensorrt", False, True)]
    assert not [p for p in tmp_path.iterdir() if p.name != out.name]  # no temporary file left

    monkeypatch.setattr(mod, "_fps", lambda engine, x, iters: real_fps(engine, x, 3))
    mod.main(args)
    doc = json.loads(out.read_text())
    assert doc["complete"] is True and [r["backend"] for r in doc["results"]] == ["eager", "tensorrt"] * 2
