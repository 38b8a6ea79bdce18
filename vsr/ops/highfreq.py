"""High-frequency extraction: Haar wavelet bands and a Gaussian high-pass residual.

Torch reference (differentiable, any device/dtype). Tensors are ``(N,C,H,W)`` float, any size
including odd: the Haar transform pads an odd height/width by replicating the last row/column, and
the Gaussian blur replicates borders.

On CUDA, with CuPy installed, :func:`haar_dwt`, :func:`gaussian_blur` and :func:`highpass` run the
kernels of ``kernels/highfreq.cu`` (fp16/fp32, computed in fp32); their gradients come from the
reference (recomputed in backward), so the kernels serve training as well. ``backend``: ``auto``
(kernel for CUDA tensors when CuPy is there), ``torch`` (always the reference), ``cuda`` (the
kernel, or :class:`~vsr.errors.BackendUnavailableError`).

Haar convention (orthonormal; ``a b / c d`` is each 2x2 block):

- ``LL = (a + b + c + d) / 2``  (low-pass, 2x the block mean)
- ``LH = (a + b - c - d) / 2``  (low along x, high along y: horizontal edges)
- ``HL = (a - b + c - d) / 2``  (high along x: vertical edges)
- ``HH = (a - b - c + d) / 2``  (diagonal)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from vsr.errors import ConfigError
from vsr.ops import kernels
from vsr.ops.kernels import Launch

KERNEL_DTYPES = {torch.float32: "f32", torch.float16: "f16"}


class HaarBands(NamedTuple):
    """One Haar level; each band ``(N,C,ceil(H/2),ceil(W/2))``, same dtype/device as the input."""

    ll: torch.Tensor
    lh: torch.Tensor
    hl: torch.Tensor
    hh: torch.Tensor


def _check(x: torch.Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected an (N,C,H,W) tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"expected a floating-point tensor, got {x.dtype}")


def _kernel_ok(x: torch.Tensor, backend: str, op: str) -> bool:
    if not kernels.use_kernel(x, backend, op):
        return False
    if x.dtype in KERNEL_DTYPES:
        return True
    if backend == "cuda":
        raise ConfigError(f"the CUDA kernel for {op} takes float16/float32, got {x.dtype}")
    return False


class _KernelOp(torch.autograd.Function):
    """Forward by a kernel, backward through the torch reference (recomputed)."""

    @staticmethod
    def forward(ctx, x, kernel, reference):  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.reference = reference
        return tuple(kernel(x))

    @staticmethod
    def backward(ctx, *grads):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            xx = x.detach().requires_grad_()
            outs = ctx.reference(xx)
        (g,) = torch.autograd.grad(outs, xx, grads)
        return g, None, None


def _apply(x: torch.Tensor, kernel, reference) -> tuple[torch.Tensor, ...]:
    if x.requires_grad and torch.is_grad_enabled():
        return _KernelOp.apply(x, kernel, reference)
    return tuple(kernel(x))


def haar_dwt_plan(x: torch.Tensor) -> tuple[list[Launch], torch.Tensor]:
    """Launch plan of one Haar level for contiguous ``x``; the output is ``(4,N,C,oh,ow)``."""
    n, c, h, w = x.shape
    out = torch.empty((4, n, c, (h + 1) // 2, (w + 1) // 2), dtype=x.dtype, device=x.device)
    count = n * c * out.shape[-2] * out.shape[-1]
    args = (x, out, np.int32(n * c), np.int32(h), np.int32(w))
    return [Launch(f"haar_dwt_{KERNEL_DTYPES[x.dtype]}", count, args)], out


def blur_plan(x: torch.Tensor, sigma: float, residual: bool) -> tuple[list[Launch], torch.Tensor]:
    """Launch plan of the separable Gaussian blur (or ``x - blur`` when ``residual``)."""
    n, c, h, w = x.shape
    taps = gaussian_kernel1d(sigma, torch.float32, x.device)
    r = (taps.numel() - 1) // 2
    tmp = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    out = torch.empty_like(x)
    dt = KERNEL_DTYPES[x.dtype]
    dims = (np.int32(r), np.int32(n * c), np.int32(h), np.int32(w))
    return [
        Launch(f"blur_rows_{dt}", x.numel(), (x, tmp, taps, *dims)),
        Launch(f"blur_cols_{dt}", x.numel(), (tmp, x, out, taps, *dims, np.int32(int(residual)))),
    ], out


def _haar_kernel(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    plan, out = haar_dwt_plan(x.contiguous())
    kernels.run("highfreq", plan, x.device)
    return tuple(out.unbind(0))


def _blur_kernel(sigma: float, residual: bool):
    def kernel(x: torch.Tensor) -> tuple[torch.Tensor]:
        plan, out = blur_plan(x.contiguous(), sigma, residual)
        kernels.run("highfreq", plan, x.device)
        return (out,)

    return kernel


def haar_dwt(x: torch.Tensor, backend: str = "auto") -> HaarBands:
    """One level of the 2-D orthonormal Haar transform of ``(N,C,H,W)`` float ``x``."""
    _check(x)
    if _kernel_ok(x, backend, "haar_dwt"):
        return HaarBands(*_apply(x, _haar_kernel, lambda t: tuple(haar_dwt(t, "torch"))))
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    return HaarBands((a + b + c + d) / 2, (a + b - c - d) / 2, (a - b + c - d) / 2, (a - b - c + d) / 2)


def haar_idwt(bands: HaarBands, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Inverse of :func:`haar_dwt`; ``size=(H,W)`` crops back an odd original size."""
    ll, lh, hl, hh = bands
    a = (ll + lh + hl + hh) / 2
    b = (ll + lh - hl - hh) / 2
    c = (ll - lh + hl - hh) / 2
    d = (ll - lh - hl + hh) / 2
    n, ch, h, w = ll.shape
    out = torch.stack([torch.stack([a, b], -1), torch.stack([c, d], -1)], -3)  # (n,ch,h,2,w,2)
    out = out.reshape(n, ch, 2 * h, 2 * w)
    if size is not None:
        out = out[..., : size[0], : size[1]]
    return out


