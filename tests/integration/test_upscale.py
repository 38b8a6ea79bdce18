"""`vsr upscale` on real (generated) clips: what comes out is what should, and nothing is lost."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from clips import (CUES_608, END_608, add_audio, caption_bytes, combing, count_decodable, decode_all, decode_rgba,
                   decoded_captions, number_shown, smooth_pattern, write_audio, write_c608, write_captioned, write_clip,
                   write_dds, write_edit_list, write_hdr10, write_interlaced, write_late_audio, write_size_change,
                   write_transparent)
from vsr.cli.main import cli
from vsr.io.icc import profile_for, read_icc
from vsr.io.image import read_image, write_image


def run_cli(*args: str):
    result = CliRunner().invoke(cli, ["upscale", *args], catch_exceptions=False)
    return result


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def reference_upscale(rgb: np.ndarray, scale: int) -> np.ndarray:
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
    y = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    return y[0].permute(1, 2, 0).clamp(0, 255).round().byte().numpy()


def partials(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if "vsr-partial" in p.name]


CASES = {
    # name: (output suffix, expected output pix_fmt, colorspace, colour range, rotation)
    "audio": (".mp4", "yuv420p", 6, 1, 0),  # untagged SD: BT.601 assumed and tagged
    "subs": (".mkv", "yuv420p", 6, 1, 0),
    "vfr": (".mkv", "yuv420p", 6, 1, 0),
    "full": (".mkv", "yuvj420p", 5, 2, 0),  # full range stays full range
    "tenbit": (".mkv", "yuv420p10le", 9, 1, 0),  # 10-bit stays 10-bit, BT.2020 stays tagged
    "odd": (".mkv", "yuv420p", 6, 1, 0),
    "rotated": (".mp4", "yuv420p", 6, 1, 90),
    "yuv444": (".mp4", "yuv420p", 1, 1, 0),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_clip_kind_is_upscaled_with_everything_else_intact(kind, clips, tmp_path) -> None:
    suffix, pix_fmt, colorspace, color_range, rotation = CASES[kind]
    src = clips[kind]
    out = tmp_path / f"out{suffix}"
    result = run_cli(str(src), "-o", str(out), "--scale", "2", "--preset", "ultrafast", "-q")
    assert result.exit_code == 0, result.output
    # a whole clip is not called truncated (a VFR one was: its frame count estimated as duration x rate)
    assert "truncated" not in result.stderr
    a, b = decode_all(src), decode_all(out)
    # Geometry: exactly x2 of the decoded input (odd sizes included).
    assert (b["width"], b["height"]) == (a["width"] * 2, a["height"] * 2)
    # Every frame, at its own timestamp (VFR survives), and nothing else.
    assert b["frames"] == a["frames"] == count_decodable(src)
    assert [t - b["video_pts"][0] for t in b["video_pts"]] == [t - a["video_pts"][0] for t in a["video_pts"]]
    # Audio, subtitle and data packets copied byte for byte, with their timestamps.
    copied = {i: p for i, p in a["packets"].items() if p}
    assert [t for t in b["streams"] if t != "video"] == [t for t in a["streams"] if t != "video"]
    for index, packets in copied.items():
        assert b["packets"][index] == packets
    # Colour description and orientation.
    assert b["frame_format"] == pix_fmt
    assert b["colorspace"] == colorspace and b["color_range"] == color_range
    assert b["rotation"] == rotation
    assert not partials(tmp_path)


@pytest.mark.parametrize(
    "kind,kwargs",
    [
        ("bt601 limited", {}),
        ("bt601 full range", {"color_range": 2, "colorspace": 5}),
        ("bt2020 10-bit", {"pix_fmt": "yuv420p10le", "colorspace": 9}),
        ("bt709 4:4:4", {"pix_fmt": "yuv444p", "colorspace": 1}),
    ],
)
def test_colours_survive_decode_upscale_encode(kind, kwargs, tmp_path) -> None:
    # On smooth saturated colour the scalers agree, so what remains is colour handling: this is
    # ~40 dB when matrix, range, depth and chroma siting are right, ~25-33 dB with a wrong matrix.
    src = write_clip(tmp_path / "smooth.mkv", smooth=True, width=96, height=64, frames=3, **kwargs)
    out = tmp_path / "out.mkv"
    assert run_cli(str(src), "-o", str(out), "-q", "--preset", "ultrafast").exit_code == 0
    a, b = decode_all(src), decode_all(out)
    assert psnr(b["first_rgb"], reference_upscale(a["first_rgb"], 2)) > 37.0


@pytest.mark.parametrize("name,codec,pix_fmt", [
    ("vp9.webm", "libvpx-vp9", "yuva420p"),  # the web's transparent video (alpha beside each frame)
    ("prores4444.mov", "prores_ks", "yuva444p10le"),  # an editor's export
    ("rle.mov", "qtrle", "argb"),  # packed RGB with alpha
])
def test_transparency_is_kept_where_the_output_holds_it_and_said_where_not(name, codec, pix_fmt, tmp_path) -> None:
    src = write_transparent(tmp_path / name, codec, pix_fmt)
    before = decode_rgba(src)
    assert before[0][..., 3].min() == 0 and before[0][..., 3].max() == 255
    alpha = torch.from_numpy(np.stack([f[..., 3] for f in before])).float()[:, None]
    expected_alpha = F.interpolate(alpha, scale_factor=2, mode="bicubic").clamp(0, 255).round()[:, 0].numpy()
    outputs = {  # output, options -> the format it holds the alpha in
        "out.webm": ([], "yuva420p"),  # VP9, the .webm default
        "out.mov": (["--codec", "prores_ks"], "yuva444p"),  # ProRes 4444 (decoded as yuva444p12le)
        "png.mov": (["--codec", "png"], "rgba"),
        "out.mkv": (["--codec", "ffv1"], "yuva4"),
        "out.avi": (["--codec", "utvideo"], "gbrap"),
    }
    for out, (options, held_as) in outputs.items():
        result = run_cli(str(src), "-o", str(tmp_path / out), "-m", "bicubic", "-q", *options)
        assert result.exit_code == 0 and "alpha" not in result.stderr, (out, result.stderr)
        with av.open(str(tmp_path / out)) as c:
            assert c.streams.video[0].codec_context.pix_fmt.startswith(held_as) or out == "out.webm", out
        after = decode_rgba(tmp_path / out)
        assert len(after) == len(before) and after[0].shape == (96, 128, 4)
        got = np.stack([f[..., 3] for f in after]).astype(np.float64)
        # alpha is upscaled as a still image's is (bicubic), within 2 codes of torch's
        assert np.abs(got - expected_alpha).max() <= 2, out
        assert got[:, :, :16].max() == 0 and got[:, :, -16:].min() == 255, out  # clear stays clear
        for b, a in zip(after, before):  # and the colour is the colour, transparent or not
            assert psnr(b[..., :3], reference_upscale(np.ascontiguousarray(a[..., :3]), 2)) > 35.0, out
    # an output that cannot hold it says so, and is opaque
    result = run_cli(str(src), "-o", str(tmp_path / "out.mp4"), "-m", "bicubic", "-q")
    assert result.exit_code == 0
    assert "alpha channel" in result.stderr and "not kept" in result.stderr and "prores_ks" in result.stderr
    assert all(f[..., 3].min() == 255 for f in decode_rgba(tmp_path / "out.mp4"))


def test_container_metadata_is_kept(clips, tmp_path) -> None:
    out = tmp_path / "meta.mp4"
    assert run_cli(str(clips["rotated"]), "-o", str(out), "-q").exit_code == 0
    assert decode_all(out)["metadata"].get("title") == "spin"


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_track_languages_titles_and_dispositions_are_kept(suffix, tmp_path) -> None:
    # a player picks the audio and subtitle track by these: ffmpeg copies them, and so must a remux
    D = av.stream.Disposition
    src = tmp_path / "tracks.mkv"
    with av.open(str(src), "w") as c:
        v = _flat_video_stream(c)
        tracks = []
        for lang, title, disp in (("eng", "Main", D.default), ("fra", "Commentaire", D.comment)):
            a = add_audio(c, 0.3)
            a.metadata.update(language=lang, title=title)
            a.disposition = disp
            tracks.append(a)
        s = c.add_mux_stream("subrip")
        s.time_base = Fraction(1, 1000)
        s.metadata["language"] = "deu"
        s.disposition = D.forced
        _encode_flat_frames(c, v, 8)
        pk = av.Packet(b"Hallo")
        pk.stream, pk.pts, pk.dts, pk.duration, pk.time_base = s, 0, 0, 200, Fraction(1, 1000)
        c.mux(pk)
        for a in tracks:
            write_audio(c, a)
    out = tmp_path / f"out{suffix}"
    assert run_cli(str(src), "-o", str(out), "-q", "--preset", "ultrafast").exit_code == 0
    with av.open(str(out)) as c:
        audio = [(s.metadata.get("language"), s.metadata.get("title"), D.comment in s.disposition)
                 for s in c.streams.audio]
        subs = [(s.metadata.get("language"), D.forced in s.disposition) for s in c.streams.subtitles]
    # (MP4 has no per-track title, in ffmpeg's writing of it either)
    titles = ("Main", "Commentaire") if suffix == ".mkv" else (None, None)
    assert audio == [("eng", titles[0], False), ("fra", titles[1], True)]
    assert subs == [("deu", True)]  # MP4 gets the subtitles as mov_text, tags and flags kept


def _attached_files(c: av.container.InputContainer) -> dict[str, tuple]:
    out = {}
    for s in c.streams:
        if s.type == "attachment":
            out[s.name] = (s.mimetype, bytes(s.data), s.metadata.get("title"))
        elif s.disposition & av.stream.Disposition.attached_pic:
            out[s.metadata.get("filename", "cover")] = (s.metadata.get("mimetype"), bytes(next(c.demux(s))), None)
    return out


def test_attachments_and_cover_art_are_kept_where_the_container_holds_them(tmp_path) -> None:
    # an anime release's ASS subtitles are drawn with the fonts attached to the file: without them
    # the subtitles render in a fallback font. Cover art is a picture attachment (FFmpeg shows it as
    # an attached_pic video stream, which is not the video to upscale); MP4 holds it as such.
    font = bytes(range(256)) * 4
    with av.open(io.BytesIO(), "w", format="image2pipe") as c:  # a real JPEG: MP4 needs its size
        s = c.add_stream("mjpeg", rate=1)
        s.width, s.height, s.pix_fmt = 32, 24, "yuvj420p"
        pic = av.VideoFrame.from_ndarray(np.full((24, 32, 3), 200, np.uint8), "rgb24").reformat(format="yuvj420p")
        cover = b"".join(bytes(p) for p in [*s.encode(pic), *s.encode()])
    src = tmp_path / "attached.mkv"
    with av.open(str(src), "w") as c:
        v = _flat_video_stream(c)
        c.add_attachment("Font-Regular.ttf", "font/ttf", font).metadata["title"] = "Font"
        c.add_attachment("cover.jpg", "image/jpeg", cover)
        _encode_flat_frames(c, v, 6)
    mkv, mp4, mov = tmp_path / "out.mkv", tmp_path / "out.mp4", tmp_path / "out.mov"
    assert run_cli(str(src), "-o", str(mkv), "-q", "--preset", "ultrafast").exit_code == 0
    with av.open(str(src)) as a, av.open(str(mkv)) as b:
        assert _attached_files(b) == _attached_files(a) == {"Font-Regular.ttf": ("font/ttf", font, "Font"),
                                                            "cover.jpg": ("image/jpeg", cover, None)}
        assert b.streams.video[0].codec_context.width == 128  # the video, not the cover, was upscaled
    result = run_cli(str(src), "-o", str(mp4), "-q", "--preset", "ultrafast")
    assert result.exit_code == 0
    assert ("dropped 1 attachment(s) (Font-Regular.ttf): the mp4 container cannot hold them "
            "(write .mkv to keep them)") in result.stderr
    with av.open(str(mp4)) as c:
        assert _attached_files(c) == {"cover": (None, cover, None)}
    assert count_decodable(mp4) == 6  # the video (stream 0), the cover beside it
    # and from MP4's cover back into Matroska, named as a cover
    assert run_cli(str(mp4), "-o", str(tmp_path / "again.mkv"), "-q", "--preset", "ultrafast").exit_code == 0
    with av.open(str(tmp_path / "again.mkv")) as c:
        assert _attached_files(c) == {"cover.jpg": ("image/jpeg", cover, None)}
    result = run_cli(str(src), "-o", str(mov), "-q", "--preset", "ultrafast")
    assert result.exit_code == 0 and "dropped 2 attachment(s) (Font-Regular.ttf, cover.jpg)" in result.stderr
    # a cover FFmpeg cannot read is dropped with a warning, never a failed run
    bad = tmp_path / "bad.mkv"
    with av.open(str(bad), "w") as c:
        v = _flat_video_stream(c)
        c.add_attachment("cover.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + bytes(64))
        _encode_flat_frames(c, v, 3)
    result = run_cli(str(bad), "-o", str(tmp_path / "bad.mp4"), "-q", "--preset", "ultrafast")
    assert result.exit_code == 0 and "dropped cover art cover.jpg: not a picture FFmpeg can read" in result.stderr


@pytest.mark.parametrize("suffix", [".mov", ".mp4", ".mkv"])
def test_a_timecode_track_keeps_its_timecode_and_fails_nothing(suffix, tmp_path) -> None:
    # every camera, ProRes and NLE export has one: a QuickTime tmcd data stream, which FFmpeg has no
    # codec for and cannot copy (a whole run failed on it: "cannot open output: Invalid argument")
    src = tmp_path / "camera.mov"
    with av.open(str(src), "w") as c:
        v = _flat_video_stream(c)
        v.metadata["timecode"] = "10:00:00:00"
        _encode_flat_frames(c, v, 6)
    with av.open(str(src)) as c:
        assert [s.type for s in c.streams] == ["video", "data"]
    out = tmp_path / f"out{suffix}"
    result = run_cli(str(src), "-o", str(out), "-q", "--preset", "ultrafast")
    assert result.exit_code == 0, result.output
    assert "dropped" not in result.stderr  # nothing was lost: the timecode is kept
    with av.open(str(out)) as c:
        tags = {k.lower(): v for k, v in c.streams.video[0].metadata.items()}
        assert tags["timecode"] == "10:00:00:00"
        # MOV and MP4 carry it as a timecode track again, as ffmpeg writes it
        assert [s.type for s in c.streams] == (["video", "data"] if suffix != ".mkv" else ["video"])
    assert count_decodable(out) == 6


def test_data_streams_are_copied_where_the_muxer_holds_them_else_dropped_with_a_warning(tmp_path) -> None:
    # KLV metadata (drone and broadcast feeds) in MPEG-TS: copied into .ts packet for packet; MP4
    # cannot hold it, which must cost the stream, not the run
    src = tmp_path / "klv.ts"
    payloads = [bytes([6, 14, 43, 52, 2, 11, 1, 1, 14, 1, 3, 1, 1, 0, 0, 0, 1, i]) for i in range(8)]
    with av.open(str(src), "w") as c:
        v = _flat_video_stream(c)
        d = c.add_data_stream("klv")
        _encode_flat_frames(c, v, 8)
        for i, payload in enumerate(payloads):
            pk = av.Packet(payload)
            pk.stream, pk.pts, pk.dts, pk.time_base = d, i * 3600, i * 3600, Fraction(1, 90000)
            c.mux(pk)

    def data(path: Path) -> list[bytes]:
        with av.open(str(path)) as c:
            return [bytes(p) for p in c.demux() if p.stream.type == "data" and p.size]

    assert data(src) == payloads
    ts, mp4 = tmp_path / "out.ts", tmp_path / "out.mp4"
    assert run_cli(str(src), "-o", str(ts), "-q", "--preset", "ultrafast").exit_code == 0
    assert data(ts) == payloads
    result = run_cli(str(src), "-o", str(mp4), "-q", "--preset", "ultrafast")
    assert result.exit_code == 0 and "dropped data stream #1 (klv): the mp4 muxer cannot hold it" in result.stderr
    assert count_decodable(mp4) == 8


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_file_that_starts_an_hour_in_is_written_from_zero(suffix, tmp_path) -> None:
    # a broadcast capture carries the channel's clock: an hour in, say. As ffmpeg writes files, the
    # output starts at zero (an MP4 would otherwise open with an hour of nothing), every stream and
    # chapter shifted alike, so audio stays in sync to the sample
    src = tmp_path / "capture.mkv"
    t0 = 3600
    with av.open(str(src), "w") as c:
        v = _flat_video_stream(c)
        a = add_audio(c, 1.0)
        ms = Fraction(1, 1000)
        c.set_chapters([{"id": 1, "start": t0 * 1000, "end": t0 * 1000 + 200, "time_base": ms, "metadata": {"title": "Kick-off"}},
                        {"id": 2, "start": t0 * 1000 + 200, "end": t0 * 1000 + 480, "time_base": ms, "metadata": {"title": "Goal"}}])
        for i in range(12):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 8 * i, np.uint8), "rgb24")
            f.pts, f.time_base = t0 * 25 + i, Fraction(1, 25)
            for pk in v.encode(f):
                c.mux(pk)
        for pk in v.encode():
            c.mux(pk)
        for k in range(0, 48000, 1024):
            fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 48000, t0 * 48000 + 960 + k  # 20 ms after the video
            for pk in a.encode(fr):
                c.mux(pk)
        for pk in a.encode():
            c.mux(pk)

    def starts(path: Path) -> tuple[dict[str, float], list[tuple]]:
        with av.open(str(path)) as c:
            first = {}
            for pk in c.demux():
                if pk.pts is not None:
                    t = float(pk.pts * pk.time_base)
                    first[pk.stream.type] = min(first.get(pk.stream.type, t), t)
            chapters = [(ch["metadata"].get("title"), float(ch["start"] * ch["time_base"])) for ch in c.chapters()]
        return first, chapters

    (a_src, ch_src) = starts(src)
    assert a_src["video"] == pytest.approx(t0) and ch_src == [("Kick-off", t0), ("Goal", pytest.approx(t0 + 0.2))]
    out = tmp_path / f"out{suffix}"
    result = run_cli(str(src), "-o", str(out), "-q", "--preset", "ultrafast")
    assert result.exit_code == 0 and result.stderr == ""  # whole: Matroska's durations count from zero
    first, chapters = starts(out)
    assert first["video"] == pytest.approx(0, abs=0.002)
    assert first["audio"] - first["video"] == pytest.approx(a_src["audio"] - a_src["video"], abs=0.002)
    assert chapters == [("Kick-off", 0), ("Goal", pytest.approx(0.2, abs=0.002))]
    assert count_decodable(out) == 12


def test_audio_that_starts_late_is_probed_further_in_and_copied_and_an_empty_track_dropped_in_a_line(tmp_path) -> None:
    # FFmpeg's probe reads 5 s: an MP2 track starting 8 s in was left without parameters, and vsr
    # re-encoded it ("mp3 cannot go in mp4", which it can), and a silent PID came out as nothing at
    # all (.mp4) or as an empty AC-3 track (.mkv), under a warning that it was re-encoded
    late = write_late_audio(tmp_path / "late.ts", 8)
    out = tmp_path / "late.mp4"
    result = run_cli(str(late), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    def audio(path: Path) -> list[tuple[bytes, float]]:
        with av.open(str(path)) as c:
            return [(bytes(p), float(p.pts * p.time_base)) for p in c.demux(c.streams.audio[0]) if p.size]
    copied, source = audio(out), audio(late)
    assert [b for b, _ in copied] == [b for b, _ in source]  # copied unchanged, every packet
    assert len(copied) == 4 * 48000 // 1152 and copied[0][1] == pytest.approx(8, abs=0.03)
    silent = write_late_audio(tmp_path / "silent.ts", None)
    for suffix in (".mp4", ".mkv"):
        out = tmp_path / f"silent{suffix}"
        result = run_cli(str(silent), "-o", str(out), "-m", "bicubic", "-q")
        assert result.exit_code == 0
        assert result.stderr.strip() == ("vsr: warning: dropped audio stream #1 (mp3): it has no packets in its "
                                         "first 60 s (an empty track, or one that starts later), so nothing says "
                                         "how to decode or copy it")
        assert decode_all(out)["streams"] == ["video"] and decode_all(out)["frames"] == 300


def test_a_copy_cut_mp4_gives_the_frames_its_edit_list_shows_and_is_not_called_truncated(tmp_path) -> None:
    # a cut made without re-encoding keeps the frames from the keyframe before it, marked as not
    # shown; its header counts them, and vsr called every such file truncated ("ended after 40 of
    # the 50 frames its header announces")
    src = write_edit_list(tmp_path / "cut.mp4", frames=50, hidden=10)
    out = tmp_path / "out.mp4"
    result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    with av.open(str(out)) as c:
        shown = [(f.pts * f.time_base, number_shown(f.to_ndarray(format="rgb24"))) for f in c.decode(video=0)]
    assert shown == [(Fraction(i, 25), 10 + i) for i in range(40)]


def test_recordings_put_end_to_end_play_on_one_clock(tmp_path) -> None:
    # `cat a.ts b.ts > both.ts`, or a broadcast whose encoder restarted: the timestamps go back to
    # the start half-way. The copied audio went back in time with them and the muxer refused it
    # ("copying audio packet failed: Invalid argument"): no output at all
    parts = [write_late_audio(tmp_path / f"part{n}.ts", 0, seconds=2) for n in (1, 2)]
    later = tmp_path / "later.ts"  # the second part on a clock 100 s on (a restarted capture's)
    with av.open(str(parts[1])) as src, av.open(str(later), "w") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for p in src.demux():
            if p.dts is not None:
                p.pts, p.dts, p.stream = p.pts + 9_000_000, p.dts + 9_000_000, streams[p.stream.index]
                dst.mux(p)
    for second in parts[1], later:  # the clock goes back, or 98 s ahead
        both = tmp_path / "both.ts"
        both.write_bytes(parts[0].read_bytes() + second.read_bytes())
        out = tmp_path / "both.mp4"
        result = run_cli(str(both), "-o", str(out), "-m", "bicubic", "-q", "-y")
        assert result.exit_code == 0, result.stderr
        assert "the input's timestamps jump back or ahead 1 time(s)" in result.stderr
        assert "truncated" not in result.stderr  # (the file's span is not the joined clock's)
        with av.open(str(out)) as c:
            video = [f.pts * f.time_base for f in c.decode(video=0)]
        with av.open(str(out)) as c:
            audio = [p.pts * p.time_base for p in c.demux(audio=0) if p.size]
        # every frame, on one clock: a frame apart, and across the join a frame and at most a packet
        # of audio (the second part is put after the stream that reaches the join first, here the
        # audio, so its sound and pictures stay together)
        gaps = [float(b - a) for a, b in zip(video, video[1:])]
        assert len(video) == 100 and gaps[:49] + gaps[50:] == pytest.approx([0.04] * 98, abs=0.002)
        assert 0.038 <= gaps[49] <= 0.04 + 1152 / 48000
        part_audio = 2 * 48000 // 1152 + 1
        assert 2 * part_audio - 2 <= len(audio) <= 2 * part_audio  # (a packet or two at the join left out)
        assert all(b > a for a, b in zip(audio, audio[1:])) and float(audio[-1]) == pytest.approx(4, abs=0.05)


def test_a_sparse_stream_of_recordings_put_end_to_end_goes_on_after_them_too(tmp_path) -> None:
    # KLV metadata beside the pictures (a drone's feed), two recordings cat'ed: the data cannot tell
    # a jump by gaps, only by going back; it came out with the second part's packets left out
    def part(path: Path) -> Path:
        with av.open(str(path), "w") as c:
            v = _flat_video_stream(c)
            v.codec_context.options = {"preset": "ultrafast"}
            d = c.add_data_stream("klv")
            for i in range(50):
                frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 4 * i, np.uint8), "rgb24")
                frame.pts, frame.time_base = i, Fraction(1, 25)
                for pk in v.encode(frame):
                    c.mux(pk)
                pk = av.Packet(bytes([6, 14, 43, 52, i]))
                pk.stream, pk.pts, pk.dts, pk.time_base = d, i * 3600, i * 3600, Fraction(1, 90000)
                c.mux(pk)
            for pk in v.encode():
                c.mux(pk)
        return path

    both = tmp_path / "both.ts"
    both.write_bytes(part(tmp_path / "a.ts").read_bytes() + part(tmp_path / "b.ts").read_bytes())
    out = tmp_path / "out.ts"
    result = run_cli(str(both), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 0 and "left out" not in result.stderr and "nudged" not in result.stderr, result.stderr
    with av.open(str(out)) as c:
        data = [(bytes(p)[-1], p.pts * p.time_base) for p in c.demux() if p.stream.type == "data" and p.size]
    assert [n for n, _ in data] == list(range(50)) * 2
    assert [float(b - a) for (_, a), (_, b) in zip(data, data[1:])] == pytest.approx([0.04] * 99, abs=0.002)


def test_a_timestamp_past_mpegs_33_bit_wrap_is_unwrapped_not_joined(tmp_path) -> None:
    # PyAV's AAC encoder primes with a packet at -1920 ticks, which MPEG-TS's 33-bit clock stores
    # as 2**33 - 1920 (26.5 h; FFmpeg's demuxer unwraps it only when the audio comes early in the
    # file, and this clip's comes after 12 s of video): read from a pipe the run failed on it, and
    # joining it up put the sound a day after the pictures. It is the value nearest the other
    # streams', just before 0.
    src = write_clip(tmp_path / "primed.ts", frames=300, audio=True)
    with av.open(str(src)) as c:
        assert next(p.pts for p in c.demux(audio=0) if p.size) > 1 << 32  # (stored past the wrap)
    with av.open(str(src)) as c:
        packets = sum(1 for p in c.demux(audio=0) if p.size)
    for piped in (False, True):
        out = tmp_path / "out.mkv"
        args = ["-m", "bicubic", "-q", "-y", "-o", str(out)]
        if piped:
            with open(src, "rb") as stdin:
                done = subprocess.run([sys.executable, "-m", "vsr", "upscale", "-", *args], stdin=stdin,
                                      capture_output=True, text=True)
            assert done.returncode == 0 and done.stderr == "", done.stderr
        else:
            result = run_cli(str(src), *args)
            assert result.exit_code == 0 and result.stderr == "", result.stderr
        with av.open(str(out)) as c:
            audio = [p.pts * p.time_base for p in c.demux(audio=0) if p.size]
        with av.open(str(out)) as c:
            video = [f.pts * f.time_base for f in c.decode(video=0)]
        assert len(audio) == packets and len(video) == 300, piped
        assert float(video[0] - audio[0]) == pytest.approx(1920 / 90000, abs=0.002)  # the priming, ahead
        assert float(audio[-1] - video[-1]) < 0.1


def test_sound_that_stops_a_while_is_a_gap_not_a_jump(tmp_path) -> None:
    # 15 s without an audio packet while the pictures go on: the audio's next packet is 15 s on,
    # and so are the pictures, so nothing jumped (joining it up would put the sound 15 s early)
    src = write_late_audio(tmp_path / "gap.ts", 0, seconds=20, silent=(3, 18))
    out = tmp_path / "gap.mkv"
    result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    with av.open(str(src)) as c:
        before = [p.pts * p.time_base for p in c.demux(audio=0) if p.size]
    with av.open(str(out)) as c:
        after = [p.pts * p.time_base for p in c.demux(audio=0) if p.size]
    assert len(after) == len(before) and [float(t - after[0]) for t in after] == pytest.approx(
        [float(t - before[0]) for t in before], abs=0.002)


def test_no_audio_and_no_subtitles_leave_those_tracks_out(tmp_path) -> None:
    # ffmpeg's -an and -sn, for upscale and stream alike (and encode.audio / encode.subtitles)
    src = write_clip(tmp_path / "in.mkv", frames=8, audio=True, subtitles=True)
    assert decode_all(src)["streams"] == ["video", "audio", "subtitle"]
    for args, streams in ((["--no-audio"], ["video", "subtitle"]), (["--no-subtitles"], ["video", "audio"]),
                          (["--set", "encode.audio=false", "--no-subtitles"], ["video"])):
        out = tmp_path / "out.mkv"
        result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q", "-y", *args)
        assert result.exit_code == 0 and result.stderr == "", result.stderr
        assert decode_all(out)["streams"] == streams and decode_all(out)["frames"] == 8, args
    live = CliRunner().invoke(cli, ["stream", str(src), str(tmp_path / "live.mkv"), "-m", "bicubic", "-q", "--no-audio"])
    assert live.exit_code == 0 and decode_all(tmp_path / "live.mkv")["streams"] == ["video", "subtitle"]
    # --no-metadata: the file's tags (title, place) as -map_metadata -1 leaves them; the frames all there
    tagged = write_clip(tmp_path / "tagged.mkv", frames=4, metadata={"title": "Holiday", "location": "+48.85+002.35/"})
    for args, kept in (([], {"title": "Holiday", "LOCATION": "+48.85+002.35/"}), (["--no-metadata"], {})):
        out = tmp_path / "tags.mkv"
        assert run_cli(str(tagged), "-o", str(out), "-m", "bicubic", "-q", "-y", *args).exit_code == 0
        with av.open(str(out)) as c:
            assert {k: v for k, v in c.metadata.items() if k != "ENCODER"} == kept, args
        assert decode_all(out)["frames"] == 4


def test_two_subtitle_cues_starting_together_are_both_kept(tmp_path) -> None:
    # two lines of dialogue from one moment: a packet at its stream's last time is copied (only
    # one before it is left out, and audio at the same time)
    src = tmp_path / "two.mkv"
    with av.open(str(src), "w") as c:
        v = _flat_video_stream(c)
        s = c.add_mux_stream("subrip")
        s.time_base = Fraction(1, 1000)
        _encode_flat_frames(c, v, 10)
        for text in ("first speaker", "second speaker"):
            pk = av.Packet(text.encode())
            pk.stream, pk.time_base, pk.pts, pk.dts, pk.duration = s, Fraction(1, 1000), 200, 200, 100
            c.mux(pk)
    for suffix in (".mkv", ".mp4"):  # copied; converted to mov_text
        out = tmp_path / f"out{suffix}"
        assert run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q").exit_code == 0
        with av.open(str(out)) as c:
            cues = [bytes(p) for p in c.demux(c.streams.subtitles[0]) if p.size and p.pts == 200]
        assert [cue.endswith(text) for cue, text in zip(cues, (b"first speaker", b"second speaker"))] == [True, True]


def _clip_with_audio(path: Path, codec: str, rate: int, fmt: str, chunks: list[np.ndarray], frames: int) -> Path:
    """``frames`` flat video frames and a stereo ``codec`` stream of ``chunks`` (packed ``fmt`` arrays)."""
    with av.open(str(path), "w") as c:
        v = _flat_video_stream(c)
        a = c.add_stream(codec, rate=rate)
        a.layout = "stereo"
        _encode_flat_frames(c, v, frames)
        t = 0
        for chunk in chunks:
            af = av.AudioFrame.from_ndarray(chunk, format=fmt, layout="stereo")
            af.sample_rate, af.pts = rate, t
            t += chunk.shape[1] // 2
            for p in a.encode(af):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path


def _flat_video_stream(c: av.container.OutputContainer) -> av.VideoStream:
    v = c.add_stream("libx264", rate=25)
    v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
    return v


def _encode_flat_frames(c: av.container.OutputContainer, v: av.VideoStream, n: int) -> None:
    """``n`` flat frames, each a step brighter than the last, at pts 0..n-1."""
    for i in range(n):
        f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 8 * i, np.uint8), "rgb24")
        f.pts = i
        for p in v.encode(f):
            c.mux(p)
    for p in v.encode():
        c.mux(p)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_chapters_are_kept(suffix, tmp_path) -> None:
    from fractions import Fraction

    src = tmp_path / "chapters.mkv"
    with av.open(str(src), "w") as c:
        v = _flat_video_stream(c)
        c.set_chapters([{"id": 1, "start": 0, "end": 200, "time_base": Fraction(1, 1000), "metadata": {"title": "One"}},
                        {"id": 2, "start": 200, "end": 480, "time_base": Fraction(1, 1000), "metadata": {"title": "Two"}}])
        _encode_flat_frames(c, v, 12)
    out = tmp_path / f"out{suffix}"
    assert run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q").exit_code == 0
    with av.open(str(out)) as c:
        got = [(ch["metadata"].get("title"), ch["start"] * ch["time_base"], ch["end"] * ch["time_base"])
               for ch in c.chapters()]
    assert got == [("One", 0, Fraction(1, 5)), ("Two", Fraction(1, 5), Fraction(12, 25))]


def test_x4_and_model_choice(clips, tmp_path) -> None:
    out = tmp_path / "x4.mkv"
    result = run_cli(str(clips["odd"]), "-o", str(out), "-s", "4", "-m", "bicubic", "--preset", "ultrafast")
    assert result.exit_code == 0
    b = decode_all(out)
    assert (b["width"], b["height"]) == (63 * 4, 47 * 4)
    assert "bicubic" in result.stderr and "frames" in result.stderr  # the summary line


def test_batch_and_tiles_do_not_change_the_result(clips, tmp_path) -> None:
    outs = []
    for extra in ([], ["--batch", "5"], ["--tile", "16"]):
        out = tmp_path / f"o{len(outs)}.mkv"
        assert run_cli(str(clips["audio"]), "-o", str(out), "-q", "--preset", "ultrafast", *extra).exit_code == 0
        with av.open(str(out)) as c:
            outs.append([f.to_ndarray(format="yuv420p") for f in c.decode(video=0)])
    assert len(outs[0]) == len(outs[1]) == len(outs[2]) == 12
    for frames in outs[1:]:
        assert all(np.array_equal(x, y) for x, y in zip(outs[0], frames))


def test_bf16_runs_the_whole_pipeline_and_stays_close_to_fp32(clips, tmp_path, monkeypatch) -> None:
    import vsr.engine.device as device_mod

    monkeypatch.setattr(device_mod, "cpu_bf16_native", lambda: True)  # emulated where not native: same values
    outs = []
    for precision in ("fp32", "bf16"):
        out = tmp_path / f"{precision}.mkv"
        result = run_cli(str(clips["audio"]), "-o", str(out), "--preset", "ultrafast", "--crf", "0",
                         "--precision", precision)
        assert result.exit_code == 0, result.stderr
        with av.open(str(out)) as c:
            outs.append([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    assert len(outs[0]) == len(outs[1]) == 12
    worst = min(psnr(a, b) for a, b in zip(*outs))
    assert 40 < worst < 100, worst  # close to fp32, yet not the fp32 output itself
    bad = CliRunner().invoke(cli, ["upscale", str(clips["audio"]), "-o", str(tmp_path / "l.mkv"), "-m", "lanczos",
                                   "--precision", "bf16"])
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1
    assert "precision bf16 is offered for the compact (plain 3x3 conv) networks only" in bad.stderr


def _cues(path: Path) -> list[tuple]:
    """(text, start from the first video frame, duration) of each subtitle cue."""
    start = decode_all(path)["video_pts"][0]
    with av.open(str(path)) as c:
        stream = c.streams.subtitles[0]
        return [(r.ass.split(b",,")[-1], p.pts * p.time_base - start, p.duration * p.time_base)
                for p in c.demux(stream) if p.size for r in p.decode() if r.ass]


def test_text_subtitles_are_converted_where_the_container_needs_it_else_dropped_with_a_warning(clips, tmp_path) -> None:
    cues = _cues(clips["subs"])  # SubRip in Matroska
    assert len(cues) == 3
    mp4, back, avi = tmp_path / "subs.mp4", tmp_path / "back.mkv", tmp_path / "subs.avi"
    result = run_cli(str(clips["subs"]), "-o", str(mp4), "-m", "bicubic")
    assert result.exit_code == 0 and "re-encoded subtitle stream #2 (subrip) to mov_text" in result.stderr
    with av.open(str(mp4)) as c:
        assert [s.codec_context.name for s in c.streams.subtitles] == ["mov_text"]
    assert _cues(mp4) == cues  # the same words at the same times
    assert run_cli(str(mp4), "-o", str(back), "-m", "bicubic", "-q").exit_code == 0  # mov_text -> ASS in .mkv
    assert _cues(back) == cues
    for out in (avi, tmp_path / "subs.ts"):  # MPEG-TS would take SRT only as an opaque data stream
        result = run_cli(str(clips["subs"]), "-o", str(out), "-m", "bicubic")
        assert result.exit_code == 0
        assert "dropped subtitle stream" in result.stderr and ".mkv" in result.stderr
        assert decode_all(out)["streams"] == ["video", "audio"]
    # an ASS track without its header cannot be converted: it costs the track, not the run (it
    # failed the whole output: "cannot open output: Invalid data found when processing input")
    bare = tmp_path / "bare_ass.mkv"
    with av.open(str(bare), "w") as c:
        v = _flat_video_stream(c)
        s = c.add_stream("ass")
        s.time_base = Fraction(1, 1000)
        _encode_flat_frames(c, v, 4)
        pk = av.Packet(b"0,0,Default,,0,0,0,,Hello")
        pk.stream, pk.pts, pk.dts, pk.duration, pk.time_base = s, 0, 0, 100, Fraction(1, 1000)
        c.mux(pk)
    result = run_cli(str(bare), "-o", str(tmp_path / "bare.mp4"), "-m", "bicubic")
    assert result.exit_code == 0 and "its subtitles carry no header to convert from" in result.stderr
    assert count_decodable(tmp_path / "bare.mp4") == 4


def test_truncated_input_keeps_every_decodable_frame_and_warns(clips, tmp_path) -> None:
    out = tmp_path / "trunc.mkv"
    result = run_cli(str(clips["truncated"]), "-o", str(out), "-q")
    assert result.exit_code == 0
    assert "truncated" in result.stderr
    decodable = count_decodable(clips["truncated"])
    assert 0 < decodable < 40
    assert decode_all(out)["frames"] == decodable


def test_a_stream_cut_mid_gop_keeps_every_decodable_frame_and_says_what_was_lost(tmp_path) -> None:
    # a recording cut out of a broadcast starts with frames that need a keyframe it no longer has
    whole = write_clip(tmp_path / "whole.ts", frames=60, width=96, height=64, audio=True,
                       options={"g": "12", "bf": "0"})
    data = whole.read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[(len(data) * 3 // 10) // 188 * 188:])  # whole TS packets, from mid-GOP
    decodable = count_decodable(cut)
    assert 0 < decodable < 60
    out = tmp_path / "out.mkv"
    result = run_cli(str(cut), "-o", str(out), "-q", "--preset", "ultrafast")
    assert result.exit_code == 0
    assert "first 0." in result.stderr and "could not be decoded (it starts without a keyframe" in result.stderr
    assert "truncated" not in result.stderr  # its end is whole
    assert count_decodable(out) == decodable


def test_images_in_and_out(tmp_path) -> None:
    rng = np.random.default_rng(0)
    rgb = (rng.random((21, 30, 3)) * 255).astype(np.uint8)
    src = tmp_path / "in.png"
    write_image(src, rgb)
    out = tmp_path / "out.png"
    assert run_cli(str(src), "-o", str(out), "-q", "-m", "bicubic").exit_code == 0
    up = read_image(out)
    assert up.shape == (42, 60, 3)
    # Downscaling the upscale by 2 (box) lands near the original: the picture is the same picture.
    down = up.reshape(21, 2, 30, 2, 3).mean(axis=(1, 3))
    assert psnr(down, rgb) > 20
    jpg = tmp_path / "out.jpg"
    assert run_cli(str(src), "-o", str(jpg), "-q", "-s", "4").exit_code == 0
    assert read_image(jpg).shape == (84, 120, 3)
    rgba = np.concatenate([rgb, np.full((21, 30, 1), 77, np.uint8)], axis=-1)
    write_image(tmp_path / "alpha.png", rgba)
    assert run_cli(str(tmp_path / "alpha.png"), "-o", str(tmp_path / "alpha_x2.png"), "-q").exit_code == 0
    a2 = read_image(tmp_path / "alpha_x2.png", alpha=True)
    assert a2.shape == (42, 60, 4) and np.all(np.abs(a2[..., 3].astype(int) - 77) <= 1)


def test_game_textures_targa_stays_targa_dds_becomes_png_transparency_kept(tmp_path) -> None:
    # the texture modders' formats: a folder of Targa comes out as Targa; DDS (which FFmpeg reads
    # but cannot write) as PNG; alpha kept
    rgb = decode_all(write_clip(tmp_path / "c.mkv", width=32, height=24, frames=1, smooth=True))["first_rgb"]
    alpha = np.where(np.arange(32) < 16, 0, 255).astype(np.uint8)[None, :, None].repeat(24, 0)
    (tmp_path / "textures").mkdir()
    write_image(tmp_path / "textures" / "wall.tga", np.concatenate([rgb, alpha], -1))
    write_image(tmp_path / "textures" / "floor.tga", rgb)
    write_dds(tmp_path / "textures" / "door.dds", np.concatenate([rgb, alpha], -1))
    result = run_cli(str(tmp_path / "textures"), "-o", str(tmp_path / "x2") + "/", "-m", "bicubic")
    assert result.exit_code == 0, result.stderr
    assert "1 DDS image(s) written as PNG (vsr cannot write DDS): door.dds -> door.png" in result.stderr
    assert sorted(p.name for p in (tmp_path / "x2").iterdir()) == ["door.png", "floor.tga", "wall.tga"]
    for name in ("wall.tga", "door.png"):
        texture = read_image(tmp_path / "x2" / name, alpha=True)
        assert texture.shape == (48, 64, 4) and texture[:, :30, 3].max() == 0 and texture[:, 34:, 3].min() == 255
        assert psnr(texture[:, 36:, :3], reference_upscale(rgb, 2)[:, 36:]) > 35.0, name
    assert psnr(read_image(tmp_path / "x2" / "floor.tga"), reference_upscale(rgb, 2)) > 35.0
    with av.open(str(tmp_path / "x2" / "floor.tga")) as c:
        assert c.streams.video[0].codec_context.name == "targa"
    # one DDS in, DDS out: refused in a line, before anything is written
    result = run_cli(str(tmp_path / "textures" / "door.dds"), "-o", str(tmp_path / "door_x2.dds"))
    assert result.exit_code == 1 and result.stderr.strip().endswith(
        "door_x2.dds: FFmpeg reads DDS but cannot write it: write .png or .tga (and compress to DDS with a "
        "texture tool)")
    assert not partials(tmp_path) and not (tmp_path / "door_x2.dds").exists()


def test_size_and_outscale_resize_the_output_and_keep_everything_else(tmp_path) -> None:
    src = write_clip(tmp_path / "in.mp4", audio=True, smooth=True, sample_aspect_ratio=Fraction(1))  # 64x48
    a = decode_all(src)
    for args, model, size, sar in [
        (["--outscale", "3"], "compact-x4-fast", (192, 144), 1),  # x4, then shrunk
        (["--size", "x72"], "compact-x2-fast", (96, 72), 1),  # 1.5x: x2, then shrunk
        (["--size", "100x60", "-s", "2", "-m", "bicubic"], "bicubic", (100, 60), Fraction(4, 5)),  # 4:3 kept
    ]:
        out = tmp_path / "out.mkv"
        result = run_cli(str(src), "-o", str(out), "-y", *args)
        assert result.exit_code == 0, result.stderr
        assert f"-> {size[0]}x{size[1]} " in result.stderr and model in result.stderr
        b = decode_all(out)
        assert (b["width"], b["height"]) == size and b["frames"] == a["frames"] == 12
        with av.open(str(out)) as c:
            assert c.streams.video[0].sample_aspect_ratio == sar  # the display aspect stays 4:3
        assert [t - b["video_pts"][0] for t in b["video_pts"]] == [t - a["video_pts"][0] for t in a["video_pts"]]
        assert b["streams"] == ["video", "audio"]
        # the same picture, resized: close to the source enlarged by bicubic to that size
        x = torch.from_numpy(a["first_rgb"]).permute(2, 0, 1)[None].float()
        ref = F.interpolate(x, size=size[::-1], mode="bicubic", align_corners=False, antialias=True)
        assert psnr(b["first_rgb"], ref[0].permute(1, 2, 0).clamp(0, 255).round().byte().numpy()) > 30
    # a phone's portrait video, stored 64x36 on its side: sized as shown (36x64 -> 72x128), stored
    # 128x72 with its rotation and square pixels (the stored sides were taken for the shown ones)
    phone = write_clip(tmp_path / "phone.mp4", width=64, height=36, rotation=90, sample_aspect_ratio=Fraction(1))
    for size in ("72x128", "x128", "72"):
        out = tmp_path / "phone_out.mp4"
        assert run_cli(str(phone), "-o", str(out), "-y", "-q", "-m", "bicubic", "--size", size).exit_code == 0
        b = decode_all(out)
        assert (b["width"], b["height"], b["rotation"]) == (128, 72, 90), size
        with av.open(str(out)) as c:
            assert c.streams.video[0].sample_aspect_ratio in (None, 1), size
    rgba = np.concatenate([a["first_rgb"], np.full((48, 64, 1), 77, np.uint8)], axis=-1)
    write_image(tmp_path / "alpha.png", rgba)
    assert run_cli(str(tmp_path / "alpha.png"), "-o", str(tmp_path / "big.png"), "-q", "--size", "1080p").exit_code == 0
    big = read_image(tmp_path / "big.png", alpha=True)
    assert big.shape == (1080, 1440, 4) and np.all(np.abs(big[..., 3].astype(int) - 77) <= 1)
    bad = run_cli(str(src), "-o", str(tmp_path / "bad.mkv"), "--size", "wide")
    assert bad.exit_code == 1 and "bad size 'wide'" in bad.stderr and not (tmp_path / "bad.mkv").exists()


def test_images_keep_depth_grayness_orientation_and_say_what_is_lost(tmp_path) -> None:
    ramp = np.linspace(0, 65535, 40 * 3).reshape(1, 40, 3).repeat(24, 0).round().astype(np.uint16)
    write_image(tmp_path / "deep.png", ramp)  # 16-bit RGB
    assert run_cli(str(tmp_path / "deep.png"), "-o", str(tmp_path / "deep_x2.png"), "-q", "-m", "bicubic").exit_code == 0
    with av.open(str(tmp_path / "deep_x2.png")) as c:
        frame = next(c.decode(video=0))
    assert frame.format.name == "rgb48be"
    up = frame.to_ndarray(format="rgb48le").astype(np.float64)
    assert np.any(up.astype(np.int64) % 257)  # real 16-bit values, not 8-bit ones scaled up
    assert np.abs(up.reshape(24, 2, 40, 2, 3).mean(axis=(1, 3)) - ramp)[2:-2, 2:-2].mean() < 64  # < 1/4 of an 8-bit step
    gray = np.tile(np.arange(32, dtype=np.uint8)[None, :] * 8, (20, 1))[..., None]
    write_image(tmp_path / "gray.png", gray)
    assert run_cli(str(tmp_path / "gray.png"), "-o", str(tmp_path / "gray_x2.png"), "-q").exit_code == 0
    with av.open(str(tmp_path / "gray_x2.png")) as c:
        assert next(c.decode(video=0)).format.name == "gray"
    rgba = np.concatenate([np.full((16, 16, 3), 90, np.uint8), np.full((16, 16, 1), 128, np.uint8)], -1)
    write_image(tmp_path / "a.png", rgba)
    result = run_cli(str(tmp_path / "a.png"), "-o", str(tmp_path / "a.jpg"))
    assert result.exit_code == 0 and ".jpg holds no transparency" in result.stderr
    assert run_cli(str(tmp_path / "a.png"), "-o", str(tmp_path / "a.webp"), "-q").exit_code == 0
    with av.open(str(tmp_path / "a.webp")) as c:
        assert next(c.decode(video=0)).format.name == "yuva420p"
    image = pytest.importorskip("PIL.Image")
    pixels = np.zeros((30, 50, 3), np.uint8)
    pixels[:8, :16] = 255  # a white block at the stored top-left
    photo = image.fromarray(pixels)
    exif = photo.getexif()
    exif[0x0112] = 6  # stored sideways: shown turned 90 degrees clockwise, as phones write it
    photo.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    assert run_cli(str(tmp_path / "phone.jpg"), "-o", str(tmp_path / "phone_x2.png"), "-q", "-m", "bicubic").exit_code == 0
    shown = read_image(tmp_path / "phone_x2.png")
    assert shown.shape == (100, 60, 3)  # upright: what a viewer shows, since PNG has no orientation
    # the block (stored 8x16 at the top-left) is now 16 tall, 8 wide at the top-right: x2, 32x16
    assert shown[2:30, 46:].mean() > 200 and shown[:32, :40].mean() < 30 and shown[40:].mean() < 30


def _icc(space: bytes, size: int = 700) -> bytes:
    """An ICC profile's bytes as far as a file format sees them: a header naming its colour space."""
    head = size.to_bytes(4, "big") + b"lcms" + bytes([4, 0x30, 0, 0]) + b"mntr" + space + b"XYZ " + bytes(12) + b"acsp"
    return head + bytes(range(256)) * 2 + bytes(size - len(head) - 512)


