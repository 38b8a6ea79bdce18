"""Training losses, each a module taking ``(sr, hr)`` ``(N,3,H,W)`` float [0,1] (same device) and
returning a scalar, plus the discriminators and the GAN loss for perceptual presets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from vsr.metrics.stlpips import STLPIPS
from vsr.ops.highfreq import highfreq_bands


class CharbonnierLoss(nn.Module):
    """``mean(sqrt((sr - hr)^2 + eps^2))`` — a smooth L1."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((sr.float() - hr.float()).pow(2) + self.eps**2).mean()


class L1Loss(nn.Module):
    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return (sr.float() - hr.float()).abs().mean()


class HighFreqLoss(nn.Module):
    """High-Frequency Perception loss: L1 between the high-frequency bands (:mod:`vsr.ops.highfreq`,
    Haar LH/HL/HH of ``levels`` levels, or Gaussian high-pass residuals) of output and target, each
    band's term averaged, summed over bands and divided by their count."""

    def __init__(self, method: str = "haar", levels: int = 2) -> None:
        super().__init__()
        self.method, self.levels = method, levels

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        a = highfreq_bands(sr.float(), self.method, self.levels)
        b = highfreq_bands(hr.float(), self.method, self.levels)
        return sum((x - y).abs().mean() for x, y in zip(a, b)) / len(a)  # type: ignore[return-value]


class STLPIPSLoss(nn.Module):
    """Mean ST-LPIPS distance (frozen network from :mod:`vsr.metrics.stlpips`), computed in f32."""

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        self.metric = STLPIPS(net)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        with torch.autocast(sr.device.type, enabled=False):
            return self.metric(sr.float(), hr.float()).mean()


