"""CPU emulator for the CUDA kernels: compiles ``kernels/<name>.cu`` with the host C++ compiler.

``common.cuh`` under ``VSR_EMULATE`` turns ``__global__``/``__device__`` into plain C++ and makes the
grid one block of one thread, so every grid-stride kernel visits all its elements in one call. The
fp16 conversions use the header's host code (round to nearest even, as PTX ``cvt.rn``). A
:class:`~vsr.ops.kernels.Launch` plan built by an op for CPU tensors runs here exactly as
:func:`vsr.ops.kernels.run` runs it on a GPU, so the kernels' index math, border handling,
rounding and the ops' argument marshalling are checked without a GPU.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from vsr.ops.kernels import Launch, kernel_source

CXX = shutil.which("g++") or shutil.which("c++")
_libs: dict[str, ctypes.CDLL] = {}


def library(name: str) -> ctypes.CDLL:
    src = kernel_source(name)
    key = hashlib.sha256(src.encode()).hexdigest()[:16]
    if key not in _libs:
        out = Path(tempfile.gettempdir()) / f"vsr_emu_{name}_{key}.so"
        if not out.exists():
            cpp = out.with_suffix(".cpp")
            cpp.write_text("#define VSR_EMULATE 1\n" + src)
            tmp = out.with_suffix(".tmp.so")
            subprocess.run([CXX, "-O2", "-shared", "-fPIC", "-ffp-contract=off", "-std=c++14", "-x", "c++",
                            str(cpp), "-o", str(tmp)], check=True, capture_output=True, text=True)
            tmp.replace(out)
        _libs[key] = ctypes.CDLL(str(out))
    return _libs[key]


def _arg(a: object) -> object:
    if isinstance(a, torch.Tensor):
        assert a.device.type == "cpu" and a.is_contiguous()
        return ctypes.c_void_p(a.data_ptr())
    if isinstance(a, np.int32):
        return ctypes.c_int(int(a))
    if isinstance(a, np.float32):
        return ctypes.c_float(float(a))
    raise TypeError(f"unsupported kernel argument {type(a).__name__}")


def run(name: str, plan: Sequence[Launch]) -> None:
    lib = library(name)
    for launch in plan:
        fn = getattr(lib, launch.kernel)
        fn.restype = None
        fn(*[_arg(a) for a in launch.args])