def test_an_images_colour_profile_is_kept_where_the_format_holds_it(tmp_path) -> None:
    # a phone's or a wide-gamut camera's photo (Display P3, Adobe RGB) says what its RGB values mean
    # in an ICC profile: dropped, the upscaled copy is shown as sRGB, its colours dulled
    image = pytest.importorskip("PIL.Image")
    p3, big = _icc(b"RGB "), _icc(b"RGB ", 70_000)  # over one JPEG segment: written in two
    pixels = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    for name, profile in (("p3.png", p3), ("p3.jpg", p3), ("p3.webp", p3), ("big.jpg", big)):
        image.fromarray(pixels).save(tmp_path / name, icc_profile=profile)
        for suffix in (".png", ".jpg", ".webp"):
            out = tmp_path / f"{name}{suffix}"
            result = run_cli(str(tmp_path / name), "-o", str(out), "-m", "bicubic")
            assert result.exit_code == 0 and "ICC" not in result.stderr
            with image.open(out) as im:  # read back by another library
                assert im.info.get("icc_profile") == profile and im.size == (64, 48)
            assert read_image(out).shape == (48, 64, 3)  # and FFmpeg still decodes it
    result = run_cli(str(tmp_path / "p3.png"), "-o", str(tmp_path / "p3.tif"))
    assert result.exit_code == 0
    assert ".tif is not written with the input's ICC colour profile" in result.stderr
    # a profile that does not describe the output (CMYK, decoded to RGB) is not written into it
    image.fromarray(pixels).save(tmp_path / "cmyk_tagged.png", icc_profile=_icc(b"CMYK"))
    result = run_cli(str(tmp_path / "cmyk_tagged.png"), "-o", str(tmp_path / "rgb.png"))
    assert "ICC colour profile (CMYK) does not describe this RGB output" in result.stderr
    with image.open(tmp_path / "rgb.png") as im:
        assert "icc_profile" not in im.info
    # without a profile nothing is said or added
    image.fromarray(pixels).save(tmp_path / "plain.png")
    result = run_cli(str(tmp_path / "plain.png"), "-o", str(tmp_path / "plain_x2.jpg"))
    assert result.exit_code == 0 and "ICC" not in result.stderr
    with image.open(tmp_path / "plain_x2.jpg") as im:
        assert "icc_profile" not in im.info


