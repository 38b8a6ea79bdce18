"""Engine backends on the CPU: selection, error paths, the cache key, torch.compile, auto."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from vsr.archs import load_model
from vsr.engine import backends
from vsr.engine.backends import AutoRunner, EngineKey, Runner, make_runner, unavailable
from vsr.engine.engine import Engine
from vsr.errors import BackendUnavailableError, ConfigError

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VSR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _key(**kw) -> EngineKey:
    base = dict(backend="compile", model="m", weights="abc", shape=(1, 3, 64, 64), dtype="float16",
                device="NVIDIA H100", versions=(("torch", "2.13.0"),), options="mode=max-autotune")
    base.update(kw)
    return EngineKey(**base)


def test_engine_key_covers_everything_a_build_depends_on() -> None:
    key = _key()
    assert key.digest() == _key().digest()  # stable
    changes = dict(backend="tensorrt", model="n", weights="abd", shape=(2, 3, 64, 64), dtype="float32",
                   device="NVIDIA H200", versions=(("torch", "2.14.0"),), options="mode=default")
    digests = {key.digest()}
    for field, value in changes.items():
        digests.add(_key(**{field: value}).digest())
    assert len(digests) == 1 + len(changes)
    assert key.stem().startswith("compile-m-1x3x64x64-float16-")
    # the default version set names torch
    assert dict(dataclasses.replace(key, versions=EngineKey("e", "m", "w", (1,), "f", "d").versions).versions)["torch"]


def test_explicit_backends_that_cannot_run_say_what_is_missing(monkeypatch) -> None:
    assert "CUDA device" in unavailable("tensorrt", CPU)
    real = backends.importlib.util.find_spec
    monkeypatch.setattr(backends.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("torch_tensorrt", "triton") else real(name, *a))
    assert "torch-tensorrt" in unavailable("tensorrt", torch.device("cuda", 0))
    assert "Triton" in unavailable("compile", torch.device("cuda", 0))
    monkeypatch.setattr(backends.shutil, "which", lambda name: None)
    monkeypatch.delenv("CXX", raising=False)
    assert "C++ compiler" in unavailable("compile", CPU)
    m = load_model("compact-x2-fast", 2)
    with pytest.raises(BackendUnavailableError, match="C\\+\\+ compiler"):
        Engine(m, CPU, backend="compile")  # never a silent fallback to eager
    with pytest.raises(BackendUnavailableError, match="needs a CUDA device"):
        Engine(m, CPU, backend="tensorrt")
    with pytest.raises(ConfigError, match="unknown backend"):
        Engine(m, CPU, backend="onnx")
    assert unavailable("eager", CPU) is None


def test_compile_backend_matches_eager_builds_once_per_shape_and_caches_on_disk(cache) -> None:
    if unavailable("compile", CPU):
        pytest.skip(unavailable("compile", CPU))
    m = load_model("compact-x2-fast", 2)
    eager = Engine(m, CPU)
    comp = Engine(load_model("compact-x2-fast", 2), CPU, backend="compile", batch=2)
    assert comp.backend == "compile"
    x = torch.rand(2, 3, 24, 40)
    torch.testing.assert_close(comp(x), eager(x), atol=1e-5, rtol=0)
    # a short last batch is padded to the built shape instead of building another engine
    torch.testing.assert_close(comp(x[:1]), eager(x[:1]), atol=1e-5, rtol=0)
    assert [b.shape for b in comp.builds] == [(2, 3, 24, 40)]
    assert comp.builds[0].cached is False
    records = list((cache / "engines").glob("compile-compact-x2-fast-2x3x24x40-float32-*.json"))
    assert len(records) == 1
    assert json.loads(records[0].read_text())["key"]["shape"] == [2, 3, 24, 40]
    # a second engine (a later run) finds the build in the cache
    again = Engine(load_model("compact-x2-fast", 2), CPU, backend="compile", batch=2)
    torch.testing.assert_close(again(x), eager(x), atol=1e-5, rtol=0)
    assert again.builds[0].cached is True


def test_compile_backend_builds_one_engine_for_all_the_tiles_of_a_frame() -> None:
    if unavailable("compile", CPU):
        pytest.skip(unavailable("compile", CPU))
    x = torch.rand(1, 3, 37, 53)
    tiled = Engine(load_model("compact-x2-fast", 2), CPU, backend="compile", tile=16)
    torch.testing.assert_close(tiled(x), Engine(load_model("compact-x2-fast", 2), CPU)(x), atol=1e-5, rtol=0)
    # 3 x 4 tiles, the border ones shifted inward to the same window: one shape, one build
    assert len(tiled.builds) == 1


def test_compile_mode_follows_the_device_and_env_and_enters_the_key(monkeypatch) -> None:
    monkeypatch.delenv("VSR_COMPILE_MODE", raising=False)
    assert backends.compile_mode(CPU) == "default"
    assert backends.compile_mode(torch.device("cuda", 0)) == "max-autotune"
    monkeypatch.setenv("VSR_COMPILE_MODE", "reduce-overhead")
    assert backends.compile_mode(torch.device("cuda", 0)) == "reduce-overhead"
    m = load_model("compact-x2-fast", 2)
    runner = backends.CompileRunner(m.module, "compact-x2-fast", "w", CPU, torch.float32)
    assert runner.key((1, 3, 8, 8)).options == "mode=reduce-overhead"
    assert runner.cudagraphs is False  # CUDA graphs only on CUDA
    monkeypatch.setenv("VSR_COMPILE_MODE", "fastest")
    with pytest.raises(ConfigError, match="VSR_COMPILE_MODE='fastest'"):
        backends.compile_mode(CPU)


class _Failing(Runner):
    name = "compile"

    def build(self, key, example):
        raise RuntimeError("no kernel for this op")


class _Slow(Runner):
    name = "tensorrt"

    def build(self, key, example):
        def slow(x):
            import time

            time.sleep(0.01)
            return self.module(x)

        return slow, False


def test_auto_times_candidates_keeps_the_fastest_and_remembers(monkeypatch, cache) -> None:
    monkeypatch.setitem(backends.RUNNERS, "compile", _Failing)
    monkeypatch.setitem(backends.RUNNERS, "tensorrt", _Slow)
    m = load_model("compact-x2-fast", 2)
    module = m.module.eval()
    auto = AutoRunner(module, m.name, "w", CPU, torch.float32, candidates=["tensorrt", "compile", "eager"])
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        y = auto(x)
        torch.testing.assert_close(y, module(x))
    assert auto.effective().name == "eager"  # the failing one skipped, the slow one lost
    assert set(auto.timings) == {"tensorrt", "eager"} and auto.timings["tensorrt"] > auto.timings["eager"]
    (record,) = (cache / "engines").glob("auto-*.json")
    assert json.loads(record.read_text())["choice"] == "eager"
    # a later run reads the choice instead of timing again
    monkeypatch.setitem(backends.RUNNERS, "tensorrt", _Failing)
    later = AutoRunner(module, m.name, "w", CPU, torch.float32, candidates=["tensorrt", "eager"])
    with torch.inference_mode():
        later(x)
    assert later.effective().name == "eager" and later.timings == {}


def test_auto_on_classic_resamplers_is_eager_and_make_runner_checks() -> None:
    e = Engine(load_model("lanczos", 2), CPU, backend="auto")
    assert e.backend == "eager"
    with pytest.raises(BackendUnavailableError, match="CUDA"):
        make_runner("tensorrt", torch.nn.Identity(), "id", "", CPU, torch.float32)