def shifted_overlap(first: torch.Tensor, second: torch.Tensor, dy: int, dx: int,
                    margin: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The parts of two views ``(...,H,W)`` that show the same place, where the second view is the
    first moved by ``(dy, dx)`` (``second[..., y, x] == first[..., y + dy, x + dx]``), leaving out
    ``margin`` pixels at each edge of both views. Either part is empty when they do not overlap."""
    h, w = first.shape[-2:]
    y0, y1 = max(margin, margin + dy), min(h - margin, h - margin + dy)  # rows of the first view in both
    x0, x1 = max(margin, margin + dx), min(w - margin, w - margin + dx)
    y1, x1 = max(y0, y1), max(x0, x1)
    return first[..., y0:y1, x0:x1], second[..., y0 - dy : y1 - dy, x0 - dx : x1 - dx]


class ShiftConsistencyLoss(nn.Module):
    """Temporal stability from still images: the output for two frames of one picture moved by
    ``shifts`` must agree where they overlap (:func:`shifted_overlap`; L1).

    ``sr`` holds the first frames' outputs then the second ones' (``(2P,3,H,W)``, as
    :meth:`vsr.train.data.HRImageSet.sample_pairs` draws them); ``shifts (P,2)`` are in output
    pixels. Their HR crops agree exactly there, so this is the warped error-consistency of video
    training with a known motion: detail invented anew for each sub-pixel phase of the input, or
    for each realisation of its codec noise, is what a video shows as shimmer. ``margin`` output
    pixels at each crop edge are left out (the network sees padding there, not picture).
    """

    def __init__(self, margin: int = 0) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, sr: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
        pairs = shifts.shape[0]
        if sr.shape[0] != 2 * pairs:
            raise ValueError(f"{sr.shape[0]} outputs for {pairs} pairs")
        terms = []
        for i, (dy, dx) in enumerate(shifts.tolist()):
            a, b = shifted_overlap(sr[i], sr[pairs + i], dy, dx, self.margin)
            if a.numel():
                terms.append((a.float() - b.float()).abs().mean())
        if not terms:
            return sr.sum() * 0.0
        return torch.stack(terms).mean()


def local_variance(x: torch.Tensor, window: int) -> torch.Tensor:
    """The (unbiased) variance of ``x (N,C,H,W)`` over each pixel's ``window`` x ``window``
    neighbourhood, edges reflected; same size as ``x``."""
    pad = window // 2
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    mean = F.avg_pool2d(padded, window, stride=1)
    mean_sq = F.avg_pool2d(padded * padded, window, stride=1)
    n = window * window
    return (mean_sq - mean * mean).clamp_min(0) * (n / (n - 1))


class ArtifactLoss(nn.Module):
    """Locally discriminative learning (LDL; Liang, Zeng and Zhang, CVPR 2022): a pixel loss that
    falls where the network draws artefacts rather than detail.

    An artefact is where the error of the output changes quickly from pixel to pixel (a texture
    that is not the truth's): the map is the local variance of the per-pixel error (summed over
    RGB) in ``window`` x ``window``, scaled by the variance of the error over the whole crop to the
    power 1/5 (a crop the network gets wrong all over weighs more). It is kept only where the
    network now does worse than the exponential moving average of its own weights (``ema``): detail
    the training has settled on is left alone, what it is still flipping between is penalised. The
    map is a weight (no gradient flows through it); the loss is the mean of map x |sr - hr|."""

    def __init__(self, window: int = 7) -> None:
        super().__init__()
        self.window = window

    def artifact_map(self, sr: torch.Tensor, hr: torch.Tensor, ema: torch.Tensor) -> torch.Tensor:
        error = (hr - sr).detach().float().abs().sum(1, keepdim=True)
        ema_error = (hr - ema).detach().float().abs().sum(1, keepdim=True)
        crop = error.var(dim=(1, 2, 3), keepdim=True) ** 0.2
        return crop * local_variance(error, self.window) * (error > ema_error)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor, ema: torch.Tensor) -> torch.Tensor:
        return (self.artifact_map(sr, hr, ema) * (sr.float() - hr.float()).abs()).mean()


class SpectralLoss(nn.Module):
    """L1 between the local amplitude spectra of output and target: each of R, G and B is cut into
    ``patch`` x ``patch`` windows every ``stride`` pixels, each window's mean removed and a Hann
    window applied, and the magnitudes of their 2-D DFTs (orthonormal) compared. (On luma alone, a
    network trained against it moved its crosshatch into the chroma, as magenta and green blotches.)

    The phase is left out, so this is not a fidelity term: a texture may be drawn anywhere as long as
    its energy sits at the frequencies the truth's does. A pattern the truth lacks (the diagonal
    crosshatch an AlexNet ST-LPIPS loss accepts on fine texture) puts energy where the truth has none,
    and pays for it here.

    ``mode="excess"`` counts only the energy the output has beyond the truth's, bin by bin: what an
    upscale lacks (most of the two-sided term, on any real picture: fine detail the LR no longer
    holds) is left to the other losses, and only what it invents is charged."""

    MODES = ("both", "excess")

    def __init__(self, patch: int = 16, stride: int = 8, mode: str = "both") -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"SpectralLoss mode must be one of {self.MODES}, got {mode!r}")
        self.patch, self.stride, self.mode = patch, stride, mode
        hann = torch.hann_window(patch, periodic=False, dtype=torch.float32)
        self.register_buffer("window", torch.outer(hann, hann), persistent=False)

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """``(N,C,H,W)`` -> the magnitudes ``(N, C x windows, patch, patch // 2 + 1)``."""
        n, c, h, w = x.shape
        p = self.patch
        y = x.float().reshape(n * c, 1, h, w)
        tiles = F.unfold(y, p, stride=self.stride).transpose(1, 2).reshape(n, -1, p, p)
        tiles = (tiles - tiles.mean((-2, -1), keepdim=True)) * self.window
        f = torch.fft.rfft2(tiles, norm="ortho")
        return torch.sqrt(f.real.square() + f.imag.square() + 1e-8)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        diff = self.spectrum(sr) - self.spectrum(hr)
        return (diff.clamp_min(0) if self.mode == "excess" else diff.abs()).mean()


class PatchDiscriminator(nn.Module):
    """PatchGAN: strided spectral-norm convs. ``(N,3,H,W)`` [0,1] -> ``(N,1,H/8,W/8)`` logits."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        c = channels
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(3, c, 3, 1, 1)), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in ((c, c * 2), (c * 2, c * 4), (c * 4, c * 4)):
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(c * 4, 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


class UNetDiscriminator(nn.Module):
    """Small spectral-norm U-Net (as Real-ESRGAN's): per-pixel real/fake logits ``(N,1,H,W)``.
    H and W must be multiples of 8."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        c = channels
        sn = spectral_norm
        self.conv0 = nn.Conv2d(3, c, 3, 1, 1)
        self.down1 = sn(nn.Conv2d(c, c * 2, 4, 2, 1, bias=False))
        self.down2 = sn(nn.Conv2d(c * 2, c * 4, 4, 2, 1, bias=False))
        self.down3 = sn(nn.Conv2d(c * 4, c * 8, 4, 2, 1, bias=False))
        self.up3 = sn(nn.Conv2d(c * 8, c * 4, 3, 1, 1, bias=False))
        self.up2 = sn(nn.Conv2d(c * 4, c * 2, 3, 1, 1, bias=False))
        self.up1 = sn(nn.Conv2d(c * 2, c, 3, 1, 1, bias=False))
        self.head = nn.Sequential(
            sn(nn.Conv2d(c, c, 3, 1, 1, bias=False)), nn.LeakyReLU(0.2, True), nn.Conv2d(c, 1, 3, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        x0 = act(self.conv0(x * 2 - 1))
        x1 = act(self.down1(x0))
        x2 = act(self.down2(x1))
        x3 = act(self.down3(x2))
        y = act(self.up3(up(x3))) + x2
        y = act(self.up2(up(y))) + x1
        y = act(self.up1(up(y))) + x0
        return self.head(y)


def make_discriminator(kind: str) -> nn.Module:
    if kind == "unet":
        return UNetDiscriminator()
    if kind == "patch":
        return PatchDiscriminator()
    raise ValueError(f"unknown discriminator {kind!r} (valid: unet, patch)")


def gan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Non-saturating (BCE-with-logits) GAN loss against all-real or all-fake labels."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


__all__ = [
    "CharbonnierLoss", "HighFreqLoss", "L1Loss", "PatchDiscriminator", "STLPIPSLoss", "ShiftConsistencyLoss",
    "UNetDiscriminator", "shifted_overlap",
    "gan_loss", "make_discriminator",
]
