"""Network and resampler definitions, and the explicit registry that names them.

Nothing is registered by scanning files: every architecture is one entry in :data:`ARCHS`, and every
ready-to-run model is resolved by :func:`load_model` into an :class:`SRModel` descriptor that says
what the model supports (scale, precision, context needed for tiling).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from torch import nn

from vsr.archs.resample import ResampleUpscaler
from vsr.errors import UnknownModelError, UnsupportedScaleError


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
}

# The model `vsr upscale` uses when none is named, per scale. Learned models replace these once
# trained weights ship (see vsr/weights).
DEFAULT_MODELS: dict[int, str] = {2: "lanczos", 3: "lanczos", 4: "lanczos"}

MODEL_FILE_SUFFIXES = (".pth", ".pt", ".safetensors")


def model_names() -> list[str]:
    """Every name accepted by :func:`load_model` (besides file paths)."""
    return sorted(ARCHS)


def supported_scales(name: str) -> tuple[int, ...]:
    spec = ARCHS.get(name)
    if spec is None:
        raise UnknownModelError(_unknown(name))
    return spec.scales


def load_model(name: str | None, scale: int) -> SRModel:
    """Resolve a model name (or ``None``/``"auto"`` for the default) for ``scale``."""
    if name in (None, "", "auto"):
        if scale not in DEFAULT_MODELS:
            raise UnsupportedScaleError(
                f"unsupported scale {scale} (supported: {', '.join(map(str, sorted(DEFAULT_MODELS)))})"
            )
        name = DEFAULT_MODELS[scale]
    if name.endswith(MODEL_FILE_SUFFIXES) or Path(name).suffix in MODEL_FILE_SUFFIXES:
        raise UnknownModelError(
            f"cannot load model file {name!r}: loading weight files is not supported yet "
            f"(built-in models: {', '.join(model_names())})"
        )
    spec = ARCHS.get(name)
    if spec is None:
        raise UnknownModelError(_unknown(name))
    if scale not in spec.scales:
        raise UnsupportedScaleError(
            f"model {name!r} does not support scale {scale} "
            f"(supported: {', '.join(map(str, spec.scales))})"
        )
    module = spec.build(scale).eval()
    context = int(getattr(module, "receptive_radius", 8))
    return SRModel(name, spec.name, scale, module, spec.learned, context)


def _unknown(name: str) -> str:
    return f"unknown model {name!r} (available: {', '.join(model_names())}, or a .pth/.safetensors file)"