@pytest.mark.parametrize("turn", range(1, 9))
def test_every_exif_orientation_is_shown_as_pillow_shows_it(turn, tmp_path) -> None:
    # FFmpeg hands over a rotation alone: the four mirrored orientations (2, 4, 5, 7: a selfie's
    # flip, a scanner's) came out unmirrored
    image = pytest.importorskip("PIL.Image")
    ops = pytest.importorskip("PIL.ImageOps")
    pixels = np.zeros((30, 40, 3), np.uint8)
    pixels[..., 0] = np.linspace(0, 255, 40)[None, :]  # red grows to the right, green downwards,
    pixels[..., 1] = np.linspace(0, 255, 30)[:, None]  # and a blue block in the top left corner
    pixels[:8, :8, 2] = 255
    exif = image.Exif()
    exif[0x0112] = turn
    image.fromarray(pixels).save(tmp_path / "in.jpg", exif=exif.tobytes(), quality=95)
    assert run_cli(str(tmp_path / "in.jpg"), "-o", str(tmp_path / "out.png"), "-m", "bicubic", "-q").exit_code == 0
    with image.open(tmp_path / "in.jpg") as im:
        shown = np.asarray(ops.exif_transpose(im)).astype(int)
    got = read_image(tmp_path / "out.png")[::2, ::2].astype(int)
    assert got.shape == shown.shape and np.abs(got - shown).mean() < 8


