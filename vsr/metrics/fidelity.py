"""Fidelity metrics with the usual SR protocol: PSNR and SSIM on the BT.601 luma, border cropped.

Inputs are ``(N,3,H,W)`` float RGB in [0,1] on any device (quantise to 8 bit before calling if the
result should match published tables, as :func:`quantize` does). ``crop`` removes that many pixels
on each side (SR papers crop ``scale``). Luma is ``16 + 65.481 R + 128.553 G + 24.966 B`` (BT.601,
MATLAB ``rgb2ycbcr``) on the 0..255 scale; PSNR peak is 255.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_Y_WEIGHTS = (65.481, 128.553, 24.966)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round float [0,1] to the nearest 8-bit level, kept as float in [0,1]."""
    return x.clamp(0, 1).mul(255).round().div(255)


def rgb_to_y(rgb: torch.Tensor) -> torch.Tensor:
    """``(N,3,H,W)`` RGB [0,1] -> ``(N,1,H,W)`` BT.601 luma in [16,235] (f32 or wider)."""
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"expected (N,3,H,W) RGB, got shape {tuple(rgb.shape)}")
    w = torch.tensor(_Y_WEIGHTS, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return 16.0 + (rgb * w).sum(1, keepdim=True)


def _prepare(a: torch.Tensor, b: torch.Tensor, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    ya, yb = rgb_to_y(a.double()), rgb_to_y(b.double())
    if crop > 0:
        if ya.shape[-1] <= 2 * crop or ya.shape[-2] <= 2 * crop:
            raise ValueError(f"crop {crop} leaves nothing of a {tuple(a.shape[-2:])} image")
        ya, yb = ya[..., crop:-crop, crop:-crop], yb[..., crop:-crop, crop:-crop]
    return ya, yb


def psnr_y(sr: torch.Tensor, hr: torch.Tensor, crop: int = 0) -> torch.Tensor:
    """PSNR (dB) of the luma, per image: ``(N,)`` f64. Identical images give ``inf``."""
    ya, yb = _prepare(sr, hr, crop)
    mse = (ya - yb).pow(2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(255.0**2 / mse)


def temporal_psnr_y(sr_prev: torch.Tensor, sr: torch.Tensor, hr_prev: torch.Tensor, hr: torch.Tensor,
                    crop: int = 0) -> torch.Tensor:
    """PSNR (dB) of the luma's change from one frame to the next against the truth's change, per
    image: ``(N,)`` f64, all four ``(N,3,H,W)`` RGB [0,1]. It is the PSNR of ``e(t) - e(t-1)``, the
    change of the error: flicker (change the truth does not have) and motion smoothed away both
    lower it, while an error that stays put from frame to frame does not. Identical changes give inf."""
    a, b = _prepare(sr, hr, crop)
    a_prev, b_prev = _prepare(sr_prev, hr_prev, crop)
    mse = ((a - a_prev) - (b - b_prev)).pow(2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(255.0**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> torch.Tensor:
    t = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).view(1, 1, size, size)


def ssim_y(sr: torch.Tensor, hr: torch.Tensor, crop: int = 0) -> torch.Tensor:
    """SSIM of the luma (11x11 Gaussian window, sigma 1.5, 'valid' filtering, K1=0.01, K2=0.03 on
    the 0..255 scale, as Wang et al. and the MATLAB reference), per image: ``(N,)`` f64."""
    x, y = _prepare(sr, hr, crop)
    if min(x.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs at least 11x11 pixels after cropping, got {tuple(x.shape[-2:])}")
    win = _gaussian_window(device=x.device)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_x, mu_y = F.conv2d(x, win), F.conv2d(y, win)
    sxx = F.conv2d(x * x, win) - mu_x**2
    syy = F.conv2d(y * y, win) - mu_y**2
    sxy = F.conv2d(x * y, win) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return ssim_map.mean(dim=(1, 2, 3))


__all__ = ["psnr_y", "quantize", "rgb_to_y", "ssim_y"]
