"""Quality of an upscale measured on the video itself, with no ground truth at the output size.

All inputs are ``(1,3,H,W)`` float RGB in [0,1] on one device; ``scale`` is the model's factor.

- **cross-scale** (:func:`cross_scale`): downscale the *input* frame by ``scale``, upscale it with the
  same model, compare with the input frame, which is a true reference at that size. ST-LPIPS
  (lower is better, 0 = identical) and PSNR-Y (dB, higher is better); or, at a fraction of the cost,
  the distilled student of ST-LPIPS (:mod:`vsr.metrics.student`), which reads on the same scale.
- **fidelity** (:func:`fidelity_psnr`): the output downscaled back to the input size against the
  input, PSNR-Y in dB (higher is better): does the upscale stay true to what was there?
- **detail** (:func:`detail_ratio`): high-frequency energy of the output over that of a bicubic
  upscale of the same input. 1.0 = as soft as bicubic, above 1 = more detail (or more noise: read
  it beside cross-scale ST-LPIPS).
- **flicker** (:func:`flicker_ratio`): change of the output's high-frequency detail between two
  consecutive frames, on the pixels where the input did not change, over the same for bicubic.
  1.0 = as steady as bicubic, above 1 = the model adds temporal flicker.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch
import torch.nn.functional as F

from vsr.archs.resample import ResampleUpscaler
from vsr.metrics.fidelity import psnr_y
from vsr.ops.highfreq import highpass
from vsr.ops.resize import imresize_down, modcrop

Upscale = Callable[[torch.Tensor], torch.Tensor]
Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_BICUBIC: dict[int, ResampleUpscaler] = {}


def bicubic_up(x: torch.Tensor, scale: int) -> torch.Tensor:
    if scale not in _BICUBIC:
        _BICUBIC[scale] = ResampleUpscaler(scale, "bicubic")
    return _BICUBIC[scale].to(x.device)(x.float()).clamp(0, 1)


def _psnr(a: torch.Tensor, b: torch.Tensor, border: int) -> float:
    value = float(psnr_y(a.float().clamp(0, 1), b.float().clamp(0, 1), crop=border)[0])
    return min(value, 100.0)  # identical images: report 100 dB rather than inf


def cross_scale(
    frame: torch.Tensor, upscale: Upscale, scale: int,
    lpips: Metric | Mapping[str, Metric] | None, border: int = 4,
) -> dict[str, float]:
    """Input frame as its own reference: ``upscale(downscale(frame))`` vs ``frame``.

    ``lpips``: the perceptual metric, scored as ``cross_scale_lpips``; or a mapping of score names
    to metrics (e.g. ``{"cross_scale_lpips_student": student}``)."""
    ref = modcrop(frame.float(), scale)
    low = imresize_down(ref, scale).clamp(0, 1)
    rec = upscale(low).float().clamp(0, 1)
    out = {"cross_scale_psnr": _psnr(rec, ref, border)}
    metrics = {"cross_scale_lpips": lpips} if callable(lpips) else dict(lpips or {})
    if min(ref.shape[-2:]) >= 32:
        for key, metric in metrics.items():
            out[key] = float(metric(rec, ref)[0])
    return out


def fidelity_psnr(frame: torch.Tensor, output: torch.Tensor, scale: int, border: int = 4) -> float:
    """The output taken back down to the input's size, against the input."""
    ref = modcrop(frame.float(), 1)
    h, w = ref.shape[-2:]
    down = imresize_down(output.float()[..., : h * scale, : w * scale], scale).clamp(0, 1)
    return _psnr(down, ref, border)


def _hf_energy(x: torch.Tensor) -> torch.Tensor:
    return highpass(x.float(), sigma=1.0).abs().mean()


def detail_ratio(frame: torch.Tensor, output: torch.Tensor, scale: int) -> float:
    ref = bicubic_up(frame, scale)
    out = output.float()[..., : ref.shape[-2], : ref.shape[-1]]
    return float(_hf_energy(out) / _hf_energy(ref).clamp_min(1e-8))


def flicker_ratio(
    prev_frame: torch.Tensor, frame: torch.Tensor, prev_output: torch.Tensor, output: torch.Tensor,
    scale: int, static: float = 2.0 / 255,
) -> float | None:
    """Temporal change of the output's detail where the input stood still, relative to bicubic's.
    None when fewer than 1% of the pixels are static (nothing to judge flicker on)."""
    still = (frame.float() - prev_frame.float()).abs().amax(dim=1, keepdim=True) < static
    mask = F.interpolate(still.float(), scale_factor=scale, mode="nearest") > 0.5
    if mask.float().mean() < 0.01:
        return None
    h, w = mask.shape[-2:]
    d_out = (highpass(output.float()[..., :h, :w]) - highpass(prev_output.float()[..., :h, :w])).abs()
    d_ref = (highpass(bicubic_up(frame, scale)) - highpass(bicubic_up(prev_frame, scale))).abs()
    m = mask.expand_as(d_out)
    num = d_out[m].mean()
    den = d_ref[m].mean()
    # A perfectly static input gives a bicubic change of ~0: compare against a floor of 1/255 of
    # detail change instead, so a steady output scores ~1 and noise still stands out.
    return float((num + 1.0 / 255) / (den + 1.0 / 255))
