"""Network and resampler definitions, and the explicit registry that names them.

Nothing is registered by scanning files: every architecture is one entry in :data:`ARCHS`, and every
ready-to-run model is resolved by :func:`load_model` into an :class:`SRModel` descriptor that says
what the model supports (scale, precision, context needed for tiling).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from vsr.archs.plain import PlainSR
from vsr.archs.rep import RepSR
from vsr.archs.resample import ResampleUpscaler
from vsr.archs.span import SpanSR
from vsr.errors import ConfigError, UnknownModelError, UnsupportedScaleError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


@dataclass(frozen=True)
class ArchSpec:
    """One architecture: how to build it and what it can do."""

    name: str
    build: Callable[..., nn.Module]  # build(scale, **params) -> module mapping [0,1] RGB to [0,1] RGB
    scales: tuple[int, ...]
    description: str
    learned: bool


@dataclass(frozen=True)
class SRModel:
    """A model ready to run.

    ``module`` maps ``(N,3,H,W)`` float RGB in [0,1] to ``(N,3,scale*H,scale*W)``; ``context`` is the
    number of input pixels on each side that influence an output pixel (the minimum tile overlap for
    seamless tiling); ``fp16`` says the model is accurate in half precision.
    """

    name: str
    arch: str
    scale: int
    module: nn.Module
    learned: bool
    context: int
    fp16: bool = True
    source: str = "builtin"


ARCHS: dict[str, ArchSpec] = {
    "bicubic": ArchSpec(
        "bicubic",
        lambda scale, **kw: ResampleUpscaler(scale, "bicubic", **kw),
        (2, 3, 4),
        "Keys bicubic (a=-0.5), the classic baseline",
        learned=False,
    ),
    "lanczos": ArchSpec(
        "lanczos",
        lambda scale, **kw: ResampleUpscaler(scale, "lanczos", **kw),
        (2, 3, 4),
        "Lanczos-3 windowed sinc, the sharpest classic scaler",
        learned=False,
    ),
    "plain": ArchSpec(
        "plain",
        lambda scale, **kw: PlainSR(scale, **kw),
        (1, 2, 3, 4),
        "Plain 3x3 convs + activations + pixel shuffle (deploy form; Real-ESRGAN SRVGGNetCompact layout)",
        learned=True,
    ),
    "repsr": ArchSpec(
        "repsr",
        lambda scale, **kw: RepSR(scale, **kw),
        (1, 2, 3, 4),
        "Multi-branch train-time form of 'plain'; reparameterize() returns the plain network",
        learned=True,
    ),
    "span": ArchSpec(
        "span",
        lambda scale, **kw: SpanSR(scale, **kw),
        (1, 2, 3, 4),
        "SPAN (Swift Parameter-free Attention Network), deploy form with folded Conv3XC",
        learned=True,
    ),
}

# The model `load_model("auto", scale)` gives, per scale: a shipped learned model once it beats
# bicubic and lanczos on every eval set (see its model card in vsr/weights), else lanczos. x4: the
# fidelity network blended halfway to its video fine-tune (`--detail 0.5` toward it): on H.264 LR
# within 0.1 dB of the fidelity model's PSNR-Y with 14-20% less ST-LPIPS (README, The x4 default).
# (`vsr upscale` goes further: -s 3 is the x4 network shrunk to 3x, see vsr.pipeline.upscale.auto_x3;
# x2 on a lossy-compressed video is compact-x2-fast-video, and JPEGs up to quality 85 get the -jpeg
# fine-tunes: see vsr.pipeline.upscale.for_source.)
DEFAULT_MODELS: dict[int, str] = {2: "compact-x2-fast", 3: "lanczos", 4: "compact-x4-fast-video@0.5"}

MODEL_FILE_SUFFIXES = (".pth", ".pt", ".safetensors")


def _is_weight_file(name: str | None) -> bool:
    return bool(name) and name.endswith(MODEL_FILE_SUFFIXES)


def shipped_weights() -> list[str]:
    """Names of the trained weights shipped in ``vsr/weights/<name>.safetensors``."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


def model_names() -> list[str]:
    """Every name accepted by :func:`load_model` (besides file paths): the classic resamplers, then
    the shipped trained weights, each group sorted."""
    return sorted(n for n, spec in ARCHS.items() if not spec.learned) + shipped_weights()


def supported_scales(name: str) -> tuple[int, ...]:
    """The scales ``name`` upscales by: the default models' for ``auto``, a weight file's own."""
    if name in (None, "", "auto"):
        return tuple(s for s, n in sorted(DEFAULT_MODELS.items()) if _base(n) in shipped_weights()) or (2, 4)
    if _is_weight_file(name):
        from vsr.archs.files import load_weights_file

        return (load_weights_file(Path(name)).scale,)
    if name in shipped_weights():
        from vsr.archs.files import read_state_dict

        _, meta = read_state_dict(WEIGHTS_DIR / f"{name}.safetensors")
        return (int(json.loads(meta["config"])["scale"]),)
    spec = ARCHS.get(name)
    if spec is None:
        raise UnknownModelError(_unknown(name))
    return spec.scales


