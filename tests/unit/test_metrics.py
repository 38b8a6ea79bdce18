"""Fidelity metrics (PSNR-Y / SSIM-Y protocol) and ST-LPIPS (weights from stlpips-pytorch)."""

from __future__ import annotations

import math

import pytest
import torch

from vsr.metrics import STLPIPS, psnr_y, quantize, rgb_to_y, ssim_y
from vsr.ops.highfreq import gaussian_blur


def _image(h: int = 64, w: int = 64) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([
        0.5 + 0.4 * torch.sin(12 * xx + 3 * yy),
        (xx > 0.5).float() * 0.6 + 0.2,
        0.5 + 0.3 * torch.cos(20 * yy * xx),
    ]).unsqueeze(0)


def test_luma_is_bt601_studio_range() -> None:
    assert rgb_to_y(torch.zeros(1, 3, 1, 1)).item() == pytest.approx(16.0)
    assert rgb_to_y(torch.ones(1, 3, 1, 1)).item() == pytest.approx(235.0)


def test_psnr_matches_closed_form_and_crop_removes_border() -> None:
    hr = torch.full((2, 3, 20, 20), 0.5, dtype=torch.float64)
    sr = hr + 0.01
    expected = 10 * math.log10(255**2 / (0.01 * 219.0) ** 2)
    assert torch.allclose(psnr_y(sr, hr), torch.tensor([expected] * 2, dtype=torch.float64))
    bordered = hr.clone()
    bordered[..., :2, :] = 0.9
    assert math.isfinite(psnr_y(bordered, hr)[0].item())
    assert psnr_y(bordered, hr, crop=2)[0].item() == math.inf


def test_ssim_identity_and_ordering() -> None:
    img = _image()
    torch.manual_seed(0)
    noisy = (img + 0.1 * torch.randn_like(img)).clamp(0, 1)
    very_noisy = (img + 0.3 * torch.randn_like(img)).clamp(0, 1)
    assert ssim_y(img, img, 2).item() == pytest.approx(1.0)
    assert 1.0 > ssim_y(noisy, img, 2).item() > ssim_y(very_noisy, img, 2).item()
    q = quantize(torch.tensor([0.3 / 255, 0.7 / 255, 1.2, -0.1], dtype=torch.float64))
    assert torch.allclose(q, torch.tensor([0.0, 1 / 255, 1.0, 0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="shape"):
        psnr_y(img, img[..., :10])


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_stlpips_orders_identical_blurred_noisy(net: str) -> None:
    metric = STLPIPS(net)
    img = _image()
    torch.manual_seed(0)
    blurred = gaussian_blur(img, 1.0)
    noisy = (img + 0.15 * torch.randn_like(img)).clamp(0, 1)
    with torch.no_grad():
        d = metric(torch.cat([img, img, img]), torch.cat([img, blurred, noisy]))
    assert d.shape == (3,)
    assert d[0].abs() < 1e-6 < d[1] < d[2]


def test_stlpips_is_differentiable_and_frozen() -> None:
    metric = STLPIPS("alex")
    metric.train()
    assert not metric.training and not any(p.requires_grad for p in metric.parameters())
    img = _image()
    x = gaussian_blur(img, 1.0).requires_grad_(True)
    metric(x, img).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
