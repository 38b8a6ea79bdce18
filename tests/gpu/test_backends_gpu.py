"""Compiled backends on CUDA against eager fp32: torch.compile with CUDA graphs, TensorRT where installed.

Skipped without CUDA; VSR_REQUIRE_GPU=1 turns the skips into failures (TensorRT excepted: it is an
optional extra, and its test says so when torch-tensorrt is missing).
"""

from __future__ import annotations

import pytest
import torch

from vsr.archs import load_model
from vsr.engine.backends import unavailable
from vsr.engine.engine import Engine

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda", 0)
# The fp16 engine (fp32 head and skip) is held to 0.5/255 of fp32 eager (test_cuda_path.py); a compiled
# graph may fuse and order the same fp16 arithmetic differently, so a compiled engine gets 1/255.
TOL = 1.0 / 255


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VSR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    return tmp_path / "cache"


def _reference(name: str, scale: int, *xs: torch.Tensor) -> list[torch.Tensor]:
    eager = Engine(load_model(name, scale), CUDA, precision="fp32")
    return [eager(x).float() for x in xs]


@pytest.mark.parametrize("name,scale", [("compact-x2-fast", 2), ("compact-x4-fast", 4)])
def test_compile_with_cuda_graphs_matches_eager_fp32(name, scale, monkeypatch) -> None:
    """reduce-overhead: Inductor kernels replayed from a CUDA graph. Each output must survive the next
    replay (the graph's output pool is reused), a short last batch is padded to the built shape, and
    the second engine of the same shape finds its build record in the cache."""
    monkeypatch.setenv("VSR_COMPILE_MODE", "reduce-overhead")
    if unavailable("compile", CUDA):
        pytest.fail(unavailable("compile", CUDA))
    g = torch.Generator().manual_seed(7)
    x1, x2 = (torch.rand(2, 3, 48, 80, generator=g) for _ in range(2))
    ref1, ref2 = _reference(name, scale, x1, x2)
    comp = Engine(load_model(name, scale), CUDA, precision="fp16", backend="compile", batch=2)
    assert comp.backend == "compile" and comp.runner.cudagraphs
    out1 = comp(x1)
    out2 = comp(x2)  # replays the graph into the same pool: out1 must be a copy, untouched
    out3 = comp(x1[:1])  # a short batch: padded, not a second build
    torch.cuda.synchronize()
    assert out1.dtype == torch.float16 and out1.shape == (2, 3, 48 * scale, 80 * scale)
    assert (out1.float() - ref1).abs().max().item() <= TOL
    assert (out2.float() - ref2).abs().max().item() <= TOL
    assert (out3.float() - ref1[:1]).abs().max().item() <= TOL
    assert [b.shape for b in comp.builds] == [(2, 3, 48, 80)] and not comp.builds[0].cached
    again = Engine(load_model(name, scale), CUDA, precision="fp16", backend="compile", batch=2)
    assert (again(x2).float() - ref2).abs().max().item() <= TOL
    assert again.builds[0].cached


def test_auto_on_cuda_picks_a_backend_that_matches_eager_fp32(monkeypatch) -> None:
    monkeypatch.setenv("VSR_COMPILE_MODE", "reduce-overhead")  # max-autotune's build is the benchmark's job
    x = torch.rand(1, 3, 40, 64, generator=torch.Generator().manual_seed(3))
    (ref,) = _reference("compact-x2-fast", 2, x)
    auto = Engine(load_model("compact-x2-fast", 2), CUDA, precision="fp16", backend="auto")
    out = auto(x)
    assert auto.backend in ("eager", "compile", "tensorrt")
    assert set(auto.runner.timings) >= {"eager", "compile"}  # both timed on this machine
    assert (out.float() - ref).abs().max().item() <= TOL


def test_tensorrt_matches_eager_fp32() -> None:
    reason = unavailable("tensorrt", CUDA)
    if reason:
        pytest.skip(f"torch-tensorrt not usable here: {reason}")
    x = torch.rand(1, 3, 48, 80, generator=torch.Generator().manual_seed(5))
    (ref,) = _reference("compact-x2-fast", 2, x)
    trt = Engine(load_model("compact-x2-fast", 2), CUDA, precision="fp16", backend="tensorrt")
    assert (trt(x).float() - ref).abs().max().item() <= TOL
