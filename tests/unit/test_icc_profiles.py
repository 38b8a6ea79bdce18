"""ICC profiles made from colour tags (vsr.io.icc.profile_for), checked by littleCMS."""

from __future__ import annotations

import io

import numpy as np
import pytest

from vsr.io.icc import profile_for

ImageCms = pytest.importorskip("PIL.ImageCms")  # Pillow (the `test` extra), built with littleCMS
Image = pytest.importorskip("PIL.Image")


def _decode(v: np.ndarray) -> np.ndarray:
    v = v / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _encode(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0, 1)
    return np.round(255 * np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055))


# RGB -> XYZ (D65) of sRGB and Display P3, from their primaries (IEC 61966-2-1, SMPTE EG 432-1)
SRGB = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
P3 = np.array([[0.48657, 0.26567, 0.19822], [0.22897, 0.69174, 0.07929], [0.0, 0.04511, 1.04394]])


def _to_srgb(profile: bytes, rgb: np.ndarray) -> np.ndarray:
    """``rgb`` (N,3 uint8) in ``profile``, converted by littleCMS to sRGB (relative colorimetric)."""
    src = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    image = Image.fromarray(rgb[None].astype(np.uint8))
    return np.asarray(ImageCms.profileToProfile(image, src, ImageCms.createProfile("sRGB"), renderingIntent=1))[0]


def test_an_srgb_profile_made_from_tags_is_sRGB_to_the_code_value() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (500, 3))
    assert np.abs(_to_srgb(profile_for(1, 13), rgb).astype(int) - rgb).max() == 0
    assert profile_for(None, None) == profile_for(1, 13)


def test_a_display_p3_profile_converts_as_its_primaries_say() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (500, 3))
    expected = _encode(_decode(rgb.astype(float)) @ P3.T @ np.linalg.inv(SRGB).T)
    got = _to_srgb(profile_for(12, 13), rgb).astype(int)
    assert np.abs(got - expected).max() <= 1
    assert np.abs(got - rgb).mean() > 5  # (and it is not sRGB: saturated colours move)
    desc = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile_for(12, 13))))
    assert desc.strip() == "Display P3, sRGB curve (vsr)"


def test_what_a_matrix_profile_cannot_say_gets_none() -> None:
    assert profile_for(9, 16) is None and profile_for(9, 18) is None  # PQ, HLG
    assert profile_for(22, 13) is None  # primaries it does not know
    assert profile_for(9, 14) is not None  # BT.2020 SDR
