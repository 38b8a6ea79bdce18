"""Live streaming benchmark: the latency ``vsr stream`` adds, per container and transport.

For each (transport, container) a paced sender (real time by pts) streams stamped frames over
loopback to a receiver, twice: once directly (the baseline: encoder, muxer, transport, demuxer and
decoder alone) and once through ``vsr stream`` (a real process). Every frame carries its index in
the picture, so latency is matched per frame, from the sender's write to the receiver's decode.

    added latency = latency through vsr - direct latency     (p50 and p95, steady state)

Steady state = frames from the middle to 90% of the run (both ends probe the stream at start, and
a TS demuxer holds the very last frame until its read timeout). The sustained
rate is what the receiver decoded per second through vsr; drops are frames sent but never received.
The start is reported too: the p95 latency of the first 2 s received, and how many frames came
out before the latency first fell to within 100 ms of the steady p50 (the backlog that built up
while vsr probed the input and built its engine, and how long it took to be rid of it).

``--variant NAME=ARGS`` (repeatable) runs vsr once per variant with those extra arguments, side by
side in one run, e.g. the live clock on and off:

    python benchmarks/bench_stream.py --seconds 6 --json benchmarks/results/stream-cpu.json
    python benchmarks/bench_stream.py --cases tcp+mpegts --audio --variant "default=" \
        --variant "no-max-lag=--max-lag 0"
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from streaming import PacedSender, free_port  # noqa: E402

from vsr.bench.suite import result_header, write_result  # noqa: E402


CASES = [
    # (name, transport, container)
    ("tcp+mpegts", "tcp", "mpegts"),
    ("tcp+nut", "tcp", "nut"),
    ("udp+mpegts", "udp", "mpegts"),
    ("rtmp+flv", "rtmp", "flv"),
]


def urls(transport: str, port: int, listen: bool) -> str:
    if transport == "rtmp":
        return f"rtmp://127.0.0.1:{port}/live/bench" + ("?listen" if listen else "")
    if transport == "tcp":
        return f"tcp://127.0.0.1:{port}" + ("?listen" if listen else "")
    return f"udp://127.0.0.1:{port}"


class ReceiverProcess:
    """The receiver in a process of its own (an rtmp listener holds PyAV's interpreter lock)."""

    def __init__(self, transport: str, port: int, container: str, scale: int) -> None:
        if transport == "udp":  # udp has no listen: the receiver binds the port and reads
            url, listen = f"udp://127.0.0.1:{port}?overrun_nonfatal=1", "0"
        else:
            url, listen = urls(transport, port, listen=False), "1"
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE.parent / "tests" / "streaming.py"), "receive", url, listen,
             str(scale), container, "3" if transport == "udp" else "30"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )

    def result(self, timeout: float) -> list:
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            out, _ = self.proc.communicate(timeout=10)
        try:
            return json.loads(out)["frames"] if out else []
        except json.JSONDecodeError:
            return []


