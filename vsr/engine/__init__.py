"""Running a model on frames: device choice, precision, tiling, backends."""

from vsr.engine.device import resolve_device
from vsr.engine.engine import Engine

__all__ = ["Engine", "resolve_device"]
