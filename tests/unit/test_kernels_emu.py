"""The CUDA kernels run on the CPU through the emulator (tests/kernel_emu.py) against the torch
references, plus an ``nvcc --ptx`` compile of every kernel for sm_80 and sm_90."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import torch

import kernel_emu
from vsr.ops.highfreq import blur_plan, gaussian_blur, haar_dwt, haar_dwt_plan, highpass
from vsr.ops.kernels import kernel_dir, kernel_source

pytestmark = pytest.mark.skipif(kernel_emu.CXX is None, reason="needs a host C++ compiler")

SIZES = [(1, 1, 1, 1), (2, 3, 8, 8), (1, 2, 7, 9), (1, 1, 5, 2), (1, 3, 33, 47)]


def test_half_conversions_match_torch_bit_for_bit() -> None:
    # Every finite fp16 bit pattern (subnormals included) goes in; the Haar sums are formed in f32
    # and rounded back to fp16 by the kernel's host float_to_half, which must round like torch.
    bits = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16)
    vals = bits.view(torch.float16)
    vals = vals[torch.isfinite(vals) & (vals.float().abs() < 16000)]  # sums stay finite
    vals = vals[: vals.numel() // 4 * 4]
    x = vals.reshape(1, 1, -1, 2).contiguous()  # an even number of rows of two
    plan, out = haar_dwt_plan(x)
    kernel_emu.run("highfreq", plan)
    xf = x.float()
    a, b, c, d = xf[..., 0::2, 0], xf[..., 0::2, 1], xf[..., 1::2, 0], xf[..., 1::2, 1]
    want = [((a + b + c + d) * 0.5), ((a + b - c - d) * 0.5), ((a - b + c - d) * 0.5), ((a - b - c + d) * 0.5)]
    for got, w in zip(out.unbind(0), want):
        assert torch.equal(got[..., 0].float(), w.half().float())


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_haar_kernel_matches_reference(shape, dtype) -> None:
    torch.manual_seed(0)
    x = torch.rand(shape).to(dtype)
    plan, out = haar_dwt_plan(x)
    kernel_emu.run("highfreq", plan)
    ref = haar_dwt(x.float(), "torch")
    for got, want in zip(out.unbind(0), ref):
        assert got.shape == want.shape and got.dtype == dtype
        # same operations in f32, then one rounding to the storage type: bit-exact
        assert torch.equal(got, want.to(dtype))


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("sigma", [0.8, 2.0])
@pytest.mark.parametrize("residual", [False, True])
def test_blur_and_highpass_kernels_match_reference(shape, dtype, sigma, residual) -> None:
    torch.manual_seed(1)
    x = torch.rand(shape).to(dtype)
    plan, out = blur_plan(x, sigma, residual)
    kernel_emu.run("highfreq", plan)
    ref = (highpass if residual else gaussian_blur)(x.double(), sigma, "torch")
    assert out.shape == x.shape and out.dtype == dtype
    tol = 1e-6 if dtype == torch.float32 else 1e-3
    assert (out.double() - ref).abs().max() <= tol


def test_every_kernel_source_is_self_contained() -> None:
    for cu in sorted(kernel_dir().glob("*.cu")):
        src = kernel_source(cu.stem)
        assert "#include \"" not in src and "cuda_fp16" not in src


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_every_kernel_compiles_to_ptx(arch, tmp_path) -> None:
    sources = sorted(kernel_dir().glob("*.cu"))
    assert {s.stem for s in sources} >= {"highfreq", "colorconv"}
    for cu in sources:
        # the translation unit NVRTC gets: includes inlined, compiled away from kernels/ (no -I)
        unit = tmp_path / cu.name
        unit.write_text(kernel_source(cu.stem))
        out = tmp_path / f"{cu.stem}.ptx"
        r = subprocess.run(["nvcc", "--ptx", "-fmad=false", "--std=c++14", f"-arch={arch}", str(unit), "-o", str(out)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        ptx = out.read_text()
        assert ".entry haar_dwt_f16" in ptx or cu.stem != "highfreq"
        assert ".entry yuv_to_rgb_u8_f16" in ptx or cu.stem != "colorconv"


# --- colorconv -------------------------------------------------------------------------------
from vsr.ops.colorconv import YuvSpec, rgb_to_yuv, rgb_to_yuv_plan, yuv_to_rgb, yuv_to_rgb_plan  # noqa: E402

SPECS = [YuvSpec("bt709", False, 8), YuvSpec("bt601", True, 8), YuvSpec("bt2020", False, 10),
         YuvSpec("bt2020", True, 10), YuvSpec("bt709", False, 8, 1, 0), YuvSpec("bt601", False, 10, 0, 0)]


def _codes(shape: tuple[int, ...], spec: YuvSpec) -> torch.Tensor:
    hi = spec.max_code + 1
    t = torch.randint(0, hi, shape, dtype=torch.int32)
    return t.to(torch.uint8 if spec.bits == 8 else torch.int16)


@pytest.mark.parametrize("spec", SPECS, ids=str)
@pytest.mark.parametrize("lead,h,w", [((), 32, 48), ((2,), 33, 47), ((), 1, 1), ((), 3, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_yuv_to_rgb_kernel_matches_reference(spec, lead, h, w, dtype) -> None:
    torch.manual_seed(2)
    ch, cw = -(-h // (1 << spec.chroma_shift_h)), -(-w // (1 << spec.chroma_shift_w))
    y, u, v = _codes((*lead, h, w), spec), _codes((*lead, ch, cw), spec), _codes((*lead, ch, cw), spec)
    plan, out = yuv_to_rgb_plan(y, u, v, spec, dtype)
    kernel_emu.run("colorconv", plan)
    ref = yuv_to_rgb(y, u, v, spec, dtype, backend="torch")
    assert out.shape == ref.shape == (*lead, 3, h, w) and out.dtype == dtype
    # the same f32 operations in the same order (fmad off): equal to the last bit
    assert torch.equal(out, ref)


@pytest.mark.parametrize("spec", SPECS, ids=str)
@pytest.mark.parametrize("lead,h,w", [((), 32, 48), ((2,), 33, 47), ((), 1, 1), ((), 3, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_rgb_to_yuv_kernel_matches_reference(spec, lead, h, w, dtype) -> None:
    torch.manual_seed(3)
    rgb = (torch.rand((*lead, 3, h, w)) * 1.1 - 0.05).to(dtype)  # a little out of range: clamped
    plan, planes = rgb_to_yuv_plan(rgb, spec)
    kernel_emu.run("colorconv", plan)
    ref = rgb_to_yuv(rgb, spec, backend="torch")
    for got, want in zip(planes, ref):
        assert got.shape == want.shape and got.dtype == want.dtype
        assert torch.equal(got, want)


def test_rgb_to_yuv_kernel_rounds_half_to_even_like_the_reference() -> None:
    # Full-range 8-bit grey levels k/510 land exactly on .5 code values for odd k.
    spec = YuvSpec("bt709", True, 8, 0, 0)
    levels = torch.arange(0, 511, dtype=torch.float32) / 510
    rgb = levels.view(1, 1, -1).expand(3, 1, -1).contiguous()
    plan, (y, _, _) = rgb_to_yuv_plan(rgb, spec)
    kernel_emu.run("colorconv", plan)
    assert torch.equal(y, rgb_to_yuv(rgb, spec, backend="torch")[0])
    assert y[0, 1] == 0 and y[0, 3] == 2  # 0.5 -> 0, 1.5 -> 2


# --- the public ops, dispatched to the (emulated) kernels -------------------------------------
from vsr.ops import kernels  # noqa: E402
from vsr.ops.highfreq import highfreq_bands  # noqa: E402


@pytest.fixture()
def emulated(monkeypatch):
    """Route the ops' kernel path to the emulator for CPU tensors (as on a GPU with CuPy)."""
    monkeypatch.setattr(kernels, "use_kernel", lambda t, backend, op: backend != "torch")
    monkeypatch.setattr(kernels, "run", lambda name, plan, device: kernel_emu.run(name, plan))


