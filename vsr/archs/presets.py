"""Model presets (configs/models/*.toml) and their cost.

A preset names one compact network: its architecture hyper-parameters and the stated cost of its
deploy form, which a test recomputes. Cost convention: ``params`` counts the deploy network's
parameters; ``gflops_1080p`` is ``2 * multiply-accumulates / 1e9`` of its convolutions for one
1920x1080 *input* frame (activations, pixel shuffle and the skip add are not counted).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vsr.config import CONFIG_DIR, load
from vsr.errors import ConfigError, UnknownModelError

PRESET_DIR = CONFIG_DIR / "models"


@dataclass(frozen=True)
class ModelPreset:
    """One compact SR network. ``name`` is the TOML file's stem (not a key in the file)."""

    name: str = ""
    description: str = ""
    arch: str = "repsr"  # the train-time architecture; it deploys as "plain"
    scale: int = 2
    channels: int = 32
    num_conv: int = 4  # 3x3 convs between the first and the last one
    act: str = "prelu"  # prelu | relu | lrelu
    expand: int = 2  # channel multiplier of the expand branch (0: no expand branch)
    params: int = 0  # stated: parameters of the deploy network
    gflops_1080p: float = 0.0  # stated: GFLOPs per 1920x1080 input frame

    def build(self) -> nn.Module:
        """The train-time network (random init), ``(N,3,H,W)`` [0,1] -> ``(N,3,sH,sW)``."""
        from vsr.archs.rep import RepSR

        if self.arch != "repsr":
            raise ConfigError(f"preset {self.name!r}: unknown arch {self.arch!r} (valid: repsr)")
        return RepSR(self.scale, self.channels, self.num_conv, self.act, self.expand)

    def deploy_config(self) -> dict[str, int | str]:
        return {"scale": self.scale, "channels": self.channels, "num_conv": self.num_conv, "act": self.act}


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_preset(name_or_path: str | Path) -> ModelPreset:
    """A preset by name (``configs/models/<name>.toml``) or by TOML path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = PRESET_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise UnknownModelError(
                f"unknown model preset {str(name_or_path)!r} (available: {', '.join(preset_names())})"
            )
    preset = load(ModelPreset, path)
    if preset.name:
        raise ConfigError(f"{path}: 'name' is the file name, not a key")
    return dataclasses.replace(preset, name=path.stem)


def conv_macs_per_pixel(module: nn.Module, probe: int = 32) -> float:
    """Multiply-accumulates of every ``nn.Conv2d`` per *input* pixel, measured with hooks on a
    ``probe x probe`` f32 CPU input. Exact for networks whose convs all run at input resolution with
    'same' padding (PlainSR, RepSR, SpanSR)."""
    total = 0

    def hook(m: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(m, nn.Conv2d)
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total += out.numel() * k

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d)]
    try:
        p = next(module.parameters())
        with torch.no_grad():
            module(torch.rand(1, 3, probe, probe, device=p.device, dtype=p.dtype))
    finally:
        for h in handles:
            h.remove()
    return total / (probe * probe)


def deploy_cost(module: nn.Module, width: int = 1920, height: int = 1080) -> tuple[int, float]:
    """``(params, GFLOPs per width x height input frame)`` of a deploy network."""
    params = sum(p.numel() for p in module.parameters())
    return params, 2.0 * conv_macs_per_pixel(module) * width * height / 1e9


__all__ = ["ModelPreset", "PRESET_DIR", "conv_macs_per_pixel", "deploy_cost", "load_preset", "preset_names"]
