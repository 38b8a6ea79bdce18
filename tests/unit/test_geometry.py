"""--size and --outscale: the output's size, the model scale that reaches it, the aspect, the resize."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F

from vsr.config import PipelineConfig
from vsr.errors import ConfigError
from vsr.io.geometry import check_geometry, model_scale_for, output_sar, output_size, parse_size, quarter_turned
from vsr.ops.resize import resize_to
from vsr.pipeline.upscale import plan_output


@pytest.mark.parametrize("text,expected", [
    ("1920x1080", (1920, 1080)), ("1920:1080", (1920, 1080)), ("1920", (1920, 0)), ("1920x", (1920, 0)),
    ("x1080", (0, 1080)), ("1080p", (0, 1080)), ("4K", (0, 2160)), (" 720p ", (0, 720)),
])
def test_sizes_are_read_as_ffmpeg_and_video2x_users_write_them(text, expected) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "x", "abc", "1920x1080x3", "0x100", "100x0", "99999x10", "-5x10", "1.5x2"])
def test_bad_sizes_are_a_clear_error(text) -> None:
    with pytest.raises(ConfigError, match="bad size"):
        parse_size(text)


def test_a_missing_side_keeps_the_aspect_rounded_to_even() -> None:
    assert output_size(640, 272, 2, "x720") == (1694, 720)  # 640/272*720 = 1694.1
    assert output_size(1280, 720, 2, "1080p") == (1920, 1080)
    assert output_size(853, 480, 2, outscale=1.5) == (1280, 720)  # 1279.5 -> even
    assert output_size(63, 47, 2, outscale=3) == (189, 141)  # whole: kept, odd or not (as -s 3)
    assert output_size(640, 360, 4) == (2560, 1440)  # neither: the model's scale
    assert output_size(63, 47, 2, "101x77") == (101, 77)  # given sides are kept as given


def test_a_size_is_of_the_picture_as_shown_and_a_named_height_is_its_short_side() -> None:
    # a phone's portrait video is stored 1920x1080 and shown a quarter turn round: 1080x1920. A size
    # is what the user sees (as ffmpeg sizes after its autorotate), and comes back as stored; the
    # stored sides were taken for the shown ones, and 1080x1920 squeezed the picture to 9:16 twice
    assert [quarter_turned(r) for r in (90, -90, 270, 180, 0, None)] == [True, True, True, False, False, False]
    assert output_size(1920, 1080, 2, "1080x1920", turned=True) == (1920, 1080)
    assert output_size(960, 540, 2, "x1920", turned=True) == (1920, 1080)
    assert output_size(960, 540, 2, "1440", turned=True) == (2560, 1440)  # 1440 wide as shown
    # "1080p" is the short side, as a phone calls its portrait recording 1080p: stored upright too
    assert output_size(960, 540, 2, "1080p", turned=True) == (1920, 1080)
    assert output_size(540, 960, 2, "1080p") == (1080, 1920)
    assert output_size(1280, 720, 2, "1080p") == output_size(1280, 720, 2, "1080p", turned=False) == (1920, 1080)
    assert output_size(960, 540, 2, outscale=1.5, turned=True) == (1440, 810)  # a factor is a factor
    config = replace(PipelineConfig(), encode=replace(PipelineConfig().encode, size="x1920"))
    assert plan_output(config, 960, 540, rotation=-90)[1] == (1920, 1080)


def test_geometry_errors() -> None:
    with pytest.raises(ConfigError, match="not both"):
        check_geometry("1080p", 2.0)
    with pytest.raises(ConfigError, match="--outscale must be in"):
        check_geometry("", -1.0)
    with pytest.raises(ConfigError, match="at most 16384"):
        output_size(4000, 3000, 2, outscale=8)
    with pytest.raises(ConfigError, match="FFmpeg's frame limit"):
        output_size(64, 48, 2, "16384x16384")  # each side allowed, the area not
    with pytest.raises(ConfigError, match="the output would be 30720x17280"):
        output_size(7680, 4320, 4)  # 8K x4, without --size too


def test_the_smallest_model_scale_that_reaches_the_size_is_chosen() -> None:
    assert model_scale_for(1280, 720, 1920, 1080) == 2  # 1.5x
    assert model_scale_for(640, 360, 1280, 720) == 2  # exactly 2x
    assert model_scale_for(640, 360, 1920, 1080) == 4  # 3x: x4, then shrunk
    assert model_scale_for(320, 180, 3840, 2160) == 4  # 12x: the largest, then enlarged
    assert model_scale_for(640, 360, 1920, 1080, scales=(2, 3, 4)) == 3  # the classic scalers have x3


def test_plan_output_settles_the_scale_only_when_asked() -> None:
    base = PipelineConfig()

    def plan(model: str, scale: int, size: str = "", outscale: float = 0.0) -> tuple[int, tuple[int, int]]:
        c = replace(base, model=replace(base.model, name=model, scale=scale),
                    encode=replace(base.encode, size=size, outscale=outscale))
        config, out = plan_output(c, 640, 360)
        return config.model.scale, out

    assert plan("auto", 0, outscale=1.5) == (2, (960, 540))
    assert plan("auto", 0, "1080p") == (4, (1920, 1080))
    assert plan("auto", 0) == (2, (1280, 720))
    assert plan("compact-x2-fast", 0, outscale=3) == (2, (1920, 1080))  # a fixed-scale model keeps its own
    assert plan("lanczos", 0, outscale=3) == (3, (1920, 1080))
    assert plan("auto", 2, outscale=3) == (2, (1920, 1080))  # -s given: kept
    assert plan("auto", 3) == (4, (1920, 1080))  # -s 3, default model: x4 shrunk (no network is x3)
    assert plan("lanczos", 3) == (3, (1920, 1080))  # a named classic scaler runs its own x3


def test_display_aspect_is_kept_through_the_sample_aspect_ratio() -> None:
    assert output_sar(Fraction(1), 640, 272, 1694, 720) == 1  # rounding to even: square stays square
    assert output_sar(Fraction(1), 1440, 1080, 1920, 1080) == Fraction(3, 4)  # 4:3 stretched to 16:9
    assert output_sar(Fraction(4, 3), 720, 576, 2880, 2304) == Fraction(4, 3)
    assert output_sar(None, 1440, 1080, 1920, 1080) is None  # unknown stays unknown, as ffmpeg


def test_resize_shrinks_without_aliasing_and_keeps_flat_and_same_size_images() -> None:
    flat = torch.full((1, 3, 40, 60), 0.3)
    assert torch.allclose(resize_to(flat, 30, 45), torch.full((1, 3, 30, 45), 0.3), atol=1e-6)
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(resize_to(x, 16, 16), x)
    # a one-pixel checkerboard (all Nyquist) shrunk to 3/4: antialiased it is nearly flat grey;
    # point-sampled (no antialiasing) it would be a moire of full-contrast stripes
    board = ((torch.arange(64)[:, None] + torch.arange(64)[None]) % 2).float().expand(1, 3, 64, 64)
    y = resize_to(board, 48, 48)
    aliased = F.interpolate(board, size=(48, 48), mode="bicubic", align_corners=False)
    assert y[..., 4:-4, 4:-4].std() < 0.1 < aliased[..., 4:-4, 4:-4].std()
    assert abs(y.mean().item() - 0.5) < 0.02
    # enlarging a smooth image and shrinking back returns it
    smooth = F.interpolate(torch.rand(1, 3, 8, 8), size=(32, 32), mode="bilinear", align_corners=False)
    back = resize_to(resize_to(smooth, 48, 48), 32, 32)
    assert (back - smooth)[..., 4:-4, 4:-4].abs().max() < 0.02
