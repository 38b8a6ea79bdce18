"""Kernel loading and backend selection on a machine without a GPU (and usually without CuPy)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from vsr.errors import BackendUnavailableError, ConfigError
from vsr.ops import kernels
from vsr.ops.colorconv import YuvSpec, rgb_to_yuv, yuv_to_rgb
from vsr.ops.highfreq import gaussian_blur, haar_dwt, highfreq_bands, highpass


def test_sources_ship_inside_the_package_and_inline_their_header() -> None:
    root = kernels.kernel_dir()
    assert {p.name for p in root.glob("*.cu")} >= {"highfreq.cu", "colorconv.cu"}
    src = kernels.kernel_source("colorconv")
    assert "half_to_float" in src and 'extern "C"' in src and '#include "' not in src


def test_cpu_tensors_use_the_reference_under_auto(monkeypatch) -> None:
    def boom(*a, **k):
        raise AssertionError("a CUDA kernel was launched for a CPU tensor")

    monkeypatch.setattr(kernels, "run", boom)
    x = torch.rand(1, 2, 9, 7)
    assert haar_dwt(x).ll.shape == (1, 2, 5, 4)
    assert highpass(x).shape == gaussian_blur(x).shape == x.shape
    assert len(highfreq_bands(x, "haar", 2)) == 6
    y, u, v = rgb_to_yuv(torch.rand(3, 8, 8), YuvSpec())
    assert yuv_to_rgb(y, u, v, YuvSpec()).shape == (3, 8, 8)


@pytest.mark.parametrize("call", [
    lambda x: haar_dwt(x, backend="cuda"),
    lambda x: highpass(x, backend="cuda"),
    lambda x: highfreq_bands(x, "highpass", backend="cuda"),
    lambda x: rgb_to_yuv(x[0], YuvSpec(), backend="cuda"),
])
def test_explicit_cuda_on_a_cpu_tensor_is_a_clear_error(call) -> None:
    with pytest.raises(BackendUnavailableError, match="needs a CUDA tensor") as e:
        call(torch.rand(1, 3, 8, 8))
    assert "\n" not in str(e.value)


def test_explicit_cuda_without_cupy_names_the_fix(monkeypatch) -> None:
    monkeypatch.setattr(kernels, "cupy_available", lambda: False)
    fake_cuda_tensor = SimpleNamespace(is_cuda=True, device=torch.device("cuda", 0))
    with pytest.raises(BackendUnavailableError, match=r"needs CuPy.*vsr\[cuda\]") as e:
        kernels.use_kernel(fake_cuda_tensor, "cuda", "highpass")  # type: ignore[arg-type]
    assert "\n" not in str(e.value)
    assert kernels.use_kernel(fake_cuda_tensor, "auto", "highpass") is False  # type: ignore[arg-type]


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="valid: auto, torch, cuda"):
        haar_dwt(torch.rand(1, 1, 4, 4), backend="triton")


def test_importing_the_ops_does_not_import_cupy() -> None:
    import subprocess
    import sys

    code = ("import sys, vsr.ops.highfreq, vsr.ops.colorconv, vsr.train.losses, vsr.pipeline.stages; "
            "print('cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_kernel_benchmark_says_it_needs_cuda(capsys) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "benchmarks" / "bench_kernels.py"
    spec = importlib.util.spec_from_file_location("bench_kernels", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    with pytest.raises(SystemExit) as e:
        mod.main([])
    assert e.value.code == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "needs a CUDA GPU" in out[0] and "nothing measured" in out[0]
