"""The sampled perceptual-metric monitor: how good the upscale is, measured while it runs.

It sits on a side branch after the infer stage. The runner offers it frames only when it is free and
never waits for it, so a slow monitor skips frames (counted) instead of slowing the pipeline. It
scores frame pairs ``k, k+1`` for every ``k`` that is a multiple of ``every`` (pairs, so flicker can
be measured), on a centre crop of at most ``crop`` input pixels a side, with the scores of
:mod:`vsr.metrics.quality`. It reads the frame's decoded planes and upscaled output without
changing them; on CUDA it works on its own low-priority stream after the frame's ready event.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, TextIO

import torch

from vsr.metrics import quality
from vsr.pipeline.stage import Stage
from vsr.pipeline.stages import Frame, host_tensor, planes_to_rgb

log = logging.getLogger("vsr.monitor")

SCORES = {
    # name: (meaning, which direction is better)
    "cross_scale_lpips": ("ST-LPIPS of the model's upscale of the downscaled input vs the input", "lower"),
    "cross_scale_lpips_student": ("the same, by the distilled student of ST-LPIPS (same scale, ~40x cheaper)", "lower"),
    "cross_scale_psnr": ("PSNR-Y (dB) of the same", "higher"),
    "fidelity_psnr": ("PSNR-Y (dB) of the output downscaled back vs the input", "higher"),
    "detail_ratio": ("high-frequency energy of the output / of a bicubic upscale", "higher, with low LPIPS"),
    "flicker_ratio": ("detail change between frames on static input, output / bicubic", "lower (1 = as steady as bicubic)"),
}

PERCEPTUAL = ("student", "stlpips", "both", "none")
LPIPS_KEYS = (("cross_scale_lpips", "ST-LPIPS"), ("cross_scale_lpips_student", "ST-LPIPS-student"))


@dataclass(frozen=True)
class Sample:
    """What the monitor keeps of a frame: input planes, upscaled output, and its ready event."""

    index: int
    pts: int | None
    decoded: Any
    out: torch.Tensor
    ready: Any


@dataclass(frozen=True)
class MonitorOptions:
    every: int = 30  # score frames k and k+1 for every k multiple of this; 0 disables scoring
    crop: int = 256  # centre crop of the input, in pixels a side, that is scored
    perceptual: str = "student"  # one of PERCEPTUAL: which learned metric scores cross-scale
    flicker_alert: float = 2.0  # alert when flicker_ratio exceeds this
    lpips_alert: float = 0.25  # alert when cross-scale ST-LPIPS (or its student) exceeds this
    # Duty-cycle cap: after scoring a pair of frames that took t seconds, rest t * (1/budget - 1)
    # seconds before starting the next pair, so the monitor is busy at most this fraction of the
    # wall time (0 = no cap: score whenever free). Samples offered while resting are counted. The
    # first pair, which pays one-off warm-up costs, sets no rest.
    budget: float = 0.1

    def __post_init__(self) -> None:
        if self.perceptual not in PERCEPTUAL:
            raise ValueError(f"unknown monitor metric {self.perceptual!r} (valid: {', '.join(PERCEPTUAL)})")
        if not 0 <= self.budget <= 1:
            raise ValueError(f"monitor budget must be in [0, 1], got {self.budget}")


class MonitorStage(Stage):
    """Side-branch stage. ``engine`` is the pipeline's engine (called with small crops);
    ``sink`` receives one JSON line per scored frame."""

    name = "monitor"
    accepts = Frame  # what the runner offers; ``process`` receives the :class:`Sample` snapshots

    def __init__(self, engine: Any = None, options: MonitorOptions = MonitorOptions(),
                 sink: TextIO | None = None) -> None:
        self.engine = engine
        self.options = options
        self.sink = sink
        self.seen = 0  # samples taken (frames the monitor wanted and was free for)
        self.sampled = 0  # frames scored
        self.rested = 0  # samples passed over to keep within the duty-cycle budget
        self.busy_s = 0.0  # seconds spent scoring
        self._rest_until = 0.0
        self._last_scored = -2
        self._pair_open = False  # the last scored frame started a pair; its successor completes it
        self.records: list[dict[str, Any]] = []
        self.alerts: list[str] = []
        self._prev: tuple[int, torch.Tensor, torch.Tensor] | None = None
        self._lock = threading.Lock()
        self.stream: Any = None
        self.lpips: Any = None
        self._t0 = time.perf_counter()

    @property
    def active(self) -> bool:
        return self.engine is not None and self.options.every > 0

    def setup(self) -> None:
        if not self.active:
            return
        device = self.engine.device
        if device.type == "cuda":
            torch.cuda.set_device(device)
            self.stream = torch.cuda.Stream(device, priority=0)  # the lowest priority
        else:
            # The CPU's low-priority stream: on Linux a thread can be niced alone, so the monitor
            # gets only the CPU time the pipeline leaves idle.
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            except (AttributeError, OSError, PermissionError):
                log.debug("could not lower the monitor thread's priority")
        self.lpips = {}
        if self.options.perceptual in ("stlpips", "both"):
            from vsr.metrics.stlpips import STLPIPS

            self.lpips["cross_scale_lpips"] = STLPIPS("alex").to(device)
        if self.options.perceptual in ("student", "both"):
            from vsr.metrics.student import load_student

            self.lpips["cross_scale_lpips_student"] = load_student().to(device)

    def wants(self, index: int) -> bool:
        every = self.options.every
        return every > 0 and index % every in (0, 1)

    def snapshot(self, frame: Frame) -> Sample | None:
        """Taken in the infer thread as the frame passes: our own references to its input planes
        and output, which the main path releases later. Frames not to be scored are not queued."""
        if not self.active or not self.wants(frame.index):
            return None
        if frame.decoded is None or frame.out is None:
            return None
        return Sample(frame.index, frame.pts, frame.decoded, frame.out, frame.ready)

    def process(self, sample: Sample) -> Iterable[Any]:
        self.seen += 1
        start = time.perf_counter()
        # The second frame of a pair (for flicker) is always scored; a new pair waits out the rest.
        completes_pair = self._pair_open and sample.index == self._last_scored + 1
        if not completes_pair and start < self._rest_until:
            self.rested += 1
            return ()
        if self.stream is not None:
            with torch.cuda.stream(self.stream):
                if sample.ready is not None:
                    self.stream.wait_event(sample.ready)
                sample.out.record_stream(self.stream)
                record = self._score(sample.index, sample.pts, sample.decoded, sample.out)
        else:
            record = self._score(sample.index, sample.pts, sample.decoded, sample.out)
        self._emit(record)
        now = time.perf_counter()
        self.busy_s += now - start
        self._last_scored = sample.index
        self._pair_open = not completes_pair
        if self.options.budget > 0 and self.sampled > 2:  # the first pair pays one-off warm-up costs
            self._rest_until = now + (now - start) * (1 / self.options.budget - 1)
        return ()

    @torch.inference_mode()
    def _score(self, index: int, pts: int | None, decoded: Any, out: torch.Tensor) -> dict[str, Any]:
        device, scale = self.engine.device, self.engine.scale
        planes = [host_tensor(p, decoded.layout.bits).to(device) for p in decoded.planes]
        frame = planes_to_rgb(planes, decoded, torch.float32)[None]
        output = out.float()[None]
        h, w = frame.shape[-2:]
        c = max(scale * 8, min(self.options.crop, h, w) // scale * scale)
        y0, x0 = max(0, (h - c) // 2), max(0, (w - c) // 2)
        crop_in = frame[..., y0:y0 + c, x0:x0 + c]
        crop_out = output[..., y0 * scale:(y0 + c) * scale, x0 * scale:(x0 + c) * scale]
        record: dict[str, Any] = {
            "index": index,
            "time_s": round(float(pts * decoded.time_base), 4) if pts is not None else None,
        }
        record.update(quality.cross_scale(crop_in, self.engine, scale, self.lpips))
        record["fidelity_psnr"] = quality.fidelity_psnr(crop_in, crop_out, scale)
        record["detail_ratio"] = quality.detail_ratio(crop_in, crop_out, scale)
        prev = self._prev
        if prev is not None and prev[0] == index - 1 and prev[1].shape == crop_in.shape:
            flicker = quality.flicker_ratio(prev[1], crop_in, prev[2], crop_out, scale)
            if flicker is not None:
                record["flicker_ratio"] = flicker
        self._prev = (index, crop_in, crop_out)
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in record.items()}

    def _emit(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.sampled += 1
            self.records.append(record)
            flicker = record.get("flicker_ratio")
            if flicker is not None and flicker > self.options.flicker_alert:
                self.alerts.append(f"flicker {flicker:.2f}x bicubic at frame {record['index']}")
            for key, label in LPIPS_KEYS:
                lp = record.get(key)
                if lp is not None and lp > self.options.lpips_alert:
                    self.alerts.append(f"cross-scale {label} {lp:.3f} at frame {record['index']}")
                    break
        if self.sink is not None:
            self.sink.write(json.dumps(record) + "\n")
            self.sink.flush()

    def latest(self) -> str:
        """A short status for the progress line (the latest scores)."""
        with self._lock:
            if not self.records:
                return ""
            r = dict(self.records[-1])
            for rec in reversed(self.records):
                if "flicker_ratio" in rec:
                    r["flicker_ratio"] = rec["flicker_ratio"]
                    break
        parts = []
        for key, label in LPIPS_KEYS:
            if key in r:
                parts.append(f"xs-{label.replace('ST-', '')} {r[key]:.3f}")
        parts.append(f"xs-PSNR {r['cross_scale_psnr']:.1f}")
        parts.append(f"detail {r['detail_ratio']:.2f}x")
        if "flicker_ratio" in r:
            parts.append(f"flicker {r['flicker_ratio']:.2f}x")
        return " ".join(parts)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            records = list(self.records)
        means: dict[str, float] = {}
        for key in SCORES:
            values = [r[key] for r in records if key in r and math.isfinite(r[key])]
            if values:
                means[key] = round(sum(values) / len(values), 4)
        return {"frames_scored": len(records), "frames_rested": self.rested, "busy_s": round(self.busy_s, 3),
                "mean": means, "alerts": len(self.alerts)}


def summary_line(summary: dict[str, Any]) -> str:
    m = summary["mean"]
    parts = [f"{summary['frames_scored']} frames scored"]
    for key, label in LPIPS_KEYS:
        if key in m:
            parts.append(f"cross-scale {label} {m[key]:.3f}")
    if "cross_scale_psnr" in m:
        parts.append(f"cross-scale PSNR {m['cross_scale_psnr']:.2f} dB")
    if "fidelity_psnr" in m:
        parts.append(f"fidelity {m['fidelity_psnr']:.2f} dB")
    if "detail_ratio" in m:
        parts.append(f"detail {m['detail_ratio']:.2f}x bicubic")
    if "flicker_ratio" in m:
        parts.append(f"flicker {m['flicker_ratio']:.2f}x bicubic")
    return "monitor: " + ", ".join(parts)


def read_records(path: str | Path) -> list[dict[str, Any]]:
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            records.append(json.loads(line))
    return records
