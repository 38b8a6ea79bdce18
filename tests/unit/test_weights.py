"""Shipped weights (vsr/weights): each has a model card, matches its preset, and is fp16-safe."""

from __future__ import annotations

import pytest
import torch

from vsr.archs import DEFAULT_MODELS, WEIGHTS_DIR, load_model, shipped_weights
from vsr.archs.files import read_state_dict
from vsr.archs.presets import deploy_cost, load_preset


def _natural_like(h: int = 96, w: int = 96) -> torch.Tensor:
    """Smooth shading, hard edges, fine texture and mild noise: ``(1,3,h,w)`` f32 [0,1]."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    r = 0.3 + 0.4 * xx + 0.2 * (yy > 0.6).float()
    gch = 0.5 + 0.25 * torch.sin(40 * xx * yy)
    b = 0.2 + 0.6 * ((xx - 0.5) ** 2 + (yy - 0.4) ** 2 < 0.08).float()
    img = torch.stack([r, gch, b])[None] + 0.02 * torch.randn(1, 3, h, w, generator=g)
    return img.clamp(0, 1)


@pytest.mark.parametrize("name", shipped_weights())
def test_shipped_weights_match_card_preset_and_are_fp16_safe(name: str) -> None:
    assert (WEIGHTS_DIR / f"{name}.md").exists(), f"{name} has no model card"
    _, meta = read_state_dict(WEIGHTS_DIR / f"{name}.safetensors")
    preset = load_preset(meta["preset"])
    model = load_model(name, preset.scale)
    params, gflops = deploy_cost(model.module)
    assert params == preset.params and abs(gflops - preset.gflops_1080p) < 0.05
    x = _natural_like()
    with torch.no_grad():
        ref = model.module.float()(x)
        half = model.module.half()(x.half()).float()
    assert (half - ref).abs().max() <= 0.5 / 255


def test_default_models_resolve() -> None:
    for scale, name in DEFAULT_MODELS.items():
        assert load_model(name, scale).scale == scale