def test_a_photos_exif_is_kept_upright_at_its_new_size(tmp_path) -> None:
    # when it was taken, the camera, the exposure: photo libraries sort and search by them, and every
    # upscale lost them (FFmpeg reads the orientation out of EXIF and drops the rest)
    image = pytest.importorskip("PIL.Image")
    exif = image.Exif()
    exif[0x0112] = 6  # shown a quarter turn clockwise: the upscale is written upright
    exif[0x010F] = "TestCam"
    sub = exif.get_ifd(0x8769)
    sub[0x9003], sub[0xA002], sub[0xA003] = "2024:05:06 07:08:09", 40, 30
    pixels = np.random.default_rng(2).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    image.fromarray(pixels).save(tmp_path / "photo.jpg", exif=exif.tobytes(), quality=90)
    for suffix in (".jpg", ".png", ".webp"):
        out = tmp_path / f"photo_x2{suffix}"
        result = run_cli(str(tmp_path / "photo.jpg"), "-o", str(out), "-m", "bicubic", "-q")
        assert result.exit_code == 0 and result.stderr == "", result.stderr
        with image.open(out) as im:
            got = im.getexif()
            assert im.size == (60, 80)  # upright
            assert (got[0x0112], got[0x010F]) == (1, "TestCam")
            assert dict(got.get_ifd(0x8769)) == {0x9003: "2024:05:06 07:08:09", 0xA002: 60, 0xA003: 80}
        assert read_image(out).shape == (80, 60, 3)  # and FFmpeg reads it upright too
    result = run_cli(str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "photo.tif"), "-m", "bicubic")
    assert "the input's EXIF (when and how it was taken) is not written into .tif" in result.stderr
    result = run_cli(str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "private.jpg"), "-m", "bicubic", "--no-metadata")
    with image.open(tmp_path / "private.jpg") as im:  # left out when asked (the place it was taken, say)
        assert result.exit_code == 0 and not im.getexif() and im.size == (60, 80)
    image.fromarray(pixels).save(tmp_path / "plain.jpg")  # none: none added
    assert run_cli(str(tmp_path / "plain.jpg"), "-o", str(tmp_path / "plain.png"), "-q").exit_code == 0
    with image.open(tmp_path / "plain.png") as im:
        assert not im.getexif()


def _png_cicp(path: Path) -> tuple[int, ...] | None:
    """A PNG's cICP chunk (primaries, transfer, matrix, full range), or None."""
    data = path.read_bytes()
    at = data.find(b"cICP")
    return tuple(data[at + 4 : at + 8]) if at > 0 else None


def _p3_avif(path: Path) -> Path:
    """A still AVIF in Display P3, said the way AVIF says it: nclx, no ICC profile."""
    pixels = np.random.default_rng(1).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    os.environ.setdefault("SVT_LOG", "1")  # (SVT-AV1 logs its whole configuration otherwise)
    with av.open(str(path), "w", format="avif") as c:
        s = c.add_stream("libsvtav1")
        s.width, s.height, s.pix_fmt = 32, 24, "yuv420p"
        cc = s.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = 12, 13, 1, 2
        frame = av.VideoFrame.from_ndarray(pixels, "rgb24").reformat(format="yuv420p", dst_colorspace=1,
                                                                      dst_color_range=2)
        frame.pts = 0
        for packet in [*s.encode(frame), *s.encode(None)]:
            c.mux(packet)
    return path


def test_colour_tags_without_a_profile_are_kept_where_the_format_holds_them(tmp_path) -> None:
    # AVIF and HEIF say a wide gamut or HDR in tags (nclx), and so do HDR videos: an upscale written
    # untagged (every PNG was) is shown as sRGB, Display P3's colours dulled and PQ's washed out
    p3 = _p3_avif(tmp_path / "p3.avif")
    result = run_cli(str(p3), "-o", str(tmp_path / "p3.png"), "-m", "bicubic", "-q")
    assert result.exit_code == 0 and result.stderr == ""
    assert _png_cicp(tmp_path / "p3.png") == (12, 13, 0, 1)  # Display P3, sRGB curve, RGB, full range
    assert read_icc(tmp_path / "p3.png") == profile_for(12, 13)  # and a profile for readers without cICP
    result = run_cli(str(p3), "-o", str(tmp_path / "p3_x2.avif"), "-m", "bicubic")
    with av.open(str(tmp_path / "p3_x2.avif")) as c:
        frame = next(c.decode(video=0))
    assert (frame.color_primaries, frame.color_trc) == (12, 13)  # was BT.709: the colours moved
    # JPEG and WebP have no tags: a profile made of them instead (littleCMS checks it: test_icc_profiles)
    image = pytest.importorskip("PIL.Image")
    for suffix in (".jpg", ".webp"):
        result = run_cli(str(p3), "-o", str(tmp_path / f"p3{suffix}"), "-m", "bicubic", "-q")
        assert result.exit_code == 0 and result.stderr == ""
        with image.open(tmp_path / f"p3{suffix}") as im:
            assert im.info.get("icc_profile") == profile_for(12, 13)
    result = run_cli(str(p3), "-o", str(tmp_path / "p3.tif"), "-m", "bicubic")
    assert result.exit_code == 0
    assert "the input's colour (Display P3 primaries) has no tag or profile in .tif: it is shown as sRGB" \
        in result.stderr
    pillow_heif = pytest.importorskip("pillow_heif")  # the `heic` extra (in `test`)
    heif = pillow_heif.from_bytes(mode="RGB", size=(32, 24), data=bytes(32 * 24 * 3))
    heif.info["nclx_profile"] = {"color_primaries": 9, "transfer_characteristics": 16, "matrix_coefficients": 9,
                                 "full_range_flag": 1}
    heif.save(tmp_path / "hdr.heic", quality=-1)
    assert run_cli(str(tmp_path / "hdr.heic"), "-o", str(tmp_path / "hdr.png"), "-m", "bicubic").exit_code == 0
    assert _png_cicp(tmp_path / "hdr.png") == (9, 16, 0, 1)  # BT.2020, PQ
    result = run_cli(str(tmp_path / "hdr.heic"), "-o", str(tmp_path / "hdr.jpg"), "-m", "bicubic")
    assert "(BT.2020 primaries, PQ (HDR)) has no tag or profile in .jpg" in result.stderr  # (no ICC curve for PQ)
    # an HDR10 video's frames as PNGs: tagged PQ as the video is; an untagged video's frames untagged
    result = run_cli(str(write_hdr10(tmp_path / "hdr10.mkv")), "-o", str(tmp_path / "f%02d.png"), "-m", "bicubic")
    assert result.exit_code == 0 and _png_cicp(tmp_path / "f01.png") == (9, 16, 0, 1)
    result = run_cli(str(write_clip(tmp_path / "plain.mkv", frames=2)), "-o", str(tmp_path / "g%02d.png"),
                     "-m", "bicubic", "-q")
    assert result.exit_code == 0 and _png_cicp(tmp_path / "g01.png") is None


