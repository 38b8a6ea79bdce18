"""Weight files: ours (safetensors + metadata) and other people's (Real-ESRGAN compact, SPAN).

Loading never executes pickled code: ``.safetensors`` is read with safetensors, ``.pth``/``.pt`` with
``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers. The
layout is detected from the state dict's keys and shapes, never from the file name.
"""

from __future__ import annotations

import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from vsr.archs.plain import ACTIVATIONS, PlainSR
from vsr.archs.span import SpanSR, convert_span_state_dict, is_span_state_dict
from vsr.errors import InputNotFoundError, InvalidInputError, UnknownModelError

FORMAT = "vsr-weights-1"
LAYOUTS = "vsr (our safetensors), Real-ESRGAN SRVGGNetCompact, SPAN"


@dataclass
class LoadedWeights:
    """A network rebuilt from a file: ``module`` in eval mode, f32, on the CPU."""

    arch: str  # "plain" | "span"
    layout: str  # what the file was recognised as
    scale: int
    module: nn.Module
    metadata: dict[str, str]


def read_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors of a weight file and its string metadata (safetensors only; ``{}`` for .pth)."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"model file not found: {path}")
    if path.suffix == ".safetensors":
        try:
            sd = load_file(str(path), device="cpu")
            with safe_open(str(path), "pt") as f:
                meta = dict(f.metadata() or {})
        except (SafetensorError, OSError, ValueError) as e:
            raise InvalidInputError(f"cannot read model file {path}: not a valid safetensors file ({e})") from None
        return sd, meta
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unsupported content"
        raise InvalidInputError(
            f"cannot load model file {path}: it holds more than plain tensors and loading it would run "
            f"pickled code, which vsr refuses ({first}); convert it to .safetensors"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise InvalidInputError(f"cannot read model file {path}: not a PyTorch weight file ({e})") from None
    for key in ("params_ema", "params", "state_dict", "model"):  # BasicSR / Lightning / generic wrappers
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InvalidInputError(f"cannot load model file {path}: it does not hold a state dict of tensors")
    sd = {re.sub(r"^(module\.|_orig_mod\.)", "", str(k)): v for k, v in obj.items()}
    return sd, {}


def _plain_from_compact(sd: dict[str, torch.Tensor]) -> PlainSR:
    """Rebuild an SRVGGNetCompact-layout (``body.N``) state dict as a :class:`PlainSR`."""
    convs = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(r"body\.(\d+)\.weight", k)) and sd[k].ndim == 4)
    if len(convs) < 2 or convs != list(range(0, 2 * len(convs) - 1, 2)):
        raise UnknownModelError("SRVGGNetCompact layout expected convs at body.0, body.2, ...")
    first, last = sd["body.0.weight"], sd[f"body.{convs[-1]}.weight"]
    channels, c_in = first.shape[:2]
    if c_in != 3:
        raise UnknownModelError(f"SRVGGNetCompact with {c_in} input channels (only RGB, 3, is supported)")
    scale = round((last.shape[0] / c_in) ** 0.5)
    if c_in * scale * scale != last.shape[0]:
        raise UnknownModelError(f"last conv has {last.shape[0]} outputs: not {c_in} * scale^2")
    if "body.1.weight" in sd:
        act = "prelu"
    else:
        raise UnknownModelError(
            "SRVGGNetCompact without PReLU weights: its activation (relu or leaky relu) cannot be "
            "told from the file; only PReLU compact models load"
        )
    module = PlainSR(scale, int(channels), len(convs) - 2, act, in_channels=int(c_in))
    _load_strict(module, sd, "SRVGGNetCompact")
    return module


def _load_strict(module: nn.Module, sd: dict[str, torch.Tensor], layout: str) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    if missing or unexpected:
        raise UnknownModelError(
            f"state dict looks like {layout} but does not match it: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    for k, v in expected.items():
        if sd[k].shape != v.shape:
            raise UnknownModelError(f"{layout} tensor {k} has shape {tuple(sd[k].shape)}, expected {tuple(v.shape)}")
    module.load_state_dict({k: v.float() for k, v in sd.items()})


def module_from_state_dict(sd: dict[str, torch.Tensor], meta: dict[str, str], where: str = "state dict") -> LoadedWeights:
    """Detect the layout of ``sd`` and rebuild the network (eval mode, f32, CPU)."""
    if meta.get("format") == FORMAT:
        arch = meta.get("arch", "")
        config = json.loads(meta.get("config", "{}"))
        if arch == "plain":
            if config.get("act") not in ACTIVATIONS:
                raise UnknownModelError(f"{where}: bad activation {config.get('act')!r} in metadata")
            module: nn.Module = PlainSR(**config)
        elif arch == "span":
            module = SpanSR(**config)
        else:
            raise UnknownModelError(f"{where}: unknown vsr arch {arch!r} in metadata (valid: plain, span)")
        _load_strict(module, sd, f"vsr {arch}")
        return LoadedWeights(arch, "vsr", int(config["scale"]), module.eval(), meta)
    if is_span_state_dict(sd):
        try:
            config, new = convert_span_state_dict(sd)
        except (KeyError, ValueError) as e:
            raise UnknownModelError(f"{where}: incomplete SPAN state dict ({e})") from None
        module = SpanSR(**config)  # type: ignore[arg-type]
        _load_strict(module, new, "SPAN")
        return LoadedWeights("span", "SPAN", int(config["scale"]), module.eval(), meta)
    if "body.0.weight" in sd and sd["body.0.weight"].ndim == 4:
        module = _plain_from_compact(sd)
        return LoadedWeights("plain", "SRVGGNetCompact", module.scale, module.eval(), meta)
    keys = ", ".join(list(sd)[:4])
    raise UnknownModelError(f"{where}: unrecognised model layout (keys start {keys}; known layouts: {LAYOUTS})")


def load_weights_file(path: str | Path) -> LoadedWeights:
    """Read a .safetensors/.pth/.pt file and rebuild its network; clear errors for bad files."""
    sd, meta = read_state_dict(path)
    return module_from_state_dict(sd, meta, where=str(path))


def save_weights_file(path: str | Path, module: nn.Module, **metadata: str) -> None:
    """Save a deploy network (:class:`PlainSR` or :class:`SpanSR`) as safetensors with the metadata
    needed to rebuild it (plus any extra string ``metadata``, e.g. preset, training command)."""
    if isinstance(module, PlainSR):
        arch = "plain"
    elif isinstance(module, SpanSR):
        arch = "span"
    else:
        raise TypeError(f"only PlainSR/SpanSR deploy networks are saved, got {type(module).__name__}")
    meta = {"format": FORMAT, "arch": arch, "config": json.dumps(module.config()), **metadata}
    tensors = {k: v.detach().float().contiguous().cpu() for k, v in module.state_dict().items()}
    save_file(tensors, str(path), metadata=meta)


__all__ = ["FORMAT", "LoadedWeights", "load_weights_file", "module_from_state_dict", "read_state_dict", "save_weights_file"]
