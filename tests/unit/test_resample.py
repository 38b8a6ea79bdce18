"""The classic scalers: exact against torch where comparable, and the properties a scaler must have."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vsr.archs import DEFAULT_MODELS, load_model
from vsr.archs.resample import ResampleUpscaler, phase_kernels
from vsr.errors import UnknownModelError, UnsupportedScaleError


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_polyphase_bicubic_equals_torch_interpolate(scale) -> None:
    torch.manual_seed(1)
    x = torch.rand(2, 3, 13, 17)
    ours = ResampleUpscaler(scale, "bicubic", a=-0.75)(x)  # torch uses a = -0.75
    ref = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    assert ours.shape == ref.shape
    assert torch.allclose(ours, ref, atol=1e-5)


@pytest.mark.parametrize("kernel", ["bicubic", "lanczos"])
@pytest.mark.parametrize("scale", [2, 4])
def test_flat_stays_flat_and_taps_sum_to_one(kernel, scale) -> None:
    taps = phase_kernels(scale, kernel)
    assert torch.allclose(taps.sum(1), torch.ones(scale, dtype=torch.float64))
    x = torch.full((1, 3, 9, 9), 0.37)
    assert torch.allclose(ResampleUpscaler(scale, kernel)(x), x.new_full((1, 3, 9 * scale, 9 * scale), 0.37), atol=1e-6)


@pytest.mark.parametrize("scale", [2, 4])
def test_lanczos_reconstructs_band_limited_detail_better_than_bicubic(scale) -> None:
    # A sine at 0.3 cycles per low-res pixel, sampled at low-res and at high-res pixel centres.
    n = 64
    lo_x = torch.arange(n, dtype=torch.float64) + 0.5
    hi_x = (torch.arange(n * scale, dtype=torch.float64) + 0.5) / scale
    lo = (0.5 + 0.4 * torch.sin(2 * torch.pi * 0.3 * lo_x)).float().view(1, 1, 1, n)
    hi = (0.5 + 0.4 * torch.sin(2 * torch.pi * 0.3 * hi_x)).float()
    inner = slice(8 * scale, (n - 8) * scale)
    err = {}
    for kernel in ("bicubic", "lanczos"):
        up = ResampleUpscaler(scale, kernel)(lo.expand(1, 1, 2, n))[0, 0, 0]
        err[kernel] = (up[inner] - hi[inner]).abs().mean().item()
    assert err["lanczos"] < 0.8 * err["bicubic"]


def test_registry_resolution_and_errors() -> None:
    m = load_model("lanczos", 4)
    assert m.scale == 4 and not m.learned and m.context >= 3
    assert load_model(None, 2).name == DEFAULT_MODELS[2]
    with pytest.raises(UnknownModelError, match="available: bicubic, lanczos"):
        load_model("nope", 2)
    with pytest.raises(UnsupportedScaleError, match="supported: 2, 3, 4"):
        load_model("bicubic", 8)
