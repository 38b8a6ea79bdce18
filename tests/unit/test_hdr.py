"""HDR10 static metadata: read from the source's frames, written by the output's encoder."""

from __future__ import annotations

from fractions import Fraction as F

import av
import pytest
from click.testing import CliRunner

from clips import HDR10_X265, write_clip, write_hdr10
from vsr.cli.main import cli
from vsr.io.hdr import HdrMetadata, encoder_params, merge_params, read_hdr

GRADE = HdrMetadata(
    primaries=((F(34000, 50000), F(16000, 50000)), (F(13250, 50000), F(34500, 50000)), (F(7500, 50000), F(3000, 50000))),
    white_point=(F(15635, 50000), F(16450, 50000)),
    luminance=(F(50, 10000), F(1000)),
    max_cll=1000,
    max_fall=400,
)


def first_frame_hdr(path) -> HdrMetadata | None:
    with av.open(str(path)) as c:
        return read_hdr(next(c.decode(video=0)))


def close(a: HdrMetadata, b: HdrMetadata, tol: float = 1e-4) -> bool:
    """Equal to the encoders' precision (SVT-AV1 stores 16-bit fixed point)."""
    def flat(m):
        pts = [c for p in m.primaries for c in p] + list(m.white_point) + list(m.luminance)
        return [float(x) for x in pts], (m.max_cll, m.max_fall)
    (pa, la), (pb, lb) = flat(a), flat(b)
    return la == lb and all(abs(x - y) <= tol * max(1, abs(y)) for x, y in zip(pa, pb))


def test_read_from_the_frames_exactly_and_none_for_sdr(tmp_path) -> None:
    assert first_frame_hdr(write_hdr10(tmp_path / "hdr.mkv")) == GRADE
    assert first_frame_hdr(write_clip(tmp_path / "sdr.mkv", frames=2)) is None
    assert "1000/0.005 cd/m2" in GRADE.describe() and "MaxCLL 1000, MaxFALL 400" in GRADE.describe()


def test_encoder_parameters_in_each_encoders_own_units() -> None:
    assert encoder_params("libx265", GRADE) == ("x265-params", HDR10_X265)
    key, value = encoder_params("libx264", GRADE)
    assert key == "x264-params" and value == HDR10_X265.replace("master-display", "mastering-display").replace(
        "max-cll", "cll")
    key, value = encoder_params("libsvtav1", GRADE)
    assert key == "svtav1-params" and value == (
        "mastering-display=G(0.26500,0.69000)B(0.15000,0.06000)R(0.68000,0.32000)WP(0.31270,0.32900)"
        "L(1000.0000,0.0050):content-light=1000,400")
    assert encoder_params("libvpx-vp9", GRADE) is None
    light_only = HdrMetadata(max_cll=600, max_fall=200)
    assert encoder_params("libx265", light_only) == ("x265-params", "max-cll=600,200")
    options = {"x265-params": "log-level=error"}
    merge_params(options, "x265-params", "max-cll=600,200")
    merge_params(options, "svtav1-params", "content-light=1,2")
    assert options == {"x265-params": "log-level=error:max-cll=600,200", "svtav1-params": "content-light=1,2"}


@pytest.mark.parametrize("suffix,codec", [(".mkv", "libx265"), (".mp4", "auto"), (".mkv", "libsvtav1")])
def test_upscaled_hdr10_keeps_its_metadata(suffix, codec, tmp_path) -> None:
    src = write_hdr10(tmp_path / "hdr.mkv")
    out = tmp_path / f"out{suffix}"
    result = CliRunner().invoke(cli, ["upscale", str(src), "-o", str(out), "-m", "bicubic", "-q", "--codec", codec,
                                      "--preset", "ultrafast"])
    assert result.exit_code == 0, result.stderr
    assert "HDR10" not in result.stderr
    with av.open(str(out)) as c:
        frame = next(c.decode(video=0))
        assert (frame.format.name, frame.color_primaries, frame.color_trc) == ("yuv420p10le", 9, 16)
        assert close(read_hdr(frame), GRADE)


def test_an_encoder_that_cannot_write_it_says_so(tmp_path) -> None:
    src = write_hdr10(tmp_path / "hdr.mkv", frames=2)
    result = CliRunner().invoke(cli, ["upscale", str(src), "-o", str(tmp_path / "out.mkv"), "-m", "bicubic",
                                      "-q", "--codec", "ffv1"])
    assert result.exit_code == 0, result.stderr
    assert "HDR10 metadata (mastering display 1000/0.005 cd/m2, MaxCLL 1000, MaxFALL 400) is not written by ffv1" \
        in result.stderr
    assert "bits per sample" not in result.stderr  # ffv1 keeps the 10 bits
    result = CliRunner().invoke(cli, ["upscale", str(src), "-o", str(tmp_path / "out.webm"), "-m", "bicubic", "-q"])
    assert result.exit_code == 0, result.stderr
    assert "not written by libvpx-vp9" in result.stderr  # VP9 here: 8 bits only, no HDR10 SEI
    assert "the input has 10 bits per sample and libvpx-vp9 here writes 8" in result.stderr