def test_ops_dispatch_to_kernels_and_backprop_through_the_reference(emulated) -> None:
    torch.manual_seed(4)
    x = torch.rand(2, 3, 19, 22)
    grads, outs = [], []
    for backend in ("auto", "torch"):
        xx = x.clone().requires_grad_()
        bands = highfreq_bands(xx, "haar", 2, backend=backend) + highfreq_bands(xx, "highpass", 2, backend=backend)
        outs.append(bands)
        sum(b.abs().mean() + b.pow(2).mean() for b in bands).backward()
        grads.append(xx.grad)
    for a, b in zip(*outs):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(grads[0], grads[1], atol=1e-6) and grads[0].abs().sum() > 0
    # non-contiguous input and fp16 take the kernel path too
    xt = x.transpose(2, 3)
    assert torch.allclose(highpass(xt), highpass(xt, backend="torch"), atol=1e-6)
    assert highpass(x.half()).dtype == torch.float16


def test_colour_ops_dispatch_to_kernels(emulated) -> None:
    spec = YuvSpec("bt709", False, 10)
    rgb = torch.rand(2, 3, 17, 30, dtype=torch.float16)
    planes = rgb_to_yuv(rgb, spec)
    for a, b in zip(planes, rgb_to_yuv(rgb, spec, backend="torch")):
        assert torch.equal(a, b)
    assert torch.equal(yuv_to_rgb(*planes, spec, torch.float16), yuv_to_rgb(*planes, spec, torch.float16, "torch"))
