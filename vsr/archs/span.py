"""SPAN (Swift Parameter-free Attention Network, Wan et al. 2024) in its deploy form.

Trained SPAN weights hold every ``Conv3XC`` as a 1x1 skip plus a 1x1 -> 3x3 -> 1x1 chain (and a stale
``eval_conv`` copy). :func:`convert_span_state_dict` folds each into one 3x3 conv, so
:class:`SpanSR` is plain convs + SiLU + the parameter-free attention (``sigmoid(x) - 0.5``) + a pixel
shuffle. The folded conv equals the zero-padded ``eval_conv`` that the reference code runs.
"""

from __future__ import annotations

import re

import torch
from torch import nn

SPAN_MEAN = (0.4488, 0.4371, 0.4040)


def _conv3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, 1, 1)


class SpanBlock(nn.Module):
    """Three 3x3 convs with SiLU, then ``(out + x) * (sigmoid(out) - 0.5)``; also returns the first
    conv's activated output (fed to the final concatenation by the last block)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1_r = _conv3(channels, channels)
        self.c2_r = _conv3(channels, channels)
        self.c3_r = _conv3(channels, channels)
        self.act = nn.SiLU(inplace=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out1 = self.act(self.c1_r(x))
        out3 = self.c3_r(self.act(self.c2_r(out1)))
        # the reference applies SiLU in place, so the second output is the *activated* out1
        return (out3 + x) * (torch.sigmoid(out3) - 0.5), out1


class SpanSR(nn.Module):
    """Deploy-form SPAN. ``(N,3,H,W)`` float RGB [0,1] -> ``(N,3,sH,sW)``, same dtype/device.

    ``norm``: the input is mapped to ``(x - mean) * 255`` first, as the reference model does.
    """

    def __init__(self, scale: int, channels: int = 48, blocks: int = 6, norm: bool = True) -> None:
        super().__init__()
        self.scale, self.channels, self.blocks, self.norm = scale, channels, blocks, norm
        self.conv_1 = _conv3(3, channels)
        for i in range(1, blocks + 1):
            self.add_module(f"block_{i}", SpanBlock(channels))
        self.conv_cat = nn.Conv2d(channels * 4, channels, 1)
        self.conv_2 = _conv3(channels, channels)
        self.upsampler = nn.Sequential(_conv3(channels, 3 * scale * scale), nn.PixelShuffle(scale))
        self.register_buffer("mean", torch.tensor(SPAN_MEAN).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm:
            x = (x - self.mean.to(x.dtype)) * 255.0
        feature = self.conv_1(x)
        h = feature
        first = last_inner = feature
        for i in range(1, self.blocks + 1):
            h, inner = getattr(self, f"block_{i}")(h)
            if i == 1:
                first = h
            last_inner = inner
        h = self.conv_2(h)
        return self.upsampler(self.conv_cat(torch.cat([feature, h, first, last_inner], 1)))

    @property
    def receptive_radius(self) -> int:
        return 3 * self.blocks + 3

    def config(self) -> dict[str, int | bool]:
        return {"scale": self.scale, "channels": self.channels, "blocks": self.blocks, "norm": self.norm}


def fuse_conv3xc(sd: dict[str, torch.Tensor], prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold ``prefix.sk`` (1x1) + ``prefix.conv.{0,1,2}`` (1x1, 3x3, 1x1) into one 3x3 conv (f32)."""
    g = lambda k: sd[f"{prefix}.{k}"].double()  # noqa: E731
    w1, b1 = g("conv.0.weight")[:, :, 0, 0], g("conv.0.bias")  # (m, i)
    w2, b2 = g("conv.1.weight"), g("conv.1.bias")  # (n, m, 3, 3)
    w3, b3 = g("conv.2.weight")[:, :, 0, 0], g("conv.2.bias")  # (o, n)
    weight = torch.einsum("on,nmhw,mi->oihw", w3, w2, w1)
    bias = w3 @ (b2 + torch.einsum("nmhw,m->n", w2, b1)) + b3
    weight = weight + torch.nn.functional.pad(g("sk.weight"), (1, 1, 1, 1))
    bias = bias + g("sk.bias")
    return weight.float(), bias.float()


def is_span_state_dict(sd: dict[str, torch.Tensor]) -> bool:
    needed = ("conv_1.sk.weight", "block_1.c1_r.sk.weight", "conv_cat.weight", "conv_2.sk.weight", "upsampler.0.weight")
    return all(k in sd for k in needed)


def convert_span_state_dict(sd: dict[str, torch.Tensor]) -> tuple[dict[str, int | bool], dict[str, torch.Tensor]]:
    """Reference SPAN state dict -> (``SpanSR`` kwargs, ``SpanSR`` state dict). Raises KeyError or
    ValueError when the dict is not a complete SPAN."""
    channels, c_in = sd["conv_1.sk.weight"].shape[:2]
    if c_in != 3:
        raise ValueError(f"SPAN with {c_in} input channels (only RGB, 3, is supported)")
    out = sd["upsampler.0.weight"].shape[0]
    scale = round((out / 3) ** 0.5)
    if 3 * scale * scale != out:
        raise ValueError(f"SPAN upsampler has {out} output channels: not 3 * scale^2")
    blocks = max(int(m.group(1)) for k in sd if (m := re.match(r"block_(\d+)\.", k)))
    config = {"scale": scale, "channels": int(channels), "blocks": blocks, "norm": "no_norm" not in sd}
    new: dict[str, torch.Tensor] = {}
    prefixes = ["conv_1", "conv_2"] + [f"block_{i}.c{j}_r" for i in range(1, blocks + 1) for j in (1, 2, 3)]
    for p in prefixes:
        new[f"{p}.weight"], new[f"{p}.bias"] = fuse_conv3xc(sd, p)
    for k in ("conv_cat.weight", "conv_cat.bias", "upsampler.0.weight", "upsampler.0.bias"):
        new[k] = sd[k].float()
    return config, new


__all__ = ["SpanSR", "SpanBlock", "convert_span_state_dict", "fuse_conv3xc", "is_span_state_dict"]
