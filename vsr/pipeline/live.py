"""Live streams: the job behind ``vsr stream``.

Same stages as files, live policies:
- queues are short and ``drop_oldest``: when the engine falls behind, stale frames are dropped (the
  newest wins) and counted; audio and other passthrough packets are never dropped (a file read
  without ``realtime`` runs on no clock, so its queues block instead and every frame goes through,
  as ffmpeg reads a file without ``-re``);
- a network source's frames are also judged against the source's own clock: a frame that reaches
  the decoder more than ``max_lag`` seconds behind it (the backlog left by start-up, or by a stall
  of the network) is dropped before any work is spent on it, so the stream catches up to the live
  edge; a delay that dropping does not shrink (the sender itself fell behind) becomes the new edge;
- frames keep their source timestamps, so a drop leaves a gap in the output, never a drift, and
  audio stays in sync;
- the encoder is tuned for latency (no B-frames, zero-latency tune, GOP of about a second) and the
  muxer flushes every packet;
- source loss: the source reconnects with backoff (``reconnect`` attempts); timestamps of a new
  session continue after the last ones; after the last failed attempt the stream ends cleanly and
  the job reports the loss;
- a stop (SIGINT/SIGTERM) flushes and closes the output even if the source is blocked in a read.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

import numpy as np

from vsr.config import PipelineConfig
from vsr.engine.engine import Engine
from vsr.errors import Interrupted, InvalidInputError, OutputError, VsrError
from vsr.io.geometry import output_size, quarter_turned
from vsr.io.live import PROBE_SECONDS, Endpoint, live_input, live_output
from vsr.io.media import DecodedFrame, MediaInput, MediaOutput, Passthrough
from vsr.io.span import Span
from vsr.pipeline.monitor import MonitorOptions, MonitorStage
from vsr.pipeline.runner import Runner
from vsr.pipeline.stage import Source
from vsr.pipeline.stages import (
    DownloadStage,
    EncodeStage,
    Frame,
    InferStage,
    UploadStage,
    is_droppable,
)
from vsr.pipeline.upscale import auto_x3, build_engine, encode_options, for_source, plan_output

log = logging.getLogger("vsr.live")


@dataclass(frozen=True)
class LiveOptions:
    """Live-only settings (the rest comes from :class:`PipelineConfig`)."""

    reconnect: int = 0  # attempts after a loss; 0 = end when the source ends
    reconnect_delay: float = 1.0  # first backoff, doubled each attempt up to reconnect_max_delay
    reconnect_max_delay: float = 8.0
    timeout: float = 10.0  # seconds without data before a network source counts as lost
    wait: float = 60.0  # how long a listening (or udp) input waits for its sender
    queue_size: int = 2
    max_lag: float = 0.5  # network sources: drop frames this many seconds behind the source (0: never)
    realtime: bool | None = None  # read at the input's own pace (ffmpeg -re); None: HLS/DASH only
    gop_seconds: float = 1.0
    stats_interval: float = 5.0
    stop_grace: float = 2.0
    span: Span | None = None  # only this part of the input (--start, --duration: ffmpeg's -ss, -t)


def open_live_input(endpoint: Endpoint, live: LiveOptions, threads: int = 0,
                    deinterlace: str = "auto") -> MediaInput:
    """Open (and prime) a live input. Inputs that wait for a sender (listen mode, udp) may wait
    ``live.wait`` seconds for it; reads then time out after ``live.timeout`` seconds of silence."""
    waits = endpoint.listen or endpoint.url.startswith("udp://")
    open_timeout = max(live.wait, live.timeout) if waits else live.timeout
    try:
        return MediaInput(
            endpoint.url, live=True, format=endpoint.format, options=dict(endpoint.options),
            timeout=(open_timeout, live.timeout) if endpoint.network else None, threads=threads,
            deinterlace=deinterlace, span=live.span,
        )
    except InvalidInputError as e:
        if waits and "Immediate exit requested" in str(e):
            raise InvalidInputError(f"no sender reached {endpoint.url} within {open_timeout:g} s") from None
        raise


class LiveClock:
    """How far behind its source a live stream runs, judged frame by frame on the source's own clock.

    A real-time source's frames arrive as fast as its clock runs, so ``arrival - pts`` stays level
    while we keep up. The lowest value seen is the live edge; a frame whose value is more than
    ``max_lag`` above it arrived late, and so does every frame after it until the lag is down to a
    quarter of that. Where the backlog is ours (a socket that filled while the
    engine was being built, or while the network stalled) dropping the late frames, which costs only
    their decoding, empties it within moments. Where it is not (the sender itself fell behind and
    stays behind) dropping cannot shrink it: if the lag has not shrunk by a fifth after ``patience``
    seconds of dropping, the present delay is taken as the new edge. A timestamp that goes backwards
    (a source that restarted its clock) starts the judging afresh.
    """

    def __init__(self, max_lag: float, patience: float = 2.0) -> None:
        self.max_lag, self.patience = max_lag, patience
        self._edge: float | None = None
        self._last_pts: float | None = None
        self._late_since: tuple[float, float] | None = None  # (wall time, lag) when dropping began

    def seed(self, wall: float, pts: float) -> None:
        """A first reading (a session's first frame, when it was decoded)."""
        self._edge, self._last_pts, self._late_since = wall - pts, pts, None

    def late(self, wall: float, pts: float) -> bool:
        offset = wall - pts
        restarted = self._last_pts is not None and pts < self._last_pts - 1.0
        self._last_pts = pts
        if self._edge is None or restarted or offset <= self._edge:
            self._edge, self._late_since = offset, None
            return False
        lag = offset - self._edge
        # once behind, catch up all the way (to a quarter of the bound), rather than hover at it
        if lag <= (self.max_lag if self._late_since is None else self.max_lag / 4):
            self._late_since = None
            return False
        if self._late_since is None:
            self._late_since = (wall, lag)
        elif wall - self._late_since[0] >= self.patience:
            if lag > 0.8 * self._late_since[1]:  # not catching up: the delay is upstream
                self._edge, self._late_since = offset, None
                return False
            self._late_since = (wall, lag)
        return True


class Pacer:
    """Hands frames on no faster than their timestamps advance (ffmpeg's ``-re``), counting from
    the first; a timestamp that goes back, or jumps ahead by more than 10 s, counts afresh."""

    def __init__(self) -> None:
        self._anchor: tuple[float, float] | None = None  # (wall time, pts)
        self._last_pts = 0.0

    def wait(self, pts: float, stop: threading.Event) -> bool:
        """Wait until ``pts`` is due; True if a stop came first."""
        now = time.perf_counter()
        anchor = self._anchor
        jumped = anchor is not None and (pts < self._last_pts - 1.0 or pts - anchor[1] > now - anchor[0] + 10.0)
        self._last_pts = max(self._last_pts, pts) if not jumped else pts
        if anchor is None or jumped:
            self._anchor = (now, pts)
            return False
        delay = anchor[0] + (pts - anchor[1]) - now
        return delay > 0 and stop.wait(delay)


# Demuxers whose source arrives a segment (seconds of stream) at a time: their frames come in bursts
# by design, so lateness on their clock says nothing about a backlog of ours.
SEGMENTED_DEMUXERS = {"hls", "applehttp", "dash"}


def is_segmented(demuxer: str) -> bool:
    return bool(set(demuxer.split(",")) & SEGMENTED_DEMUXERS)


def runs_on_its_clock(endpoint: Endpoint, demuxer: str) -> bool:
    """Whether a source's frames arrive at the pace of its own timestamps, so that a frame behind
    them means a backlog (:class:`LiveClock`): network streams, but not segmented ones; a file or
    a pipe is read as fast as it goes."""
    return endpoint.network and not is_segmented(demuxer)


class LiveSource(Source):
    """Frames and passthrough packets from a live input, across reconnects."""

    name = "decode"

    def __init__(
        self,
        first: MediaInput,
        reopen: Callable[[], MediaInput] | None,
        options: LiveOptions,
        clocked: bool = False,
        paced: bool = False,
        on_late: Callable[[DecodedFrame], None] | None = None,
    ) -> None:
        """``clocked``: judge frames against the source's clock (:class:`LiveClock`), for sources
        that run in real time (network inputs; a file or a pipe is read as fast as it goes).
        ``paced``: hand frames on no faster than their timestamps advance, as ffmpeg's ``-re``
        reads (a file streamed out live; HLS and DASH, whose segments would otherwise arrive as
        bursts that the drop-oldest queues cut down to their last frames). ``on_late``: called with
        each frame the clock drops."""
        self.first = first
        self.reopen = reopen
        self.options = options
        self.frames = 0
        self.late = 0  # frames dropped by the clock, before any work was spent on them
        self.clock = LiveClock(options.max_lag) if clocked and options.max_lag > 0 else None
        self.paced = paced
        self.on_late = on_late
        self.reconnects = 0
        self.loss: str | None = None  # set when reconnecting failed: the job reports a loss
        self.ended: str | None = None  # how the source ended, when no reconnect was asked for
        self._medias: list[MediaInput] = [first]
        tb = first.info.time_base
        self.time_base = tb
        self._stream_types = [(s.type, s.index) for s in first.passthrough]
        self._last_s: float | None = None
        self._frame_s = float(1 / first.info.rate) if first.info.rate else 1 / 30

    # -- timestamps across sessions ------------------------------------------------------------

    def _map_streams(self, media: MediaInput) -> dict[int, int]:
        """Passthrough stream index of a new session -> index in the first session (by type order)."""
        mapping: dict[int, int] = {}
        seen: dict[str, int] = {}
        first_by_type: dict[str, list[int]] = {}
        for kind, index in self._stream_types:
            first_by_type.setdefault(kind, []).append(index)
        for s in media.passthrough:
            n = seen.get(s.type, 0)
            seen[s.type] = n + 1
            candidates = first_by_type.get(s.type, [])
            if n < len(candidates):
                mapping[s.index] = candidates[n]
        return mapping

    def _session(self, media: MediaInput, stop: threading.Event) -> Iterator[Any]:
        first_session = media is self.first
        mapping = None if first_session else self._map_streams(media)
        offset: float | None = 0.0 if first_session else None
        seeded = False
        pacer = Pacer() if self.paced else None
        for item in media.items(stop):
            ts = _seconds(item)
            if offset is None:  # first timestamp of a new session: continue after the last one
                last = self._last_s if self._last_s is not None else 0.0
                offset = (last + self._frame_s - ts) if ts is not None else 0.0
                offset = max(offset, 0.0)
            if isinstance(item, DecodedFrame):
                if item.pts is not None:
                    seconds = float(item.pts * item.time_base) + offset
                    item.pts = round(seconds / self.time_base)
                    item.time_base = self.time_base
                    if pacer is not None and pacer.wait(seconds, stop):
                        return
                    self._last_s = seconds if self._last_s is None else max(self._last_s, seconds)
                    if self.clock is not None:
                        if not seeded:
                            # The first frame was decoded as the input opened, and probing had by
                            # then read a real-time source for as long as it took, up to its limit.
                            probed = min(media.open_seconds, PROBE_SECONDS)
                            self.clock.seed(media.opened_at, seconds + probed)
                            seeded = True
                        if self.clock.late(time.perf_counter(), seconds):
                            self.frames += 1
                            self.late += 1
                            if self.on_late is not None:
                                self.on_late(item)
                            continue
                self.frames += 1
                yield Frame(item.index, item.pts, item)
            else:
                if mapping is not None:
                    if item.stream_index not in mapping:
                        continue
                    item.stream_index = mapping[item.stream_index]
                if offset:
                    shift = round(offset / item.packet.time_base)
                    if item.packet.pts is not None:
                        item.packet.pts += shift
                    if item.packet.dts is not None:
                        item.packet.dts += shift
                yield item

    def produce(self, stop: threading.Event) -> Iterator[Any]:
        media = self.first
        while True:
            yield from self._session(media, stop)
            if stop.is_set():
                return
            reason = media.report.demux_error
            if "Immediate exit requested" in reason:  # FFmpeg's words for our read timeout firing
                reason = f"no data for {self.options.timeout:g} s"
            if self.reopen is None or self.options.reconnect <= 0:
                # Without --reconnect the stream ends with its source, however it ended (EOF, a
                # publisher's disconnect, silence): the output is flushed and closed normally.
                self.ended = f"input ended ({reason})" if reason else "input ended"
                return
            media = self._reconnect(stop, reason or "the source ended")
            if media is None:
                return

    def _reconnect(self, stop: threading.Event, reason: str) -> MediaInput | None:
        delay = self.options.reconnect_delay
        last_error = reason
        for attempt in range(1, self.options.reconnect + 1):
            log.warning("source lost (%s); reconnecting in %.1f s (attempt %d of %d)",
                        last_error, delay, attempt, self.options.reconnect)
            if stop.wait(delay):
                return None
            try:
                assert self.reopen is not None
                media = self.reopen()
            except VsrError as e:
                last_error = str(e)
                delay = min(delay * 2, self.options.reconnect_max_delay)
                continue
            self.reconnects += 1
            self._medias.append(media)
            log.warning("source reconnected")
            return media
        self.loss = (
            f"source lost ({last_error}); gave up after {self.options.reconnect} reconnect "
            f"attempt{'s' if self.options.reconnect != 1 else ''}"
        )
        return None

    def close(self) -> None:
        for media in self._medias[1:]:
            media.close()


def _seconds(item: DecodedFrame | Passthrough) -> float | None:
    if isinstance(item, DecodedFrame):
        return float(item.pts * item.time_base) if item.pts is not None else None
    p = item.packet
    ts = p.pts if p.pts is not None else p.dts
    return float(ts * p.time_base) if ts is not None and p.time_base else None


# -- statistics --------------------------------------------------------------------------------


@dataclass
class StreamStats:
    """Counters shared between the stages and the reporter (single writers, one reader)."""

    t0: float = field(default_factory=time.perf_counter)
    frames_out: int = 0
    latencies: list[float] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


class StatsReporter:
    """Every ``interval`` seconds (and once at the end): fps in/out, drops, latency percentiles,
    to stderr (one line) and as JSON lines to ``sink``."""

    def __init__(self, source: LiveSource, stats: StreamStats, runner_stats: Callable[[], int],
                 interval: float, echo: Callable[[str], None] | None, sink: TextIO | None) -> None:
        self.source, self.stats, self.dropped = source, stats, runner_stats
        self.interval, self.echo, self.sink = interval, echo, sink
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vsr-stats", daemon=True)
        self._last = (time.perf_counter(), 0, 0, 0, 0)  # time, frames in, frames out, drops, n lat

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.report(final=False)

    def report(self, final: bool) -> dict[str, Any]:
        now = time.perf_counter()
        frames_in, frames_out = self.source.frames, self.stats.frames_out
        dropped, n_lat = self.dropped(), len(self.stats.latencies)
        if final:
            t_prev, in_prev, out_prev, lat_prev = self.stats.t0, 0, 0, 0
        else:
            t_prev, in_prev, out_prev, _, lat_prev = self._last
        self._last = (now, frames_in, frames_out, dropped, n_lat)
        dt = max(now - t_prev, 1e-9)
        window = self.stats.latencies[lat_prev:n_lat]
        record = {
            "time_s": round(now - self.stats.t0, 3),
            "final": final,
            "frames_in": frames_in,
            "frames_out": frames_out,
            "dropped": dropped,
            "late": self.source.late,  # of the dropped: behind the source's clock (--max-lag)
            "reconnects": self.source.reconnects,
            "input_fps": round((frames_in - in_prev) / dt, 2),
            "output_fps": round((frames_out - out_prev) / dt, 2),
            "latency_ms": {
                "p50": round(percentile(window, 50) * 1000, 1),
                "p95": round(percentile(window, 95) * 1000, 1),
                "max": round(max(window, default=0.0) * 1000, 1),
            },
        }
        if self.sink is not None:
            self.sink.write(json.dumps(record) + "\n")
            self.sink.flush()
        if self.echo is not None:
            lat = record["latency_ms"]
            self.echo(
                f"vsr: {'total' if final else 'stream'}: in {record['input_fps']:.1f} fps, out "
                f"{record['output_fps']:.1f} fps, {frames_out} frames out, {dropped} dropped"
                + (f" ({record['late']} late)" if record["late"] else "")
                + f", latency p50 {lat['p50']:.0f} ms p95 {lat['p95']:.0f} ms max {lat['max']:.0f} ms"
                + (f", {self.source.reconnects} reconnects" if self.source.reconnects else "")
            )
        return record

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=1)
        return self.report(final=True)


