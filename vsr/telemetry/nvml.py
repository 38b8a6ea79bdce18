"""A background thread that samples an NVIDIA GPU through pynvml (NVML) while work runs.

Samples GPU utilisation, memory used, power draw, SM clock and temperature every ``interval``
seconds between :meth:`GpuSampler.start` and :meth:`GpuSampler.stop`, and summarises each as
mean/min/max. Where NVML cannot be used (no driver, no library, bad device) the sampler is
``available = False`` with the reason, and its summary holds no numbers at all: a figure is either
measured or absent, never made up. A metric the GPU does not report (e.g. power on some boards) is
left out of the summary on its own.

    with GpuSampler(device=0) as gpu:
        run_the_work()
    gpu.summary()  # {"available": True, "gpu": "NVIDIA H100 ...", "util_pct": {"mean": ...}, ...}
"""

from __future__ import annotations

import importlib
import threading
import time
from types import ModuleType
from typing import Any, Callable

METRICS: dict[str, str] = {
    "util_pct": "GPU utilisation (% of time a kernel ran)",
    "mem_used_mib": "device memory used, all processes (MiB)",
    "power_w": "board power draw (W)",
    "sm_clock_mhz": "SM clock (MHz)",
    "temp_c": "GPU temperature (degrees C)",
}


def _readers(nvml: ModuleType) -> dict[str, Callable[[Any], float]]:
    return {
        "util_pct": lambda h: float(nvml.nvmlDeviceGetUtilizationRates(h).gpu),
        "mem_used_mib": lambda h: nvml.nvmlDeviceGetMemoryInfo(h).used / 2**20,
        "power_w": lambda h: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0,
        "sm_clock_mhz": lambda h: float(nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM)),
        "temp_c": lambda h: float(nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)),
    }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class GpuSampler:
    """Samples one GPU at ``1/interval`` Hz in a daemon thread.

    ``device`` is an NVML index or a PCI bus id (``"00000000:17:00.0"``, robust to
    ``CUDA_VISIBLE_DEVICES``). ``nvml`` replaces the pynvml module (tests).
    """

    def __init__(self, device: int | str = 0, interval: float = 0.1, nvml: ModuleType | None = None) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0, got {interval}")
        self.interval = interval
        self.available = False
        self.reason = ""
        self.name = ""
        self.driver = ""
        self._nvml: Any = None
        self._handle: Any = None
        self._readers: dict[str, Callable[[Any], float]] = {}
        self._samples: dict[str, list[float]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._t0 = self._t1 = 0.0
        self._open(device, nvml)

    def _open(self, device: int | str, nvml: ModuleType | None) -> None:
        if nvml is None:
            try:
                nvml = importlib.import_module("pynvml")
            except ImportError:
                self.reason = "pynvml is not installed (pip install nvidia-ml-py)"
                return
        try:
            nvml.nvmlInit()
        except Exception as e:  # noqa: BLE001 - NVMLError_LibraryNotFound, _DriverNotLoaded, ...
            self.reason = f"NVML unavailable: {_text(e) or type(e).__name__} (no NVIDIA driver here?)"
            return
        self._nvml = nvml
        try:
            if isinstance(device, str):
                self._handle = nvml.nvmlDeviceGetHandleByPciBusId(device)
            else:
                self._handle = nvml.nvmlDeviceGetHandleByIndex(device)
            self.name = _text(nvml.nvmlDeviceGetName(self._handle))
            try:
                self.driver = _text(nvml.nvmlSystemGetDriverVersion())
            except Exception:  # noqa: BLE001 - the version is a nicety, not a measurement
                self.driver = ""
        except Exception as e:  # noqa: BLE001
            self.reason = f"NVML cannot open GPU {device!r}: {_text(e) or type(e).__name__}"
            self._shutdown()
            return
        # A metric this GPU does not report is dropped here, once, rather than faked later.
        for key, read in _readers(nvml).items():
            try:
                read(self._handle)
            except Exception:  # noqa: BLE001 - NVMLError_NotSupported and friends
                continue
            self._readers[key] = read
        self.available = True

    def _shutdown(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001 - best effort at the end
                pass
            self._nvml = None

    # -- sampling --------------------------------------------------------------------------------

    def sample(self) -> None:
        """Take one sample now (the thread calls this; also usable by hand)."""
        if not self.available:
            return
        values = {}
        for key, read in self._readers.items():
            try:
                values[key] = read(self._handle)
            except Exception:  # noqa: BLE001 - a failed read is a missing sample, not a zero
                continue
        with self._lock:
            for key, value in values.items():
                self._samples.setdefault(key, []).append(value)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> "GpuSampler":
        """Clear old samples and start sampling (a no-op when unavailable)."""
        if self._thread is not None:
            raise RuntimeError("sampler already running")
        with self._lock:
            self._samples = {}
        self._t0 = self._t1 = time.perf_counter()
        if self.available:
            self._stop.clear()
            self.sample()
            self._thread = threading.Thread(target=self._loop, name="vsr-nvml", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        """Stop sampling (one last sample first) and return :meth:`summary`."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.sample()
        self._t1 = time.perf_counter()
        return self.summary()

    def close(self) -> None:
        if self._thread is not None:
            self.stop()
        self._shutdown()
        self._readers = {}

    def __enter__(self) -> "GpuSampler":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- results ---------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """``{"available": False, "reason": ...}``, or the GPU, sample count and per-metric
        ``{"mean", "min", "max"}`` for each metric that was read at least once."""
        if not self.available:
            return {"available": False, "source": "pynvml", "reason": self.reason}
        with self._lock:
            samples = {k: list(v) for k, v in self._samples.items()}
        out: dict[str, Any] = {
            "available": True,
            "source": "pynvml",
            "gpu": self.name,
            "driver": self.driver,
            "interval_s": self.interval,
            "seconds": round(self._t1 - self._t0, 3),
            "samples": max((len(v) for v in samples.values()), default=0),
        }
        for key in METRICS:
            values = samples.get(key)
            if values:
                out[key] = {
                    "mean": round(sum(values) / len(values), 2),
                    "min": round(min(values), 2),
                    "max": round(max(values), 2),
                }
        return out
