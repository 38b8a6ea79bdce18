"""Choosing the device once, at start, with a clear error when an explicit choice cannot run."""

from __future__ import annotations

import logging

import torch

from vsr.errors import BackendUnavailableError, ConfigError

log = logging.getLogger("vsr.engine")


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` -> first CUDA device if present, else CPU; ``cpu``; ``cuda`` / ``cuda:N``."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    elif spec == "cpu":
        device = torch.device("cpu")
    elif spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise BackendUnavailableError(
                f"--device {spec} asked for, but no CUDA GPU is usable here "
                f"(torch {torch.__version__}, built {'with' if torch.version.cuda else 'without'} CUDA)"
            )
        try:
            device = torch.device(spec if ":" in spec else "cuda:0")
        except RuntimeError:
            raise ConfigError(f"bad device {spec!r} (valid: auto, cpu, cuda, cuda:N)") from None
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise BackendUnavailableError(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) here"
            )
    else:
        raise ConfigError(f"bad device {spec!r} (valid: auto, cpu, cuda, cuda:N)")
    return device


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{device.index or 0} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} torch threads of {__import__('os').cpu_count()} cores)"


def resolve_precision(precision: str, device: torch.device, model_fp16_ok: bool) -> torch.dtype:
    """``auto``: fp16 on CUDA when the model is fp16-safe, else fp32."""
    precision = precision.lower()
    if precision == "auto":
        return torch.float16 if device.type == "cuda" and model_fp16_ok else torch.float32
    if precision in ("fp16", "half", "float16"):
        if device.type != "cuda":
            raise BackendUnavailableError("precision fp16 needs a CUDA device (use fp32 on CPU)")
        return torch.float16
    if precision in ("fp32", "float", "float32"):
        return torch.float32
    raise ConfigError(f"bad precision {precision!r} (valid: auto, fp16, fp32)")


def configure_threads(device: torch.device, torch_threads: int) -> int:
    """Size torch's intra-op pool once, at start.

    On the CPU the decoder and x264 run threads of their own; an OpenMP pool as large as the machine
    then oversubscribes it, and its spin-waiting workers lose their time slices (measured here: the
    engine 6x and a decode/infer/encode loop 20x slower on 2 busy cores). Auto takes half the cores.
    """
    import os

    if torch_threads < 0:
        raise ConfigError(f"torch_threads must be >= 0, got {torch_threads}")
    if torch_threads == 0:
        torch_threads = max(1, (os.cpu_count() or 2) // 2) if device.type == "cpu" else 1
    torch.set_num_threads(torch_threads)
    return torch_threads


_HOST_ALLOCATOR_TUNED: bool | None = None


def tune_host_allocator() -> bool:
    """Keep freed host memory in the process instead of returning it to the OS (glibc only).

    Every frame allocates tens of MB of tensors. By default glibc serves such blocks with mmap and
    unmaps them on free, so the next frame page-faults the same memory in again: measured here, a
    720p lanczos x2 on one core spent 60% of its time in the kernel (107k minor faults per frame,
    441 ms); with both thresholds raised it ran 3.1x faster (1k faults, 141 ms). The price is that
    the resident size stays at its peak, as with torch's CUDA caching allocator. Returns whether it
    took effect; a no-op on other C libraries.
    """
    global _HOST_ALLOCATOR_TUNED
    if _HOST_ALLOCATOR_TUNED is not None:
        return _HOST_ALLOCATOR_TUNED
    import ctypes
    import ctypes.util
    import platform

    ok = False
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            m_trim_threshold, m_mmap_threshold = -1, -3
            big = ctypes.c_int(2**31 - 1)
            ok = bool(libc.mallopt(m_trim_threshold, big)) and bool(libc.mallopt(m_mmap_threshold, big))
        except (OSError, AttributeError):
            ok = False
    log.debug("host allocator: freed memory kept in the process: %s", ok)
    _HOST_ALLOCATOR_TUNED = ok
    return ok
