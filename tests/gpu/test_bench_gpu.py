"""`vsr bench` on CUDA: synchronised engine timing, GPU peak memory and real NVML telemetry.

Skipped without CUDA; VSR_REQUIRE_GPU=1 turns the skips into failures. No speed is asserted.
"""

from __future__ import annotations

import pytest

from clips import write_clip
from vsr.bench.report import validate_report
from vsr.bench.suite import BenchRun, BenchSettings, resolve_clips
from vsr.config import PipelineConfig, load

pytestmark = pytest.mark.gpu


def test_bench_on_cuda_records_gpu_memory_and_telemetry(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VSR_CACHE_DIR", str(tmp_path / "cache"))
    clip = write_clip(tmp_path / "in.mp4", frames=12, width=160, height=96)
    config = load(PipelineConfig, None, ['runtime.device="cuda"', "model.batch=2",
                                         'encode.preset="ultrafast"'])
    settings = BenchSettings(config=config, frames=8, sweep_sizes=("160x96", "320x192"),
                             sweep_batches=(1, 2), content="procedural")
    report = BenchRun(settings).run(resolve_clips((str(clip),), 8))
    assert validate_report(report) == []
    assert report["device"].startswith("cuda") and report["machine"]["gpu"]
    (c,) = report["clips"]
    assert c["memory"]["peak_gpu_mib"] > 0
    assert all(p["peak_gpu_mib"] > 0 for p in report["scaling"]["resolution"])
    # A CUDA machine has the NVIDIA driver, so NVML must work: the figures are real here.
    assert report["telemetry"]["available"] is True, report["telemetry"]
    for run in ("engine", "e2e_no_encode", "e2e_encode"):
        gpu = c[run]["gpu"]
        assert gpu["available"] is True and gpu["samples"] >= 2
        assert gpu["mem_used_mib"]["max"] > 0 and "util_pct" in gpu
