"""A cheap image-level student of ST-LPIPS, for the monitor (Efficient-PBAN's idea, distilled).

Efficient-PBAN scores a whole image with one small network instead of sampling patches through a
large one. This student does the same for ST-LPIPS: a compact, anti-aliased conv pyramid run once
over each whole image, LPIPS-style unit-normalised feature differences weighted by non-negative
per-channel weights, averaged over the image and summed over levels. It is trained to reproduce
ST-LPIPS(alex) distances (value and ranking) on distorted pictures, so its scale reads like
ST-LPIPS: 0 for identical images, larger is more different.

Cost: the first level works at half resolution (blur-pool first, then a 3x3 conv), so the whole
network costs ~920 multiply-adds per input pixel: ~4% of ST-LPIPS(alex)'s first conv alone
(11x11x3x64 at full resolution, ~23k per pixel), before its four further conv layers.
Weights: ``vsr/weights/metrics/stlpips-student.safetensors``, trained by ``python -m vsr.train.student``;
its model card beside it gives the rank correlation with ST-LPIPS on held-out images.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vsr.errors import InvalidInputError
from vsr.metrics.stlpips import BlurPool

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "metrics" / "stlpips-student.safetensors"
CHANNELS = (16, 32, 64, 96)


class PerceptualStudent(nn.Module):
    """``forward(a, b)``: two ``(N,3,H,W)`` RGB in [0,1], H, W >= 16 -> ``(N,)`` distances."""

    def __init__(self, channels: tuple[int, ...] = CHANNELS) -> None:
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        c_in = 3
        self.pools = nn.ModuleList()
        self.convs = nn.ModuleList()
        for c in self.channels:
            self.pools.append(BlurPool(c_in))
            self.convs.append(nn.Conv2d(c_in, c, 3, padding=1, padding_mode="reflect"))
            c_in = c
        # Per-level, per-channel weights of the squared normalised differences (softplus: >= 0).
        self.weights = nn.ParameterList([nn.Parameter(torch.zeros(c)) for c in self.channels])

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = 2 * x - 1
        out = []
        for pool, conv in zip(self.pools, self.convs):
            x = F.relu(conv(pool(x)))
            out.append(x)
        return out

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape or a.ndim != 4 or a.shape[1] != 3:
            raise ValueError(f"expected two equal (N,3,H,W) tensors, got {tuple(a.shape)} and {tuple(b.shape)}")
        n = a.shape[0]
        feats = self.features(torch.cat([a, b], 0))
        total = torch.zeros(n, dtype=feats[0].dtype, device=a.device)
        for f, w in zip(feats, self.weights):
            f = f / (f.pow(2).sum(1, keepdim=True).sqrt() + 1e-6)
            d = (f[:n] - f[n:]).pow(2)
            total = total + (d * F.softplus(w)[None, :, None, None]).sum(1).mean(dim=(1, 2))
        return total

    def macs_per_pixel(self) -> float:
        """Multiply-adds per input pixel, per image (the pair costs twice this)."""
        macs, c_in, area = 0.0, 3, 1.0
        for c in self.channels:
            area /= 4
            macs += area * (c_in * 9 * c + c_in * 9)  # 3x3 conv + depthwise 3x3 blur-pool, at this level's size
            c_in = c
        return macs


def load_student(path: str | Path | None = None) -> PerceptualStudent:
    """The shipped student (or one saved by the trainer at ``path``), frozen, in eval mode."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    p = Path(path) if path is not None else WEIGHTS
    if not p.is_file():
        raise InvalidInputError(f"perceptual student weights not found: {p}")
    try:
        with safe_open(str(p), "pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(p))
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise InvalidInputError(f"cannot read perceptual student weights {p}: {e}") from None
    channels = tuple(int(c) for c in meta.get("channels", ",".join(map(str, CHANNELS))).split(","))
    model = PerceptualStudent(channels)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise InvalidInputError(f"{p} is not a perceptual student: {str(e).splitlines()[0]}") from None
    model.requires_grad_(False)
    return model.eval()


@functools.lru_cache(maxsize=1)
def shipped_available() -> bool:
    return WEIGHTS.is_file()


__all__ = ["CHANNELS", "PerceptualStudent", "WEIGHTS", "load_student", "shipped_available"]
