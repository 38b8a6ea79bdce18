"""High-frequency op: Haar transform and Gaussian high-pass, torch reference."""

from __future__ import annotations

import pytest
import torch

from vsr.ops.highfreq import (
    gaussian_blur, haar_decompose, haar_dwt, haar_idwt, highfreq_bands, highpass,
)


@pytest.mark.parametrize("h,w", [(8, 8), (7, 9), (1, 1), (5, 2)])
def test_haar_roundtrip_any_size(h: int, w: int) -> None:
    x = torch.rand(2, 3, h, w, dtype=torch.float64)
    bands = haar_dwt(x)
    assert bands.ll.shape == (2, 3, (h + 1) // 2, (w + 1) // 2)
    assert torch.allclose(haar_idwt(bands, (h, w)), x, atol=1e-12)


def test_haar_is_orthonormal_and_matches_block_sums() -> None:
    x = torch.randn(1, 1, 6, 8, dtype=torch.float64)
    ll, lh, hl, hh = haar_dwt(x)
    energy = sum(b.pow(2).sum() for b in (ll, lh, hl, hh))
    assert torch.allclose(energy, x.pow(2).sum())
    assert torch.allclose(ll[0, 0, 1, 2], x[0, 0, 2:4, 4:6].sum() / 2)
    # a horizontal edge shows in LH only; a vertical edge in HL only
    horiz = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    horiz[..., 1::2, :] = 1.0
    b = haar_dwt(horiz)
    assert b.lh.abs().sum() > 0 and b.hl.abs().sum() == 0 and b.hh.abs().sum() == 0


def test_constant_image_has_no_high_frequencies() -> None:
    x = torch.full((1, 3, 9, 11), 0.7)
    for band in highfreq_bands(x, "haar", levels=3) + highfreq_bands(x, "highpass", levels=2):
        assert band.abs().max() < 1e-6
    ll, details = haar_decompose(x, 3)
    assert len(details) == 3 and ll.shape[-2:] == (2, 2)


def test_highpass_is_image_minus_blur_and_differentiable() -> None:
    x = torch.rand(1, 2, 13, 6, requires_grad=True)
    hp = highpass(x, 1.5)
    assert hp.shape == x.shape
    assert torch.allclose(hp + gaussian_blur(x, 1.5), x, atol=1e-6)
    blur = gaussian_blur(x, 1.5)
    assert blur.std() < x.std()  # blurring removes variance
    (hp.pow(2).sum() + sum(b.pow(2).sum() for b in highfreq_bands(x, "haar", 2))).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="N,C,H,W"):
        haar_dwt(torch.rand(3, 4, 4))
    with pytest.raises(ValueError, match="method"):
        highfreq_bands(torch.rand(1, 1, 4, 4), "fft")
