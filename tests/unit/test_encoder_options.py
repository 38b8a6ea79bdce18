"""--crf, --preset and --tune in each encoder's own terms (vsr.io.media.encoder_options)."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import av
import pytest

from vsr.errors import ConfigError
from vsr.io.media import EncodeOptions, choose_pix_fmt, crf_to_qscale, encoder_options


def opts(codec: str, **kw) -> EncodeOptions:
    return EncodeOptions(codec=codec, **kw)


def test_x264_and_x265_take_crf_preset_and_tune_as_ffmpeg_does() -> None:
    assert encoder_options(opts("libx264", crf=20, preset="slow", tune="film,fastdecode")) == {
        "crf": "20", "preset": "slow", "tune": "film,fastdecode"}
    assert encoder_options(opts("libx264", low_latency=True))["tune"] == "zerolatency"
    x265 = encoder_options(opts("libx265", crf=24, preset="fast", tune="grain"))
    assert (x265["crf"], x265["preset"], x265["tune"]) == ("24", "fast", "grain")


def test_vp9_is_constant_quality_and_vp8_a_fixed_quantizer() -> None:
    vp9 = encoder_options(opts("libvpx-vp9", crf=30))
    assert vp9["crf"] == "30" and vp9["b"] == "0"  # ffmpeg's -crf 30 -b:v 0; without b:v 0 crf is a cap
    assert "cpu-used" not in vp9  # medium = libvpx's own default speed
    assert encoder_options(opts("libvpx-vp9", preset="veryfast"))["cpu-used"] == "5"
    vp8 = encoder_options(opts("libvpx", crf=10), Fraction(25), 1280 * 720)
    assert vp8["qmin"] == vp8["qmax"] == "10" and int(vp8["b"]) == 1280 * 720 * 25  # a 1 bit/pixel ceiling


def test_mpeg_family_gets_a_fixed_quantizer_from_crf() -> None:
    assert [crf_to_qscale(c) for c in (0, 18, 24, 30, 36, 42, 63)] == [2, 2, 4, 8, 16, 31, 31]
    assert encoder_options(opts("mpeg2video", crf=24)) == {"flags": "+qscale", "qmin": "4", "qmax": "4"}


def test_nvenc_and_svtav1_presets_are_mapped() -> None:
    assert encoder_options(opts("h264_nvenc", crf=21, preset="slow"))["preset"] == "p5"
    assert encoder_options(opts("hevc_nvenc", preset="p2"))["preset"] == "p2"
    assert encoder_options(opts("libsvtav1", preset="veryfast"))["preset"] == "10"
    assert encoder_options(opts("libsvtav1", preset="4"))["preset"] == "4"


@pytest.mark.parametrize(
    "codec,kw,message",
    [
        ("libx264", {"preset": "sloww"}, "unknown preset 'sloww' for libx264 (valid: ultrafast"),
        ("libx265", {"preset": "p4"}, "unknown preset 'p4' for libx265"),
        ("libsvtav1", {"preset": "99"}, "unknown preset '99' for libsvtav1"),
        ("libvpx-vp9", {"preset": "fastest"}, "unknown preset 'fastest' for libvpx-vp9"),
        ("libx264", {"tune": "film,bogus"}, "unknown tune 'bogus' for libx264"),
        ("libx265", {"tune": "film"}, "unknown tune 'film' for libx265"),
        ("ffv1", {"tune": "film"}, "ffv1 takes no tune"),
        ("libx264", {"crf": 52}, "crf must be in 0..51 for libx264, got 52"),
        ("h264_nvenc", {"crf": 60}, "crf must be in 0..51 for h264_nvenc"),
        ("libvpx-vp9", {"crf": 64}, "crf must be in 0..63 for libvpx-vp9"),
    ],
)
def test_values_an_encoder_does_not_take_are_one_clear_error(codec, kw, message) -> None:
    with pytest.raises(ConfigError) as e:
        encoder_options(opts(codec, **kw))
    assert message in str(e.value)


def test_jpeg_planes_are_full_range_as_its_encoder_requires() -> None:
    # FFmpeg's mjpeg encoder refuses limited-range 4:2:0 at open ("Invalid argument"): --codec mjpeg
    # and .jpg frames failed before any frame was written
    info = SimpleNamespace(width=64, height=48, layout=SimpleNamespace(bits=8))
    mjpeg = av.Codec("mjpeg", "w")
    assert choose_pix_fmt(info, EncodeOptions(codec="mjpeg"), mjpeg, 2) == "yuvj420p"
    assert choose_pix_fmt(info, EncodeOptions(codec="mjpeg", pix_fmt="yuv444p"), mjpeg, 2) == "yuvj444p"
    assert choose_pix_fmt(info, EncodeOptions(codec="libx264"), av.Codec("libx264", "w"), 2) == "yuv420p"
