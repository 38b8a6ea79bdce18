"""Small CLI pieces: the progress line, atomic output, config precedence."""

from __future__ import annotations

import io

import pytest

from vsr.cli.upscale import Progress, build_config
from vsr.errors import OutputError
from vsr.io.atomic import AtomicOutput


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_frames_fps_and_eta_on_a_terminal_only() -> None:
    tty = FakeTTY()
    p = Progress(enabled=True, stream=tty)
    p.start(100)
    p.update(100)
    p.finish()
    text = tty.getvalue()
    assert "100/100 frames" in text and "fps" in text and "ETA 00:00" in text
    pipe = io.StringIO()
    q = Progress(enabled=True, stream=pipe)
    q.start(10)
    q.update(10)
    assert pipe.getvalue() == ""  # not a terminal: no progress noise in logs
    photos = FakeTTY()  # a folder of images counts images
    r = Progress(enabled=True, stream=photos, unit="images")
    r.start(3)
    r.update(3)
    assert "3/3 images" in photos.getvalue() and "images/s" in photos.getvalue()


def test_atomic_output_commits_discards_and_refuses(tmp_path) -> None:
    target = tmp_path / "out.mp4"
    a = AtomicOutput(target)
    assert a.tmp.exists() and a.tmp.parent == tmp_path and a.tmp.suffix == ".mp4"
    a.tmp.write_bytes(b"data")
    assert a.commit() == target and target.read_bytes() == b"data" and not a.tmp.exists()
    with pytest.raises(OutputError, match="exists"):
        AtomicOutput(target)
    b = AtomicOutput(target, overwrite=True)
    b.discard()
    assert not b.tmp.exists() and target.read_bytes() == b"data"
    with pytest.raises(OutputError, match="is the input"):
        AtomicOutput(target, overwrite=True, inputs=(str(target),))
    with pytest.raises(OutputError, match="is a directory"):
        AtomicOutput(tmp_path)


def test_options_override_set_which_overrides_the_file(tmp_path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[model]\nscale = 4\nbatch = 2\n[encode]\ncrf = 30\n")
    c = build_config(str(f), {"model.scale": 2, "encode.crf": None}, ("model.batch=8", "encode.crf=25"))
    assert c.model.scale == 2 and c.model.batch == 8 and c.encode.crf == 25


def test_live_endpoints() -> None:
    from vsr.errors import ConfigError
    from vsr.io.live import live_input, live_output

    assert live_input("-").url == "pipe:0" and live_input("-").pipe
    tcp = live_input("tcp://127.0.0.1:9000?listen")
    assert tcp.url == "tcp://127.0.0.1:9000" and tcp.options["listen"] == "1" and tcp.listen
    rtmp = live_input("rtmp://127.0.0.1/live/x?listen")
    assert rtmp.options["listen"] == "1" and rtmp.network
    assert live_output("-").format == "mpegts" and live_output("-", "nut").format == "nut"
    assert live_output("rtmp://127.0.0.1/live/x").format == "flv"
    assert live_output("udp://127.0.0.1:5000").url == "udp://127.0.0.1:5000?pkt_size=1316"
    assert live_output("tcp://127.0.0.1:5000?listen").url.endswith("?listen")  # FFmpeg reads it
    assert live_output("rec.mkv").format is None and live_output("rec.mkv").container_options["flush_packets"] == "1"
    for bad in ("srt://127.0.0.1:9000",):
        with pytest.raises(ConfigError, match="srt"):
            live_input(bad)
        with pytest.raises(ConfigError, match="srt"):
            live_output(bad)
    with pytest.raises(ConfigError, match="cannot listen"):
        live_output("rtmp://127.0.0.1/live/x?listen")
    with pytest.raises(ConfigError, match="no listen mode"):
        live_output("udp://127.0.0.1:5000?listen")


def test_an_unexpected_error_is_still_one_line(monkeypatch) -> None:
    from click.testing import CliRunner

    from vsr.cli.main import cli
    from vsr.pipeline import upscale

    def broken(*args, **kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(upscale.UpscaleJob, "run", broken)
    result = CliRunner().invoke(cli, ["upscale", "in.mp4", "-o", "out.mp4"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vsr: internal error: KeyError")


@pytest.mark.parametrize("args,parts", [
    (["upscale", "in.mp4", "-o", "o.mp4", "--precision", "bogus"], ("'--precision'", "'bogus'", "vsr upscale --help")),
    (["upscale", "in.mp4", "-o", "o.mp4", "--detail", "2"], ("'--detail'", "0<=x<=1", "vsr upscale --help")),
    (["stream", "in.ts"], ("Missing argument 'OUTPUT_URL'", "vsr stream --help")),
    (["upscale", "in.mp4", "-o", "o.mp4", "--tiles", "2"], ("No such option", "--tiles", "vsr upscale --help")),
    (["upscale-all"], ("No such command 'upscale-all'", "(see vsr --help)")),
])
def test_a_bad_option_is_one_line_and_exit_code_2(args: list[str], parts: tuple[str, ...]) -> None:
    from click.testing import CliRunner

    from vsr.cli.main import cli

    result = CliRunner().invoke(cli, args)  # click's own words, in one line (it writes three)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vsr: error: "), result.stderr
    assert all(part in lines[0] for part in parts), lines[0]
