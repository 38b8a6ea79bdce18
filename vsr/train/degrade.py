"""Degradations that make LR training inputs from HR crops.

- :class:`BicubicDegradation`: the benchmark protocol, MATLAB-like antialiased bicubic (fidelity
  models).
- :class:`VideoDegradation` / :class:`JpegDegradation`: that LR, then (often) one H.264 or one JPEG
  round: what a video upscaler / a photo upscaler is given.
- :class:`RealWorldDegradation`: Real-ESRGAN-style two rounds of blur -> resize -> noise -> JPEG, then
  an optional H.264 round (libx264 through PyAV, on the small LR crop, as a 2-frame clip so inter
  prediction artefacts appear too).

All take ``(N,3,H,W)`` uint8 or float [0,1] CPU HR crops (H, W multiples of the scale) and return
``(N,3,H/s,W/s)`` f32 [0,1] CPU, quantised to 8-bit levels. Randomness only from the given
``torch.Generator``, so runs are reproducible.
"""

from __future__ import annotations

import math
from fractions import Fraction

import av
import numpy as np
import torch
import torch.nn.functional as F

from vsr.metrics.fidelity import quantize
from vsr.ops.resize import imresize_down
from vsr.train.config import DegradationConfig


def _to_float(hr: torch.Tensor) -> torch.Tensor:
    return hr.float().div(255) if hr.dtype == torch.uint8 else hr.float()


def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def _chance(gen: torch.Generator, p: float) -> bool:
    return float(torch.rand((), generator=gen)) < p


def _to_rgb24(x: torch.Tensor) -> np.ndarray:
    """``(3,H,W)`` float [0,1] -> ``(H,W,3)`` uint8."""
    return x.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).contiguous().numpy()


