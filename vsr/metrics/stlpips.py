"""ST-LPIPS (shift-tolerant LPIPS, Ghildyal & Liu, ECCV 2022), defined here, weights loaded as data.

The networks mirror the layout of the PyPI package ``stlpips-pytorch`` (``LPIPS(net=...,
variant="shift_tolerant")``, version 0.1 scaling) so its weight files load strictly; the package is
only *located*, never imported (its modules import packages it does not declare). Its
``weights/vST0.0/{alex,vgg}_shift_tolerant.pth`` hold the whole network: the scaling layer, the
shift-tolerant (blur-pooled) backbone and the five linear heads, so no ImageNet download is needed.

Backbone changes from plain AlexNet/VGG16 (the "shift_tolerant" variant): the first AlexNet conv has
stride 1; every stride-2 step is a ``BlurPool`` (3x3 binomial filter, reflect padding of 2, stride
2) placed after a stride-1 max-pool (and, for AlexNet's first conv, before its ReLU).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vsr.errors import BackendUnavailableError

NETS = ("alex", "vgg")
_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}


class BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling: reflect-pad 2, depthwise 3x3 [1,2,1]x[1,2,1]/16, stride 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        a = torch.tensor([1.0, 2.0, 1.0])
        filt = a[:, None] * a[None, :]
        self.register_buffer("filt", (filt / filt.sum()).expand(channels, 1, 3, 3).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


def _alex_slices() -> list[list[tuple[int, nn.Module]]]:
    return [
        [(0, nn.Conv2d(3, 64, 11, 1, 2)), (1, BlurPool(64)), (2, nn.ReLU())],
        [(3, nn.MaxPool2d(3, 1)), (4, BlurPool(64)), (5, nn.Conv2d(64, 192, 5, padding=2)), (6, nn.ReLU())],
        [(7, nn.MaxPool2d(3, 1)), (8, BlurPool(192)), (9, nn.Conv2d(192, 384, 3, padding=1)), (10, nn.ReLU())],
        [(11, nn.Conv2d(384, 256, 3, padding=1)), (12, nn.ReLU())],
        [(13, nn.Conv2d(256, 256, 3, padding=1)), (14, nn.ReLU())],
    ]


def _vgg_slices() -> list[list[tuple[int, nn.Module]]]:
    layers: list[nn.Module] = []
    c_in = 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512):
        if v == "M":
            layers += [nn.MaxPool2d(2, 1), BlurPool(c_in)]
        else:
            layers += [nn.Conv2d(c_in, int(v), 3, padding=1), nn.ReLU()]
            c_in = int(v)
    bounds = [(0, 4), (4, 10), (10, 18), (18, 26), (26, 34)]
    return [[(i, layers[i]) for i in range(a, b)] for a, b in bounds]


class STLPIPSBackbone(nn.Module):
    """Five feature slices; ``forward`` returns their outputs (after ReLU)."""

    def __init__(self, net: str) -> None:
        super().__init__()
        slices = _alex_slices() if net == "alex" else _vgg_slices()
        for k, layers in enumerate(slices, start=1):
            seq = nn.Sequential()
            for idx, layer in layers:
                seq.add_module(str(idx), layer)
            self.add_module(f"slice{k}", seq)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for k in range(1, 6):
            x = getattr(self, f"slice{k}")(x)
            feats.append(x)
        return feats


def weights_path(net: str) -> Path:
    """The ST-LPIPS weight file inside the installed ``stlpips-pytorch`` package."""
    spec = importlib.util.find_spec("stlpips_pytorch")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc) / "weights" / "vST0.0" / f"{net}_shift_tolerant.pth"
        if path.exists():
            return path
    raise BackendUnavailableError(
        f"ST-LPIPS ({net}) needs the weight files of the PyPI package stlpips-pytorch, which is not "
        f"installed here (pip install stlpips-pytorch)"
    )


@functools.lru_cache(maxsize=2)
def _state_dict(net: str) -> dict[str, torch.Tensor]:
    return torch.load(weights_path(net), map_location="cpu", weights_only=True)


class STLPIPS(nn.Module):
    """ST-LPIPS distance. ``forward(a, b)``: two ``(N,3,H,W)`` float RGB in [0,1] (H, W >= 32), same
    device -> ``(N,)`` distances (0 for identical images, larger is more different). Frozen, eval mode;
    gradients flow to the inputs, so it serves as a loss."""

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        if net not in NETS:
            raise ValueError(f"unknown ST-LPIPS network {net!r} (valid: {', '.join(NETS)})")
        self.net_name = net
        self.scaling_layer = nn.Module()
        self.scaling_layer.register_buffer("shift", torch.zeros(1, 3, 1, 1))
        self.scaling_layer.register_buffer("scale", torch.ones(1, 3, 1, 1))
        self.net = STLPIPSBackbone(net)
        for i, c in enumerate(_CHANNELS[net]):
            # (Identity in place of the package's Dropout keeps the key "lin{i}.model.1.weight")
            self.add_module(f"lin{i}", nn.Module())
            getattr(self, f"lin{i}").model = nn.Sequential(nn.Identity(), nn.Conv2d(c, 1, 1, bias=False))
        self.load_state_dict(_state_dict(net), strict=True)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> STLPIPS:  # always a frozen metric
        return super().train(False)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape or a.ndim != 4 or a.shape[1] != 3:
            raise ValueError(f"expected two equal (N,3,H,W) tensors, got {tuple(a.shape)} and {tuple(b.shape)}")
        shift, scale = self.scaling_layer.shift, self.scaling_layer.scale
        fa = self.net(((2 * a - 1) - shift) / scale)
        fb = self.net(((2 * b - 1) - shift) / scale)
        total = torch.zeros(a.shape[0], dtype=fa[0].dtype, device=a.device)
        for i, (x, y) in enumerate(zip(fa, fb)):
            x = x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            y = y / (y.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + getattr(self, f"lin{i}").model((x - y).pow(2)).mean(dim=(1, 2, 3))
        return total


__all__ = ["BlurPool", "NETS", "STLPIPS", "STLPIPSBackbone", "weights_path"]