def steady(values: list[float]) -> list[float]:
    """The middle of the run: after both ends' start-up probing, before the end of stream (where an
    MPEG-TS demuxer holds the last frame until the next one, or the read timeout, arrives)."""
    n = len(values)
    return values[n // 2: max(n // 2 + 1, (9 * n) // 10)] or values


def start_figures(lat: list[float], arrivals: list[float], steady_p50: float) -> dict:
    """The first 2 s received (p95 latency), and the frames received before the latency first came
    within 100 ms of the steady p50."""
    first = [x for x, a in zip(lat, arrivals) if a - arrivals[0] < 2.0]
    until = next((i for i, x in enumerate(lat) if x <= steady_p50 + 0.1), len(lat))
    return {"latency_ms_first_2s_p95": round(float(np.percentile(first, 95)) * 1000, 1),
            "frames_before_live": until}


def one_run(transport: str, container: str, frames: int, fps: int, size: tuple[int, int],
            through_vsr: bool, vsr_args: list[str], audio: bool = False) -> dict:
    scale = 2 if through_vsr else 1
    p_out = free_port()
    receiver = ReceiverProcess(transport, p_out, container, scale)
    time.sleep(1.5)  # the receiver's interpreter starts and listens
    proc = None
    if through_vsr:
        p_in = free_port()
        in_url = urls(transport, p_in, listen=True)
        out_url = urls(transport, p_out, listen=False)
        proc = subprocess.Popen(
            [sys.executable, "-m", "vsr", "stream", in_url, out_url, "--format", container, "-q",
             "--stats-interval", "3600", "--timeout", "3", *vsr_args],
            stderr=subprocess.PIPE,
        )
        send_url = urls(transport, p_in, listen=False)
        time.sleep(5.0 if transport == "udp" else 0.5)  # udp: nothing tells the sender vsr is bound
    else:
        send_url = urls(transport, p_out, listen=False)
    sender = PacedSender(send_url, frames, fps=fps, size=size, format=container, audio=audio)
    sender.start()
    sender.join(frames / fps + 60)
    err = b""
    if proc is not None:
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
    got = receiver.result(timeout=8 if transport == "udp" else 30)
    lat = [arrival - sender.sent[i] for i, _, arrival, _, _ in got if i in sender.sent]
    arrivals = [a for _, _, a, _, _ in got]
    span = (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    arrivals = [a for i, _, a, _, _ in got if i in sender.sent]
    start = start_figures(lat, arrivals, float(np.percentile(steady(lat), 50))) if lat else {}
    return {
        **start,
        "frames_sent": len(sender.sent),
        "frames_received": len(got),
        "sender_error": repr(sender.error) if sender.error else None,
        "vsr_stderr_tail": err.decode(errors="replace")[-300:] if err else "",
        "latency_ms_p50": round(float(np.percentile(steady(lat), 50)) * 1000, 1) if lat else None,
        "latency_ms_p95": round(float(np.percentile(steady(lat), 95)) * 1000, 1) if lat else None,
        "received_fps": round((len(got) - 1) / span, 2) if span > 0 else None,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=180)
    ap.add_argument("--model", default="auto")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--cases", default=",".join(c[0] for c in CASES))
    ap.add_argument("--audio", action="store_true", help="The sender adds an AAC track (passed through by vsr).")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                    help="Run vsr with these extra arguments too, named NAME (repeatable).")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    frames = int(args.seconds * args.fps)
    size = (args.width, args.height)
    vsr_args = ["--model", args.model, "--device", args.device]
    variants: dict[str, list[str]] = {}
    for v in args.variant or ["vsr="]:
        name, sep, extra = v.partition("=")
        if not sep or not name:
            ap.error(f"--variant takes NAME=ARGS, got {v!r}")
        variants[name] = shlex.split(extra)
    wanted = set(args.cases.split(","))
    results = {}
    for name, transport, container in CASES:
        if name not in wanted:
            continue
        direct = one_run(transport, container, frames, args.fps, size, False, vsr_args, args.audio)
        results[name] = {"direct": direct}
        for vname, extra in variants.items():
            through = one_run(transport, container, frames, args.fps, size, True, vsr_args + extra, args.audio)
            added = {}
            for q in ("p50", "p95"):
                a, b = through[f"latency_ms_{q}"], direct[f"latency_ms_{q}"]
                added[q] = round(a - b, 1) if a is not None and b is not None else None
            key = "through_vsr" if len(variants) == 1 else f"through_vsr[{vname}]"
            results[name][key] = {**through, "vsr_args": extra, "added_latency_ms": added}
            print(f"{name:<14} {vname:<12} direct p50 {direct['latency_ms_p50']} ms | through vsr p50 "
                  f"{through['latency_ms_p50']} p95 {through['latency_ms_p95']} ms, "
                  f"{through['frames_received']}/{through['frames_sent']} frames at {through['received_fps']} fps"
                  f" | added p50 {added['p50']} ms p95 {added['p95']} ms | start: first 2 s p95 "
                  f"{through.get('latency_ms_first_2s_p95')} ms, {through.get('frames_before_live')} frames "
                  f"before live", flush=True)
    device = torch.device("cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu")
    record = {
        **result_header("stream", argv, device),
        "stream": {"fps": args.fps, "size": f"{args.width}x{args.height}", "seconds": args.seconds,
                   "scale": 2, "model": args.model, "encoder": "libx264 veryfast zerolatency", "audio": args.audio,
                   "variants": variants},
        "results": results,
    }
    if args.json:
        write_result(args.json, record)
    return record


if __name__ == "__main__":
    main()
