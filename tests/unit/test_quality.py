"""The monitor's scores rank known cases the right way round."""

from __future__ import annotations

import pytest
import torch

from clips import natural_picture
from vsr.archs.resample import ResampleUpscaler
from vsr.metrics import quality
from vsr.metrics.stlpips import STLPIPS
from vsr.ops.highfreq import gaussian_blur

SCALE = 2


@pytest.fixture(scope="module")
def frame() -> torch.Tensor:
    return torch.from_numpy(natural_picture(128)).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def lpips() -> STLPIPS:
    return STLPIPS("alex")


lanczos = ResampleUpscaler(SCALE, "lanczos")


def good(x: torch.Tensor) -> torch.Tensor:
    return lanczos(x).clamp(0, 1)


def blurred(x: torch.Tensor) -> torch.Tensor:
    return gaussian_blur(good(x), sigma=2.0)


def noisy(x: torch.Tensor) -> torch.Tensor:
    g = torch.Generator().manual_seed(int(x.sum() * 1000) % 2**31)
    return (good(x) + 0.08 * torch.randn(good(x).shape, generator=g)).clamp(0, 1)


def test_cross_scale_ranks_good_over_blurred_and_noisy(frame, lpips) -> None:
    scores = {name: quality.cross_scale(frame, fn, SCALE, lpips) for name, fn in
              (("good", good), ("blurred", blurred), ("noisy", noisy))}
    assert scores["good"]["cross_scale_lpips"] < scores["blurred"]["cross_scale_lpips"]
    assert scores["good"]["cross_scale_lpips"] < scores["noisy"]["cross_scale_lpips"]
    assert scores["good"]["cross_scale_psnr"] > scores["blurred"]["cross_scale_psnr"]
    assert scores["good"]["cross_scale_psnr"] > scores["noisy"]["cross_scale_psnr"]


def test_cross_scale_student_ranks_like_stlpips(frame, lpips) -> None:
    from vsr.metrics.student import load_student

    metrics = {"cross_scale_lpips": lpips, "cross_scale_lpips_student": load_student()}
    scores = {name: quality.cross_scale(frame, fn, SCALE, metrics) for name, fn in
              (("good", good), ("blurred", blurred), ("noisy", noisy))}
    for key in metrics:
        assert scores["good"][key] < scores["blurred"][key]
        assert scores["good"][key] < scores["noisy"][key]


def test_fidelity_ranks_true_output_over_blurred_and_noisy(frame) -> None:
    f = {name: quality.fidelity_psnr(frame, fn(frame), SCALE) for name, fn in
         (("good", good), ("blurred", blurred), ("noisy", noisy))}
    assert f["good"] > f["blurred"] and f["good"] > f["noisy"]


def test_detail_ratio(frame) -> None:
    assert quality.detail_ratio(frame, quality.bicubic_up(frame, SCALE), SCALE) == pytest.approx(1.0)
    sharp = quality.detail_ratio(frame, good(frame), SCALE)
    soft = quality.detail_ratio(frame, blurred(frame), SCALE)
    assert sharp > 1.0 > soft


def test_flicker_steady_output_beats_per_frame_noise(frame) -> None:
    still = frame.clone()  # the input does not change between the two frames
    steady = quality.flicker_ratio(frame, still, good(frame), good(still), SCALE)
    flickery = quality.flicker_ratio(frame, still, noisy(frame), noisy(still + 1e-6), SCALE)
    assert steady == pytest.approx(1.0, abs=0.05)
    assert flickery > 3.0
    moving = torch.roll(frame, shifts=5, dims=-1) * 0.5  # every pixel changed: nothing to judge
    assert quality.flicker_ratio(frame, moving, good(frame), good(moving), SCALE) is None
