"""Y'CbCr <-> R'G'B' conversion of video frames (torch reference, any device).

Conventions (the ones FFmpeg and the specs use):
- Matrices by their luma coefficients (Kr, Kb): BT.601 (0.299, 0.114), BT.709 (0.2126, 0.0722),
  BT.2020 non-constant luminance (0.2627, 0.0593).
- Limited ("tv") range: Y in [16, 235] and Cb/Cr in [16, 240] scaled by 2^(bits-8); full ("pc")
  range: Y in [0, 2^bits - 1], chroma centred on 2^(bits-1), both scaled by 2^bits - 1.
- Chroma siting: 4:2:0/4:2:2 chroma is co-sited with even luma columns (left, MPEG-2/H.264 default)
  and, for 4:2:0, centred between luma rows. Upsampling interpolates linearly at those positions;
  downsampling uses the matching bilinear (triangle) filters of a 2:1 reduction: [1,2,1]/4
  horizontally around the co-sited column, [1,3,3,1]/8 vertically around the centred position.
No gamma is touched: the network works on the non-linear R'G'B' that the video carries.

FFmpeg agreement (tests/unit/test_colorconv_ffmpeg.py): this upsampling is swscale's
``BILINEAR | ACCURATE_RND | FULL_CHR_H_INT`` (not its default fast path, which replicates chroma)
and this downsampling its ``BILINEAR | ACCURATE_RND | FULL_CHR_H_INP`` for left-sited 4:2:0; both
agree within 1 code on a real frame; see the README for the measured differences.

On CUDA, with CuPy installed, :func:`yuv_to_rgb` and :func:`rgb_to_yuv` run the kernels of
``kernels/colorconv.cu`` (same arithmetic, fused with the planar (N,3,H,W) layout; up to 15-bit
codes, 4:2:0/4:2:2/4:4:4). ``backend``: ``auto`` | ``torch`` | ``cuda`` as in :mod:`vsr.ops.kernels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vsr.errors import ConfigError
from vsr.ops import kernels
from vsr.ops.kernels import Launch

MATRICES: dict[str, tuple[float, float]] = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
    "bt2020": (0.2627, 0.0593),
}


@dataclass(frozen=True)
class YuvSpec:
    """How a Y'CbCr frame is coded: matrix, range, bit depth and chroma subsampling (log2)."""

    matrix: str = "bt709"
    full_range: bool = False
    bits: int = 8
    chroma_shift_w: int = 1
    chroma_shift_h: int = 1

    def __post_init__(self) -> None:
        if self.matrix not in MATRICES:
            raise ValueError(f"unknown matrix {self.matrix!r} (valid: {', '.join(MATRICES)})")
        if not 8 <= self.bits <= 16:
            raise ValueError(f"unsupported bit depth {self.bits} (valid: 8..16)")

    @property
    def max_code(self) -> int:
        return (1 << self.bits) - 1

    def levels(self) -> tuple[float, float, float, float]:
        """(luma offset, luma scale, chroma offset, chroma scale) in code values."""
        if self.full_range:
            m = float(self.max_code)
            return 0.0, m, float(1 << (self.bits - 1)), m
        k = float(1 << (self.bits - 8))
        return 16.0 * k, 219.0 * k, 128.0 * k, 224.0 * k


def _upsample_cosited(c: torch.Tensor, out_w: int) -> torch.Tensor:
    """Horizontal x2, chroma co-sited with even columns: (...,h,w) -> (...,h,out_w)."""
    right = torch.cat([c[..., 1:], c[..., -1:]], dim=-1)
    odd = 0.5 * (c + right)
    out = torch.stack([c, odd], dim=-1).flatten(-2)
    return out[..., :out_w]


def _upsample_centred(c: torch.Tensor, out_h: int) -> torch.Tensor:
    """Vertical x2, chroma centred between row pairs: (...,h,w) -> (...,out_h,w)."""
    up = torch.cat([c[..., :1, :], c[..., :-1, :]], dim=-2)
    down = torch.cat([c[..., 1:, :], c[..., -1:, :]], dim=-2)
    even = 0.75 * c + 0.25 * up
    odd = 0.75 * c + 0.25 * down
    out = torch.stack([even, odd], dim=-2).flatten(-3, -2)
    return out[..., :out_h, :]


def _downsample_cosited(c: torch.Tensor) -> torch.Tensor:
    """Horizontal /2 with [1,2,1]/4 at even columns: (...,h,w) -> (...,h,ceil(w/2))."""
    padded = F.pad(c.unsqueeze(-3) if c.dim() == 2 else c, (1, 1), mode="replicate")
    padded = padded.squeeze(-3) if c.dim() == 2 else padded
    left, mid, right = padded[..., 0:-2:2], padded[..., 1:-1:2], padded[..., 2::2]
    return 0.25 * left + 0.5 * mid + 0.25 * right