# -- the job -----------------------------------------------------------------------------------


@dataclass
class StreamResult:
    frames_in: int
    frames_out: int
    dropped: int  # all drops, ``late`` included
    reconnects: int
    loss: str | None
    ended: str | None
    stopped: bool
    summary: dict[str, Any]
    warnings: list[str]
    monitor: dict[str, Any] | None = None
    late: int = 0  # frames dropped for arriving more than ``max_lag`` behind the source's clock


class StreamJob:
    """One live input -> one live output, until the input ends, is lost, or a stop is requested."""

    def __init__(
        self,
        input_url: str,
        output_url: str,
        config: PipelineConfig,
        live: LiveOptions = LiveOptions(),
        *,
        input_format: str | None = None,
        output_format: str | None = None,
        stats_file: str | Path | None = None,
        echo: Callable[[str], None] | None = None,
        engine: Engine | None = None,
        monitor: MonitorOptions | None = None,
        monitor_file: str | Path | None = None,
    ) -> None:
        self.input = live_input(input_url, input_format)
        self.output = live_output(output_url, output_format)
        self.config = config
        self.live = live
        self.stats_file = stats_file
        self.echo = echo
        self.engine = engine
        self.monitor_options = monitor
        self.monitor_file = monitor_file
        self.runner: Runner | None = None
        self._stop_requested = False

    def request_stop(self) -> None:
        self._stop_requested = True
        if self.runner is not None:
            self.runner.request_stop()

    def abort(self) -> None:
        self._stop_requested = True
        if self.runner is not None:
            self.runner.abort()

    def run(self) -> StreamResult:
        self.config = auto_x3(self.config)
        # The engine is built before the source is waited for (a bad model, device or backend fails
        # at once), except where its scale comes from the source's size (model.scale 0: --size or
        # --outscale without -s); it is built again where the default model follows the source's
        # codec (for_source: x2 on H.264, JPEG...).
        settle = self.engine is None and self.config.model.scale == 0
        engine = self.engine if self.engine is not None or settle else build_engine(self.config)[1]
        threads = self.config.runtime.decode_threads
        deinterlace = self.config.decode.deinterlace
        media = self._open_unless_stopped(lambda: open_live_input(self.input, self.live, threads, deinterlace))
        reopen = None
        if self.input.can_reconnect:
            reopen = lambda: open_live_input(self.input, self.live, threads, deinterlace)  # noqa: E731
        try:
            if settle:
                self.config, _ = plan_output(self.config, media.info.width, media.info.height, media.info.rotation)
            if self.engine is None:
                config = for_source(self.config, media.info.codec, media.jpeg_quality())
                if settle or config.model != self.config.model:
                    self.config, engine = config, build_engine(config)[1]
            output = self._open_output(media, engine)
            try:
                return self._run(media, output, engine, reopen)
            finally:
                output.close()
        finally:
            media.close()

    def _open_unless_stopped(self, opener: Callable[[], MediaInput]) -> MediaInput:
        """``opener()`` in a helper thread, so that a stop (Ctrl-C, SIGTERM) is served at once: FFmpeg's
        blocking open of a listening or udp input does not return for signals, only when its wait
        (``--wait``, a minute by default) runs out. An open given up on is closed when it returns."""
        box: dict[str, Any] = {}
        lock = threading.Lock()
        done = threading.Event()

        def work() -> None:
            try:
                result: Any = opener()
                key = "media"
            except BaseException as e:  # handed to the caller below
                result, key = e, "error"
            with lock:
                box[key] = result
                done.set()
                abandoned = box.get("abandoned", False)
            if abandoned and key == "media":
                result.close()

        threading.Thread(target=work, name="vsr-open-input", daemon=True).start()
        while not done.wait(0.1):
            if self._stop_requested:
                with lock:
                    if not done.is_set():
                        box["abandoned"] = True
                        raise Interrupted(f"stopped while waiting for {self.input.url}; nothing was written")
        if "error" in box:
            raise box["error"]
        return box["media"]

    def _open_output(self, media: MediaInput, engine: Engine) -> MediaOutput:
        opts = encode_options(self.config, low_latency=True)
        if not opts.gop and media.info.rate:
            opts = type(opts)(**{**opts.__dict__, "gop": max(1, round(float(media.info.rate) * self.live.gop_seconds))})
        out = self.output
        try:
            ec, info = self.config.encode, media.info
            return MediaOutput(out.url, media, engine.scale, opts, format=out.format,
                               options=dict(out.options), container_options=dict(out.container_options),
                               size=output_size(info.width, info.height, engine.scale, ec.size, ec.outscale,
                                                quarter_turned(info.rotation)))
        except OutputError:
            raise
        except VsrError as e:
            raise OutputError(f"cannot open output {out.url}: {e}") from None

    def _run(self, media: MediaInput, output: MediaOutput, engine: Engine,
             reopen: Callable[[], MediaInput] | None) -> StreamResult:
        # Build and run the engine for this frame size before the first frame is timed: a compiled
        # backend's first call (minutes for TensorRT) would otherwise hold that frame, and drop every
        # frame behind it, on the clock.
        engine.warmup(media.info.height, media.info.width)

        def late(decoded: DecodedFrame) -> None:  # a dropped frame's captions go out with the next
            output.dropped_captions.drop(decoded.captions, decoded.pts)

        def dropped(item: Any) -> None:
            if isinstance(item, Frame) and item.decoded is not None:
                late(item.decoded)

        paced = self.live.realtime if self.live.realtime is not None else is_segmented(media.container.format.name)
        source = LiveSource(media, reopen, self.live,
                            clocked=runs_on_its_clock(self.input, media.container.format.name),
                            paced=paced, on_late=late)
        # A file read unpaced runs on no clock: no frame of it goes stale while the engine works, so
        # each waits its turn and all go through, as ffmpeg reads one without -re (dropping, the
        # queues kept 3 of 50). Paced, or live, or from a pipe, a FIFO or a device (a live
        # producer's), the newest wins.
        every_frame = not paced and not self.input.network and not self.input.pipe \
            and os.path.isfile(self.input.url)
        stats = StreamStats()

        def written(frame: Frame) -> None:
            stats.frames_out += 1

        encode = EncodeStage(output, written)
        stats.latencies = encode.latencies
        monitor_sink = open(self.monitor_file, "w", encoding="utf-8") if self.monitor_file else None
        monitor = MonitorStage(engine if self.monitor_options else None,
                               self.monitor_options or MonitorOptions(), monitor_sink)
        self.runner = Runner(
            source,
            [
                UploadStage(engine.device, engine.input_dtype),
                InferStage(engine, 1),
                DownloadStage(output.spec, engine.device),
                encode,
            ],
            queue_size=self.live.queue_size,
            policy="block" if every_frame else "drop_oldest",
            droppable=is_droppable,
            on_drop=dropped,
            taps={"infer": monitor},
            stop_grace=self.live.stop_grace,
        )
        if self._stop_requested:
            self.runner.request_stop()
        sink = open(self.stats_file, "w", encoding="utf-8") if self.stats_file else None
        reporter = StatsReporter(source, stats, lambda: self.runner.stats.dropped + source.late,  # type: ignore[union-attr]
                                 self.live.stats_interval, self.echo, sink)
        reporter.start()
        try:
            run_stats = self.runner.run()
        finally:
            summary = reporter.stop()
            for f in (sink, monitor_sink):
                if f is not None:
                    f.close()
        return StreamResult(
            frames_in=source.frames,
            frames_out=stats.frames_out,
            dropped=run_stats.dropped + source.late,
            reconnects=source.reconnects,
            loss=source.loss,
            ended=source.ended,
            stopped=run_stats.stopped_early,
            summary=summary,
            warnings=media.warnings() + output.warnings + [f"monitor: {a}" for a in monitor.alerts[:10]],
            monitor=monitor.summary() if monitor.active else None,
            late=source.late,
        )

