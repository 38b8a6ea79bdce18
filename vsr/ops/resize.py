"""Downscaling as the SR benchmarks do it: MATLAB ``imresize(x, 1/s, 'bicubic')`` with antialiasing;
and the output's resize to any size (:func:`resize_to`).

Torch reference, differentiable, any device. For an integer factor ``s`` output pixel ``i`` sits at
input coordinate ``s*i + (s-1)/2`` (pixel centres aligned); the Keys cubic kernel (a=-0.5) is
stretched by ``s`` (width ``4*s``: the antialiasing) and normalised; borders are mirrored including
the edge pixel ("symmetric"), as MATLAB does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vsr.archs.resample import cubic


def downscale_taps(scale: int) -> tuple[torch.Tensor, int]:
    """``(taps f64 (K,), first offset)``: output ``i`` = sum_k taps[k] * x[s*i + first + k]."""
    centre = (scale - 1) / 2
    lo, hi = math.floor(centre - 2 * scale), math.ceil(centre + 2 * scale)
    offsets = torch.arange(lo, hi + 1, dtype=torch.float64)
    w = cubic((offsets - centre) / scale) / scale
    keep = w.abs() > 0
    first = int(offsets[keep][0].item())
    w = w[keep]
    return w / w.sum(), first


def _pad_symmetric(x: torch.Tensor, left: int, right: int, dim: int) -> torch.Tensor:
    n = x.shape[dim]
    if left > n or right > n:
        return F.pad(x.movedim(dim, -1), (left, right), mode="replicate").movedim(-1, dim)
    parts = []
    if left:
        parts.append(x.narrow(dim, 0, left).flip(dim))
    parts.append(x)
    if right:
        parts.append(x.narrow(dim, n - right, right).flip(dim))
    return torch.cat(parts, dim)


def imresize_down(x: torch.Tensor, scale: int) -> torch.Tensor:
    """``(N,C,H,W)`` float -> ``(N,C,H/s,W/s)`` (H, W multiples of ``scale``), same dtype/device.

    Not clamped (bicubic overshoots slightly); quantise as needed."""
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"expected a float (N,C,H,W) tensor, got {x.dtype} {tuple(x.shape)}")
    n, c, h, w = x.shape
    if h % scale or w % scale:
        raise ValueError(f"image size {h}x{w} is not a multiple of the scale {scale} (crop it first)")
    if scale == 1:
        return x
    taps, first = downscale_taps(scale)
    k = taps.numel()
    left = -first
    right = max(0, first + k - scale)
    weight = taps.to(x.dtype).to(x.device)
    y = x.reshape(n * c, 1, h, w)
    y = _pad_symmetric(y, left, right, 3)
    y = F.conv2d(y, weight.view(1, 1, 1, k), stride=(1, scale))
    y = _pad_symmetric(y, left, right, 2)
    y = F.conv2d(y, weight.view(1, 1, k, 1), stride=(scale, 1))
    return y.reshape(n, c, h // scale, w // scale)


def resize_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(N,C,h,w)`` -> ``(N,C,height,width)`` float32 in [0,1]: Keys bicubic (a=-0.5), its kernel
    widened where the image shrinks (antialiasing, as Pillow and swscale do: torch's ``antialias``),
    so a x4 network output brought down to 3x keeps its detail without aliasing. The output's final
    resize for ``--size``/``--outscale``; an unchanged size is returned as it is (as float32)."""
    if x.ndim != 4:
        raise ValueError(f"expected an (N,C,H,W) tensor, got {tuple(x.shape)}")
    x = x.float()
    if tuple(x.shape[-2:]) == (height, width):
        return x
    y = F.interpolate(x.contiguous(), size=(height, width), mode="bicubic", align_corners=False, antialias=True)
    return y.clamp_(0.0, 1.0)


def modcrop(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom/right of ``(...,H,W)`` to multiples of ``scale``."""
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


__all__ = ["downscale_taps", "imresize_down", "modcrop", "resize_to"]
