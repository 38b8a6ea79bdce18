"""How the engine runs the network: eager, torch.compile (+ CUDA graphs) or TensorRT.

Compiled backends specialise on one input shape: :class:`Runner` builds one callable per
``(N,C,H,W)`` the first time it sees it and keeps it. Builds are cached on disk under
:func:`cache_dir` by an :class:`EngineKey` (weights hash, shape, precision, device name, library
versions), so a second run with the same model and video size starts warm:

- ``tensorrt``: the serialised TensorRT program itself (``<key>.ep``, torch.export format);
- ``compile``: Inductor's own caches (generated kernels, autotuning results) under
  ``cache_dir()/inductor`` and a ``<key>.json`` record of the build.

``auto`` tries every backend that can run here on the first shape it meets, times each (after a
warm-up), keeps the fastest and records the choice in ``auto-<key>.json``; later runs read it.
An explicitly requested backend that cannot run raises :class:`BackendUnavailableError` naming what
is missing; nothing falls back silently.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from vsr.errors import BackendUnavailableError, ConfigError

log = logging.getLogger("vsr.engine")

BACKENDS = ("eager", "compile", "tensorrt", "auto")
# torch.compile modes the compile backend takes ($VSR_COMPILE_MODE); the default is max-autotune on
# CUDA (autotuned kernels + CUDA graphs) and default on the CPU. reduce-overhead: CUDA graphs without
# the autotuning (a much shorter first build).
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
Forward = Callable[[torch.Tensor], torch.Tensor]


def cache_dir() -> Path:
    """``$VSR_CACHE_DIR``, else ``$XDG_CACHE_HOME/vsr``, else ``~/.cache/vsr``."""
    if os.environ.get("VSR_CACHE_DIR"):
        return Path(os.environ["VSR_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "vsr"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def library_versions() -> dict[str, str]:
    versions = {"torch": torch.__version__, "cuda": str(torch.version.cuda), "python": platform.python_version()}
    if torch.backends.cudnn.is_available():
        versions["cudnn"] = str(torch.backends.cudnn.version())
    for mod in ("triton", "torch_tensorrt", "tensorrt"):
        if importlib.util.find_spec(mod) is not None:
            try:
                from importlib.metadata import version

                versions[mod] = version(mod.replace("_", "-"))
            except Exception:  # noqa: BLE001 - a package without metadata: key on its presence only
                versions[mod] = "present"
    return versions


@dataclass(frozen=True)
class EngineKey:
    """Everything a built engine depends on. Equal keys may share a cached build."""

    backend: str
    model: str
    weights: str  # weights_digest of the module
    shape: tuple[int, ...]
    dtype: str
    device: str
    versions: tuple[tuple[str, str], ...] = field(default_factory=lambda: tuple(sorted(library_versions().items())))
    options: str = ""  # backend options that change the build (e.g. the compile mode)

    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, default=list).encode()
        return hashlib.sha256(blob).hexdigest()[:24]

    def stem(self) -> str:
        shape = "x".join(map(str, self.shape))
        return f"{self.backend}-{self.model}-{shape}-{self.dtype}-{self.digest()}"


def compiler_available() -> str | None:
    """Why torch.compile cannot build here, or None when it can."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    return None


