"""SR benchmark evaluation: HR image folders -> LR (MATLAB-like bicubic) -> each method -> metrics.

Protocol: HR is cropped to a multiple of the scale; LR is the antialiased bicubic downscale
(:func:`vsr.ops.resize.imresize_down`) quantised to 8 bits; every method's output is clamped and
quantised to 8 bits; PSNR-Y and SSIM-Y (and ST-LPIPS, on RGB) are measured with ``scale`` pixels
cropped at each border. Every method sees the same LR input.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vsr.errors import InputNotFoundError, InvalidInputError
from vsr.io.image import IMAGE_SUFFIXES, read_image
from vsr.metrics.fidelity import psnr_y, quantize, ssim_y, temporal_psnr_y
from vsr.metrics.stlpips import STLPIPS
from vsr.ops.resize import imresize_down, modcrop


@dataclass
class MethodScore:
    """Means over a dataset's images; ``seconds``: total forward time (synchronised); ``tpsnr_y``:
    with ``temporal``, the mean :func:`temporal_psnr_y` over consecutive frame pairs."""

    psnr_y: float
    ssim_y: float
    stlpips: float | None
    images: int
    seconds: float
    out_mpx_per_s: float
    tpsnr_y: float | None = None


def _images_in(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def find_datasets(dirs: Iterable[str | Path]) -> dict[str, list[Path]]:
    """Each dir that holds images is one dataset (named after it); a dir that holds only folders
    contributes each sub-folder with images (e.g. ``eval/`` -> Set5, Set14, ...)."""
    found: dict[str, list[Path]] = {}
    for d in map(Path, dirs):
        if not d.is_dir():
            raise InputNotFoundError(f"evaluation data folder not found: {d}")
        images = _images_in(d)
        if images:
            found[d.name] = images
            continue
        for sub in sorted(p for p in d.iterdir() if p.is_dir()):
            if imgs := _images_in(sub):
                found[sub.name] = imgs
    if not found:
        raise InvalidInputError(f"no images found in {', '.join(map(str, dirs))}")
    return found


def load_hr(path: Path, scale: int) -> torch.Tensor:
    """``(1,3,H,W)`` f32 [0,1] CPU, cropped to multiples of ``scale``."""
    rgb = read_image(path)
    return modcrop(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div(255), scale)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def evaluate(
    methods: dict[str, nn.Module],
    datasets: dict[str, list[Path]],
    scale: int,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    lpips: bool = True,
    max_images: int = 0,
    progress: Callable[[str], None] | None = None,
    lr_crf: int | None = None,
    temporal: bool = False,
    lpips_net: str = "alex",
    lr_jpeg: int | None = None,
) -> dict[str, dict[str, MethodScore]]:
    """``{dataset: {method: MethodScore}}``. ``methods`` map ``(1,3,H,W)`` [0,1] LR (on ``device``, in
    ``dtype``) to ``(1,3,sH,sW)``; they run under ``torch.no_grad`` in eval mode. With fp16 or bf16,
    networks that have the engine's mixed form (``PlainSR.mixed``) run in it, on fp32 input; with
    bf16 the others (the classic scalers) run in fp32, as bf16 is offered for the mixed form only. ``lr_crf``: the LR is
    also H.264-compressed (libx264 at that crf, as the second frame of a two-frame clip), as a video
    upscaler sees its input. ``lr_jpeg``: the LR is saved as a JPEG of that libjpeg quality (4:2:0, as
    cameras and the web save photos) and read back, as a photo upscaler sees its input.
    ``temporal``: each dataset's images, in name order, are consecutive frames of one video (Vid4),
    and the change from frame to frame is scored too (``tpsnr_y``).
    ``lpips_net``: the network ST-LPIPS runs on (alex or vgg)."""
    metric = STLPIPS(lpips_net).to(device) if lpips else None
    from vsr.archs import set_precision

    def form(m: nn.Module) -> torch.dtype:
        bf16_only_mixed = dtype == torch.bfloat16 and not callable(getattr(m, "mixed", None))
        return set_precision(m, torch.float32 if bf16_only_mixed else dtype)

    in_dtype = {name: form(m.to(device=device).eval()) for name, m in methods.items()}
    results: dict[str, dict[str, MethodScore]] = {}
    for name, paths in datasets.items():
        paths = paths[:max_images] if max_images else paths
        started = time.perf_counter()
        sums = {m: {"psnr": 0.0, "ssim": 0.0, "lpips": 0.0, "sec": 0.0, "px": 0.0, "tpsnr": 0.0} for m in methods}
        prev_hr: torch.Tensor | None = None  # with temporal: the last frame, and each method's output for it
        prev_sr: dict[str, torch.Tensor] = {}
        pairs = 0
        for path in paths:
            hr = load_hr(path, scale)
            lr = quantize(imresize_down(hr, scale))
            if lr_crf is not None:
                from vsr.train.degrade import h264_roundtrip

                lr = h264_roundtrip(lr[0], lr_crf)[None]
            if lr_jpeg is not None:
                from vsr.train.degrade import libjpeg_roundtrip

                lr = libjpeg_roundtrip(lr[0], lr_jpeg)[None]
            lr_dev = {dt: lr.to(device=device, dtype=dt) for dt in set(in_dtype.values())}
            hr_dev = hr.to(device)
            paired = temporal and prev_hr is not None and prev_hr.shape == hr_dev.shape
            pairs += paired
            for mname, module in methods.items():
                with torch.no_grad():
                    _sync(device)
                    t0 = time.perf_counter()
                    sr = module(lr_dev[in_dtype[mname]])
                    _sync(device)
                    dt = time.perf_counter() - t0
                    sr = quantize(sr.float())
                    s = sums[mname]
                    s["psnr"] += float(psnr_y(sr, hr_dev, crop=scale)[0])
                    s["ssim"] += float(ssim_y(sr, hr_dev, crop=scale)[0])
                    if metric is not None:
                        c = scale
                        s["lpips"] += float(metric(sr[..., c:-c, c:-c], hr_dev[..., c:-c, c:-c])[0])
                    s["sec"] += dt
                    s["px"] += sr.shape[-1] * sr.shape[-2]
                    if paired:
                        s["tpsnr"] += float(temporal_psnr_y(prev_sr[mname], sr, prev_hr, hr_dev, crop=scale)[0])
                    if temporal:
                        prev_sr[mname] = sr
            prev_hr = hr_dev if temporal else None
        n = len(paths)
        if progress:
            progress(f"{name}: {n} images done in {time.perf_counter() - started:.0f} s")
        results[name] = {
            m: MethodScore(
                s["psnr"] / n, s["ssim"] / n, s["lpips"] / n if metric is not None else None, n, s["sec"],
                s["px"] / 1e6 / max(s["sec"], 1e-9), s["tpsnr"] / pairs if pairs else None,
            )
            for m, s in sums.items()
        }
    return results


def format_table(results: dict[str, dict[str, MethodScore]]) -> str:
    """Fixed-width table: one row per dataset and method."""
    width = max(len(m) for r in results.values() for m in r)
    temporal = any(r.tpsnr_y is not None for rows in results.values() for r in rows.values())
    head = (f"{'dataset':<10} {'method':<{width}} {'PSNR-Y':>7} {'SSIM-Y':>7} {'ST-LPIPS':>8}"
            + (f" {'tPSNR-Y':>7}" if temporal else "") + f" {'ms/img':>8} {'out Mpx/s':>9}")
    lines = [head, "-" * len(head)]
    for name, rows in results.items():
        for i, (m, r) in enumerate(rows.items()):
            lp = f"{r.stlpips:8.4f}" if r.stlpips is not None else f"{'-':>8}"
            tp = (f" {r.tpsnr_y:7.2f}" if r.tpsnr_y is not None else f" {'-':>7}") if temporal else ""
            ms = 1000 * r.seconds / max(r.images, 1)
            lines.append(
                f"{name if i == 0 else '':<10} {m:<{width}} {r.psnr_y:7.2f} {r.ssim_y:7.4f} {lp}{tp} {ms:8.1f} {r.out_mpx_per_s:9.2f}"
            )
    return "\n".join(lines)


def to_json(results: dict[str, dict[str, MethodScore]]) -> dict[str, dict[str, dict]]:
    return {d: {m: asdict(s) for m, s in rows.items()} for d, rows in results.items()}


__all__ = ["MethodScore", "evaluate", "find_datasets", "format_table", "load_hr", "to_json"]