def _downsample_centred(c: torch.Tensor) -> torch.Tensor:
    """Vertical /2 to chroma centred between row pairs: (...,h,w) -> (...,ceil(h/2),w).

    Output row k sits at luma row 2k+0.5 and takes rows 2k-1, 2k, 2k+1, 2k+2 (replicated at the
    borders) with [1,3,3,1]/8: the triangle (bilinear) filter of a 2:1 reduction, which is what
    swscale's ``SWS_BILINEAR`` applies for centred 4:2:0 chroma. Summed left to right in f32, as
    ``kernels/colorconv.cu`` does.
    """
    h = c.shape[-2]
    rows = torch.arange(-(-h // 2), device=c.device) * 2
    take = [c.index_select(-2, (rows + o).clamp_(0, h - 1)) for o in (-1, 0, 1, 2)]
    return 0.125 * take[0] + 0.375 * take[1] + 0.375 * take[2] + 0.125 * take[3]


_OUT_NAMES = {torch.float32: "f32", torch.float16: "f16"}
_CODE_NAMES = {torch.uint8: "u8", torch.int16: "u16", torch.uint16: "u16"}


def _kernel_params(spec: YuvSpec) -> tuple[np.float32, ...]:
    """The float arguments every colorconv kernel takes (the reference's constants, as f32)."""
    y_off, y_scale, c_off, c_scale = spec.levels()
    kr, kb = MATRICES[spec.matrix]
    kg = 1.0 - kr - kb
    vals = (y_off, y_scale, c_off, c_scale, kr, kg, kb, 2.0 * (1.0 - kr), 2.0 * (1.0 - kb))
    return tuple(np.float32(v) for v in vals)


def _kernel_spec_ok(spec: YuvSpec, backend: str, op: str) -> bool:
    ok = spec.bits <= 15 and spec.chroma_shift_w <= 1 and spec.chroma_shift_h <= 1
    if not ok and backend == "cuda":
        raise ConfigError(f"the CUDA kernel for {op} takes up to 15-bit codes and 2x chroma subsampling, got {spec}")
    return ok


def yuv_to_rgb_plan(y: torch.Tensor, u: torch.Tensor, v: torch.Tensor, spec: YuvSpec,
                    dtype: torch.dtype) -> tuple[list[Launch], torch.Tensor]:
    """Launch plan of :func:`yuv_to_rgb` for contiguous code planes ``(...,H,W)``; output
    ``(...,3,H,W)`` ``dtype`` (float16/float32)."""
    h, w = y.shape[-2:]
    lead = y.shape[:-2]
    n = int(np.prod(lead)) if lead else 1
    out = torch.empty((*lead, 3, h, w), dtype=dtype, device=y.device)
    name = f"yuv_to_rgb_{_CODE_NAMES[y.dtype]}_{_OUT_NAMES[dtype]}"
    args = (y, u, v, out, np.int32(n), np.int32(h), np.int32(w), np.int32(spec.chroma_shift_w),
            np.int32(spec.chroma_shift_h), *_kernel_params(spec))
    return [Launch(name, n * h * w, args)], out


def rgb_to_yuv_plan(rgb: torch.Tensor, spec: YuvSpec) -> tuple[list[Launch], tuple[torch.Tensor, ...]]:
    """Launch plan of :func:`rgb_to_yuv` for contiguous ``(...,3,H,W)`` float16/float32 ``rgb``."""
    h, w = rgb.shape[-2:]
    lead = rgb.shape[:-3]
    n = int(np.prod(lead)) if lead else 1
    ch, cw = -(-h // (1 << spec.chroma_shift_h)), -(-w // (1 << spec.chroma_shift_w))
    code = torch.uint8 if spec.bits == 8 else torch.int16
    y = torch.empty((*lead, h, w), dtype=code, device=rgb.device)
    u = torch.empty((*lead, ch, cw), dtype=code, device=rgb.device)
    v = torch.empty_like(u)
    suffix = f"{_OUT_NAMES[rgb.dtype]}_{_CODE_NAMES[code]}"
    params = _kernel_params(spec)
    hi = np.float32(spec.max_code)
    dims = (np.int32(n), np.int32(h), np.int32(w))
    shifts = (np.int32(spec.chroma_shift_w), np.int32(spec.chroma_shift_h))
    return [
        Launch(f"rgb_to_luma_{suffix}", n * h * w, (rgb, y, *dims, *params, hi)),
        Launch(f"rgb_to_chroma_{suffix}", n * ch * cw, (rgb, u, v, *dims, *shifts, *params, hi)),
    ], (y, u, v)


def yuv_to_rgb(
    y: torch.Tensor,
    u: torch.Tensor,
    v: torch.Tensor,
    spec: YuvSpec,
    dtype: torch.dtype = torch.float32,
    backend: str = "auto",
) -> torch.Tensor:
    """Planes -> R'G'B'.

    ``y``: ``(...,H,W)`` integer codes (uint8, or int16/int32/uint16 for >8 bit); ``u``, ``v``:
    ``(...,ceil(H/2^sh),ceil(W/2^sw))``. Returns ``(...,3,H,W)`` ``dtype`` in [0,1] on the same
    device. Computation is in float32 (fp16 lacks the precision for 10-bit codes).
    """
    if (kernels.use_kernel(y, backend, "yuv_to_rgb") and _kernel_spec_ok(spec, backend, "yuv_to_rgb")
            and dtype in _OUT_NAMES and y.dtype in _CODE_NAMES and y.dtype == u.dtype == v.dtype):
        plan, out = yuv_to_rgb_plan(y.contiguous(), u.contiguous(), v.contiguous(), spec, dtype)
        kernels.run("colorconv", plan, y.device)
        return out
    h, w = y.shape[-2:]
    y_off, y_scale, c_off, c_scale = spec.levels()
    yf = (y.to(torch.float32) - y_off) / y_scale
    cb = (u.to(torch.float32) - c_off) / c_scale
    cr = (v.to(torch.float32) - c_off) / c_scale
    if spec.chroma_shift_h:
        cb, cr = _upsample_centred(cb, h), _upsample_centred(cr, h)
    if spec.chroma_shift_w:
        cb, cr = _upsample_cosited(cb, w), _upsample_cosited(cr, w)
    kr, kb = MATRICES[spec.matrix]
    kg = 1.0 - kr - kb
    r = yf + 2.0 * (1.0 - kr) * cr
    b = yf + 2.0 * (1.0 - kb) * cb
    g = (yf - kr * r - kb * b) / kg
    return torch.stack([r, g, b], dim=-3).clamp_(0.0, 1.0).to(dtype)


def rgb_to_yuv(
    rgb: torch.Tensor, spec: YuvSpec, backend: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """R'G'B' ``(...,3,H,W)`` float in [0,1] -> integer planes (uint8 for 8 bit, int16 above).

    Returns ``y`` ``(...,H,W)`` and ``u``, ``v`` subsampled by ``spec``; rounding to nearest (half
    to even).
    """
    if (kernels.use_kernel(rgb, backend, "rgb_to_yuv") and _kernel_spec_ok(spec, backend, "rgb_to_yuv")
            and rgb.dtype in _OUT_NAMES):
        plan, planes = rgb_to_yuv_plan(rgb.contiguous(), spec)
        kernels.run("colorconv", plan, rgb.device)
        return planes  # type: ignore[return-value]
    # clamped into a fresh NCHW buffer: a channels-last input (the engine's output) is read once and
    # the planes below are then dense, not strided by 3
    x = torch.empty(rgb.shape, dtype=torch.float32, device=rgb.device).copy_(rgb).clamp_(0.0, 1.0)
    r, g, b = x.unbind(dim=-3)
    kr, kb = MATRICES[spec.matrix]
    kg = 1.0 - kr - kb
    yf = kr * r + kg * g + kb * b
    cb = (b - yf) / (2.0 * (1.0 - kb))
    cr = (r - yf) / (2.0 * (1.0 - kr))
    if spec.chroma_shift_w:
        cb, cr = _downsample_cosited(cb), _downsample_cosited(cr)
    if spec.chroma_shift_h:
        cb, cr = _downsample_centred(cb), _downsample_centred(cr)
    y_off, y_scale, c_off, c_scale = spec.levels()
    out_dtype = torch.uint8 if spec.bits == 8 else torch.int16 if spec.bits < 16 else torch.int32
    hi = float(spec.max_code)

    def quantise(t: torch.Tensor, off: float, scale: float) -> torch.Tensor:
        return (t * scale + off).round_().clamp_(0.0, hi).to(out_dtype)

    return quantise(yf, y_off, y_scale), quantise(cb, c_off, c_scale), quantise(cr, c_off, c_scale)


def gray_to_rgb(y: torch.Tensor, spec: YuvSpec, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Luma-only planes ``(...,H,W)`` -> ``(...,3,H,W)`` in [0,1]."""
    y_off, y_scale, _, _ = spec.levels()
    yf = ((y.to(torch.float32) - y_off) / y_scale).clamp_(0.0, 1.0)
    return yf.unsqueeze(-3).expand(*yf.shape[:-2], 3, *yf.shape[-2:]).to(dtype)


def packed_rgb_to_planar(rgb: torch.Tensor, bits: int = 8, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Packed ``(...,H,W,3)`` integer R'G'B' -> ``(...,3,H,W)`` ``dtype`` in [0,1]."""
    scale = float((1 << bits) - 1)
    return (rgb.to(torch.float32) / scale).movedim(-1, -3).contiguous().to(dtype)


def planar_to_packed_rgb(rgb: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """``(...,3,H,W)`` float in [0,1] -> packed ``(...,H,W,3)`` integers, rounded."""
    scale = float((1 << bits) - 1)
    out_dtype = torch.uint8 if bits == 8 else torch.int32
    q = (rgb.to(torch.float32).clamp(0.0, 1.0) * scale).round_().to(out_dtype)
    return q.movedim(-3, -1).contiguous()
