"""Still-image io through FFmpeg."""

from __future__ import annotations

import numpy as np
import pytest

from vsr.errors import InputNotFoundError, OutputError
from vsr.io.image import read_image, write_image


def test_png_is_lossless_and_jpeg_quality_takes_effect(tmp_path) -> None:
    rgb = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    write_image(tmp_path / "a.png", rgb)
    assert np.array_equal(read_image(tmp_path / "a.png"), rgb)
    errors, sizes = [], []
    for quality in (10, 50, 95):
        path = tmp_path / f"q{quality}.jpg"
        write_image(path, rgb, quality=quality)
        errors.append(np.abs(read_image(path).astype(int) - rgb).mean())
        sizes.append(path.stat().st_size)
    assert errors[0] > errors[1] > errors[2] and sizes[0] < sizes[1] < sizes[2]


def test_image_errors(tmp_path) -> None:
    with pytest.raises(InputNotFoundError):
        read_image(tmp_path / "missing.png")
    with pytest.raises(OutputError, match="unknown suffix"):
        write_image(tmp_path / "x.gifx", np.zeros((4, 4, 3), np.uint8))
