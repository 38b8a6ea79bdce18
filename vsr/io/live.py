"""Live inputs and outputs: URL conventions and the FFmpeg options that keep latency low.

Inputs: ``udp://``, ``tcp://`` (client, or server with ``?listen``), ``rtmp://`` (client, or server
with ``?listen``), ``http(s)://``, ``-``/``pipe:0`` (stdin), or a file. Outputs: mpegts or nut over
udp/tcp, flv to rtmp, ``-`` for stdout, or a file (a recording). ``--format`` picks the container
where the URL does not say. The FFmpeg bundled in the PyAV wheel has no SRT: ``srt://`` is refused
with a clear message rather than a "protocol not found" from deep inside FFmpeg.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from vsr.errors import ConfigError

NETWORK_SCHEMES = ("udp", "tcp", "rtmp", "rtmps", "http", "https", "rtp", "rtsp")
NO_SRT = (
    "srt:// is not available: the FFmpeg inside the PyAV wheel is built without libsrt "
    "(use udp://, tcp:// or rtmp://, or pipe through an srt-capable ffmpeg: ffmpeg ... -f mpegts - | vsr stream - ...)"
)
CONTAINERS = ("mpegts", "nut", "flv", "matroska")
# muxer options of the playlist outputs, by suffix: HLS lists 6 segments and deletes older ones;
# DASH keeps 6 in its manifest and 3 more on the disk (FFmpeg's defaults keep them all)
LIVE_PLAYLISTS = {
    ".m3u8": {"hls_list_size": "6", "hls_flags": "delete_segments"},
    ".mpd": {"window_size": "6", "extra_window_size": "3"},
}


@dataclass(frozen=True)
class Endpoint:
    """A resolved input or output: what to hand to ``av.open``."""

    url: str
    format: str | None
    options: dict[str, str] = field(default_factory=dict)
    container_options: dict[str, str] = field(default_factory=dict)
    network: bool = False
    listen: bool = False
    pipe: bool = False

    @property
    def can_reconnect(self) -> bool:
        return self.network


def scheme_of(url: str) -> str:
    return urlsplit(url).scheme.lower() if "://" in url else ""


def _split_listen(url: str) -> tuple[str, bool]:
    """Strip a ``listen`` query flag (``?listen`` / ``?listen=1``); return the URL and the flag."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    listen = any(k == "listen" and v in ("", "1", "2") for k, v in query)
    rest = [(k, v) for k, v in query if k != "listen"]
    return urlunsplit(parts._replace(query=urlencode(rest))), listen


PROBE_SECONDS = 0.5  # how much of a live input is read to find its streams


def live_input(url: str, format: str | None = None) -> Endpoint:
    """Demuxer options for low delay: no input buffering, a short probe, no frame reordering wait."""
    scheme = scheme_of(url)
    if scheme == "srt":
        raise ConfigError(NO_SRT)
    # A short probe (half a second of stream) and no reordering delay in the decoder. Not
    # fflags=nobuffer: it discards the packets read while probing, i.e. the first half second.
    options = {
        "flags": "low_delay",
        "probesize": "500000",
        "analyzeduration": str(round(PROBE_SECONDS * 1e6)),
    }
    if url in ("-", "pipe:", "pipe:0"):
        return Endpoint("pipe:0", format, options, pipe=True)
    if scheme in NETWORK_SCHEMES:
        listen = False
        if scheme in ("tcp", "rtmp", "rtmps", "http"):
            url, listen = _split_listen(url)
            if listen:
                options["listen"] = "1"
        if scheme == "udp":
            options.update({"overrun_nonfatal": "1", "fifo_size": "50000"})
        return Endpoint(url, format, options, network=True, listen=listen)
    if scheme:
        return Endpoint(url, format, options, network=True)
    return Endpoint(url, format, {})


def live_output(url: str, format: str | None = None) -> Endpoint:
    """Muxer choice and options: packets flushed as soon as they are written."""
    scheme = scheme_of(url)
    if scheme == "srt":
        raise ConfigError(NO_SRT)
    if format is not None and format not in CONTAINERS:
        raise ConfigError(f"unsupported --format {format!r} (valid: {', '.join(CONTAINERS)})")
    # max_interleave_delta: do not hold a frame until every stream has a later packet. An MPEG-TS
    # source bundles its audio into PES packets of up to 0.35 s, so the muxer would hold each
    # upscaled frame for up to that long waiting for the audio that follows it (measured over
    # loopback: spikes of 0.55 s end to end, 0.26 s with this). Each stream stays in order.
    container_options = {"flush_packets": "1", "max_interleave_delta": "1"}
    options: dict[str, str] = {}
    if url in ("-", "pipe:", "pipe:1"):
        return Endpoint("pipe:1", format or "mpegts", options, container_options, pipe=True)
    if scheme in ("rtmp", "rtmps"):
        if _split_listen(url)[1]:
            raise ConfigError("an rtmp output cannot listen; push to an rtmp server, or use tcp://...?listen")
        if format not in (None, "flv"):
            raise ConfigError(f"rtmp carries flv, not {format}")
        return Endpoint(url, "flv", options, container_options, network=True)
    if scheme in ("udp", "tcp"):
        # FFmpeg's tcp protocol reads ?listen from the URL itself (for outputs the options dict
        # does not reach the protocol), so the URL is passed on as it is.
        listen = _split_listen(url)[1]
        if listen and scheme == "udp":
            raise ConfigError("udp has no listen mode; send to the receiver's address")
        fmt = format or "mpegts"
        if scheme == "udp" and fmt == "mpegts" and "pkt_size" not in url:
            # 7 TS packets: the usual datagram for MPEG-TS over UDP (a URL option: for outputs the
            # options dict does not reach the protocol).
            url += ("&" if "?" in url else "?") + "pkt_size=1316"
        return Endpoint(url, fmt, options, container_options, network=True, listen=listen)
    if scheme:
        return Endpoint(url, format, options, container_options, network=True)
    if not format and not Path(url).suffix:
        raise ConfigError(f"output {url!r} has no extension; give one or --format {'/'.join(CONTAINERS)}")
    # a live playlist is a window: the last 6 segments listed, older ones deleted from the disk (FFmpeg
    # keeps every segment by default, which fills the disk of a stream that runs for days)
    container_options.update(LIVE_PLAYLISTS.get(Path(url).suffix.lower(), {}))
    return Endpoint(url, format, options, container_options)
