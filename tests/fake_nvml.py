"""A stand-in for the pynvml module, for tests of the GPU sampler on machines without NVIDIA."""

from __future__ import annotations

from types import SimpleNamespace


class NVMLError(Exception):
    pass


def fake_nvml(*, init_error: str | None = None, power: bool = True, flaky_temp: bool = False):
    """A stand-in for the pynvml module with a GPU whose utilisation climbs 10% per read."""
    state = {"util": 0, "temp_reads": 0}

    def init():
        if init_error:
            raise NVMLError(init_error)

    def util(h):
        state["util"] = min(state["util"] + 10, 100)
        return SimpleNamespace(gpu=state["util"], memory=5)

    def power_usage(h):
        if not power:
            raise NVMLError("Not Supported")
        return 250_000  # mW

    def temperature(h, sensor):
        state["temp_reads"] += 1
        if flaky_temp and state["temp_reads"] > 1:
            raise NVMLError("Unknown Error")
        return 60

    return SimpleNamespace(
        nvmlInit=init, nvmlShutdown=lambda: None,
        nvmlDeviceGetHandleByIndex=lambda i: ("gpu", i),
        nvmlDeviceGetHandleByPciBusId=lambda bus: ("gpu", bus),
        nvmlDeviceGetName=lambda h: b"Fake GPU 80GB",
        nvmlSystemGetDriverVersion=lambda: "999.1",
        nvmlDeviceGetUtilizationRates=util,
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(used=3 * 2**30, total=80 * 2**30),
        nvmlDeviceGetPowerUsage=power_usage,
        nvmlDeviceGetClockInfo=lambda h, clock: 1980,
        nvmlDeviceGetTemperature=temperature,
        NVML_CLOCK_SM=1, NVML_TEMPERATURE_GPU=0,
    )
