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
    return f"cpu ({torch.get_num_threads()} torch threads of {usable_cores()} cores)"


PRECISIONS = ("auto", "fp16", "bf16", "fp32")

# CPU features that execute bf16 dot products natively (x86: AVX512-BF16, AMX; Arm: BF16 / SVE-BF16)
_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16", "svebf16"})


def cpu_bf16_native(cpuinfo: str | None = None) -> bool:
    """Whether this CPU runs bf16 convolutions natively (oneDNN's bf16 path on AVX512-BF16 / AMX /
    Arm BF16), not emulated: on a CPU without those instructions bf16 is slower than fp32.
    ``cpuinfo``: the text of ``/proc/cpuinfo`` (read when not given; not Linux: False)."""
    if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return False
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return False  # not Linux: not known to be native
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return bool(_BF16_CPU_FLAGS & set(value.split()))
    return False


def resolve_precision(precision: str, device: torch.device, model_fp16_ok: bool) -> torch.dtype:
    """``auto``: fp16 on CUDA when the model is fp16-safe, else fp32. ``bf16`` (opt-in): the body of
    the network in bfloat16, on CUDA GPUs with bf16 and on CPUs that run it natively."""
    precision = precision.lower()
    if precision == "auto":
        return torch.float16 if device.type == "cuda" and model_fp16_ok else torch.float32
    if precision in ("fp16", "half", "float16"):
        if device.type != "cuda":
            raise BackendUnavailableError("precision fp16 needs a CUDA device (use fp32, or bf16 where the CPU has it)")
        return torch.float16
    if precision in ("bf16", "bfloat16"):
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise BackendUnavailableError(f"precision bf16: {torch.cuda.get_device_name(device)} has no bf16 (use fp16)")
        if device.type == "cpu" and not cpu_bf16_native():
            raise BackendUnavailableError(
                "precision bf16 needs a CPU with native bf16 (AVX512-BF16 or AMX on x86, BF16 on Arm); "
                f"this one has {torch.backends.cpu.get_cpu_capability()} without it (use fp32)")
        return torch.bfloat16
    if precision in ("fp32", "float", "float32"):
        return torch.float32
    raise ConfigError(f"bad precision {precision!r} (valid: {', '.join(PRECISIONS)})")


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask: taskset, cgroup cpusets), else all."""
    import os

    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def configure_threads(device: torch.device, torch_threads: int) -> int:
    """Size torch's intra-op pool once, at start.

    Auto: on the CPU every usable core, as torch and Real-ESRGAN's script use. The network is the
    bottleneck there (decode and x264 are 0-20% busy beside it) and the codecs' own threads
    interleave with the pool without harm now that freed memory stays in the process
    (:func:`tune_host_allocator`). Measured on this project's 2-core machine (compact-x2-fast,
    960x540 -> 1080p, 30 frames, by hand with ``--set runtime.torch_threads=N``): 2 threads 1.53x
    the fps of 1, and still 1.09x with a busy-looping process of equal priority on one of the two
    cores; ``benchmarks/bench_cpu.py`` compares 1 thread with every core on a clip in one run. (The half-the-cores rule it replaces was measured before that allocator fix, with
    another job on one core.) On CUDA one thread: the host only feeds the GPU.
    """
    if torch_threads < 0:
        raise ConfigError(f"torch_threads must be >= 0, got {torch_threads}")
    if torch_threads == 0:
        torch_threads = usable_cores() if device.type == "cpu" else 1
    torch.set_num_threads(torch_threads)
    return torch_threads


_HOST_ALLOCATOR_TUNED: bool | None = None


def tune_host_allocator() -> bool:
    """Keep freed host memory in the process instead of returning it to the OS (glibc only).

    Every frame allocates tens of MB of tensors. By default glibc serves such blocks with mmap and
    unmaps them on free, so the next frame page-faults the same memory in again: measured here, a
    720p lanczos x2 on one core spent 60% of its time in the kernel (107k minor faults per frame,
    441 ms); with both thresholds raised it ran 3.1x faster (1k faults, 141 ms). The price is that
    the resident size stays at its peak, as with torch's CUDA caching allocator.

    It also keeps every thread on the main heap (one arena): a thread's own glibc arena cannot hold
    a block over 64 MB and mmaps it whatever the threshold, and the pipeline's infer thread allocates
    such blocks (a 720p frame's feature maps are 118 MB): in the pipeline the engine ran 2-3x slower
    than alone (3.2M minor faults and 5.9 s of kernel time for 10 frames of 720p; 0.31M and 0.7 s
    with one arena). The CLI calls this before any thread starts, as an arena limit does not move
    threads already attached. Returns whether it took effect; a no-op on other C libraries.
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
            m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8
            big = ctypes.c_int(2**31 - 1)
            ok = (bool(libc.mallopt(m_trim_threshold, big)) and bool(libc.mallopt(m_mmap_threshold, big))
                  and bool(libc.mallopt(m_arena_max, ctypes.c_int(1))))
        except (OSError, AttributeError):
            ok = False
    log.debug("host allocator: freed memory kept in the process: %s", ok)
    _HOST_ALLOCATOR_TUNED = ok
    return ok