def load_model(name: str | None, scale: int, detail: float | None = None) -> SRModel:
    """Resolve a model name (or ``None``/``"auto"`` for the default) for ``scale``. ``detail`` (or a
    name ending in ``@DETAIL``: ``compact-x4-fast-perceptual@0.5``) blends it with its fidelity model
    (:func:`blend_detail`)."""
    if name in (None, "", "auto") and detail is None:
        if scale not in DEFAULT_MODELS:
            raise UnsupportedScaleError(
                f"unsupported scale {scale} (supported: {', '.join(map(str, sorted(DEFAULT_MODELS)))})"
            )
        name = DEFAULT_MODELS[scale]  # may itself be a blend, NAME@DETAIL
    if name and "@" in name and not _is_weight_file(name):
        name, _, amount = name.rpartition("@")
        try:
            detail = float(amount)
        except ValueError:
            raise ConfigError(f"bad detail {amount!r} in model name {name}@{amount} (a number in 0..1)") from None
    if detail is not None:
        return blend_detail(name, scale, detail)
    if _is_weight_file(name):
        return _from_file(Path(name), name, scale, source=str(name))
    if name in shipped_weights():
        return _from_file(WEIGHTS_DIR / f"{name}.safetensors", name, scale, source="shipped")
    spec = ARCHS.get(name)
    if spec is None:
        from vsr.archs.presets import preset_names

        if name in preset_names():
            raise UnknownModelError(
                f"model preset {name!r} has no trained weights shipped yet (no vsr/weights/{name}.safetensors); "
                f"train it with `vsr train` and pass the .safetensors file (available: {', '.join(model_names())})"
            )
        raise UnknownModelError(_unknown(name))
    if spec.learned:
        raise UnknownModelError(
            f"{name!r} is an architecture, not a trained model: pass a shipped model name or a weight file "
            f"(available: {', '.join(model_names())})"
        )
    if scale not in spec.scales:
        raise UnsupportedScaleError(
            f"model {name!r} does not support scale {scale} "
            f"(supported: {', '.join(map(str, spec.scales))})"
        )
    module = spec.build(scale).eval()
    context = int(getattr(module, "receptive_radius", 8))
    return SRModel(name, spec.name, scale, module, spec.learned, context)


def detail_pair(name: str | None, scale: int) -> tuple[str, str]:
    """The two shipped models ``--detail`` blends for ``name`` at ``scale``: the fast fidelity model
    (detail 0) and the fine-tuned version of it that ``name`` is (detail 1): ``-perceptual`` for the
    fidelity model itself, else the fine-tune named (``-perceptual``, ``-video``, ``-jpeg``); for
    ``auto``, the pair its default for the scale is on (at x4 the ``-video`` one)."""
    fidelity = f"compact-x{scale}-fast"
    shipped = shipped_weights()
    choices = [f"{fidelity}-{kind}" for kind in ("perceptual", "video", "jpeg") if f"{fidelity}-{kind}" in shipped]
    if name in (None, "", "auto"):
        name = _base(DEFAULT_MODELS.get(scale, fidelity))
    if name == fidelity:
        return fidelity, f"{fidelity}-perceptual"
    if name in choices:
        return fidelity, name
    raise ConfigError(f"--detail blends {fidelity} with a fine-tune of it ({', '.join(choices)}); "
                      f"{name} is none of them")


def _base(name: str) -> str:
    """``NAME@DETAIL`` -> ``NAME``."""
    return name.partition("@")[0]


def blend_detail(name: str | None, scale: int, detail: float) -> SRModel:
    """Network interpolation, as ESRGAN's authors use it (and Real-ESRGAN's ``-dn``): the weights
    of the fidelity model and of its perceptual (or video) fine-tune, mixed ``1 - detail : detail``.
    The fine-tunes started from the fidelity models' training, so the mix is a network on the way
    between them: a continuous trade from faithful (0: higher PSNR) to textured (1: lower ST-LPIPS)."""
    if not 0.0 <= detail <= 1.0:
        raise ConfigError(f"detail must be in 0..1, got {detail:g}")
    low, high = detail_pair(name, scale)
    if detail in (0.0, 1.0):
        return load_model(high if detail else low, scale)
    a, b = load_model(low, scale), load_model(high, scale)
    sa, sb = a.module.state_dict(), b.module.state_dict()
    if type(a.module) is not type(b.module) or sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise ConfigError(f"{low} and {high} are not the same network: they cannot be blended")
    a.module.load_state_dict({k: torch.lerp(sa[k].float(), sb[k].float(), detail).to(sa[k].dtype) for k in sa})
    return SRModel(f"{high}@{detail:g}", a.arch, scale, a.module, True, max(a.context, b.context),
                   fp16=a.fp16 and b.fp16, source=f"{a.source}+{b.source}")


def _from_file(path: Path, name: str, scale: int, source: str) -> SRModel:
    from vsr.archs.files import load_weights_file

    loaded = load_weights_file(path)
    if loaded.scale != scale:
        raise UnsupportedScaleError(
            f"model {name!r} upscales by {loaded.scale}, not {scale} (supported: {loaded.scale})"
        )
    context = int(getattr(loaded.module, "receptive_radius", 8))
    return SRModel(name, loaded.arch, scale, loaded.module, True, context, fp16=True, source=source)


def set_precision(module: nn.Module, dtype: torch.dtype) -> torch.dtype:
    """Convert an fp32 network, in place, for inference in ``dtype``; returns the dtype its input
    must have. For fp16 and bf16, networks with an fp32-head form (:meth:`PlainSR.mixed`) take it
    and want fp32 input; for fp16 others convert wholly. bf16 is only offered in the mixed form
    (its drift is measured for that form only): another network is a :class:`ConfigError`."""
    mixed = callable(getattr(module, "mixed", None))
    if getattr(module, "fp32_head", False):
        module.unmixed()  # back to fp32 before any other form
    if dtype in (torch.float16, torch.bfloat16) and mixed:
        module.mixed(dtype)
        return torch.float32
    if dtype == torch.bfloat16:
        raise ConfigError(f"precision bf16 is offered for the compact (plain 3x3 conv) networks only, "
                          f"not {type(module).__name__} (use fp32, or fp16 on CUDA)")
    module.to(dtype=dtype)
    return dtype


def _unknown(name: str) -> str:
    return f"unknown model {name!r} (available: {', '.join(model_names())}, or a .pth/.safetensors file)"
