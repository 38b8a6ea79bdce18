"""`vsr upscale --start/--duration/--to`: a part of a video, cut frame-exactly, every stream alike."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from clips import add_audio, numbered, number_shown, write_c608
from vsr.cli.main import cli
from vsr.io.media import MediaInput
from vsr.io.span import Span, parse_time

T0 = 10  # the source's clock starts here (a capture's would): --start counts from it
RATE = 25
FRAMES = 100  # 4 s
GOP = 30  # keyframes at 0, 1.2, 2.4, 3.6 s: a cut at 1.5 s starts between two


def write_source(path: Path) -> Path:
    """4 s of frames, each showing its number, on a clock starting at T0, with AAC audio,
    a subtitle cue every 0.4 s and a chapter a second."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=RATE)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast", "g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0",
                                  "bf": "3"}  # B-frames: decoded out of order, cut in order
        a = add_audio(c, FRAMES / RATE)
        s = c.add_mux_stream("subrip")
        s.time_base = Fraction(1, 1000)
        ms = Fraction(1, 1000)
        c.set_chapters([{"id": n + 1, "start": (T0 + n) * 1000, "end": (T0 + n + 1) * 1000, "time_base": ms,
                         "metadata": {"title": f"part {n}"}} for n in range(4)])
        for i in range(FRAMES):
            f = av.VideoFrame.from_ndarray(numbered(i), "rgb24")
            f.pts, f.time_base = T0 * RATE + i, Fraction(1, RATE)
            for pk in v.encode(f):
                c.mux(pk)
            if i % 10 == 0:  # a cue at every 0.4 s, shown for 0.2 s
                pk = av.Packet(f"cue {i // 10}".encode())
                pk.stream, pk.time_base = s, ms
                pk.pts = pk.dts = (T0 * RATE + i) * 40
                pk.duration = 200
                c.mux(pk)
        for pk in v.encode():
            c.mux(pk)
        for k in range(0, 48000 * FRAMES // RATE, 1024):
            fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 48000, T0 * 48000 + k
            for pk in a.encode(fr):
                c.mux(pk)
        for pk in a.encode():
            c.mux(pk)
    return path


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    path = write_source(tmp_path_factory.mktemp("cut") / "source.mkv")
    with av.open(str(path)) as c:
        stored = [p.pts for p in c.demux(video=0) if p.size]
    assert stored != sorted(stored)  # (it has B-frames: stored out of display order)
    return path


def read(path: Path) -> dict:
    """Which source frames the output holds, with every stream's times."""
    out: dict = {"frames": [], "video": [], "audio": [], "cues": []}
    with av.open(str(path)) as c:
        for pk in c.demux():
            if pk.stream.type == "video":
                for f in pk.decode():
                    out["video"].append(f.pts * f.time_base)
                    out["frames"].append(number_shown(f.to_ndarray(format="rgb24")))
            elif pk.stream.type == "audio" and pk.size:
                out["audio"].append((pk.pts * pk.time_base, pk.duration * pk.time_base))
            elif pk.stream.type == "subtitle" and pk.size:
                out["cues"].append((bytes(pk).decode(), pk.pts * pk.time_base))
        out["chapters"] = [(ch["metadata"]["title"], ch["start"] * ch["time_base"], ch["end"] * ch["time_base"])
                           for ch in c.chapters()]
    return out


def upscale(*args: str):
    return CliRunner().invoke(cli, ["upscale", *args, "-m", "bicubic", "-q", "-y"], catch_exceptions=False)


@pytest.mark.parametrize("until", [["--duration", "1"], ["--to", "2.5"], ["--duration", "1000ms"]])
def test_a_cut_keeps_exactly_the_frames_in_it_and_every_stream_alike_from_zero(source, tmp_path, until) -> None:
    out = tmp_path / "cut.mkv"
    result = upscale(str(source), "-o", str(out), "--start", "1.5", *until)
    assert result.exit_code == 0, result.stderr
    got = read(out)
    # frames 38..62 (1.52 to 2.48 s: from the start, before the end), though the cut starts mid-GOP
    assert got["frames"] == list(range(38, 63))
    # on a clock from zero at the cut: frame 38 at 0.02 s, as ffmpeg -ss 1.5 puts it
    assert got["video"] == [Fraction(i - 38, RATE) + Fraction(1, 50) for i in range(38, 63)]
    # audio packets that start in the cut, and no others: from 0 (well within one packet) to its end
    assert 0 <= got["audio"][0][0] < Fraction(1024, 48000)
    assert got["audio"][-1][0] < 1 <= got["audio"][-1][0] + got["audio"][-1][1] + Fraction(1024, 48000)
    # cues 4 to 6 of the source (1.6, 2.0, 2.4 s) and its chapters 1 and 2, cut to the part kept
    assert got["cues"] == [("cue 4", Fraction(1, 10)), ("cue 5", Fraction(1, 2)), ("cue 6", Fraction(9, 10))]
    assert got["chapters"] == [("part 1", 0, Fraction(1, 2)), ("part 2", Fraction(1, 2), 1)]


def test_a_start_alone_runs_to_the_end_and_a_duration_alone_from_the_beginning(source, tmp_path) -> None:
    tail, head = tmp_path / "tail.mp4", tmp_path / "head.mp4"
    assert upscale(str(source), "-o", str(tail), "--start", "0:03.5").exit_code == 0
    assert read(tail)["frames"] == list(range(88, 100))
    assert upscale(str(source), "-o", str(head), "--duration", "0.5").exit_code == 0
    assert read(head)["frames"] == list(range(0, 13))
    # --frames still counts frames, from the start of the cut
    few = tmp_path / "few.mp4"
    assert upscale(str(source), "-o", str(few), "--start", "2", "--frames", "3").exit_code == 0
    assert read(few)["frames"] == [50, 51, 52]


class _LateSeek(MediaInput):
    """A file whose index points past the keyframe it should: the first seek lands 2 s late (as a
    broken index, or a transport stream's search between keyframes, may)."""

    def _begin(self, seek):
        if seek is not None and not getattr(self, "_misled", False):
            self._misled = True
            seek += 2
        return super()._begin(seek)


def test_a_seek_that_lands_after_the_start_is_tried_again_further_back(source) -> None:
    span = Span(Fraction(3, 2), Fraction(1))
    for kind in (MediaInput, _LateSeek):
        with kind(source, span=span) as media:
            shown = [number_shown((item.planes[0].astype(np.float64) - 16) * 255 / 219)  # (limited-range luma)
                     for item in media.items() if hasattr(item, "planes")]
        assert shown == list(range(38, 63)), kind.__name__


def test_a_pipe_which_cannot_seek_is_read_from_the_beginning_and_cut_the_same(source, tmp_path) -> None:
    ts = tmp_path / "source.ts"
    assert upscale(str(source), "-o", str(ts), "--preset", "ultrafast", "-s", "2").exit_code == 0
    cut = ["--start", "1.5", "--duration", "1"]
    assert upscale(str(ts), "-o", str(tmp_path / "sought.mkv"), *cut).exit_code == 0
    with open(ts, "rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "vsr", "upscale", "-", "-o", str(tmp_path / "piped.mkv"),
                               "-m", "bicubic", "-q", *cut], stdin=stdin, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    sought, piped = read(tmp_path / "sought.mkv"), read(tmp_path / "piped.mkv")
    # (the transport stream's clock starts with its audio, a little before the video, so its cut
    # holds frames 37..61 where the source's holds 38..62)
    assert piped["frames"] == sought["frames"] == list(range(37, 62))
    assert piped["video"] == sought["video"] and piped["audio"] == sought["audio"]


def test_an_image_sequence_is_cut_on_its_frame_rate(tmp_path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(10):
        av.VideoFrame.from_ndarray(numbered(i, 24, 32), "rgb24").to_image().save(
            frames / f"{i:03d}.png")
    out = tmp_path / "cut.mp4"
    assert upscale(str(frames), "-o", str(out), "--fps", "10", "--start", "0.3", "--to", "0.7").exit_code == 0
    assert read(out)["frames"] == [3, 4, 5, 6]


@pytest.mark.parametrize("args, message", [
    (["--start", "5"], "has no video frame from --start 5 s on: its video ends at 3.96 s"),
    (["--start", "1:00:00"], "has no video frame from --start 1:00:00 on"),
    (["--start", "1.5", "--duration", "0.01"], "has no video frame from 1.5 s to 1.51 s (the next is at 1.52 s)"),
    (["--start", "-1"], "--start: bad time '-1'"),
    (["--start", "1:75"], "--start: bad time '1:75'"),
    (["--duration", "0"], "--duration must be more than 0"),
    (["--start", "2", "--to", "1"], "--to 1 is not after --start 2"),
    (["--duration", "1", "--to", "2"], "give --duration or --to, not both"),
])
def test_a_cut_that_cannot_be_made_is_one_line_and_no_output(source, tmp_path, args, message) -> None:
    out = tmp_path / "cut.mp4"
    result = CliRunner().invoke(cli, ["upscale", str(source), "-o", str(out), "-m", "bicubic", *args])
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_cut_of_a_still_image_is_refused(tmp_path) -> None:
    png = tmp_path / "still.png"
    av.VideoFrame.from_ndarray(np.zeros((8, 8, 3), np.uint8), "rgb24").to_image().save(png)
    result = CliRunner().invoke(cli, ["upscale", str(png), "-o", str(tmp_path / "big.png"), "--start", "1"])
    assert result.exit_code != 0 and "--start, --duration and --to cut a video" in result.stderr


def test_times_read_as_ffmpeg_reads_them() -> None:
    assert parse_time("90") == parse_time("1:30") == parse_time("00:01:30") == parse_time("90000ms") == 90
    assert parse_time("1:02:03.25") == Fraction(14893, 4)
    assert parse_time(".5") == parse_time("500ms") == parse_time("500000us") == Fraction(1, 2)
    assert Span.of(None, None, None) is None and Span.of("0", None, None) is None
    assert Span.of("1", None, "3") == Span(Fraction(1), Fraction(2))


def test_a_cut_of_a_c608_master_keeps_the_captions_due_in_it(tmp_path) -> None:
    # "HELLO" is sent at 0.2 s, "WORLD" at 1.2 s: a cut from 1 s has the second line alone, in its
    # pictures and in its text track, 0.2 s in
    from test_upscale import _caption_text, _text_track

    src = write_c608(tmp_path / "master.mov")
    out = tmp_path / "cut.mp4"
    result = CliRunner().invoke(cli, ["upscale", str(src), "-o", str(out), "-m", "bicubic", "--start", "1"])
    assert result.exit_code == 0, result.stderr
    assert [text for text, _, _ in _caption_text(out)] == ["WORLD"]
    [(text, start, _)] = _text_track(out)
    assert text == "WORLD" and start == pytest.approx(0.2, abs=0.04)


def test_the_summary_names_the_part(source, tmp_path) -> None:
    result = CliRunner().invoke(cli, ["upscale", str(source), "-o", str(tmp_path / "cut.mkv"), "-m", "bicubic",
                                      "--start", "1.5", "--to", "2.5"])
    assert result.exit_code == 0 and "vsr: 25 frames (from 1.5 s to 2.5 s) 64x48 -> 128x96" in result.stderr