@pytest.mark.parametrize(
    "case,args,message",
    [
        ("missing", ["{missing}", "-o", "{out}"], "input not found"),
        ("junk", ["{junk}", "-o", "{out}"], "not a video FFmpeg can open"),
        ("audio only", ["{audio_only}", "-o", "{out}"], "has no video stream"),
        ("cover art only", ["{cover_only}", "-o", "{out}"], "has no video stream (it has: audio (aac), cover art (png))"),
        ("zero frames", ["{empty}", "-o", "{out}"], "no decodable video frame"),
        ("unknown model", ["{audio}", "-o", "{out}", "-m", "nope"], "unknown model 'nope'"),
        ("bad scale", ["{audio}", "-o", "{out}", "-s", "5"], "unsupported scale 5"),
        ("scale model", ["{audio}", "-o", "{out}", "-s", "3", "-m", "auto"], None),
        ("odd 4:2:0", ["{odd}", "-o", "{out}", "-s", "3", "--pix-fmt", "yuv420p"], "needs even dimensions"),
        ("output dir", ["{audio}", "-o", "{tmp}/nowhere/out.mp4"], "output directory does not exist"),
        ("unwritable", ["{audio}", "-o", "{file_as_dir}/out.mp4"], "not a directory"),
        ("same file", ["{audio}", "-o", "{audio}", "--overwrite"], "is the input"),
        ("exists", ["{audio}", "-o", "{existing}"], "exists (use --overwrite"),
        ("bad codec", ["{audio}", "-o", "{out}", "--codec", "h267"], "unknown encoder 'h267'"),
        ("bad pix_fmt", ["{audio}", "-o", "{out}", "--pix-fmt", "rgb565"], "unsupported pix_fmt"),
        ("bad set", ["{audio}", "-o", "{out}", "--set", "model.sclae=2"], "unknown key 'sclae'"),
        ("bad crf", ["{audio}", "-o", "{out}", "--crf", "99"], "crf must be in 0..63"),
        ("crf over x264's", ["{audio}", "-o", "{out}", "--crf", "60"], "crf must be in 0..51 for libx264"),
        ("bad preset", ["{audio}", "-o", "{out}", "--preset", "sloww"], "unknown preset 'sloww' for libx264"),
        ("bad tune", ["{audio}", "-o", "{out}", "--set", "encode.tune=bogus"], "unknown tune 'bogus'"),
        ("bad device", ["{audio}", "-o", "{out}", "--device", "tpu"], "bad device 'tpu'"),
        ("no suffix", ["{audio}", "-o", "{tmp}/noext"], "has no extension"),
        ("a pipe", ["{audio}", "-o", "-"], "to write to a pipe, use vsr stream INPUT -"),
        ("image to video", ["{png}", "-o", "{out}"], "is an image"),
        ("codec the container refuses", ["{audio}", "-o", "{tmp}/o.webm", "--codec", "libx264"],
         "the webm container cannot hold libx264 video; leave --codec at auto (here libvpx-vp9) or write .mkv or .mov"),
        ("codec only AVI holds", ["{audio}", "-o", "{tmp}/o.mkv", "--codec", "h261"],
         "the matroska container cannot hold h261 video; leave --codec at auto (here libx264) or write .avi, which holds it"),
        ("unknown container", ["{audio}", "-o", "{tmp}/o.xyz"], "cannot tell the container from the name"),
        ("a playlist of segments", ["{audio}", "-o", "{tmp}/o.m3u8"],
         "vsr upscale writes one file, whole or not at all, and HLS (.m3u8) is a playlist of many"),
        # FFmpeg's reason, which it only logs, where an encoder refuses the settings at open
        ("size the encoder refuses", ["{audio}", "-o", "{tmp}/o.avi", "--codec", "h261"],
         "h261 says: The specified picture size of 128x96 is not valid for the H.261 codec. "
         "Valid sizes are 176x144, 352x288. (Invalid argument)"),
    ],
)
def test_bad_input_is_one_clear_line_and_a_nonzero_exit(case, args, message, clips, tmp_path) -> None:
    existing = tmp_path / "existing.mp4"
    existing.write_bytes(b"keep me")
    file_as_dir = tmp_path / "afile"
    file_as_dir.write_text("x")
    png = tmp_path / "p.png"
    write_image(png, np.zeros((8, 8, 3), np.uint8))
    values = {k: str(v) for k, v in clips.items()}
    values.update(missing=str(tmp_path / "missing.mp4"), out=str(tmp_path / "out.mp4"),
                  tmp=str(tmp_path), existing=str(existing), file_as_dir=str(file_as_dir), png=str(png))
    argv = [a.format(**values) for a in args]
    before = {p: p.stat().st_mtime_ns for p in clip_files(clips)}
    result = CliRunner().invoke(cli, ["upscale", *argv])
    if message is None:  # scale 3 with the default model is valid for classic scalers
        assert result.exit_code == 0, result.stderr
        return
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vsr: error:"), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "out.mp4").exists()
    assert existing.read_bytes() == b"keep me"
    assert not partials(tmp_path)
    assert before == {p: p.stat().st_mtime_ns for p in clip_files(clips)}  # inputs untouched


def clip_files(clips: dict[str, Path]) -> list[Path]:
    return [p for p in clips.values() if p.exists()]


# -- real processes: exit codes, signals, no tracebacks -----------------------------------------


def vsr_process(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vsr", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, **kwargs,
    )


def test_a_real_process_reports_errors_without_traceback(tmp_path) -> None:
    p = vsr_process("upscale", str(tmp_path / "nope.mkv"), "-o", str(tmp_path / "o.mkv"))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1
    assert err.strip() == f"vsr: error: input not found: {tmp_path / 'nope.mkv'}"


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("long") / "long.mkv"
    return write_clip(path, frames=300, width=256, height=192, audio=True)


def wait_for_partial(directory: Path, min_bytes: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"vsr ended early: {proc.communicate()}")
        parts = partials(directory)
        if parts and parts[0].stat().st_size >= min_bytes:
            return
        time.sleep(0.05)
    raise AssertionError("no progress seen")


def interrupt_run(src: Path, out: Path, signals: int) -> str:
    """Start a long `vsr upscale`, wait until output is being written, send SIGINT ``signals``
    times; return stderr after checking the exit code is 130."""
    p = vsr_process("upscale", str(src), "-o", str(out), "-s", "4", "--preset", "slow", "-q")
    wait_for_partial(out.parent, 20_000, p)
    for _ in range(signals):
        p.send_signal(signal.SIGINT)
        time.sleep(0.05)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    return err


@pytest.mark.slow
def test_ctrl_c_finishes_in_flight_frames_and_leaves_a_playable_file(long_clip, tmp_path) -> None:
    out = tmp_path / "partial.mkv"
    err = interrupt_run(long_clip, out, signals=1)
    assert "interrupted" in err and "Traceback" not in err
    assert not partials(tmp_path)
    got = decode_all(out)  # playable: it decodes, from the first frame on
    assert 0 < got["frames"] < 300
    source = decode_all(long_clip)["video_pts"]
    assert got["video_pts"] == source[: got["frames"]]
    # and it says where the rest begins: --start there upscales exactly the frames not written
    rest_from = re.search(r"--start (\S+) upscales the rest", err)
    assert rest_from, err
    rest = tmp_path / "rest.mkv"
    result = run_cli(str(long_clip), "-o", str(rest), "-m", "bicubic", "-q", "--start", rest_from.group(1))
    assert result.exit_code == 0, result.stderr
    after = decode_all(rest)["video_pts"]
    assert got["frames"] + len(after) == 300
    assert [t + source[got["frames"]] - after[0] for t in after] == source[got["frames"]:]


@pytest.mark.slow
def test_second_ctrl_c_aborts_and_leaves_nothing(long_clip, tmp_path) -> None:
    out = tmp_path / "aborted.mkv"
    err = interrupt_run(long_clip, out, signals=2)
    assert "Traceback" not in err
    assert not out.exists() and not partials(tmp_path)


@pytest.mark.slow
def test_ctrl_c_keeps_the_numbered_images_written_so_far(long_clip, tmp_path) -> None:
    p = vsr_process("upscale", str(long_clip), "-o", str(tmp_path / "f_%04d.png"), "-s", "4", "-q")
    t0 = time.time()
    while not any(len(list(d.iterdir())) >= 3 for d in partials(tmp_path)):  # frames are being written
        assert p.poll() is None and time.time() - t0 < 60, p.communicate()
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and "as numbered images" in err and "Traceback" not in err, err
    names = sorted(f.name for f in tmp_path.iterdir() if f.suffix == ".png")
    assert 3 <= len(names) < 300 and names == [f"f_{i:04d}.png" for i in range(1, len(names) + 1)]
    assert read_image(tmp_path / names[-1]).shape == (768, 1024, 3)  # whole, the last one too
    assert not partials(tmp_path)


CONTAINERS = {
    # suffix: (input, codec written, pixel format decoded, audio codec written)
    ".webm": ("8bit", "vp9", "yuv420p", "opus"),  # AAC does not go in WebM: re-encoded, as ffmpeg does
    ".avi": ("8bit", "h264", "yuv420p", "aac"),  # copied
    ".mpg": ("tenbit", "mpeg1video", "yuv420p", None),  # BT.2020 in; MPEG-1 can only mean BT.601
    ".gif": ("8bit", "gif", "bgra", None),  # no audio in GIF: dropped with a warning
    ".apng": ("tenbit", "apng", "rgb48be", None),  # 10-bit in: 16-bit RGB out
}


@pytest.mark.parametrize("suffix", sorted(CONTAINERS))
def test_each_container_gets_a_codec_it_holds_and_every_frame(suffix, tmp_path) -> None:
    kind, codec, frame_format, audio = CONTAINERS[suffix]
    src = (write_clip(tmp_path / "in.mp4", audio=True, smooth=True) if kind == "8bit" else
           write_clip(tmp_path / "in.mkv", pix_fmt="yuv420p10le", colorspace=9, smooth=True))
    out, lossless = tmp_path / f"out{suffix}", tmp_path / "lossless.mkv"
    result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 0, result.stderr
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == codec
    a, b = decode_all(src), decode_all(out)
    assert b["frames"] == a["frames"] == 12
    with av.open(str(out)) as c:
        assert [s.codec_context.name for s in c.streams.audio] == ([audio] if audio else [])
        if audio:  # all of the sound, from the start
            frames = list(c.decode(audio=0))
            assert frames[0].pts == 0 or frames[0].pts * frames[0].time_base < 0.03
            with av.open(str(src)) as i:
                expected = sum(f.samples for f in i.decode(audio=0))
            assert abs(sum(f.samples for f in frames) - expected) <= 1024
    if kind == "8bit" and not audio:
        assert "dropped audio stream" in result.stderr
    assert all(t1 > t0 for t0, t1 in zip(b["video_pts"], b["video_pts"][1:]))  # in order, none repeated
    assert b["frame_format"] == frame_format and (b["width"], b["height"]) == (2 * a["width"], 2 * a["height"])
    # the same picture as a lossless 4:4:4 write of the same run, as a player shows it (colours
    # decoded by the output's own tags; GIF: a palette made for the frame, not a fixed colour cube)
    assert run_cli(str(src), "-o", str(lossless), "-m", "bicubic", "-q", "--codec", "ffv1",
                   "--pix-fmt", "yuv444p").exit_code == 0
    assert psnr(b["first_rgb"], decode_all(lossless)["first_rgb"]) > 35


@pytest.mark.parametrize("suffix,codec", [(".mp4", "auto"), (".mp4", "h264"), (".mkv", "hevc"), (".webm", "auto"),
                                          (".ivf", "auto"), (".mpg", "auto"), (".avi", "mpeg4")])
def test_crf_sets_the_quality_of_every_lossy_encoder(suffix, codec, tmp_path) -> None:
    # --crf used to reach only x264/x265/SVT-AV1/NVENC named exactly so: VP9, VP8 and MPEG-1/2/4 kept
    # their ffmpeg defaults (VP9 crf 32, MPEG a 200 kb/s bitrate) and --codec h264 lost crf and preset
    src = write_clip(tmp_path / "in.mkv", codec="ffv1", frames=8, width=96, height=64)
    lossless = tmp_path / "lossless.mkv"
    assert run_cli(str(src), "-o", str(lossless), "-m", "bicubic", "-q", "--codec", "ffv1").exit_code == 0
    ref = decode_all(lossless)["first_rgb"]
    sizes, quality = [], []
    for crf in (10, 40):
        out = tmp_path / f"crf{crf}{suffix}"
        result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q", "--codec", codec, "--crf", str(crf))
        assert result.exit_code == 0, result.stderr
        sizes.append(out.stat().st_size)
        quality.append(psnr(decode_all(out)["first_rgb"], ref))
    assert sizes[0] > 1.5 * sizes[1], sizes
    assert quality[0] > quality[1] + 3, quality
    assert quality[0] > 35, quality