def unavailable(backend: str, device: torch.device) -> str | None:
    """Why ``backend`` cannot run on ``device`` here (what is missing), or None when it can."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r} (valid: {', '.join(BACKENDS)})")
    if backend in ("eager", "auto"):
        return None
    if backend == "compile":
        reason = compiler_available()
        if reason:
            return reason
        if device.type == "cuda":
            if importlib.util.find_spec("triton") is None:
                return "backend compile on CUDA needs Triton (pip install triton)"
        elif not (os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
            return "backend compile on the CPU needs a C++ compiler (g++ or clang++) for Inductor"
        return None
    # tensorrt
    if device.type != "cuda":
        return "backend tensorrt needs a CUDA device (this run is on the CPU)"
    if importlib.util.find_spec("torch_tensorrt") is None:
        return "backend tensorrt needs torch-tensorrt (pip install 'vsr[tensorrt]')"
    return None


def available_backends(device: torch.device) -> list[str]:
    return [b for b in ("tensorrt", "compile", "eager") if unavailable(b, device) is None]


def _record(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=list), encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class Build:
    shape: tuple[int, ...]
    seconds: float
    cached: bool  # a disk cache entry existed for this key before the build


class Runner:
    """One backend's per-shape callables for one module. ``runner(x)`` builds on first sight of
    ``x.shape`` (logged and listed in :attr:`builds`), then calls the built engine."""

    name = "eager"
    static_shapes = False

    def __init__(self, module: nn.Module, model: str, weights: str, device: torch.device, dtype: torch.dtype) -> None:
        self.module = module
        self.model = model
        self.weights = weights
        self.device = device
        self.dtype = dtype
        self.builds: list[Build] = []
        self._fns: dict[tuple[int, ...], Forward] = {}

    def key(self, shape: tuple[int, ...]) -> EngineKey:
        return EngineKey(self.name, self.model, self.weights, tuple(shape),
                         str(self.dtype).removeprefix("torch."), device_name(self.device), options=self.options())

    def options(self) -> str:
        return ""

    def effective(self) -> Runner:
        """The runner doing the work (``auto``'s choice once made)."""
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape)
        fn = self._fns.get(shape)
        if fn is None:
            fn = self._fns[shape] = self._timed_build(shape, x)
        return fn(x)

    def _timed_build(self, shape: tuple[int, ...], example: torch.Tensor) -> Forward:
        key = self.key(shape)
        t0 = time.perf_counter()
        fn, cached = self.build(key, example)
        seconds = time.perf_counter() - t0
        self.builds.append(Build(shape, seconds, cached))
        if self.name != "eager":
            log.info("%s engine for %s built in %.1f s%s", self.name, "x".join(map(str, shape)), seconds,
                     " (from the disk cache)" if cached else "")
        return fn

    def build(self, key: EngineKey, example: torch.Tensor) -> tuple[Forward, bool]:
        return self.module, False


def compile_mode(device: torch.device) -> str:
    """The torch.compile mode the compile backend uses on ``device``: ``$VSR_COMPILE_MODE`` where
    set, else max-autotune on CUDA and default elsewhere."""
    mode = os.environ.get("VSR_COMPILE_MODE") or ("max-autotune" if device.type == "cuda" else "default")
    if mode not in COMPILE_MODES:
        raise ConfigError(f"VSR_COMPILE_MODE={mode!r} is not a torch.compile mode ({', '.join(COMPILE_MODES)})")
    return mode


class CompileRunner(Runner):
    """torch.compile with Inductor, static shapes. On CUDA, mode ``max-autotune`` (autotuned kernels
    and CUDA graphs). CUDA-graph outputs live in a pool the next replay overwrites, so each call
    marks a new step and returns its own copy of the output (the pipeline keeps outputs in flight)."""

    name = "compile"
    static_shapes = True

    def __init__(self, *args, mode: str | None = None, **kw) -> None:
        super().__init__(*args, **kw)
        self.mode = mode or compile_mode(self.device)
        self.cudagraphs = self.device.type == "cuda" and self.mode in ("max-autotune", "reduce-overhead")
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir() / "inductor"))
        import torch._dynamo

        # one graph per shape (tiles add a few shapes per frame size)
        torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
        self._compiled = torch.compile(self.module, mode=self.mode, dynamic=False, fullgraph=True)

    def options(self) -> str:
        return f"mode={self.mode}"

    def build(self, key: EngineKey, example: torch.Tensor) -> tuple[Forward, bool]:
        record = cache_dir() / "engines" / f"{key.stem()}.json"
        cached = record.is_file()
        fn = self._call
        with torch.inference_mode():
            for _ in range(3 if self.cudagraphs else 1):  # CUDA graphs record on the 2nd/3rd call
                fn(example)
        _record(record, {"key": asdict(key), "built": time.strftime("%Y-%m-%dT%H:%M:%S")})
        return fn, cached

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        if self.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()
            return self._compiled(x).clone()
        return self._compiled(x)


