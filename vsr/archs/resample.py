"""Classical resampling upscalers (bicubic, lanczos) as torch modules.

They are the baselines every learned model is compared with, and the models the pipeline runs when
no network is wanted. Both are separable and computed as a polyphase convolution: for an integer
scale ``s`` the output sample ``s*i + p`` sits at input coordinate ``i + (p + 0.5)/s - 0.5`` (pixel
centres aligned, as FFmpeg's swscale and PIL do), so each phase ``p`` is a fixed 1-D kernel and the
whole upscale is two small convolutions plus an interleave. Borders replicate the edge pixel.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn


def cubic(x: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys cubic convolution kernel; ``a=-0.5`` is the common 'bicubic' (PIL, MATLAB, swscale)."""
    x = x.abs()
    x2, x3 = x * x, x * x * x
    near = (a + 2) * x3 - (a + 3) * x2 + 1
    far = a * x3 - 5 * a * x2 + 8 * a * x - 4 * a
    return torch.where(x <= 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


def lanczos(x: torch.Tensor, a: int = 3) -> torch.Tensor:
    """Lanczos windowed sinc with ``a`` lobes."""
    x = x.abs()
    out = torch.sinc(x) * torch.sinc(x / a)
    return torch.where(x < a, out, torch.zeros_like(x))


def phase_kernels(scale: int, kernel: str, a: float | None = None) -> torch.Tensor:
    """Per-phase 1-D taps, shape ``(scale, 2*radius+1)`` f64, each row summing to 1."""
    if kernel == "bicubic":
        radius, fn = 2, (lambda t: cubic(t, -0.5 if a is None else a))
    elif kernel == "lanczos":
        lobes = 3 if a is None else int(a)
        radius, fn = lobes, (lambda t: lanczos(t, lobes))
    else:
        raise ValueError(f"unknown resampling kernel {kernel!r} (valid: bicubic, lanczos)")
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    rows = []
    for p in range(scale):
        d = (p + 0.5) / scale - 0.5
        w = fn(offsets - d)
        rows.append(w / w.sum())
    return torch.stack(rows)


class ResampleUpscaler(nn.Module):
    """Separable polyphase upscaler.

    Input ``(N,C,H,W)`` float in [0,1] on any device; output ``(N,C,sH,sW)``, same dtype, not clamped
    (the engine clamps; lanczos rings slightly past the range, as it should before quantisation).
    """

    def __init__(self, scale: int, kernel: str = "lanczos", a: float | None = None) -> None:
        super().__init__()
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        self.scale = scale
        self.kernel = kernel
        taps = phase_kernels(scale, kernel, a).to(torch.float32)
        self.radius = (taps.shape[1] - 1) // 2
        self.register_buffer("taps", taps, persistent=False)

    def _upscale_last_dim(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        s, r = self.scale, self.radius
        flat = F.pad(x.reshape(n * c, 1, h, w), (r, r, 0, 0), mode="replicate")
        weight = self.taps.to(x.dtype).reshape(s, 1, 1, 2 * r + 1)
        phases = F.conv2d(flat, weight)  # (n*c, s, h, w)
        return phases.permute(0, 2, 3, 1).reshape(n, c, h, w * s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 1:
            return x
        x = self._upscale_last_dim(x)
        x = self._upscale_last_dim(x.transpose(2, 3)).transpose(2, 3)
        return x.contiguous()

    @property
    def receptive_radius(self) -> int:
        return self.radius + 1

    def extra_repr(self) -> str:
        return f"scale={self.scale}, kernel={self.kernel}"


def flops_per_pixel(module: ResampleUpscaler) -> float:
    """Multiply-adds per *input* pixel per channel (for reports)."""
    taps = 2 * module.radius + 1
    return float(module.scale * taps + module.scale * module.scale * taps)


__all__ = ["ResampleUpscaler", "cubic", "lanczos", "phase_kernels", "flops_per_pixel"]