@pytest.mark.parametrize("frames", [1, 2, 3, 4, 5])
def test_short_clips_keep_every_frame(frames, tmp_path) -> None:
    # a clip shorter than the decoder's frame-thread delay gives all its frames in the final drain;
    # the first of them used to be taken by the probe and the rest lost (2 frames in, 1 out)
    src = write_clip(tmp_path / "short.mp4", frames=frames, audio=True)
    out = tmp_path / "out.mkv"
    result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 0, result.stderr
    a, b = decode_all(src), decode_all(out)
    assert b["frames"] == a["frames"] == frames
    assert [t - b["video_pts"][0] for t in b["video_pts"]] == [t - a["video_pts"][0] for t in a["video_pts"]]


def test_pcm_audio_into_mp4_is_re_encoded_whole_not_lost(tmp_path) -> None:
    # 44.1 kHz stereo PCM in frames of 1000 samples
    tone = [(np.sin(2 * np.pi * 440 * np.arange(t, t + 1000) / 44100) * 8000).astype(np.int16) for t in range(0, 44100, 1000)]
    src = _clip_with_audio(tmp_path / "pcm.mkv", "pcm_s16le", 44100, "s16", [np.repeat(x, 2)[None] for x in tone], 25)
    out = tmp_path / "out.mp4"
    result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 0, result.stderr
    assert "re-encoded audio stream #1 (pcm_s16le) to aac: pcm_s16le is not played everywhere in mp4" in result.stderr
    with av.open(str(out)) as c:
        s = c.streams.audio[0]
        frames = list(c.decode(s))
        assert (s.codec_context.name, s.codec_context.sample_rate, s.codec_context.layout.name) == ("aac", 44100, "stereo")
    seconds = sum(f.samples for f in frames) / 44100
    assert abs(seconds - 45000 / 44100) < 0.03  # every second of sound (AAC pads the last frame)
    assert decode_all(out)["frames"] == 25
    ts = tmp_path / "out.ts"  # MPEG-TS would take PCM only as an opaque data stream: MP2, its own
    assert run_cli(str(src), "-o", str(ts), "-m", "bicubic", "-q").exit_code == 0
    with av.open(str(ts)) as c:
        assert [(s.type, s.codec_context.name) for s in c.streams] == [("video", "h264"), ("audio", "mp2")]
    mxf = tmp_path / "out.mxf"  # MXF's PCM is 48 kHz only: its header refused 44.1 kHz (the run failed)
    result = run_cli(str(src), "-o", str(mxf), "-m", "bicubic", "-q")
    assert result.exit_code == 0, result.stderr
    with av.open(str(mxf)) as c:
        assert [(s.codec_context.name, s.codec_context.sample_rate) for s in c.streams.audio] == [("pcm_s16le", 48000)]
    assert decode_all(mxf)["frames"] == 25


def test_a_source_half_a_frame_off_the_grid_keeps_each_frame_on_its_own_tick(tmp_path) -> None:
    # MPEG-PS (DVD, broadcast captures) starts about half a second in, often half a frame off the
    # grid; MPEG-1/2 count time in frames, and rounding half to even put every other frame onto the
    # previous one's tick (then nudged, with a warning on an ordinary file)
    src = write_clip(tmp_path / "ps.mkv", pts=[20 + 40 * i for i in range(12)], time_base=Fraction(1, 1000))
    out = tmp_path / "out.mpg"
    result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 0 and "nudged" not in result.stderr, result.stderr
    pts = decode_all(out)["video_pts"]
    assert len(pts) == 12 and len({b - a for a, b in zip(pts, pts[1:])}) == 1  # evenly spaced, none doubled


@pytest.mark.parametrize("codec,layout_fmt", [("flac", "s16"), ("libopus", "flt")])
def test_audio_a_muxer_refuses_at_its_header_is_re_encoded_not_fatal(codec, layout_fmt, tmp_path) -> None:
    # MOV's codec list says nothing against FLAC or Opus, but its header refuses them: the whole run
    # failed ("cannot open output: Invalid argument"). Each copy is now tried on a header in memory.
    silence = [np.zeros((1, 1920), np.int16 if layout_fmt == "s16" else np.float32)] * 20  # 960 stereo samples each
    src = _clip_with_audio(tmp_path / f"{codec}.mkv", codec, 48000, layout_fmt, silence, 10)
    out = tmp_path / "out.mov"
    result = run_cli(str(src), "-o", str(out), "-m", "bicubic")
    assert result.exit_code == 0, result.stderr
    assert "re-encoded audio stream #1" in result.stderr and "to aac" in result.stderr
    with av.open(str(out)) as c:
        assert [s.codec_context.name for s in c.streams.audio] == ["aac"]
    assert count_decodable(out) == 10


def test_a_video_is_written_as_numbered_images_from_1_each_one_whole(tmp_path) -> None:
    clip = write_clip(tmp_path / "smooth.mp4", smooth=True, audio=True)
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    pattern = frames_dir / "f_%04d.png"
    result = run_cli(str(clip), "-o", str(pattern), "-m", "bicubic", "-q")
    assert result.exit_code == 0, result.stderr
    assert "audio stream" in result.stderr  # the audio cannot go with them: said
    names = sorted(p.name for p in frames_dir.iterdir())
    assert names == [f"f_{i:04d}.png" for i in range(1, 13)]  # from 1, as ffmpeg numbers them
    source = decode_all(clip)
    first = read_image(frames_dir / "f_0001.png")
    assert first.shape == (96, 128, 3)
    assert psnr(first, reference_upscale(source["first_rgb"], 2)) > 35.0
    # JPEG frames at the --crf quality (crf 18 -> q 2), not the encoder's default bitrate
    result = run_cli(str(clip), "-o", str(frames_dir / "j_%03d.jpg"), "-m", "bicubic", "-q")
    assert result.exit_code == 0, result.stderr
    assert psnr(read_image(frames_dir / "j_001.jpg"), first) > 35.0
    # existing frames are kept unless --overwrite; then frames past the new last one are named
    result = run_cli(str(clip), "-o", str(pattern), "-m", "bicubic", "-q")
    assert result.exit_code == 1 and "12 frames match it" in result.stderr and "--overwrite" in result.stderr
    result = run_cli(str(clip), "-o", str(pattern), "-m", "bicubic", "-q", "-y", "--frames", "5")
    assert result.exit_code == 0 and "7 older frames" in result.stderr and "f_0006.png" in result.stderr
    # never the input's own frames, and nothing half-written is left behind
    result = run_cli(str(pattern), "-o", str(pattern), "-m", "bicubic", "-q", "-y")
    assert result.exit_code == 1 and "names the input's own frames" in result.stderr
    assert not partials(frames_dir) and len(list(frames_dir.iterdir())) == 24
    # a transparent video's frames keep their alpha in PNG
    src = write_transparent(tmp_path / "t.mov", "qtrle", "argb", frames=2)
    result = run_cli(str(src), "-o", str(tmp_path / "t_%d.png"), "-m", "bicubic", "-q")
    assert result.exit_code == 0 and "alpha" not in result.stderr, result.stderr
    alpha = read_image(tmp_path / "t_2.png", alpha=True)[..., 3]
    assert alpha[:, :16].max() == 0 and alpha[:, -16:].min() == 255
    # an image name without a number pattern says how to ask for one
    result = run_cli(str(clip), "-o", str(tmp_path / "still.png"), "-q")
    assert result.exit_code == 1 and "still_%04d.png" in result.stderr


@pytest.mark.parametrize("codec,suffix,pix_fmt,expected", [
    ("dnxhd", ".mov", "yuv420p", ("yuv422p", "DNXHR HQ")),  # DNxHD's defaults take broadcast sizes only
    ("dnxhd", ".mov", "yuv420p10le", ("yuv422p10le", "DNXHR HQX")),  # and 10 bits stay 10
    ("mjpeg", ".avi", "yuv420p", ("yuvj420p", None)),  # JPEG is full range: limited failed at open
    ("vc2", ".mkv", "yuv420p", ("yuv420p", None)),  # at PyAV's bit rate 0 it refused every frame
])
def test_edit_and_jpeg_encoders_open_for_any_source(codec, suffix, pix_fmt, expected, tmp_path) -> None:
    src = write_clip(tmp_path / "in.mkv", width=128, height=64, frames=3, pix_fmt=pix_fmt, smooth=True)
    out = tmp_path / f"out{suffix}"
    result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q", "--codec", codec)
    assert result.exit_code == 0, result.stderr
    with av.open(str(out)) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.pix_fmt, cc.profile if expected[1] else None) == expected
    assert psnr(decode_all(out)["first_rgb"], reference_upscale(decode_all(src)["first_rgb"], 2)) > 35.0


def test_a_transparent_gif_stays_transparent(tmp_path) -> None:
    from PIL import Image  # writes a GIF sticker with a transparent half, as the web has them

    frames = []
    for i in range(4):
        rgba = np.dstack([smooth_pattern(i, 64, 48), np.where(np.arange(64) < 32, 0, 255)[None].repeat(48, 0)])
        frames.append(Image.fromarray(rgba.astype(np.uint8), "RGBA"))
    src = tmp_path / "sticker.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0, disposal=2)
    for out in ("out.gif", "out.webm"):  # a palette's transparent entry; VP9's alpha plane
        result = run_cli(str(src), "-o", str(tmp_path / out), "-m", "bicubic", "-q")
        assert result.exit_code == 0 and "alpha" not in result.stderr, result.stderr
        before, after = decode_rgba(src), decode_rgba(tmp_path / out)
        assert len(after) == 4
        for a, b in zip(before, after):
            assert b[:, :60, 3].max() == 0 and b[:, 68:, 3].min() == 255, out
            colour = reference_upscale(np.ascontiguousarray(a[..., :3]), 2)
            assert psnr(b[:, 72:, :3], colour[:, 72:]) > 30.0, out  # a 256-colour palette, where it shows


def test_a_video_into_webp_is_an_animated_webp_with_its_transparency(tmp_path) -> None:
    from PIL import Image  # FFmpeg cannot decode animated WebP; Pillow (libwebp) can

    src = write_transparent(tmp_path / "t.webm", "libvpx-vp9", "yuva420p", frames=4)
    result = run_cli(str(src), "-o", str(tmp_path / "t.webp"), "-m", "bicubic", "-q")
    assert result.exit_code == 0 and "alpha" not in result.stderr, result.stderr
    data = (tmp_path / "t.webp").read_bytes()
    durations, at = [], 12  # RIFF chunks after the header; each ANMF frame says how long it shows
    while at < len(data):
        size = int.from_bytes(data[at + 4:at + 8], "little")
        if data[at:at + 4] == b"ANMF":
            durations.append(int.from_bytes(data[at + 20:at + 23], "little"))
        at += 8 + size + (size & 1)
    assert durations == [40] * 4  # ms: 25 fps
    with Image.open(tmp_path / "t.webp") as im:
        assert im.format == "WEBP" and im.n_frames == 4 and im.size == (128, 96)
        for i in range(4):
            im.seek(i)
            rgba = np.asarray(im.convert("RGBA"))
            assert rgba[:, :16, 3].max() == 0 and rgba[:, -16:, 3].min() == 255
            expected = reference_upscale(np.ascontiguousarray(decode_rgba(src)[i][..., :3]), 2)
            opaque = rgba[:, -40:, :3]  # lossy WebP: what shows, where it shows
            assert psnr(opaque, expected[:, -40:]) > 28.0
    for out in ("again.webp", "again.mp4"):  # FFmpeg cannot read one back: said in one line
        result = run_cli(str(tmp_path / "t.webp"), "-o", str(tmp_path / out), "-q")
        assert result.exit_code == 1 and "is an animated WebP, which FFmpeg cannot decode" in result.stderr


def test_an_animation_plays_as_often_as_its_input_did(tmp_path) -> None:
    from PIL import Image  # reads each format's loop count: GIF's NETSCAPE2.0 count, WebP's ANIM, APNG's acTL

    from vsr.io.image import animation_plays

    def plays(path: Path) -> int:  # 0: forever
        with Image.open(path) as im:
            if im.format == "GIF":  # a loop count N is N more plays; no count, one play
                return 1 if "loop" not in im.info else (0 if im.info["loop"] == 0 else im.info["loop"] + 1)
            return im.info["loop"]

    frames = [Image.fromarray(smooth_pattern(i, 32, 24)) for i in range(3)]
    for loop, expected in ((0, 0), (None, 1), (2, 3)):  # forever; once (no loop extension); three times
        src = tmp_path / f"loop{loop}.gif"
        frames[0].save(src, save_all=True, append_images=frames[1:], duration=100,
                       **({} if loop is None else {"loop": loop}))
        assert plays(src) == animation_plays(src) == expected
        for out in ("gif", "webp", "apng"):  # GIF's, WebP's and APNG's muxers each count their own way
            dest = tmp_path / f"out{loop}.{out}"
            assert run_cli(str(src), "-o", str(dest), "-m", "bicubic", "-q").exit_code == 0
            assert plays(dest) == animation_plays(dest) == expected, (loop, out)
    video = write_clip(tmp_path / "clip.mp4", frames=3)  # a video: an animation that loops forever, as a GIF
    for out in ("gif", "webp", "apng"):
        assert run_cli(str(video), "-o", str(tmp_path / f"clip.{out}"), "-m", "bicubic", "-q").exit_code == 0
        assert plays(tmp_path / f"clip.{out}") == 0, out
    assert animation_plays(video) is None


