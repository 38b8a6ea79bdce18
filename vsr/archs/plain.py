"""The deploy-time network: plain 3x3 convolutions, activations and a pixel shuffle.

:class:`PlainSR` is what every compact model runs at inference. Its parameter layout is the one of
Real-ESRGAN's ``SRVGGNetCompact`` (``body.0`` first conv, ``body.1`` its activation, ..., the last
conv, then a pixel shuffle, plus the nearest-upsampled input), so Real-ESRGAN compact weights load
into it unchanged, and our own re-parameterised models (:mod:`vsr.archs.rep`) are saved in it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = ("prelu", "relu", "lrelu")


def make_activation(kind: str, channels: int) -> nn.Module:
    """``prelu`` (one slope per channel, init 0.25), ``relu`` or ``lrelu`` (slope 0.1)."""
    if kind == "prelu":
        return nn.PReLU(num_parameters=channels)
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "lrelu":
        return nn.LeakyReLU(0.1, inplace=True)
    raise ValueError(f"unknown activation {kind!r} (valid: {', '.join(ACTIVATIONS)})")


class PlainSR(nn.Module):
    """``num_conv + 2`` 3x3 convs with activations, a pixel shuffle, plus nearest upsampling.

    Input ``(N,C,H,W)`` float (f32 or f16) RGB in [0,1], any device; output ``(N,C,sH,sW)`` same
    dtype and device, not clamped. Output pixel ``(y, x)`` depends on input pixels within
    ``num_conv + 2`` of ``(y//s, x//s)`` (see :attr:`receptive_radius`).
    """

    def __init__(
        self,
        scale: int,
        channels: int = 64,
        num_conv: int = 16,
        act: str = "prelu",
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        self.scale = scale
        self.channels = channels
        self.num_conv = num_conv
        self.act = act
        self.in_channels = in_channels
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, 1, 1), make_activation(act, channels)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(channels, channels, 3, 1, 1), make_activation(act, channels)]
        layers.append(nn.Conv2d(channels, in_channels * scale * scale, 3, 1, 1))
        self.body = nn.Sequential(*layers)
        self.upsampler = nn.PixelShuffle(scale)
        self.body_dtype: torch.dtype | None = None  # set by mixed(): fp32 head and skip, body in this dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.body_dtype is not None:
            return self._forward_mixed(x)
        out = self.upsampler(self.body(x))
        return out + F.interpolate(x, scale_factor=self.scale, mode="nearest")

    @property
    def fp32_head(self) -> bool:
        """Whether the network runs in a mixed form (:meth:`mixed`)."""
        return self.body_dtype is not None

    def mixed(self, dtype: torch.dtype) -> PlainSR:
        """Switch to reduced-precision inference with an fp32 head, in place (call on the fp32
        network): the first conv and the input skip stay fp32, every other layer runs in ``dtype``
        (``torch.float16`` or ``torch.bfloat16``).

        An SR network amplifies small input changes (its gain is ~10 at x4), so rounding the input
        itself to fp16 (up to 0.06/255 for values near 1) alone moves the output by up to 0.6/255.
        Keeping the cheap 3-channel head (2-3% of the MACs) and the residual skip in fp32 keeps the
        fp16 output within 0.3/255 of fp32 for the shipped models. Input: fp32 (or the body dtype);
        output: fp16 for an fp16 body, fp32 for a bf16 body (bf16 has 8 significant bits: rounding
        the output to it would move values near 1 by up to half an 8-bit level)."""
        if dtype not in (torch.float16, torch.bfloat16):
            raise ValueError(f"mixed() takes float16 or bfloat16, got {dtype}")
        if self.body_dtype == dtype:
            return self
        if self.body_dtype is not None or self.body[0].weight.dtype != torch.float32:
            raise ValueError("mixed() needs the fp32 network (convert before any .half() or another mixed())")
        self.body[1:].to(dtype)
        self.body_dtype = dtype
        return self

    def mixed_half(self) -> PlainSR:
        """:meth:`mixed` with an fp16 body."""
        return self.mixed(torch.float16)

    def unmixed(self) -> PlainSR:
        """Back to one dtype throughout (the head's, fp32), in place."""
        self.body_dtype = None
        return self.float()

    def _forward_mixed(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        h = self.body[0](x).to(self.body_dtype)
        for layer in self.body[1:]:
            h = layer(h)
        out = self.upsampler(h).float() + F.interpolate(x, scale_factor=self.scale, mode="nearest")
        return out.half() if self.body_dtype == torch.float16 else out

    @property
    def receptive_radius(self) -> int:
        return self.num_conv + 2

    def config(self) -> dict[str, int | str]:
        """Constructor arguments, as stored in a weight file's metadata."""
        return {"scale": self.scale, "channels": self.channels, "num_conv": self.num_conv, "act": self.act}

    def extra_repr(self) -> str:
        return f"scale={self.scale}, channels={self.channels}, num_conv={self.num_conv}, act={self.act}"


__all__ = ["ACTIVATIONS", "PlainSR", "make_activation"]
