"""Transparency in video: what an input frame's alpha is read as, and which format an encoder is
given to keep it (vsr.io.media)."""

from __future__ import annotations

from types import SimpleNamespace

import av
import numpy as np
import pytest

from vsr.io.media import EncodeOptions, alpha_format, alpha_plane, choose_pix_fmt, with_alpha


# where the alpha sits in a packed pixel
PACKED_ALPHA = {"rgba": 3, "bgra": 3, "argb": 0, "ya8": 1, "rgba64le": 3}


def frame_with_alpha(fmt: str, codes: np.ndarray) -> av.VideoFrame:
    """A frame whose alpha holds ``codes`` (in the format's own bits), written straight into its
    planes: swscale's conversions into these formats are not all exact."""
    height, width = codes.shape
    frame = av.VideoFrame(width, height, fmt)
    desc = av.VideoFormat(fmt)
    alpha = next(c for c in desc.components if c.is_alpha)
    dtype = np.uint8 if alpha.bits <= 8 else np.uint16
    for index, plane in enumerate(frame.planes):
        rows = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // np.dtype(dtype).itemsize)
        rows[:] = 1 << (alpha.bits - 1)  # mid grey everywhere
        if index == alpha.plane:
            channels = sum(c.plane == index for c in desc.components)
            pixels = rows[:, : width * channels].reshape(height, width, channels)
            pixels[..., PACKED_ALPHA.get(fmt, 0)] = codes
    return frame


@pytest.mark.parametrize("fmt", ["rgba", "argb", "bgra", "yuva420p", "yuva444p", "gbrap", "ya8"])
def test_an_8_bit_alpha_is_read_exactly_from_packed_and_planar_formats(fmt) -> None:
    alpha = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (6, 1))  # 6x32, every 8th code
    got = alpha_plane(frame_with_alpha(fmt, alpha))
    assert got is not None and got.dtype == np.uint8 and got.shape == alpha.shape
    assert np.array_equal(got, alpha)


@pytest.mark.parametrize("fmt,bits", [("yuva444p10le", 10), ("yuva420p10le", 10), ("rgba64le", 16),
                                      ("gbrap12le", 12)])
def test_a_deeper_alpha_is_read_at_the_16_bit_scale(fmt, bits) -> None:
    top = (1 << bits) - 1
    codes = np.tile(np.array([0, 1, top // 2, top - 1, top] * 2, np.uint16), (4, 1))
    got = alpha_plane(frame_with_alpha(fmt, codes))
    assert got is not None and got.dtype == np.uint16
    assert got.min() == 0 and got.max() == 65535  # transparent and opaque stay so
    assert np.abs(got / 65535.0 - codes / top).max() < 0.5 / 65535 + 1e-9  # the nearest 16-bit code


def test_formats_without_alpha_have_none() -> None:
    frame = av.VideoFrame.from_ndarray(np.zeros((4, 4, 3), np.uint8), format="rgb24")
    for fmt in ("yuv420p", "rgb24", "gray", "yuv444p10le"):
        assert alpha_plane(frame.reformat(format=fmt)) is None


def test_each_encoder_is_given_the_format_that_keeps_alpha_or_none() -> None:
    assert with_alpha("yuv420p") == "yuva420p" and with_alpha("yuvj444p") == "yuva444p"
    assert with_alpha("yuv444p10le") == "yuva444p10le" and with_alpha("yuv420p12le") is None
    enc = lambda name: av.Codec(name, "w")  # noqa: E731
    assert alpha_format("yuv420p", enc("libvpx-vp9")) == "yuva420p"
    assert alpha_format("yuv420p", enc("ffv1")) == "yuva420p"
    assert alpha_format("yuv444p10le", enc("prores_ks")) == "yuva444p10le"
    assert alpha_format("yuv422p10le", enc("prores_ks")) is None  # ProRes 4444 is 4:4:4 only
    assert alpha_format("yuv444p", enc("png")) == "rgba"
    assert alpha_format("yuv444p10le", enc("png")) == "rgba64be"  # deep planes keep a deep alpha
    assert alpha_format("yuv444p", enc("qtrle")) == "argb"
    assert alpha_format("yuv444p10le", enc("qtrle")) == "argb"  # its only alpha format
    assert alpha_format("yuv444p", enc("gif")) == "pal8"  # with one transparent palette entry
    for name in ("libx264", "mpeg4", "libx265"):  # x265 lists yuva420p but cannot open it here
        assert alpha_format("yuv420p", enc(name)) is None, name


def info(bits: int = 8, width: int = 64, height: int = 48) -> SimpleNamespace:
    return SimpleNamespace(width=width, height=height, layout=SimpleNamespace(bits=bits))


def test_with_alpha_the_planes_are_chosen_so_the_encoder_can_keep_it() -> None:
    auto = EncodeOptions(codec="auto")
    prores, vp9, x264 = (av.Codec(n, "w") for n in ("prores_ks", "libvpx-vp9", "libx264"))
    # ProRes: 4:2:2 10-bit without alpha (as ffmpeg picks), 4:4:4 with it (ProRes 4444)
    assert choose_pix_fmt(info(8), auto, prores, 2) == "yuv422p10le"
    assert choose_pix_fmt(info(8), auto, prores, 2, alpha=True) == "yuv444p10le"
    assert choose_pix_fmt(info(8), auto, vp9, 2, alpha=True) == "yuv420p"
    assert choose_pix_fmt(info(8, 31, 17), auto, vp9, 1, alpha=True) == "yuv444p"  # odd: no 4:2:0
    assert choose_pix_fmt(info(8), auto, x264, 2, alpha=True) == "yuv420p"  # nothing to gain: as without
    # an explicit --pix-fmt is what it says, alpha or not
    assert choose_pix_fmt(info(8), EncodeOptions(codec="auto", pix_fmt="yuv422p10le"), prores, 2,
                          alpha=True) == "yuv422p10le"
