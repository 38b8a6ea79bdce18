"""Loading and launching the CuPy kernels of ``kernels/*.cu`` on torch tensors.

- Sources ship in the package (``vsr/kernels`` links to the repository's ``kernels/``); the local
  ``#include "common.cuh"`` is inlined so NVRTC needs no include path or CUDA headers.
- Each source is compiled once per (file, options, device) with ``cupy.RawModule`` and cached.
- Launches go on torch's current stream of the tensor's device, and tensors reach CuPy through
  DLPack (no copies). Every kernel is a 1-D grid-stride loop, launched as ``(blocks,) x (256,)``.
- CuPy is imported lazily: importing ``vsr.ops`` never needs it. Asking for a kernel explicitly
  (``backend="cuda"``) without CuPy or a CUDA tensor raises :class:`BackendUnavailableError`.

An op builds a *launch plan*, a list of :class:`Launch` (kernel name, element count, arguments:
tensors and numpy scalars); :func:`run` executes it with CuPy, and the CPU emulator of the tests
(``tests/kernel_emu.py``) executes the same plan, so the argument marshalling is tested too.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import torch

from vsr.errors import BackendUnavailableError, ConfigError

BACKENDS = ("auto", "torch", "cuda")
THREADS = 256
NVRTC_OPTIONS = ("--std=c++14", "--fmad=false")  # fmad off: the reference's float arithmetic
_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$', re.M)


@dataclass(frozen=True)
class Launch:
    kernel: str  # extern "C" entry point
    count: int  # elements the grid-stride loop covers
    args: tuple[Any, ...]  # torch tensors (pointers) and numpy int32/float32 scalars


def kernel_dir() -> Path:
    """The directory holding the ``.cu`` sources (installed package, then repository checkout)."""
    here = Path(__file__).resolve().parent.parent
    for cand in (here / "kernels", here.parent / "kernels"):
        if (cand / "common.cuh").is_file():
            return cand
    raise FileNotFoundError(f"vsr kernel sources not found (looked in {here / 'kernels'})")


def kernel_source(name: str) -> str:
    """``kernels/<name>.cu`` with its local includes inlined (a self-contained translation unit)."""
    root = kernel_dir()

    def expand(text: str, seen: set[str]) -> str:
        def sub(m: re.Match[str]) -> str:
            inc = m.group(1)
            if inc in seen:
                return ""
            seen.add(inc)
            return expand((root / inc).read_text(), seen)

        return _INCLUDE.sub(sub, text)

    return expand((root / f"{name}.cu").read_text(), set())


@lru_cache(maxsize=None)
def cupy_available() -> bool:
    try:
        import cupy  # noqa: F401
    except Exception:  # ImportError, or a CuPy build that cannot find its CUDA libraries
        return False
    return True


def use_kernel(t: torch.Tensor, backend: str, op: str) -> bool:
    """Whether ``op`` runs its CUDA kernel for tensor ``t`` under ``backend`` (auto|torch|cuda)."""
    if backend == "torch":
        return False
    if backend == "auto":
        return t.is_cuda and cupy_available()
    if backend == "cuda":
        if not t.is_cuda:
            raise BackendUnavailableError(f"the CUDA kernel for {op} needs a CUDA tensor, got one on {t.device}")
        if not cupy_available():
            raise BackendUnavailableError(
                f"the CUDA kernel for {op} needs CuPy, which is not installed (pip install 'vsr[cuda]')")
        return True
    raise ConfigError(f"unknown kernel backend {backend!r} (valid: {', '.join(BACKENDS)})")


_modules: dict[tuple[str, tuple[str, ...], int], Any] = {}
_lock = threading.Lock()


def module(name: str, device: torch.device) -> Any:
    """The compiled ``cupy.RawModule`` of ``kernels/<name>.cu`` for ``device`` (cached)."""
    import cupy

    index = device.index if device.index is not None else torch.cuda.current_device()
    key = (name, NVRTC_OPTIONS, index)
    with _lock:
        mod = _modules.get(key)
        if mod is None:
            with cupy.cuda.Device(index):
                mod = cupy.RawModule(code=kernel_source(name), options=NVRTC_OPTIONS)
                mod.compile()
            _modules[key] = mod
    return mod


@lru_cache(maxsize=None)
def _max_blocks(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count * 32


def run(name: str, plan: Sequence[Launch], device: torch.device) -> None:
    """Execute ``plan`` (kernels of ``kernels/<name>.cu``) on torch's current stream of ``device``."""
    import cupy

    mod = module(name, device)
    index = device.index if device.index is not None else torch.cuda.current_device()
    stream = cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream, index)
    with cupy.cuda.Device(index), stream:
        for launch in plan:
            if launch.count <= 0:
                continue
            # detach(): DLPack refuses tensors that require grad (inside autograd.Function they do)
            args = tuple(cupy.from_dlpack(a.detach()) if isinstance(a, torch.Tensor) else a for a in launch.args)
            blocks = min((launch.count + THREADS - 1) // THREADS, _max_blocks(index))
            mod.get_function(launch.kernel)((blocks,), (THREADS,), args)


__all__ = ["BACKENDS", "Launch", "cupy_available", "kernel_dir", "kernel_source", "module", "run", "use_kernel"]
