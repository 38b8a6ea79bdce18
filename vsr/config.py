"""Typed configuration: TOML files read into frozen dataclasses.

An unknown section or key is an error that lists the allowed ones; values are type-checked; CLI
overrides are ``section.key=value`` strings whose value is parsed as TOML (bare words are strings).
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from vsr.errors import ConfigError

T = TypeVar("T")

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass(frozen=True)
class ModelConfig:
    name: str = "auto"  # registry name, shipped preset, .pth/.safetensors path, or auto
    scale: int = 2  # 0: from encode.size/outscale (x2 up to 2x, else x4; a fixed-scale model its own)
    backend: str = "eager"  # eager | compile | tensorrt | auto
    precision: str = "auto"  # auto (fp16 on CUDA, fp32 on CPU) | fp16 | bf16 | fp32
    batch: int = 1
    tile: int = 0  # 0: whole frames (tiled where one would not fit in memory); else tile edge in input pixels
    tile_overlap: int = 0  # 0: the model's own receptive context
    layout: str = "auto"  # auto: channels-last for learned networks | channels_last | contiguous
    detail: float = -1.0  # -1: off; 0..1: the fidelity model's weights blended with its perceptual fine-tune's


@dataclass(frozen=True)
class EncodeConfig:
    codec: str = "auto"  # auto: libx264 where the container holds H.264, else the container's own
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str = "auto"  # auto: keep 8/10-bit 4:2:0 by the input's depth
    tune: str = ""
    gop: int = 0  # 0: encoder default
    size: str = ""  # output WxH, W, xH or 1080p... instead of the model's scale (resized after it)
    audio: bool = True  # false: the input's audio is left out (ffmpeg's -an)
    subtitles: bool = True  # false: its subtitles are left out (-sn); captions in the pictures stay
    metadata: bool = True  # false: a photo's EXIF and a video's file tags left out (-map_metadata -1)
    outscale: float = 0.0  # output scale, any factor (0: the model's)


@dataclass(frozen=True)
class RuntimeConfig:
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    queue_size: int = 4
    decode_threads: int = 0  # 0: FFmpeg's choice
    torch_threads: int = 0  # 0: auto (on CPU every usable core; on CUDA 1)


@dataclass(frozen=True)
class DecodeConfig:
    deinterlace: str = "auto"  # auto: frames flagged interlaced (bwdif) | on: every frame | off
    fps: str = ""  # frame rate of an image-sequence input ("" = 25, as ffmpeg); videos keep theirs


@dataclass(frozen=True)
class PipelineConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    encode: EncodeConfig = field(default_factory=EncodeConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


def _check_type(where: str, value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _check_type(where, value, option)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not a valid {annotation}")
    if annotation is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected nothing, got {value!r}")
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_type, *_rest) = typing.get_args(annotation) or (Any,)
        return tuple(_check_type(where, v, item_type) for v in value)
    if annotation is Any:
        return value
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return from_dict(annotation, value, where)
    if annotation is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if isinstance(annotation, type) and not isinstance(value, annotation):
        raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build the frozen dataclass ``cls`` from a dict, refusing unknown keys."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        prefix = f"[{where}] " if where else ""
        raise ConfigError(
            f"{prefix}unknown key {unknown[0]!r} (allowed: {', '.join(sorted(fields))})"
        )
    values = {}
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        values[name] = _check_type(key, value, hints[name])
    return cls(**values)


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"model.tile=256"`` -> ``(["model", "tile"], 256)``; values are TOML, bare words strings."""
    if "=" not in text:
        raise ConfigError(f"bad override {text!r}: expected section.key=value")
    key, raw = text.split("=", 1)
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ConfigError(f"bad override {text!r}: empty key")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return path, value


def merge(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {'.'.join(path)}: {part!r} is not a section")
        node = child
    node[path[-1]] = value


def load(cls: type[T], path: str | Path | None = None, overrides: typing.Iterable[str] = ()) -> T:
    """Read ``path`` (TOML; optional) into ``cls``, then apply ``section.key=value`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    for text in overrides:
        key_path, value = parse_override(text)
        merge(data, key_path, value)
    return from_dict(cls, data)


def shipped_configs() -> list[Path]:
    """Every TOML preset shipped under configs/."""
    return sorted(CONFIG_DIR.rglob("*.toml"))
