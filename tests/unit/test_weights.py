"""Shipped weights (vsr/weights): each has a model card, matches its preset, and is fp16-safe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vsr.archs import DEFAULT_MODELS, WEIGHTS_DIR, load_model, shipped_weights
from vsr.archs.files import read_state_dict
from vsr.archs.presets import deploy_cost, load_preset
from vsr.metrics import STLPIPS, psnr_y, quantize
from vsr.ops.resize import imresize_down


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
    # the engine's fp16 form (fp32 head and skip, fp16 body) on a real photo and on a synthetic one
    import copy

    mixed = copy.deepcopy(model.module).float().mixed_half()
    for x in (quantize(imresize_down(_photo(), preset.scale)), _natural_like()):
        with torch.no_grad():
            ref = model.module.float()(x)
            half = mixed(x)
        assert half.dtype == torch.float16 and (half.float() - ref).abs().max() <= 0.5 / 255


def test_default_models_resolve() -> None:
    for scale, name in DEFAULT_MODELS.items():
        assert load_model(name, scale).scale == scale


def _photo() -> torch.Tensor:
    """A real photograph that a registry package ships (matplotlib's sample Grace Hopper portrait,
    a test dependency): a 256x256 crop of face, hair and uniform, ``(1,3,256,256)`` f32 [0,1]."""
    import matplotlib

    from vsr.io.image import read_image

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    img = torch.from_numpy(read_image(path)).permute(2, 0, 1)[None].float() / 255
    return img[..., 100:356, 128:384].contiguous()


def _is_perceptual(name: str) -> bool:
    _, meta = read_state_dict(WEIGHTS_DIR / f"{name}.safetensors")
    return json.loads(meta.get("train_config", "{}")).get("loss", {}).get("stlpips_weight", 0) > 0


@pytest.mark.parametrize("name", shipped_weights())
def test_shipped_weights_beat_bicubic_on_a_fixture(name: str) -> None:
    """HR fixture -> MATLAB-like bicubic LR -> model: closer to HR than bicubic upscaling, in ST-LPIPS
    for every model, and in PSNR-Y too for the fidelity models."""
    _, meta = read_state_dict(WEIGHTS_DIR / f"{name}.safetensors")
    scale = load_preset(meta["preset"]).scale
    torch.set_num_threads(1)
    hr = _photo()
    lr = quantize(imresize_down(hr, scale))
    with torch.no_grad():
        outs = {m: quantize(load_model(m, scale).module.float()(lr).clamp(0, 1)) for m in (name, "bicubic")}
        dist = STLPIPS("alex")
        lp = {m: dist(o, hr).item() for m, o in outs.items()}
    ps = {m: psnr_y(o, hr, crop=scale).item() for m, o in outs.items()}
    assert lp[name] < lp["bicubic"], (lp, ps)
    if not _is_perceptual(name):
        assert ps[name] > ps["bicubic"] + 1.0, ps


def test_the_jpeg_model_beats_the_fidelity_model_on_a_jpeg_photo() -> None:
    """The x2 default for JPEG stills (vsr.pipeline.upscale.for_source): on a downscaled photo saved
    at quality 75 it is closer to the original than `compact-x2-fast` in PSNR-Y and in ST-LPIPS."""
    from vsr.train.degrade import libjpeg_roundtrip

    torch.set_num_threads(1)
    hr = _photo()
    lr = libjpeg_roundtrip(quantize(imresize_down(hr, 2))[0], 75)[None]
    dist = STLPIPS("alex")
    with torch.no_grad():
        outs = {m: quantize(load_model(m, 2).module.float()(lr).clamp(0, 1))
                for m in ("compact-x2-fast-jpeg", "compact-x2-fast")}
        lp = {m: dist(o, hr).item() for m, o in outs.items()}
    ps = {m: psnr_y(o, hr, crop=2).item() for m, o in outs.items()}
    assert ps["compact-x2-fast-jpeg"] > ps["compact-x2-fast"] + 0.05, ps
    assert lp["compact-x2-fast-jpeg"] < 0.9 * lp["compact-x2-fast"], lp
