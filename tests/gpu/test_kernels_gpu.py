"""CuPy kernels on a GPU against the torch references (skipped without CUDA; VSR_REQUIRE_GPU=1
turns skips into failures, including a missing CuPy)."""

from __future__ import annotations

import os

import pytest
import torch

from vsr.ops import kernels
from vsr.ops.colorconv import YuvSpec, rgb_to_yuv, yuv_to_rgb
from vsr.ops.highfreq import gaussian_blur, haar_dwt, highfreq_bands, highpass

pytestmark = pytest.mark.gpu

SIZES = [(1, 1, 1, 1), (2, 3, 64, 64), (1, 3, 33, 47), (1, 2, 271, 480)]


@pytest.fixture(autouse=True)
def _cupy() -> None:
    if not kernels.cupy_available():
        if os.environ.get("VSR_REQUIRE_GPU", "") not in ("", "0"):
            pytest.fail("VSR_REQUIRE_GPU=1 but CuPy is not installed (pip install 'vsr[cuda]')")
        pytest.skip("needs CuPy")


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_highfreq_kernels_match_reference(shape, dtype) -> None:
    torch.manual_seed(0)
    x = torch.rand(shape, device="cuda").to(dtype)
    tol = 1e-6 if dtype == torch.float32 else 2e-3
    for got, want in zip(haar_dwt(x, "cuda"), haar_dwt(x.float(), "torch")):
        assert got.dtype == dtype and (got.float() - want).abs().max() <= tol
    for sigma in (1.0, 2.5):
        assert (highpass(x, sigma, "cuda").float() - highpass(x.float(), sigma, "torch")).abs().max() <= tol
        assert (gaussian_blur(x, sigma, "cuda").float() - gaussian_blur(x.float(), sigma, "torch")).abs().max() <= tol


def test_kernel_gradients_come_from_the_reference() -> None:
    torch.manual_seed(1)
    x = torch.rand(2, 3, 31, 40, device="cuda")
    grads = []
    for backend in ("cuda", "torch"):
        xx = x.clone().requires_grad_()
        loss = sum(b.abs().mean() for b in highfreq_bands(xx, "haar", 2, backend=backend))
        loss = loss + sum(b.pow(2).mean() for b in highfreq_bands(xx, "highpass", 2, backend=backend))
        loss.backward()
        grads.append(xx.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


SPECS = [YuvSpec("bt709", False, 8), YuvSpec("bt601", True, 8), YuvSpec("bt2020", False, 10),
         YuvSpec("bt709", False, 8, 1, 0), YuvSpec("bt601", True, 10, 0, 0)]


@pytest.mark.parametrize("spec", SPECS, ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_colorconv_kernels_match_reference(spec, dtype) -> None:
    torch.manual_seed(2)
    rgb = torch.rand(2, 3, 67, 121, device="cuda")
    y, u, v = rgb_to_yuv(rgb.to(dtype), spec, backend="cuda")
    ry, ru, rv = rgb_to_yuv(rgb.to(dtype).cpu(), spec, backend="torch")
    for got, want in ((y, ry), (u, ru), (v, rv)):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert (got.cpu().int() - want.int()).abs().max() <= 1
    back = yuv_to_rgb(ry.cuda(), ru.cuda(), rv.cuda(), spec, dtype, backend="cuda")
    ref = yuv_to_rgb(ry, ru, rv, spec, dtype, backend="torch")
    tol = 1e-6 if dtype == torch.float32 else 1e-3
    assert back.dtype == dtype and (back.cpu().float() - ref.float()).abs().max() <= tol


def test_launches_follow_torchs_current_stream_and_modules_are_cached() -> None:
    x = torch.rand(4, 3, 512, 512, device="cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        out = highpass(x, 1.0, "cuda")
        done = torch.cuda.Event()
        done.record(side)
    torch.cuda.current_stream().wait_event(done)
    assert torch.allclose(out, highpass(x, 1.0, "torch"), atol=1e-5)
    dev = x.device
    assert kernels.module("highfreq", dev) is kernels.module("highfreq", dev)


def test_dlpack_shares_memory() -> None:
    import cupy

    t = torch.zeros(16, device="cuda")
    arr = cupy.from_dlpack(t)
    arr += 1
    assert arr.data.ptr == t.data_ptr() and float(t.sum()) == 16.0
