"""`vsr stream` over loopback (127.0.0.1 only): a paced sender -> vsr -> a receiver that decodes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from clips import caption_bytes, combing, decode_all, decoded_captions, write_captioned, write_clip, write_interlaced
from streaming import PacedSender, Receiver, free_port, latencies, read_stamp
from vsr.config import PipelineConfig, load
from vsr.engine.engine import Engine
from vsr.archs import load_model
from vsr.pipeline.live import LiveOptions, StreamJob

FPS = 25


def vsr_stream(*args: str, stdin=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vsr", "stream", *args], stdin=stdin, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_tcp_in_tcp_out_scaled_in_real_time_with_audio_and_stats(tmp_path) -> None:
    pin, pout = free_port(), free_port()
    receiver = Receiver(f"tcp://127.0.0.1:{pout}")
    receiver.start()
    stats = tmp_path / "stats.jsonl"
    proc = vsr_stream(f"tcp://127.0.0.1:{pin}?listen", f"tcp://127.0.0.1:{pout}",
                      "--stats", str(stats), "--stats-interval", "0.5")
    sender = PacedSender(f"tcp://127.0.0.1:{pin}", 3 * FPS, fps=FPS, audio=True)
    sender.start()
    sender.join(60)
    _, err = proc.communicate(timeout=60)
    receiver.join(20)
    assert sender.error is None and receiver.error is None
    assert proc.returncode == 0, err.decode()
    # Scaled, in order, and most frames made it. The live policy may drop some (the start-up burst,
    # or a machine busy with other work), but every frame is accounted for (see the stats below).
    assert {(w, h) for *_, w, h in receiver.frames} == {(256, 192)}
    indices = [i for i, *_ in receiver.frames]
    assert len(indices) >= 0.6 * 3 * FPS and indices == sorted(indices)
    assert receiver.audio_packets > 0  # audio passed through
    # Latency bounded once running (the start includes both ends' stream probing).
    lat = latencies(sender, receiver)
    assert np.percentile(lat[len(lat) // 2:], 95) < 1.0
    # Source timestamps kept: output pts advance exactly like the frame indices.
    first_i, first_pts = receiver.frames[0][0], receiver.frames[0][1]
    for i, pts, *_ in receiver.frames:
        assert pts - first_pts == pytest.approx((i - first_i) / FPS, abs=2e-3)
    records = [json.loads(line) for line in stats.read_text().splitlines()]
    assert records[-1]["final"] and records[-1]["frames_out"] == len(receiver.frames)
    assert records[-1]["frames_out"] + records[-1]["dropped"] == records[-1]["frames_in"] <= 3 * FPS
    assert any(not r["final"] for r in records)
    for r in records:
        assert set(r) >= {"input_fps", "output_fps", "dropped", "latency_ms", "frames_in", "frames_out"}
        assert r["latency_ms"]["p50"] <= r["latency_ms"]["p95"] <= r["latency_ms"]["max"]
    assert "latency p50" in err.decode()


class SlowEngine(Engine):
    """The real engine plus a fixed delay per call: an engine that cannot keep up."""

    delay = 0.12

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.delay)
        return super().__call__(x)


def test_a_slow_engine_drops_stale_frames_instead_of_growing_latency(tmp_path) -> None:
    pin = free_port()
    out = tmp_path / "rec.mkv"
    config = load(PipelineConfig, None, ['model.name="bicubic"', 'encode.preset="ultrafast"'])
    engine = SlowEngine(load_model("bicubic", 2), torch.device("cpu"))
    job = StreamJob(f"tcp://127.0.0.1:{pin}?listen", str(out), config, LiveOptions(stats_interval=60),
                    engine=engine)
    sender = PacedSender(f"tcp://127.0.0.1:{pin}", 4 * FPS, fps=FPS)
    sender.start()
    result = job.run()
    sender.join(30)
    assert sender.error is None
    # 25 fps in, ~8 fps of engine: most frames must be dropped, and counted.
    assert result.dropped > 0.4 * result.frames_in
    assert result.frames_out + result.dropped == result.frames_in
    # Latency stays bounded by the short queues, not by the length of the stream.
    assert result.summary["latency_ms"]["p95"] < 1500
    # Drops leave gaps in the timestamps, never a shift: each written frame keeps its source time.
    with av.open(str(out)) as c:
        frames = [(read_stamp(f.to_ndarray(format="rgb24"), 2), float(f.pts * f.time_base)) for f in c.decode(video=0)]
    assert len(frames) == result.frames_out
    (i0, t0) = frames[0]
    gaps = 0
    for (i, t), (j, _) in zip(frames, frames[1:] + [(None, None)]):
        assert t - t0 == pytest.approx((i - i0) / FPS, abs=2e-3)
        gaps += j is not None and j - i > 1
    assert gaps > 0


class BuildOnFirstCall(Engine):
    """The real engine, whose first call takes as long as building a compiled engine would."""

    build = 2.0
    built = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.built:
            time.sleep(self.build)
            self.built = True
        return super().__call__(x)


def test_the_engine_is_built_before_the_first_frame_is_timed(tmp_path) -> None:
    pin = free_port()
    config = load(PipelineConfig, None, ['model.name="bicubic"', 'encode.preset="ultrafast"'])
    engine = BuildOnFirstCall(load_model("bicubic", 2), torch.device("cpu"))
    out = tmp_path / "rec.mkv"
    job = StreamJob(f"tcp://127.0.0.1:{pin}?listen", str(out), config,
                    LiveOptions(stats_interval=60), engine=engine)
    sender = PacedSender(f"tcp://127.0.0.1:{pin}", 4 * FPS, fps=FPS)
    sender.start()
    result = job.run()
    sender.join(30)
    assert sender.error is None and engine.built
    # Built while the first frame waited to be timed, not on its clock: no frame waits 2 s.
    assert result.summary["latency_ms"]["max"] < 1000 * BuildOnFirstCall.build
    assert result.frames_out + result.dropped == result.frames_in
    # The 2 s the sender went on sending meanwhile are a backlog on the source's clock: dropped
    # undecoded-for-nothing (late) until the stream is back at the live edge, then frames flow.
    assert result.late >= FPS and result.summary["late"] == result.late
    with av.open(str(out)) as c:
        written = [read_stamp(f.to_ndarray(format="rgb24"), 2) for f in c.decode(video=0)]
    assert written[0] >= FPS and len(written) >= FPS


def test_opus_audio_goes_to_flv_as_aac(tmp_path) -> None:
    from click.testing import CliRunner
    from vsr.cli.main import cli

    webm = tmp_path / "in.webm"  # VP9 + Opus, made by vsr itself from an AAC clip
    made = CliRunner().invoke(cli, ["upscale", str(write_clip(tmp_path / "in.mp4", audio=True)), "-o", str(webm),
                                    "-m", "bicubic", "-q"])
    assert made.exit_code == 0, made.stderr
    with av.open(str(webm)) as c:
        assert [s.codec_context.name for s in c.streams.audio] == ["opus"]
    proc = vsr_stream(str(webm), str(tmp_path / "out.flv"), "-m", "bicubic", "-q")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert "re-encoded audio stream #1 (opus) to aac" in err.decode()
    with av.open(str(tmp_path / "out.flv")) as c:
        assert [s.codec_context.name for s in c.streams.audio] == ["aac"]
        assert sum(f.samples for f in c.decode(audio=0)) >= 0.4 * 48000  # the clip's 0.48 s of sound


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_an_interlaced_stream_is_deinterlaced_before_upscaling(mode, tmp_path) -> None:
    src = write_interlaced(tmp_path / "tv.ts", frames=10)
    out = tmp_path / "out.mkv"
    proc = vsr_stream(str(src), str(out), "-m", "bicubic", "-q", "--deinterlace", mode, "--queue-size", "16")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    with av.open(str(out)) as c:
        combs = [combing(f.to_ndarray(format="rgb24")[::2]) for f in c.decode(video=0)]
    assert combs and ((max(combs) < 5) if mode == "auto" else (min(combs) > 30)), combs


def test_a_live_feeds_closed_captions_are_kept(tmp_path) -> None:
    src = write_captioned(tmp_path / "feed.ts", frames=12)
    out = tmp_path / "out.ts"
    proc = vsr_stream(str(src), str(out), "-m", "bicubic", "-q", "--queue-size", "16")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    got = decoded_captions(out)
    # the live policy may drop frames; every frame that came through has its own picture's captions
    assert len(got) >= 6 and all(c in {caption_bytes(i) for i in range(12)} for c in got)
    indices = [c[7] for c in got]  # caption_bytes(i) carries i
    assert indices == sorted(set(indices))


def test_captions_of_frames_dropped_by_a_slow_engine_go_out_with_the_next_frame(tmp_path) -> None:
    src = write_captioned(tmp_path / "feed.ts", frames=40)
    out = tmp_path / "out.ts"
    config = load(PipelineConfig, None, ['model.name="bicubic"', 'encode.preset="ultrafast"'])
    engine = SlowEngine(load_model("bicubic", 2), torch.device("cpu"))
    result = StreamJob(str(src), str(out), config, LiveOptions(stats_interval=60, realtime=True, queue_size=1),
                       engine=engine).run()
    assert result.dropped > 10  # 25 fps in, ~8 fps out
    got = decoded_captions(out)
    assert len(got) == result.frames_out and all(got)
    # not a letter lost: the caption bytes written, in order, are every input frame's
    assert b"".join(got) == b"".join(caption_bytes(i) for i in range(40))


@pytest.mark.parametrize("args,size", [((), (128, 96)), (("--outscale", "1.5"), (96, 72)), (("-s", "3"), (192, 144)),
                                       (("--size", "x144"), (192, 144))])  # 3x: x4 chosen once the source is probed
def test_stdin_to_stdout(args, size, tmp_path) -> None:
    src = write_clip(tmp_path / "in.ts", frames=20, width=64, height=48)
    proc = subprocess.Popen([sys.executable, "-m", "vsr", "-v", "stream", "-", "-", "--format", "nut", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(src.read_bytes(), timeout=120)
    assert proc.returncode == 0, err.decode()
    # the x2 default follows the source (H.264 here): compact-x2-fast-video, as vsr upscale picks it
    want = {(128, 96): "model compact-x2-fast-video x2", (96, 72): "model compact-x2-fast-video x2"}
    assert want.get(size, "model compact-x4-fast") in err.decode()
    (tmp_path / "out.nut").write_bytes(out)
    got = decode_all(tmp_path / "out.nut")
    assert (got["width"], got["height"]) == size
    assert 0 < got["frames"] <= 20


def test_a_dead_source_reconnects_then_gives_up_with_a_clear_message(tmp_path) -> None:
    port = free_port()
    rec = tmp_path / "rec.ts"
    # vsr is the client; the "source" is a sender that listens, serves one second, and goes away.
    # It comes back once (vsr reconnects), then never again (vsr gives up).
    sender = [sys.executable, str(Path(__file__).parent.parent / "streaming.py"), "send", f"tcp://127.0.0.1:{port}"]
    first = subprocess.Popen([*sender, str(FPS), "0", "listen"])
    time.sleep(0.5)
    proc = vsr_stream(f"tcp://127.0.0.1:{port}", str(rec), "--reconnect", "2", "--reconnect-delay", "0.3",
                      "--timeout", "3", "--stats-interval", "60")
    assert first.wait(60) == 0
    second = subprocess.Popen([*sender, str(FPS), "500", "listen"])
    assert second.wait(60) == 0
    _, err = proc.communicate(timeout=90)
    text = err.decode()
    assert proc.returncode == 1, text
    assert "reconnected" in text and "gave up after 2 reconnect attempts" in text
    assert "Traceback" not in text
    # The recording holds both sessions, with timestamps that keep increasing across the reconnect.
    with av.open(str(rec)) as c:
        frames = [(read_stamp(f.to_ndarray(format="rgb24"), 2), float(f.pts * f.time_base)) for f in c.decode(video=0)]
    stamps = [i for i, _ in frames]
    assert any(i < 500 for i in stamps) and any(i >= 500 for i in stamps)
    times = [t for _, t in frames]
    assert all(b > a for a, b in zip(times, times[1:]))


@pytest.mark.parametrize(
    "args,message",
    [
        (["{clip}", "tcp://127.0.0.1:{closed}"], "cannot open output tcp://127.0.0.1:{closed}"),
        (["srt://127.0.0.1:9000", "-"], "srt:// is not available"),
        (["tcp://127.0.0.1:{closed}", "-"], "cannot connect to tcp://127.0.0.1:{closed} (Connection refused)"),
        (["http://127.0.0.1:{http}/gone.ts", "-"], "cannot read http://127.0.0.1:{http}/gone.ts (Server returned 404"),
        (["{clip}", "out", "-q"], "has no extension"),
        (["{clip}", "-", "--format", "avi"], "unsupported --format 'avi'"),
        (["{clip}", "-", "--size", "1080i"], "bad size '1080i'"),
    ],
)
def test_bad_endpoints_are_one_clear_line(args, message, tmp_path) -> None:
    import functools
    import http.server
    import threading

    clip = write_clip(tmp_path / "c.ts", frames=5)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    values = {"clip": str(clip), "closed": str(free_port()), "http": str(server.server_address[1])}
    try:
        proc = vsr_stream(*[a.format(**values) for a in args])
        _, err = proc.communicate(timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert proc.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("vsr: error:") and message.format(**values) in lines[0]


@pytest.mark.slow
def test_sigterm_flushes_and_closes_the_output(tmp_path) -> None:
    pin = free_port()
    rec = tmp_path / "rec.mkv"
    proc = vsr_stream(f"tcp://127.0.0.1:{pin}?listen", str(rec), "-q")
    sender = PacedSender(f"tcp://127.0.0.1:{pin}", 20 * FPS, fps=FPS)
    sender.start()
    deadline = time.time() + 30
    while time.time() < deadline and (not rec.exists() or rec.stat().st_size < 2000):
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode()
    got = decode_all(rec)  # the recording was finalised: it decodes
    assert got["frames"] > FPS // 2 and (got["width"], got["height"]) == (256, 192)


@pytest.mark.parametrize("url", ["tcp://127.0.0.1:{port}?listen", "udp://127.0.0.1:{port}"])
def test_ctrl_c_while_waiting_for_a_sender_stops_at_once(url, tmp_path) -> None:
    rec = tmp_path / "rec.mkv"
    proc = vsr_stream(url.format(port=free_port()), str(rec), "-m", "bicubic", "--wait", "60")
    time.sleep(4)  # started, and blocked in FFmpeg's open, which no signal interrupts
    assert proc.poll() is None
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 5, err.decode()  # not when the 60 s wait runs out
    assert proc.returncode == 130 and "stopped while waiting for" in err.decode(), err.decode()
    assert "Traceback" not in err.decode() and not rec.exists()


@pytest.mark.parametrize("transport", ["rtmp", "udp"])
def test_rtmp_listen_and_udp_inputs(transport, tmp_path) -> None:
    port = free_port()
    if transport == "rtmp":
        listen_url, send_url, fmt = (f"rtmp://127.0.0.1:{port}/live/cam?listen",
                                     f"rtmp://127.0.0.1:{port}/live/cam", "flv")
    else:
        listen_url, send_url, fmt = f"udp://127.0.0.1:{port}", f"udp://127.0.0.1:{port}", "mpegts"
    rec = tmp_path / "rec.nut"
    proc = vsr_stream(listen_url, str(rec), "--timeout", "2", "--stats-interval", "60")
    if transport == "udp":
        time.sleep(4)  # nothing tells a udp sender that vsr has bound the port
    # 3 s sent, 1 s wanted: the start (probing, the first packets of a udp stream that begins
    # mid-GOP) costs frames, and more on a busy machine
    sender = PacedSender(send_url, 3 * FPS, fps=FPS, format=fmt)
    sender.start()
    sender.join(60)
    _, err = proc.communicate(timeout=60)
    assert sender.error is None
    text = err.decode()
    # Without --reconnect the stream ends with its source: udp by silence (--timeout), rtmp when
    # the publisher disconnects; both flush and close the output and exit 0, saying why.
    assert proc.returncode == 0, text
    assert "input ended" in text
    if transport == "udp":
        assert "no data for 2 s" in text
    got = decode_all(rec)
    assert (got["width"], got["height"]) == (256, 192) and got["frames"] >= FPS


def test_http_input(tmp_path) -> None:
    import http.server
    import threading

    src = write_clip(tmp_path / "live.ts", frames=40, width=64, height=48)
    data = src.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # a live-ish HTTP source: the stream arrives in paced chunks
            self.send_response(200)
            self.send_header("Content-Type", "video/mp2t")
            self.end_headers()
            chunks = range(0, len(data), 2048)
            for i in chunks:  # paced to the clip's own duration (40 frames at 25 fps)
                self.wfile.write(data[i:i + 2048])
                self.wfile.flush()
                time.sleep(1.6 / len(chunks))

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rec = tmp_path / "rec.nut"
        proc = vsr_stream(f"http://127.0.0.1:{server.server_address[1]}/live.ts", str(rec), "-q")
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    finally:
        server.shutdown()
    got = decode_all(rec)
    assert (got["width"], got["height"]) == (128, 96) and got["frames"] >= 20


def test_re_streams_a_file_out_at_its_own_pace_without_drops(tmp_path) -> None:
    src = write_clip(tmp_path / "movie.mkv", frames=50, width=64, height=48)  # 2 s at 25 fps
    out = tmp_path / "out.nut"
    config = load(PipelineConfig, None, ['model.name="bicubic"', 'encode.preset="ultrafast"'])
    job = StreamJob(str(src), str(out), config, LiveOptions(stats_interval=60, realtime=True))
    t0 = time.monotonic()
    result = job.run()
    took = time.monotonic() - t0
    # Paced by its timestamps: the last frame (pts 1.96 s) is not read before 1.96 s have passed,
    # and with the input at real time the queues drop nothing.
    assert took >= 1.9
    assert result.frames_out == result.frames_in == 50 and result.dropped == 0
    assert decode_all(out)["frames"] == 50


def test_a_file_without_re_goes_at_the_engines_pace_and_loses_no_frame(tmp_path) -> None:
    # as ffmpeg reads a file without -re: nothing in it goes stale while the engine works, so a slow
    # engine (~8 fps against a decoder of hundreds) holds the reading back instead of dropping
    src = write_clip(tmp_path / "movie.mkv", frames=20, width=64, height=48)
    out = tmp_path / "out.nut"
    config = load(PipelineConfig, None, ['model.name="bicubic"', 'encode.preset="ultrafast"'])
    engine = SlowEngine(load_model("bicubic", 2), torch.device("cpu"))
    result = StreamJob(str(src), str(out), config, LiveOptions(stats_interval=60), engine=engine).run()
    assert result.frames_out == result.frames_in == 20 and result.dropped == 0
    assert decode_all(out)["frames"] == 20


def test_a_live_hls_playlist_is_a_window_whose_old_segments_are_deleted(tmp_path) -> None:
    src = write_clip(tmp_path / "feed.mkv", frames=450, width=64, height=48)  # 18 s: 9 segments of 2 s
    out = tmp_path / "hls" / "live.m3u8"
    out.parent.mkdir()
    config = load(PipelineConfig, None, ['model.name="bicubic"', 'encode.preset="ultrafast"'])
    result = StreamJob(str(src), str(out), config, LiveOptions(stats_interval=60)).run()
    assert result.frames_out == 450
    listed = [line for line in out.read_text().splitlines() if line.endswith(".ts")]
    on_disk = sorted(p.name for p in out.parent.glob("*.ts"))
    assert len(listed) == 6 and "live0.ts" not in listed  # the last six, as a live playlist lists them
    assert set(listed) <= set(on_disk) and len(on_disk) <= 7  # older ones deleted (one kept for late readers)
    assert decode_all(out.parent / listed[-1])["frames"] > 0


def test_a_recording_into_a_file_starts_at_zero_a_network_output_keeps_the_clock(tmp_path) -> None:
    # a broadcast feed's clock is an hour in: a recording made of it opens at zero, as ffmpeg writes
    # files, while what goes on to a network keeps the source's timestamps
    src = write_clip(tmp_path / "feed.ts", frames=10, width=64, height=48, pts=[3600 * 25 + i for i in range(10)])
    config = load(PipelineConfig, None, ['model.name="bicubic"', 'encode.preset="ultrafast"'])
    rec, pipe = tmp_path / "rec.mkv", tmp_path / "piped.nut"
    assert StreamJob(str(src), str(rec), config, LiveOptions(stats_interval=60, realtime=True)).run().frames_out == 10
    assert float(decode_all(rec)["video_pts"][0]) == pytest.approx(0, abs=0.05)
    with open(pipe, "wb") as sink:
        proc = subprocess.run([sys.executable, "-m", "vsr", "stream", str(src), "-", "--format", "nut", "--re", "-q",
                               "-m", "bicubic"], stdout=sink, stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert float(decode_all(pipe)["video_pts"][0]) == pytest.approx(3600, abs=0.1)


def test_an_hls_playlist_is_read_at_its_own_pace(tmp_path) -> None:
    import functools
    import http.server
    import threading

    site = tmp_path / "hls"
    site.mkdir()
    with av.open(str(write_clip(tmp_path / "src.ts", frames=75, width=64, height=48))) as c:
        with av.open(str(site / "index.m3u8"), "w", format="hls", options={"hls_time": "1", "hls_list_size": "0"}) as o:
            v = o.add_stream_from_template(c.streams.video[0])
            for packet in c.demux(c.streams.video[0]):
                if packet.dts is not None:
                    packet.stream = v
                    o.mux(packet)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = load(PipelineConfig, None, ['model.name="bicubic"', 'encode.preset="ultrafast"'])
        job = StreamJob(f"http://127.0.0.1:{server.server_address[1]}/index.m3u8", str(tmp_path / "out.nut"),
                        config, LiveOptions(stats_interval=60))
        t0 = time.monotonic()
        result = job.run()
        took = time.monotonic() - t0
    finally:
        server.shutdown()
    # Every segment is there at once; paced (the default for HLS) the 3 s are handed on in 3 s,
    # and nothing is dropped; unpaced, the drop-oldest queues would cut each burst down.
    assert took >= 2.8
    assert result.frames_out == result.frames_in == 75 and result.dropped == 0


def test_start_and_duration_take_a_part_of_a_file_or_of_a_feed(tmp_path) -> None:
    # ffmpeg's -ss and -t: a film streamed out from an hour in; a minute of a live feed recorded
    from clips import number_shown, numbered

    src = tmp_path / "in.ts"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast", "g": "30"}
        for i in range(100):
            frame = av.VideoFrame.from_ndarray(numbered(i), "rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in v.encode(frame):
                c.mux(packet)
        for packet in v.encode():
            c.mux(packet)
    cut = ["-m", "bicubic", "-q", "--crf", "10", "--start", "1.5", "--duration", "1"]
    sought = subprocess.run([sys.executable, "-m", "vsr", "stream", str(src), str(tmp_path / "sought.mkv"), *cut],
                            capture_output=True, text=True, timeout=120)
    assert sought.returncode == 0, sought.stderr
    # a pipe is read up to it, not sought (--re: at its own pace, so that no frame is dropped as late)
    piped = subprocess.run([sys.executable, "-m", "vsr", "stream", "-", "-", "--format", "nut", "--re", *cut],
                           input=src.read_bytes(), capture_output=True, timeout=120)
    assert piped.returncode == 0, piped.stderr.decode()
    (tmp_path / "piped.nut").write_bytes(piped.stdout)
    for out in tmp_path / "sought.mkv", tmp_path / "piped.nut":
        with av.open(str(out)) as c:
            assert [number_shown(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)] == list(range(38, 63)), out
    refused = subprocess.run([sys.executable, "-m", "vsr", "stream", str(src), "x.ts", "--duration", "5",
                              "--reconnect", "2"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "--reconnect would start another" in refused.stderr
