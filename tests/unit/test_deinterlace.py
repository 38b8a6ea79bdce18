"""Deinterlacing (bwdif) before upscaling: flagged frames only by default, order and timestamps kept."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from clips import combing, write_clip, write_interlaced
from vsr.errors import ConfigError
from vsr.io.deinterlace import Deinterlacer, check_mode
from vsr.io.media import MediaInput, parse_rate


def decoded(path) -> list[av.VideoFrame]:
    with av.open(str(path)) as c:
        return [f for f in c.decode(video=0)]


def run(frames: list[av.VideoFrame], mode: str) -> tuple[list[av.VideoFrame], Deinterlacer]:
    d = Deinterlacer(mode)
    out = [o for f in frames for o in d.push(f)]
    return out + d.flush(), d


def test_interlaced_frames_are_deinterlaced_one_for_one_with_their_timestamps(tmp_path) -> None:
    frames = decoded(write_interlaced(tmp_path / "i.mpg"))
    assert all(f.interlaced_frame for f in frames)
    before = [(f.pts, Fraction(f.time_base)) for f in frames]
    combs = [combing(f.to_ndarray(format="rgb24")) for f in frames]
    out, d = run(frames, "auto")
    assert [(f.pts, Fraction(f.time_base)) for f in out] == before  # same count, order, times
    assert d.interlaced == len(frames) and not d.failure
    after = [combing(f.to_ndarray(format="rgb24")) for f in out]
    assert min(combs) > 40 and max(after) < 0.1 * min(combs), (combs, after)
    assert [f.format.name for f in out] == ["yuv420p"] * len(frames)
    assert all(f.colorspace == frames[0].colorspace and f.color_range == frames[0].color_range for f in out)
    # off: the fields are left as they are
    kept, d = run(frames, "off")
    assert kept == frames and d.interlaced == 0


def test_progressive_frames_pass_untouched_unless_forced(tmp_path) -> None:
    frames = decoded(write_clip(tmp_path / "p.mkv", frames=6))
    assert not any(f.interlaced_frame for f in frames)
    out, d = run(frames, "auto")
    assert out == frames and d.graph is None and d.interlaced == 0  # not even through the filter
    forced, d = run(frames, "on")  # `on` filters every frame, and still one out per one in
    assert [f.pts for f in forced] == [f.pts for f in frames] and d.interlaced == 0
    assert all(f is not g for f, g in zip(forced, frames))


def test_a_new_size_mid_stream_flushes_the_filter_and_opens_another(tmp_path) -> None:
    small = decoded(write_interlaced(tmp_path / "a.mpg", frames=4, width=64, height=48))
    big = decoded(write_interlaced(tmp_path / "b.mpg", frames=5, width=96, height=64))
    for i, f in enumerate(big):
        f.pts = small[-1].pts + (i + 1) * 3600
    out, d = run(small + big, "auto")
    assert [(f.width, f.pts) for f in out] == [(f.width, f.pts) for f in small + big]
    assert d.interlaced == 9


def test_media_input_deinterlaces_and_reports_it(tmp_path) -> None:
    src = write_interlaced(tmp_path / "i.mpg", frames=6)
    with MediaInput(src) as media:
        frames = [it for it in media.items() if hasattr(it, "planes")]
        warnings = media.warnings()
    assert len(frames) == 6
    assert combing(frames[2].planes[0]) < 5
    assert any("6 interlaced frame(s) were deinterlaced" in w for w in warnings)
    with MediaInput(src, deinterlace="off") as media:
        frames = [it for it in media.items() if hasattr(it, "planes")]
        assert not any("interlaced" in w for w in media.warnings())
    assert combing(frames[2].planes[0]) > 20


@pytest.mark.parametrize("n", [1, 2, 3])
def test_short_interlaced_clips_lose_no_frame_to_the_filters_lookahead(n, tmp_path) -> None:
    src = write_interlaced(tmp_path / "short.mpg", frames=n)
    with MediaInput(src) as media:
        frames = [it for it in media.items() if hasattr(it, "planes")]
    assert len(frames) == n and media.info.width == 96


def test_modes_and_rates_are_checked() -> None:
    assert check_mode("on") == "on"
    with pytest.raises(ConfigError, match="valid: auto, on, off"):
        Deinterlacer("yadif")
    assert parse_rate("25") == "25/1"
    assert parse_rate("29.97") == "30000/1001" and parse_rate("23.976") == "24000/1001"
    assert parse_rate("30000/1001") == "30000/1001" and parse_rate(" 12.5 ") == "25/2"
    for bad in ("0", "-5", "abc", "1/0", "fast"):
        with pytest.raises(ConfigError, match="bad frame rate"):
            parse_rate(bad)
