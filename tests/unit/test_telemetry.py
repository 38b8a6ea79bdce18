"""The pynvml sampler: real figures or none at all (no driver here: the absence path is the real one)."""

from __future__ import annotations

import sys
import time

import pytest

from fake_nvml import NVMLError, fake_nvml
from vsr.telemetry.nvml import METRICS, GpuSampler


def assert_absent(summary: dict) -> None:
    assert summary["available"] is False and summary["reason"]
    assert not set(summary) & set(METRICS)  # absent, not faked: no figure at all
    assert "samples" not in summary


def test_no_driver_means_unavailable_with_the_reason_and_no_numbers() -> None:
    sampler = GpuSampler(nvml=fake_nvml(init_error="NVML Shared Library Not Found"))
    assert not sampler.available
    assert "NVML Shared Library Not Found" in sampler.reason
    with sampler:  # start/stop are harmless no-ops
        time.sleep(0.01)
    assert_absent(sampler.stop())
    sampler.close()


def test_the_real_pynvml_on_this_machine_reports_figures_or_a_reason() -> None:
    sampler = GpuSampler(interval=0.02)
    sampler.start()
    time.sleep(0.05)
    summary = sampler.stop()
    sampler.close()
    if summary["available"]:  # a machine with an NVIDIA driver
        assert summary["samples"] >= 2 and summary["gpu"]
    else:
        assert_absent(summary)


def test_without_pynvml_installed(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    sampler = GpuSampler()
    assert_absent(sampler.summary())
    assert "nvidia-ml-py" in sampler.reason


def test_a_device_nvml_cannot_open_is_unavailable() -> None:
    nvml = fake_nvml()

    def bad(bus):
        raise NVMLError("Not Found")

    nvml.nvmlDeviceGetHandleByPciBusId = bad
    sampler = GpuSampler("00000000:99:00.0", nvml=nvml)
    assert_absent(sampler.summary())
    assert "00000000:99:00.0" in sampler.reason


def test_samples_in_the_background_and_summarises_each_metric() -> None:
    sampler = GpuSampler(0, interval=0.01, nvml=fake_nvml())
    assert sampler.available and sampler.name == "Fake GPU 80GB"
    sampler.start()
    time.sleep(0.1)
    s = sampler.stop()
    assert s["available"] is True and s["gpu"] == "Fake GPU 80GB" and s["driver"] == "999.1"
    assert s["samples"] >= 3 and s["seconds"] > 0
    assert s["util_pct"]["min"] < s["util_pct"]["mean"] < s["util_pct"]["max"] <= 100
    assert s["mem_used_mib"] == {"mean": 3072.0, "min": 3072.0, "max": 3072.0}
    assert s["power_w"]["mean"] == 250.0 and s["sm_clock_mhz"]["max"] == 1980 and s["temp_c"]["min"] == 60
    # a second run starts from scratch
    sampler.start()
    s2 = sampler.stop()
    assert 2 <= s2["samples"] < s["samples"]
    sampler.close()


def test_a_metric_the_gpu_does_not_report_is_left_out_not_zeroed() -> None:
    sampler = GpuSampler(nvml=fake_nvml(power=False, flaky_temp=True), interval=0.01)
    with sampler:
        time.sleep(0.05)
    s = sampler.summary()
    assert "power_w" not in s and "util_pct" in s
    # temperature read once at open (supported), then failing: no made-up samples
    assert "temp_c" not in s or s["temp_c"]["min"] == 60


def test_bad_interval_is_refused() -> None:
    with pytest.raises(ValueError):
        GpuSampler(interval=0, nvml=fake_nvml())