def haar_decompose(x: torch.Tensor, levels: int = 1, backend: str = "auto") -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]:
    """``levels`` Haar levels: ``(LL of the last level, [(LH, HL, HH) of level 1, 2, ...])``."""
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    details = []
    ll = x
    for _ in range(levels):
        ll, lh, hl, hh = haar_dwt(ll, backend)
        details.append((lh, hl, hh))
    return ll, details


def gaussian_kernel1d(sigma: float, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """Normalised 1-D Gaussian taps, length ``2*ceil(3*sigma)+1``."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).to(dtype=dtype, device=device)


def gaussian_blur(x: torch.Tensor, sigma: float = 1.0, backend: str = "auto") -> torch.Tensor:
    """Separable Gaussian blur of ``(N,C,H,W)`` float ``x``, replicate borders, same shape."""
    _check(x)
    if _kernel_ok(x, backend, "gaussian_blur"):
        return _apply(x, _blur_kernel(sigma, False), lambda t: gaussian_blur(t, sigma, "torch"))[0]
    k = gaussian_kernel1d(sigma, x.dtype, x.device)
    r = (k.numel() - 1) // 2
    n, c, h, w = x.shape
    y = x.reshape(n * c, 1, h, w)
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    return y.reshape(n, c, h, w)


def highpass(x: torch.Tensor, sigma: float = 1.0, backend: str = "auto") -> torch.Tensor:
    """Laplacian-style high-pass residual ``x - gaussian_blur(x, sigma)``, same shape as ``x``."""
    _check(x)
    if _kernel_ok(x, backend, "highpass"):
        return _apply(x, _blur_kernel(sigma, True), lambda t: highpass(t, sigma, "torch"))[0]
    return x - gaussian_blur(x, sigma, "torch")


def highfreq_bands(
    x: torch.Tensor, method: str = "haar", levels: int = 1, sigma: float = 1.0, backend: str = "auto"
) -> list[torch.Tensor]:
    """The high-frequency content of ``x`` as a list of tensors (for losses and monitors).

    ``haar``: the LH, HL, HH bands of each of ``levels`` levels; ``highpass``: one Gaussian residual
    per level, ``sigma`` doubling each level (a Laplacian-pyramid-like stack at full resolution).
    """
    if method == "haar":
        _, details = haar_decompose(x, levels, backend)
        return [band for level in details for band in level]
    if method == "highpass":
        return [highpass(x, sigma * 2**i, backend) for i in range(levels)]
    raise ValueError(f"unknown high-frequency method {method!r} (valid: haar, highpass)")


__all__ = [
    "HaarBands", "blur_plan", "gaussian_blur", "gaussian_kernel1d", "haar_decompose", "haar_dwt",
    "haar_dwt_plan", "haar_idwt", "highfreq_bands", "highpass",
]
