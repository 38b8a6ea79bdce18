"""The prepared GPU run (benchmarks/gpu_check.sh) and the filing of its results (gpu_collect.py),
checked here without a GPU: the stage budget and summary, and which results may be filed under what
name."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "benchmarks"


def _collect():
    spec = importlib.util.spec_from_file_location("gpu_collect", BENCH / "gpu_collect.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def _gpu_header(**kw) -> dict:
    doc = {"benchmark": "kernels", "date": "2026-12-01T10:00:00+00:00", "command": "bench_kernels.py",
           "commit": "abc123", "device": "cuda:0 (NVIDIA H200)", "machine": {"gpu": "NVIDIA H200"}}
    doc.update(kw)
    return doc


def test_collect_names_gpu_results_and_refuses_what_cannot_be_filed(tmp_path) -> None:
    mod = _collect()
    src = tmp_path / "out"
    _write(src / "kernels.json", _gpu_header())
    _write(src / "drift-x2.json", {"date": "2026-12-01", "command": "python fp16_drift.py", "commit": "abc123",
                                    "device": "NVIDIA H200", "rows": []})
    _write(src / "suite" / "2026-12-01-nvidia-h200.json", _gpu_header(benchmark="suite"))
    (src / "check.log").write_text("=== summary\n")
    names = [name for _, name in mod.plan(src)]
    assert names == ["2026-12-01-nvidia-h200-drift-x2.json", "2026-12-01-nvidia-h200-kernels.json",
                     "2026-12-01-nvidia-h200.json", "2026-12-01-nvidia-h200-gpu-check.log"]
    results = tmp_path / "results"
    assert mod.main([str(src), "--results", str(results)]) == 0
    assert sorted(p.name for p in results.iterdir()) == sorted(names)

    _write(src / "eager.json", _gpu_header(device="cpu (2 torch threads)", machine={"gpu": None}))
    with pytest.raises(ValueError, match="not measured on a GPU"):
        mod.plan(src)
    assert mod.plan(src, allow_cpu=True)  # a rehearsal may be looked at, never filed by default
    _write(src / "eager.json", _gpu_header(commit="unknown"))
    with pytest.raises(ValueError, match="commit unknown"):
        mod.plan(src)
    _write(src / "eager.json", {k: v for k, v in _gpu_header().items() if k != "command"})
    assert mod.main([str(src), "--results", str(results)]) == 2  # one line, nothing filed
    with pytest.raises(ValueError, match="no result JSON"):
        mod.plan(tmp_path / "empty")


def _check(tmp_path: Path, *stages: str, budget: int = 540, rc: int = 0) -> tuple[str, Path]:
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "VSR_GPU_CHECK_REHEARSAL": "1", "VSR_GPU_CHECK_BUDGET": str(budget),
           "VSR_COMMIT": "abc123", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(BENCH / "gpu_check.sh"), *stages], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == rc, proc.stdout + proc.stderr
    return proc.stdout, out


def test_gpu_check_runs_stages_under_one_budget_and_sums_them_up(tmp_path) -> None:
    text, out = _check(tmp_path, "env")
    assert "env       rc 0" in text.split("=== summary")[1]
    text, out = _check(tmp_path, "env", "nonsense", rc=1)  # an unknown stage makes the run incomplete
    summary = text.split("=== summary")[1]
    assert "commit abc123" in summary
    assert "env       rc 0" in summary  # the environment report ran (torch imports, no GPU here)
    assert "nonsense: unknown stage" in summary
    assert "cuda available: False" in text
    assert (out / "check.log").read_text().count("=== summary") == 2  # everything printed is kept
    # a spent budget skips stages rather than overrunning the call
    text, _ = _check(tmp_path, "env", "kernels", budget=10, rc=1)
    assert "env       skipped (budget spent)" in text and "kernels   skipped (budget spent)" in text