def test_a_folder_of_photos_into_a_folder_upscales_each_at_its_own_size(tmp_path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    sizes = {"a.png": (64, 48), "b.jpg": (40, 60), "c.png": (33, 17)}  # portrait, odd: not one video
    for i, (name, (w, h)) in enumerate(sizes.items()):
        rgb = np.stack([smooth_pattern(i, w, h)[..., c] for c in range(3)], -1)
        write_image(photos / name, np.dstack([rgb, np.full((h, w), 128, np.uint8)]) if name == "c.png" else rgb)
    (photos / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    result = run_cli(str(photos), "-o", f"{out}/", "-m", "bicubic", "-q")  # made, as Real-ESRGAN's -o
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(sizes)
    for name, (w, h) in sizes.items():
        got = read_image(out / name, alpha=name == "c.png")
        assert got.shape[:2] == (2 * h, 2 * w), name
        expected = reference_upscale(read_image(photos / name), 2)
        assert psnr(got[..., :3], expected) > (30.0 if name == "b.jpg" else 35.0), name
    assert np.abs(read_image(out / "c.png", alpha=True)[..., 3].astype(int) - 128).max() <= 1  # alpha kept
    # existing images need --overwrite; never into the input folder
    result = run_cli(str(photos), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 1 and "already has 3 of these images" in result.stderr
    result = run_cli(str(photos), "-o", str(photos), "-m", "bicubic", "-q", "-y")
    assert result.exit_code == 1 and "is the input folder" in result.stderr
    # one broken image: named, exit 1, and every other image is still written
    (photos / "broken.png").write_bytes(b"\x89PNG but nothing more")
    result = run_cli(str(photos), "-o", f"{tmp_path / 'out2'}/", "-m", "bicubic", "-q")
    assert result.exit_code == 1 and "1 of 4 images could not be upscaled" in result.stderr
    assert "broken.png" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == sorted(sizes)
    assert not partials(tmp_path / "out2")


def test_one_file_into_a_folder_is_written_there_under_its_own_name(tmp_path) -> None:
    # as Real-ESRGAN's `-i photo.jpg -o results` and cp: it said "output 'results/' has no extension"
    write_image(tmp_path / "photo.jpg", smooth_pattern(0, 40, 30))
    clip = write_clip(tmp_path / "clip.mkv", frames=3)
    (tmp_path / "results").mkdir()
    for src, out, args, written in ((tmp_path / "photo.jpg", "results", [], "results/photo.jpg"),
                                    (tmp_path / "photo.jpg", "results/", ["--ext", "png"], "results/photo.png"),
                                    (clip, f"{tmp_path / 'made'}/", [], "made/clip.mkv")):  # made, as a batch's
        result = run_cli(str(src), "-o", str(tmp_path / out) + ("/" if out.endswith("/") else ""),
                         "-m", "bicubic", *args)
        assert result.exit_code == 0, result.stderr
        assert result.stderr.strip().endswith(str(tmp_path / written))  # the summary names it
        assert (tmp_path / written).exists()
    assert read_image(tmp_path / "results" / "photo.png").shape == (60, 80, 3)
    assert decode_all(tmp_path / "made" / "clip.mkv")["frames"] == 3
    # its own folder: that would be the input itself
    result = run_cli(str(tmp_path / "photo.jpg"), "-o", str(tmp_path), "-m", "bicubic", "-y")
    assert result.exit_code == 1 and "is the input" in result.stderr


def test_ext_writes_a_folders_outputs_in_one_format_as_real_esrgans(tmp_path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.jpg", "a.png", "b.webp", "c.png"):  # a.jpg and a.png would both be a.png
        write_image(photos / name, smooth_pattern(len(name), 40, 30))
    out = tmp_path / "out"
    result = run_cli(str(photos), "-o", f"{out}/", "-m", "bicubic", "-q", "--ext", "PNG")
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg.png", "a.png", "b.png", "c.png"]
    for p in out.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and read_image(p).shape == (60, 80, 3), p.name
    # a folder of videos into another container
    videos = tmp_path / "videos"
    videos.mkdir()
    write_clip(videos / "a.avi", frames=3, codec="mpeg4")
    result = run_cli(str(videos), "-o", f"{tmp_path / 'mkv'}/", "-m", "bicubic", "-q", "--ext", "mkv")
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in (tmp_path / "mkv").iterdir()] == ["a.mkv"]
    with av.open(str(tmp_path / "mkv" / "a.mkv")) as c:
        assert c.format.name == "matroska,webm" and c.streams.video[0].frames in (0, 3)
    assert decode_all(tmp_path / "mkv" / "a.mkv")["frames"] == 3
    # what cannot be: a format vsr does not write, an image format for videos, one file
    for args, message in (([str(photos), "-o", f"{tmp_path / 'x'}/", "--ext", "heic"], "--ext heic: the images of"),
                          ([str(videos), "-o", f"{tmp_path / 'y'}/", "--ext", "png"], "--ext png is an image format"),
                          ([str(photos / "c.png"), "-o", str(tmp_path / "c.jpg"), "--ext", "jpg"],
                           "--ext sets the format of a folder's outputs")):
        result = run_cli(*args, "-m", "bicubic", "-q")
        assert result.exit_code == 1 and message in result.stderr, result.stderr


def test_a_folder_of_videos_into_a_folder_upscales_each_into_its_own_file(tmp_path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    write_clip(videos / "a.mp4", frames=6, audio=True, smooth=True)
    write_clip(videos / "b.mkv", frames=4, width=48, height=32, smooth=True)
    (videos / "notes.txt").write_text("not a video")
    out = tmp_path / "out"
    result = run_cli(str(videos), "-o", f"{out}/", "-m", "bicubic")
    assert result.exit_code == 0, result.stderr
    assert "vsr: 2 videos, 10 frames in" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mkv"]
    for name, (w, h, frames, streams) in {"a.mp4": (128, 96, 6, ["video", "audio"]),
                                          "b.mkv": (96, 64, 4, ["video"])}.items():
        got, src = decode_all(out / name), decode_all(videos / name)
        assert (got["width"], got["height"], got["frames"], got["streams"]) == (w, h, frames, streams), name
        assert got["video_pts"] == src["video_pts"], name  # each keeps its own timestamps
        assert psnr(got["first_rgb"], reference_upscale(src["first_rgb"], 2)) > 30.0, name
    # existing videos need --overwrite; one that cannot be read is named, and the others are written
    result = run_cli(str(videos), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 1 and "already has 2 of these videos" in result.stderr
    (videos / "c.mp4").write_bytes(b"not a video at all")
    result = run_cli(str(videos), "-o", f"{tmp_path / 'out2'}/", "-m", "bicubic", "-q")
    assert result.exit_code == 1 and "1 of 3 videos could not be upscaled (the other 2 are in" in result.stderr
    assert "c.mp4: cannot read" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == ["a.mp4", "b.mkv"]
    assert not partials(tmp_path / "out2")
    # images beside the videos: a batch of images, and the videos are said to be left alone
    write_image(videos / "still.png", np.zeros((8, 8, 3), np.uint8))
    result = run_cli(str(videos), "-o", f"{tmp_path / 'out3'}/", "-m", "bicubic", "-q")
    assert result.exit_code == 0 and "3 video(s) in" in result.stderr and "left alone" in result.stderr
    assert [p.name for p in (tmp_path / "out3").iterdir()] == ["still.png"]


def test_image_sequences_and_folders_are_read_as_videos_in_frame_order(tmp_path) -> None:
    folder = tmp_path / "shots [v2]"  # glob characters in the name are taken literally
    folder.mkdir()
    for i in range(7, 12):  # numbered from 7: beyond where ffmpeg itself looks for the first frame
        write_image(folder / f"f_{i:04d}.png", np.full((24, 32, 4), 20 * i, np.uint8))  # with alpha
    (folder / "notes.txt").write_text("not a frame")
    for source in (folder, folder / "f_%04d.png"):
        out = tmp_path / "seq.mkv"
        result = run_cli(str(source), "-o", str(out), "-m", "bicubic", "-q", "-y", "--pix-fmt", "yuv444p")
        assert result.exit_code == 0, result.stderr
        with av.open(str(out)) as c:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert len(frames) == 5 and frames[0].shape == (48, 64, 3)
        assert [round(float(f.mean())) for f in frames] == [20 * i for i in range(7, 12)]
        assert "alpha channel (rgba) is not kept" in result.stderr  # said, not silently dropped
    assert not partials(folder)
    opaque = tmp_path / "opaque"  # RGBA files that use no transparency: nothing to warn about
    opaque.mkdir()
    for i in range(2):
        write_image(opaque / f"{i}.png", np.full((24, 32, 4), 255, np.uint8))
    result = run_cli(str(opaque), "-o", str(tmp_path / "opaque.mkv"), "-m", "bicubic", "-q")
    assert result.exit_code == 0 and "alpha" not in result.stderr, result.stderr
    result = CliRunner().invoke(cli, ["upscale", str(folder / "g_%04d.png"), "-o", str(tmp_path / "o.mkv")])
    assert result.exit_code == 1 and "input not found" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["upscale", str(empty), "-o", str(tmp_path / "o.mkv")])
    assert result.exit_code == 1 and "directory with no images" in result.stderr


def test_image_sequence_frame_rate_is_set_with_fps_and_refused_for_other_inputs(tmp_path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(4):
        write_image(folder / f"{i:03d}.png", np.full((24, 32, 3), 40 * i, np.uint8))
    out = tmp_path / "ntsc.mp4"
    result = run_cli(str(folder), "-o", str(out), "-m", "bicubic", "-q", "--fps", "29.97")
    assert result.exit_code == 0, result.stderr
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert v.average_rate == Fraction(30000, 1001)
        times = [float(f.time) for f in c.decode(v)]
    assert np.allclose(np.diff(times), 1001 / 30000, atol=1e-3) and len(times) == 4
    clip = write_clip(tmp_path / "v.mkv", frames=3)
    for source, target, what in ((clip, "x.mkv", "is not one"), (folder / "000.png", "x.png", "is one image")):
        result = CliRunner().invoke(cli, ["upscale", str(source), "-o", str(tmp_path / target), "--fps", "30"])
        assert result.exit_code == 1 and what in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    result = CliRunner().invoke(cli, ["upscale", str(folder), "-o", str(tmp_path / "x.mkv"), "--fps", "fast"])
    assert result.exit_code == 1 and "bad frame rate 'fast'" in result.stderr


def test_interlaced_video_is_deinterlaced_before_upscaling_unless_told_not_to(tmp_path) -> None:
    src = write_interlaced(tmp_path / "tv.mpg", frames=6)
    before = decode_all(src)
    outputs = {}
    for mode in ("auto", "off"):
        out = tmp_path / f"{mode}.mkv"
        result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q", "--deinterlace", mode,
                         "--pix-fmt", "yuv444p")
        assert result.exit_code == 0, result.stderr
        assert ("6 interlaced frame(s) were deinterlaced" in result.stderr) == (mode == "auto")
        with av.open(str(out)) as c:
            outputs[mode] = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        # one frame out per frame in, at the same times (the file starting at zero, as ffmpeg writes it)
        times = decode_all(out)["video_pts"]
        assert [t - times[0] for t in times] == [t - before["video_pts"][0] for t in before["video_pts"]]
    # Upscaled as they are, the fields' comb is magnified into stripes; deinterlaced first, it is gone.
    comb_off = np.mean([combing(f[::2]) for f in outputs["off"]])  # every other line: the input's lines
    comb_auto = np.mean([combing(f[::2]) for f in outputs["auto"]])
    assert comb_off > 30 and comb_auto < 0.1 * comb_off, (comb_off, comb_auto)


@pytest.mark.parametrize("source, target, args", [
    ("libx264", "out.mp4", ()),                          # B-frames: access units come in decode order
    ("libx264", "out.ts", ("-s", "4")),                  # a broadcast capture, as MPEG-TS
    ("libx265", "out.mkv", ("--codec", "libx265")),      # HEVC in, HEVC out
    ("interlaced", "out.mov", ("--codec", "libx265")),   # through the deinterlacer, H.264 -> HEVC
    ("mpeg2video", "out.mkv", ()),                       # an ATSC broadcast's MPEG-2 -> H.264
    ("mpeg2video", "out.ts", ("--codec", "mpeg2video")), # MPEG-2 -> MPEG-2 (user data)
    ("libx264", "out.mp4", ("--codec", "libsvtav1")),    # -> AV1 (a T.35 metadata OBU), hidden frames and all
])
def test_closed_captions_stay_with_their_pictures(source, target, args, tmp_path) -> None:
    src = write_captioned(tmp_path / "in.ts", codec="libx264" if source == "interlaced" else source,
                          interlaced=source == "interlaced")
    out = tmp_path / target
    result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q", *args)
    assert result.exit_code == 0, result.stderr
    assert "caption" not in result.stderr
    # every picture's caption bytes, at the same picture: what ffmpeg -a53cc writes, read by FFmpeg
    assert decoded_captions(out) == decoded_captions(src) == [caption_bytes(i) for i in range(8)]


def test_captions_an_encoder_cannot_carry_are_named_in_a_warning(tmp_path) -> None:
    src = write_captioned(tmp_path / "in.mp4", frames=5)
    out = tmp_path / "out.webm"
    result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 0, result.stderr
    assert ("closed captions (CEA-608/708) on 5 frame(s) are not kept: libvpx-vp9 cannot carry them"
            in result.stderr)
    assert decoded_captions(out) == [None] * 5
    plain = run_cli(str(write_clip(tmp_path / "plain.mp4", frames=3)), "-o", str(tmp_path / "plain.webm"),
                    "-m", "bicubic", "-q")  # no captions in, no word about them
    assert plain.exit_code == 0 and "caption" not in plain.stderr


def _track_pairs(path: Path) -> list[bytes]:
    """The caption pairs (triplets, less null padding) of a file's c608 track, in order."""
    with av.open(str(path)) as c:
        data = b"".join(bytes(p) for p in c.demux(c.streams.subtitles[0]) if p.size)
    return [data[i : i + 3] for i in range(0, len(data), 3) if data[i + 1 : i + 3] != b"\x80\x80"]


def _caption_text(path: Path) -> list[tuple[str, float, float]]:
    """(text, start, end) of the CEA-608 captions FFmpeg's own decoder reads from a video's
    pictures (the lavfi movie source's closed caption output, as ffplay shows them)."""
    with av.open(f"movie={path}[out0+subcc]", format="lavfi") as c:
        s = c.streams.subtitles[0]
        cues = []
        for p in c.demux(s):
            sub = s.codec_context.decode2(p) if p.size else None
            for r in sub or ():
                start = sub.pts / 1e6 + sub.start_display_time / 1000
                cues.append((r.ass.decode().split("}")[-1], start, start + (sub.end_display_time - sub.start_display_time) / 1000))
        return cues


def _text_track(path: Path) -> list[tuple[str, float, float]]:
    """(text, start, end) of the cues of a file's text subtitle track (:func:`_cues`), less ASS tags."""
    return [(text.decode().split("}")[-1], float(start), float(start + length)) for text, start, length in _cues(path)]


def test_a_c608_caption_track_goes_into_the_pictures_and_a_text_track_where_the_container_cannot_hold_it(tmp_path) -> None:
    src = write_c608(tmp_path / "master.mov")
    pairs = _track_pairs(src)
    assert len(pairs) == 26
    words = [text for _, text in CUES_608]
    # .mov holds the track: copied packet for packet, and nothing written into the pictures
    mov = tmp_path / "out.mov"
    result = run_cli(str(src), "-o", str(mov), "-m", "bicubic", "-q")
    assert result.exit_code == 0 and "caption" not in result.stderr and "eia_608" not in result.stderr
    assert _track_pairs(mov) == pairs and set(decoded_captions(mov)) == {None}
    # .mp4 cannot: every pair goes into the H.264 pictures, in order, none before its time, as FFmpeg's
    # own caption decoder then reads them; and the captions become a mov_text track too, as ffmpeg does
    mp4 = tmp_path / "out.mp4"
    result = run_cli(str(src), "-o", str(mp4), "-m", "bicubic", "-q")
    assert result.exit_code == 0, result.stderr
    assert "wrote subtitle stream #1 (eia_608) into the video's pictures as closed captions (A/53)" in result.stderr
    assert "re-encoded subtitle stream #1 (eia_608) to mov_text" in result.stderr and "write .mov" in result.stderr
    assert "dropped" not in result.stderr and ".mkv" not in result.stderr  # (Matroska cannot hold c608 either)
    per_picture = decoded_captions(mp4)
    written = b"".join(c or b"" for c in per_picture)
    assert [written[i : i + 3] for i in range(0, len(written), 3)] == pairs
    first = next(i for i, c in enumerate(per_picture) if c)
    assert first == 5  # the first picture at or after 0.2 s (25 fps)
    assert max(len(c or b"") for c in per_picture) <= 6  # spread a pair or two a picture, not in bursts
    shown = _caption_text(mp4)
    assert [t for t, _, _ in shown] == words
    # each is shown once its pairs are in (end of caption: 10 and 12 pairs in, about 0.35 s) and erased
    # when the next line's first pairs are
    for (text, start, end), (at, _), stop in zip(shown, CUES_608, [c[0] for c in CUES_608[1:]] + [END_608]):
        assert at + 0.3 < start < at + 0.6 and stop <= end < stop + 0.1, (text, start, end)
    cues = _text_track(mp4)
    assert [t for t, _, _ in cues] == words
    for (text, start, end), (at, _), stop in zip(cues, CUES_608, [c[0] for c in CUES_608[1:]] + [END_608]):
        assert abs(start - at) < 0.04 and abs(end - stop) < 0.04, (text, start, end)
    # MPEG-TS holds no text track: the pictures alone carry them, as a broadcast's do
    ts = tmp_path / "out.ts"
    result = run_cli(str(src), "-o", str(ts), "-m", "bicubic", "-q")
    assert result.exit_code == 0 and "dropped" not in result.stderr and "A/53" in result.stderr
    assert decode_all(ts)["streams"] == ["video"] and [t for t, _, _ in _caption_text(ts)] == words
    # an encoder that cannot carry them: the text track alone, and a warning naming those that can
    webm = tmp_path / "out.webm"
    result = run_cli(str(src), "-o", str(webm), "-m", "bicubic", "-q")
    assert result.exit_code == 0
    assert "not written into the video as closed captions: libvpx-vp9 cannot carry them" in result.stderr
    assert [t for t, _, _ in _text_track(webm)] == words and set(decoded_captions(webm)) == {None}


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="reads are counted from /proc/self/io (Linux)")
def test_the_caption_track_is_read_ahead_without_reading_the_video(tmp_path) -> None:
    from vsr.io.media import MediaInput

    def bytes_read() -> int:
        return int(next(line for line in open("/proc/self/io") if line.startswith("rchar")).split()[1])

    small = write_c608(tmp_path / "small.mov")
    big = tmp_path / "big.mov"
    with av.open(str(small)) as src, av.open(str(big), "w") as out:  # 12 s of noise, intra frames
        v = out.add_stream("mjpeg", rate=25)
        v.width, v.height, v.pix_fmt = 320, 240, "yuvj420p"
        c = out.add_stream_from_template(src.streams.subtitles[0])
        track = [p for p in src.demux(src.streams.subtitles[0]) if p.size]
        noise = av.VideoFrame.from_ndarray(np.random.default_rng(0).integers(0, 256, (240, 320, 3), np.uint8), format="rgb24")
        for i in range(300):
            noise.pts = i
            for p in v.encode(noise):
                out.mux(p)
            if i % 25 == 0:  # a caption packet a second
                q = av.Packet(bytes(track[0]))
                q.stream, q.time_base, q.pts, q.dts, q.duration = c, Fraction(1, 1000), i * 40, i * 40, 40
                out.mux(q)
        for p in v.encode(None):
            out.mux(p)
    with MediaInput(big) as source:
        before = bytes_read()
        packets = source.caption_track(1)
        read = bytes_read() - before
    assert [round(t, 3) for t, _, _ in packets] == [k for k in range(12)] and packets[0][2] == bytes(track[0])
    assert big.stat().st_size > 4_000_000 and read < big.stat().st_size / 5, read  # (a tenth: index, buffers)


def test_pictures_with_captions_of_their_own_keep_them_over_a_c608_track(tmp_path) -> None:
    src = write_c608(tmp_path / "both.mov", frames=12, own_captions=True)
    out = tmp_path / "out.mp4"
    result = run_cli(str(src), "-o", str(out), "-m", "bicubic", "-q")
    assert result.exit_code == 0
    assert "not written into the video: its pictures carry closed captions of their own" in result.stderr
    assert decoded_captions(out) == [caption_bytes(i) for i in range(12)]


def test_of_several_video_streams_the_largest_is_upscaled_and_the_others_named(tmp_path) -> None:
    src = tmp_path / "angles.mkv"
    with av.open(str(src), "w") as out:
        streams = []
        for w, h in ((32, 24), (64, 48), (64, 48)):  # a small preview, then two of the same size
            s = out.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            streams.append(s)
        for i in range(4):
            for n, s in enumerate(streams):
                rgb = np.full((s.height, s.width, 3), 40 * n + 10 * i, np.uint8)
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
                frame.pts = i
                for packet in s.encode(frame):
                    out.mux(packet)
        for s in streams:
            for packet in s.encode(None):
                out.mux(packet)
    out_path = tmp_path / "out.mkv"
    result = run_cli(str(src), "-o", str(out_path), "-m", "bicubic", "-q")
    assert result.exit_code == 0, result.stderr
    with av.open(str(out_path)) as c:
        assert len(c.streams.video) == 1
        means = [round(float(f.to_ndarray(format="rgb24").mean())) for f in c.decode(video=0)]
        assert (c.streams.video[0].width, c.streams.video[0].height) == (128, 96)
    assert np.allclose(means, [40 + 10 * i for i in range(4)], atol=1.5)  # the first of the largest: #1
    assert "video stream #0 (h264 32x24) is not kept" in result.stderr
    assert "video stream #2 (h264 64x48) is not kept" in result.stderr


def test_x265_ten_bit_output(clips, tmp_path) -> None:
    out = tmp_path / "x265.mkv"
    result = run_cli(str(clips["tenbit"]), "-o", str(out), "--codec", "libx265", "--preset", "ultrafast", "-q")
    assert result.exit_code == 0, result.stderr
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "hevc"
    b = decode_all(out)
    assert b["frame_format"] == "yuv420p10le" and b["frames"] == 12 and b["colorspace"] == 9


def test_odd_output_size_keeps_every_pixel_in_444(clips, tmp_path) -> None:
    out = tmp_path / "x3.mp4"
    result = run_cli(str(clips["odd"]), "-o", str(out), "-s", "3", "--preset", "ultrafast")
    assert result.exit_code == 0 and "compact-x4-fast" in result.stderr  # x3: the x4 network, shrunk
    b = decode_all(out)
    assert (b["width"], b["height"]) == (189, 141) and b["frame_format"] == "yuv444p"


def test_a_mid_stream_size_change_is_scaled_to_the_first_size(tmp_path) -> None:
    src = write_size_change(tmp_path / "sizes.ts")
    out = tmp_path / "sizes.mkv"
    result = run_cli(str(src), "-o", str(out), "-q", "--preset", "ultrafast")
    assert result.exit_code == 0, result.stderr
    assert "changes size" in result.stderr
    b = decode_all(out)
    assert (b["width"], b["height"]) == (128, 96)
    assert b["frames"] == count_decodable(src) >= 18


def test_monitor_scores_without_changing_or_slowing_the_output(clips, tmp_path) -> None:
    from vsr.config import PipelineConfig, load
    from vsr.pipeline import monitor as mon
    from vsr.pipeline.upscale import UpscaleJob

    cfg = load(PipelineConfig, None, ['model.name="lanczos"', 'encode.preset="ultrafast"'])
    plain = UpscaleJob(clips["audio"], tmp_path / "plain.mkv", cfg).run()

    class SlowMonitor(mon.MonitorStage):
        def _score(self, *args):
            time.sleep(0.3)  # far slower than the pipeline
            return super()._score(*args)

    jsonl = tmp_path / "m.jsonl"
    job = UpscaleJob(clips["audio"], tmp_path / "mon.mkv", cfg,
                     monitor=mon.MonitorOptions(every=1, perceptual="both"), monitor_file=jsonl)
    import vsr.pipeline.upscale as up

    original, up.MonitorStage = up.MonitorStage, SlowMonitor
    try:
        watched = job.run()
    finally:
        up.MonitorStage = original
    assert plain.frames == watched.frames == 12
    with av.open(str(tmp_path / "plain.mkv")) as a, av.open(str(tmp_path / "mon.mkv")) as b:
        for fa, fb in zip(a.decode(video=0), b.decode(video=0)):
            assert np.array_equal(fa.to_ndarray(format="yuv420p"), fb.to_ndarray(format="yuv420p"))
    skipped = watched.stats.tap_skipped["monitor"]
    scored, rested = watched.monitor["frames_scored"], watched.monitor["frames_rested"]
    assert skipped > 0 and scored >= 1 and scored + skipped + rested == 12  # busy: samples skipped, counted
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(records) == scored
    for r in records:
        assert {"index", "time_s", "cross_scale_psnr", "cross_scale_lpips", "cross_scale_lpips_student",
                "fidelity_psnr", "detail_ratio"} <= set(r)


def test_monitor_cli_and_report(clips, tmp_path) -> None:
    jsonl = tmp_path / "m.jsonl"
    result = run_cli(str(clips["audio"]), "-o", str(tmp_path / "o.mkv"), "--monitor", str(jsonl),
                     "--monitor-every", "2", "-m", "lanczos")
    assert result.exit_code == 0, result.stderr
    assert "monitor:" in result.stderr and "frames scored" in result.stderr
    assert "cross-scale ST-LPIPS-student" in result.stderr  # the default learned metric
    assert all("cross_scale_lpips_student" in json.loads(line) for line in jsonl.read_text().splitlines())
    report = CliRunner().invoke(cli, ["report", str(jsonl), "--plot", str(tmp_path / "m.png")])
    assert report.exit_code == 0, report.stderr
    assert "cross_scale_psnr" in report.stdout and "better: higher" in report.stdout
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(cli, ["report", str(tmp_path / "missing.jsonl")])
    assert bad.exit_code == 1 and "monitor file not found" in bad.stderr


@pytest.mark.parametrize("codec, args, model", [
    ("libx264", (), "compact-x2-fast-video"),  # compressed video: the model fine-tuned on it
    ("libvpx-vp9", (), "compact-x2-fast-video"),
    ("ffv1", (), "compact-x2-fast"),  # lossless: the fidelity model
    ("libx264", ("--detail", "0"), "compact-x2-fast"),  # what is asked for is kept
    ("libx264", ("-m", "compact-x2-fast"), "compact-x2-fast"),
    ("libx264", ("-s", "4"), "compact-x4-fast-video@0.5"),  # x4's default is the same for every input
])
def test_the_default_model_follows_the_source(tmp_path, codec, args, model) -> None:
    src = write_clip(tmp_path / f"in.{'webm' if codec == 'libvpx-vp9' else 'mkv'}", codec=codec, frames=2)
    result = run_cli(str(src), "-o", str(tmp_path / "out.mkv"), *args)
    assert result.exit_code == 0, result.stderr
    assert f", {model} on cpu)" in result.stderr


def test_stills_and_frame_folders_keep_the_fidelity_model_at_x2(tmp_path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        write_image(frames / f"{i:03d}.png", np.full((24, 32, 3), 60 * i, np.uint8))
    result = run_cli(str(frames / "%03d.png"), "-o", str(tmp_path / "out.mkv"))
    assert result.exit_code == 0, result.stderr
    assert ", compact-x2-fast on cpu)" in result.stderr
    result = run_cli(str(frames / "000.png"), "-o", str(tmp_path / "one.png"))
    assert result.exit_code == 0, result.stderr
    assert ", compact-x2-fast on cpu)" in result.stderr


def test_jpeg_stills_frames_and_mjpeg_get_the_jpeg_models_up_to_their_quality(tmp_path) -> None:
    from PIL import Image

    from vsr.pipeline.upscale import JPEG_MODEL_UP_TO

    rgb = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        Image.fromarray(np.roll(rgb, i, axis=1)).save(frames / f"{i:03d}.jpg", quality=75)
    Image.fromarray(rgb).save(tmp_path / "fine.jpg", quality=JPEG_MODEL_UP_TO + 1)
    for src, out, args, model in (
        (frames / "000.jpg", "one.png", (), "compact-x2-fast-jpeg"),
        (frames / "%03d.jpg", "seq.mkv", (), "compact-x2-fast-jpeg"),
        (tmp_path / "fine.jpg", "fine.png", (), "compact-x2-fast"),  # near lossless: as clean input
        (frames / "000.jpg", "asked.png", ("-m", "compact-x2-fast"), "compact-x2-fast"),
        (frames / "000.jpg", "x4.png", ("-s", "4"), "compact-x4-fast-jpeg@0.5"),
        (frames / "000.jpg", "x3.png", ("-s", "3"), "compact-x4-fast-jpeg@0.5"),  # the x4 network, shrunk
        (tmp_path / "fine.jpg", "fine4.png", ("-s", "4"), "compact-x4-fast-video@0.5"),
        (frames / "000.jpg", "d.png", ("-s", "4", "--detail", "0.5"), "compact-x4-fast-video@0.5"),
        # MJPEG video (old cameras' clips): its first frame's quality, qscale 8 about 71, 2 about 93
        (write_clip(tmp_path / "cam.avi", codec="mjpeg", pix_fmt="yuvj420p", frames=2,
                    options={"qmin": "8", "qmax": "8"}), "cam.mkv", (), "compact-x2-fast-jpeg"),
        (write_clip(tmp_path / "fine.avi", codec="mjpeg", pix_fmt="yuvj420p", frames=2,
                    options={"qmin": "2", "qmax": "2"}), "fine.mkv", (), "compact-x2-fast"),
    ):
        result = run_cli(str(src), "-o", str(tmp_path / out), *args)
        assert result.exit_code == 0, result.stderr
        assert f", {model} on cpu)" in result.stderr, (src, args, result.stderr)