class TensorRTRunner(Runner):
    """torch-tensorrt (dynamo front end), fp16 when the engine runs fp16; one TensorRT engine per
    shape, serialised to ``<key>.ep`` and loaded from there on later runs."""

    name = "tensorrt"
    static_shapes = True

    def build(self, key: EngineKey, example: torch.Tensor) -> tuple[Forward, bool]:
        import torch_tensorrt

        path = cache_dir() / "engines" / f"{key.stem()}.ep"
        example = example.contiguous()
        if path.is_file():
            try:
                program = torch.export.load(str(path))
                return self._wrap(program.module()), True
            except Exception as e:  # noqa: BLE001 - a stale or partial cache entry: rebuild it
                log.warning("ignoring unreadable TensorRT cache %s: %s", path, e)
        trt = torch_tensorrt.compile(
            self.module.to(memory_format=torch.contiguous_format), ir="dynamo",
            inputs=[torch_tensorrt.Input(tuple(example.shape), dtype=example.dtype)],
            enabled_precisions={example.dtype, self.dtype}, min_block_size=1,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.ep")
        torch_tensorrt.save(trt, str(tmp), output_format="exported_program", inputs=[example])
        os.replace(tmp, path)
        return self._wrap(trt), False

    @staticmethod
    def _wrap(fn: Callable) -> Forward:
        def call(x: torch.Tensor) -> torch.Tensor:
            out = fn(x.contiguous())
            return out[0] if isinstance(out, (list, tuple)) else out

        return call


RUNNERS: dict[str, type[Runner]] = {"eager": Runner, "compile": CompileRunner, "tensorrt": TensorRTRunner}


class AutoRunner(Runner):
    """Times every available backend on the first shape it meets and keeps the fastest."""

    name = "auto"
    static_shapes = False

    def __init__(self, *args, candidates: list[str] | None = None, **kw) -> None:
        super().__init__(*args, **kw)
        self.candidates = candidates or available_backends(self.device)
        self.chosen: Runner | None = None
        self.timings: dict[str, float] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.chosen is None:
            self.chosen = self._choose(x)
        return self.chosen(x)

    def _choose(self, x: torch.Tensor) -> Runner:
        key = self.key(tuple(x.shape))
        record = cache_dir() / "engines" / f"auto-{key.digest()}.json"
        args = (self.module, self.model, self.weights, self.device, self.dtype)
        if record.is_file():
            try:
                choice = json.loads(record.read_text())["choice"]
                if choice in self.candidates:
                    log.info("backend auto: %s (chosen earlier, %s)", choice, record)
                    return RUNNERS[choice](*args)
            except (OSError, ValueError, KeyError):
                pass
        best, best_ms, runners = None, float("inf"), {}
        for name in self.candidates:
            runner = RUNNERS[name](*args)
            try:
                ms = time_forward(runner, x)
            except Exception as e:  # noqa: BLE001 - a backend that fails to build is not a candidate
                log.warning("backend auto: %s failed on this model (%s); skipped", name, str(e).splitlines()[0])
                continue
            self.timings[name] = ms
            runners[name] = runner
            if ms < best_ms:
                best, best_ms = name, ms
        if best is None:
            raise BackendUnavailableError("backend auto: no backend could run this model")
        log.info("backend auto: %s (%s)", best, ", ".join(f"{k} {v:.2f} ms" for k, v in self.timings.items()))
        _record(record, {"key": asdict(key), "choice": best, "ms_per_batch": self.timings})
        return runners[best]

    def effective(self) -> Runner:
        return self.chosen if self.chosen is not None else self


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def time_forward(runner: Runner, x: torch.Tensor, repeats: int = 5) -> float:
    """Milliseconds per call after a build and warm-up: the best of ``repeats``."""
    runner(x)
    runner(x)
    _sync(runner.device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        runner(x)
        _sync(runner.device)
        best = min(best, time.perf_counter() - t)
    return best * 1000


def make_runner(backend: str, module: nn.Module, model: str, weights: str, device: torch.device,
                dtype: torch.dtype) -> Runner:
    """The runner for ``backend``; raises :class:`BackendUnavailableError` (what is missing) for
    one that cannot run here."""
    reason = unavailable(backend, device)
    if reason:
        raise BackendUnavailableError(reason)
    if backend == "auto":
        return AutoRunner(module, model, weights, device, dtype)
    return RUNNERS[backend](module, model, weights, device, dtype)


__all__ = [
    "AutoRunner", "BACKENDS", "Build", "CompileRunner", "EngineKey", "Runner", "TensorRTRunner",
    "available_backends", "cache_dir", "device_name", "library_versions", "make_runner", "time_forward",
    "unavailable",
]