def _from_rgb24(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float().div(255)


def jpeg_roundtrip(x: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG-compress ``(3,H,W)`` float [0,1] with PyAV's mjpeg (4:2:0, ``quality`` 1..100); float result."""
    h, w = x.shape[1:]
    enc = av.CodecContext.create("mjpeg", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuvj420p"
    enc.time_base = Fraction(1, 25)
    qscale = max(2, min(31, round(2 + (100 - quality) * 29 / 100)))
    enc.qmin = enc.qmax = qscale  # the frame-level quality is what mjpeg honours; pin it via qmin/qmax
    frame = av.VideoFrame.from_ndarray(_to_rgb24(x), format="rgb24").reformat(format="yuvj420p")
    frame.pts = 0
    packets = list(enc.encode(frame)) + list(enc.encode(None))
    dec = av.CodecContext.create("mjpeg", "r")
    frames = [f for p in packets for f in dec.decode(p)]
    return _from_rgb24(frames[0].to_ndarray(format="rgb24"))


def libjpeg_roundtrip(x: torch.Tensor, quality: int, subsampling: int = 2) -> torch.Tensor:
    """``(3,H,W)`` float [0,1] saved as a baseline JPEG by libjpeg (Pillow) at ``quality`` (libjpeg's
    scale, which photos are labelled in; :func:`jpeg_roundtrip`'s mjpeg takes a qscale) with chroma
    ``subsampling`` 2 (4:2:0, as cameras and the web save photos), 1 (4:2:2) or 0 (4:4:4), then decoded."""
    import io

    try:
        from PIL import Image
    except ImportError:
        from vsr.errors import ConfigError

        raise ConfigError("a libjpeg round needs Pillow (pip install pillow)") from None
    buf = io.BytesIO()
    Image.fromarray(_to_rgb24(x)).save(buf, format="JPEG", quality=quality, subsampling=subsampling)
    buf.seek(0)
    return _from_rgb24(np.array(Image.open(buf).convert("RGB")))


def h264_roundtrip(x: torch.Tensor, crf: int, shift: tuple[int, int] = (1, 0)) -> torch.Tensor:
    """Encode a 2-frame clip (``x`` shifted by ``shift``, then ``x``) with libx264 at ``crf`` and return
    the decoded second frame: ``(3,H,W)`` float [0,1] (odd sizes are padded for 4:2:0, then cropped)."""
    h, w = x.shape[1:]
    xp = F.pad(x[None], (0, w % 2, 0, h % 2), mode="replicate")[0]
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = xp.shape[2], xp.shape[1], "yuv420p"
    enc.time_base = Fraction(1, 25)
    enc.options = {"crf": str(crf), "preset": "ultrafast", "tune": "zerolatency", "threads": "1"}
    packets = []
    for i, img in enumerate((torch.roll(xp, shift, dims=(1, 2)), xp)):
        frame = av.VideoFrame.from_ndarray(_to_rgb24(img), format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets += list(enc.encode(frame))
    packets += list(enc.encode(None))
    dec = av.CodecContext.create("h264", "r")
    frames = [f for p in packets for f in dec.decode(p)] + list(dec.decode(None))
    return _from_rgb24(frames[-1].to_ndarray(format="rgb24"))[:, :h, :w]


def gaussian_kernel2d(sigma_x: float, sigma_y: float, theta: float) -> torch.Tensor:
    """Normalised anisotropic Gaussian, rotated by ``theta``; ``(K,K)`` f32, K odd."""
    radius = max(1, math.ceil(3 * max(sigma_x, sigma_y)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * xx + s * yy, -s * xx + c * yy
    k = torch.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return (k / k.sum()).float()


def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Depthwise blur of ``(N,C,H,W)`` with a ``(K,K)`` kernel, reflect (or replicate) borders."""
    r = kernel.shape[-1] // 2
    mode = "reflect" if min(x.shape[-2:]) > r else "replicate"
    c = x.shape[1]
    return F.conv2d(F.pad(x, (r, r, r, r), mode=mode), kernel.expand(c, 1, *kernel.shape).to(x), groups=c)


def _video_round(x: torch.Tensor, cfg: DegradationConfig, gen: torch.Generator) -> torch.Tensor:
    """One H.264 round of ``(3,H,W)`` at a crf drawn from ``cfg.video_crf``, after a first frame moved
    by up to 2 px (so the kept frame is inter-predicted, as in a video)."""
    crf = int(torch.randint(cfg.video_crf[0], cfg.video_crf[1] + 1, (1,), generator=gen))
    shift = tuple(int(v) for v in torch.randint(-2, 3, (2,), generator=gen))
    return h264_roundtrip(x, crf, shift)  # type: ignore[arg-type]


class BicubicDegradation:
    """LR = 8-bit quantised MATLAB-like bicubic downscale of HR."""

    def __init__(self, scale: int) -> None:
        self.scale = scale

    def __call__(self, hr: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        return quantize(imresize_down(_to_float(hr), self.scale))


class VideoDegradation:
    """LR = the bicubic LR of :class:`BicubicDegradation`, then (with ``video_prob``) one H.264 round at a
    crf drawn from ``video_crf``: what a video upscaler sees, a clean downscale that went through a
    codec, without the blur, noise and resampler changes of the real-world pipeline (which teach a
    small network to sharpen clean input too hard)."""

    def __init__(self, scale: int, cfg: DegradationConfig) -> None:
        self.scale = scale
        self.cfg = cfg

    def _applies(self, gen: torch.Generator) -> bool:
        return _chance(gen, self.cfg.video_prob)

    def _round(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return _video_round(x, self.cfg, gen)

    def __call__(self, hr: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        lr = quantize(imresize_down(_to_float(hr), self.scale))
        for i in range(lr.shape[0]):
            if self._applies(gen):
                lr[i] = quantize(self._round(lr[i], gen))
        return lr


class JpegDegradation(VideoDegradation):
    """As :class:`VideoDegradation`, with (at ``jpeg_prob``) one libjpeg round in place of the H.264 one,
    at a quality drawn from ``jpeg_quality``, 4:2:0 chroma (4:4:4 one time in five, as some editors
    save their best qualities): a photo that was downscaled and saved, as most photos on the web are."""

    def _applies(self, gen: torch.Generator) -> bool:
        return _chance(gen, self.cfg.jpeg_prob)

    def _round(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        lo, hi = self.cfg.jpeg_quality
        q = int(torch.randint(lo, hi + 1, (1,), generator=gen))
        return libjpeg_roundtrip(x, q, 0 if _chance(gen, 0.2) else 2)


class RealWorldDegradation:
    """Two rounds of random blur, resize, noise and JPEG, then resize to LR size and maybe H.264."""

    MODES = ("area", "bilinear", "bicubic")

    def __init__(self, scale: int, cfg: DegradationConfig) -> None:
        self.scale = scale
        self.cfg = cfg

    def _resize(self, x: torch.Tensor, size: tuple[int, int], gen: torch.Generator) -> torch.Tensor:
        mode = self.MODES[int(torch.randint(len(self.MODES), (1,), generator=gen))]
        if mode == "area":
            return F.interpolate(x, size=size, mode="area")
        return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=True)

    def _round(self, x: torch.Tensor, target: tuple[int, int], gen: torch.Generator, strength: float) -> torch.Tensor:
        cfg = self.cfg
        if _chance(gen, cfg.blur_prob):
            lo, hi = cfg.blur_sigma
            hi = lo + (hi - lo) * strength
            k = gaussian_kernel2d(_uniform(gen, lo, hi), _uniform(gen, lo, hi), _uniform(gen, 0, math.pi))
            x = blur(x, k)
        r = _uniform(gen, *cfg.resize_range)
        size = (max(2, round(target[0] * r)), max(2, round(target[1] * r)))
        x = self._resize(x, size, gen)
        if _chance(gen, cfg.noise_prob):
            sigma = _uniform(gen, *cfg.noise_sigma) * strength / 255
            shape = (1, 1, *x.shape[-2:]) if _chance(gen, cfg.gray_noise_prob) else x.shape
            x = x + sigma * torch.randn(shape, generator=gen)
        x = x.clamp(0, 1)
        q = int(torch.randint(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1, (1,), generator=gen))
        return jpeg_roundtrip(x[0], q)[None]

    def __call__(self, hr: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        hr = _to_float(hr)
        n, _, h, w = hr.shape
        lr_size = (h // self.scale, w // self.scale)
        out = torch.empty(n, 3, *lr_size)
        for i in range(n):
            x = hr[i : i + 1]
            # round 1 works around the mid size, round 2 around the LR size
            mid = (max(2, round((h * lr_size[0]) ** 0.5)), max(2, round((w * lr_size[1]) ** 0.5)))
            x = self._round(x, mid, gen, 1.0)
            if _chance(gen, self.cfg.second_round_prob):
                x = self._round(x, lr_size, gen, 0.5)
            x = self._resize(x, lr_size, gen).clamp(0, 1)
            if _chance(gen, self.cfg.video_prob):
                x = _video_round(x[0], self.cfg, gen)[None]
            out[i] = quantize(x[0])
        return out


def make_degradation(scale: int, cfg: DegradationConfig
                     ) -> BicubicDegradation | VideoDegradation | JpegDegradation | RealWorldDegradation:
    if cfg.kind == "bicubic":
        return BicubicDegradation(scale)
    if cfg.kind == "jpeg":
        return JpegDegradation(scale, cfg)
    return VideoDegradation(scale, cfg) if cfg.kind == "video" else RealWorldDegradation(scale, cfg)


__all__ = [
    "BicubicDegradation", "JpegDegradation", "RealWorldDegradation", "VideoDegradation", "blur", "gaussian_kernel2d", "h264_roundtrip",
    "jpeg_roundtrip", "libjpeg_roundtrip", "make_degradation",
]
