"""Training losses: each is lower for a better output and passes gradients; GAN pieces work."""

from __future__ import annotations

import pytest
import torch

from vsr.train.losses import (
    CharbonnierLoss, HighFreqLoss, L1Loss, PatchDiscriminator, STLPIPSLoss, UNetDiscriminator, gan_loss,
)


def _hr() -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 48), indexing="ij")
    return torch.stack([0.5 + 0.4 * torch.sin(25 * xx), 0.5 + 0.3 * torch.cos(18 * yy), (xx + yy) / 2]).unsqueeze(0)


@pytest.mark.parametrize(
    "loss",
    [CharbonnierLoss(), L1Loss(), HighFreqLoss("haar", 2), HighFreqLoss("highpass", 2), STLPIPSLoss("alex")],
    ids=["charbonnier", "l1", "hfp-haar", "hfp-highpass", "stlpips"],
)
def test_loss_prefers_the_better_output_and_is_differentiable(loss: torch.nn.Module) -> None:
    hr = _hr()
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(hr.shape, generator=g)
    better = (hr + 0.03 * noise).clamp(0, 1)
    worse = (hr + 0.15 * noise).clamp(0, 1)
    assert float(loss(hr, hr)) < float(loss(better, hr)) < float(loss(worse, hr))
    x = worse.clone().requires_grad_(True)
    loss(x, hr).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # a gradient step lowers the loss (the gradient points the right way)
    with torch.no_grad():
        stepped = x - 1e-3 * x.grad / x.grad.abs().max()
    assert float(loss(stepped, hr)) < float(loss(worse, hr))


def test_gan_loss_and_discriminators() -> None:
    logits_good, logits_bad = torch.full((2, 1, 4, 4), 2.0), torch.full((2, 1, 4, 4), -2.0)
    assert gan_loss(logits_good, real=True) < gan_loss(logits_bad, real=True)
    assert gan_loss(logits_bad, real=False) < gan_loss(logits_good, real=False)
    torch.manual_seed(0)
    hr = _hr()[..., :32, :32].repeat(2, 1, 1, 1)
    fake = torch.full_like(hr, 0.5)
    for disc, shape in ((PatchDiscriminator(16), (2, 1, 4, 4)), (UNetDiscriminator(8), (2, 1, 32, 32))):
        assert disc(hr).shape == shape
        opt = torch.optim.Adam(disc.parameters(), lr=1e-3)
        losses = []
        for _ in range(8):
            d_loss = gan_loss(disc(hr), True) + gan_loss(disc(fake), False)
            opt.zero_grad()
            d_loss.backward()
            opt.step()
            losses.append(float(d_loss.detach()))
        assert losses[-1] < losses[0]
        # the generator's adversarial loss is lower for the real-looking image once D has learned
        with torch.no_grad():
            assert gan_loss(disc(hr), True) < gan_loss(disc(fake), True)


def test_shift_consistency_loss_is_zero_only_for_outputs_that_move_with_the_picture() -> None:
    from vsr.train.losses import ShiftConsistencyLoss

    pic = _hr()[0]  # (3,48,48): the "world"; two frames are 32x32 views of it
    shifts = torch.tensor([[3, -5], [0, 0], [-7, 2]])

    def views(world: torch.Tensor) -> torch.Tensor:
        first, second = [], []
        for dy, dx in shifts.tolist():
            ya, xa = 8, 8
            first.append(world[:, ya : ya + 32, xa : xa + 32])
            second.append(world[:, ya + dy : ya + dy + 32, xa + dx : xa + dx + 32])
        return torch.stack(first + second)

    loss = ShiftConsistencyLoss(margin=0)
    assert float(loss(views(pic), shifts)) == 0.0  # detail that moves with the picture: steady
    g = torch.Generator().manual_seed(0)
    flicker = views(pic) + 0.05 * torch.randn(6, 3, 32, 32, generator=g)  # detail drawn anew for each frame
    assert float(loss(flicker, shifts)) > 0.03
    wrong_way = views(pic)
    wrong_way[3:] = views(pic)[3:].roll((1, 1), dims=(2, 3))  # the second frames one pixel off
    assert float(loss(wrong_way, shifts)) > 0.01
    # the margin leaves crop edges out: a difference confined to them does not count
    edged = views(pic)
    edged[3:, :, :2] += 0.5
    assert float(loss(edged, shifts)) > 0 and float(ShiftConsistencyLoss(margin=2)(edged, shifts)) == 0.0
    x = flicker.clone().requires_grad_(True)
    loss(x, shifts).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pairs"):
        loss(flicker[:5], shifts)
    from vsr.train.losses import shifted_overlap

    for dy, dx in ((40, 0), (0, -40), (20, 20)):  # views that do not overlap inside the margins: nothing to compare
        a, b = shifted_overlap(pic[:, :32, :32], pic[:, :32, :32], dy, dx, margin=8)
        assert a.numel() == 0 and b.numel() == 0


def test_local_variance_is_the_variance_of_each_neighbourhood() -> None:
    from vsr.train.losses import local_variance

    x = torch.rand(2, 1, 12, 15, generator=torch.Generator().manual_seed(0))
    got = local_variance(x, 5)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    windows = padded.unfold(2, 5, 1).unfold(3, 5, 1)  # (2,1,12,15,5,5)
    assert got.shape == x.shape
    assert torch.allclose(got, windows.reshape(*windows.shape[:4], 25).var(-1), atol=1e-6)


def test_artifact_loss_falls_on_fast_changing_error_where_the_network_is_worse_than_its_average() -> None:
    from vsr.train.losses import ArtifactLoss

    g = torch.Generator().manual_seed(1)
    hr = torch.rand(1, 3, 32, 32, generator=g)
    loss = ArtifactLoss(7)
    hatch = hr.clone()
    hatch[..., :, :16] += 0.2 * ((torch.arange(32)[:, None] + torch.arange(16)[None]) % 2)  # a pattern on the left half
    shifted = hr + 0.1  # an error that is the same everywhere: no artefact
    assert float(loss(shifted, hr, hr)) == pytest.approx(0, abs=1e-7)
    m = loss.artifact_map(hatch, hr, hr)
    on = (hatch != hr).any(1, keepdim=True)  # the pattern's lit pixels: error there, none elsewhere
    assert (m[..., :, 3:13] > 0).equal(on[..., :, 3:13]) and m[..., :, 20:].abs().max() == 0
    assert float(loss(hatch, hr, hr)) > 0
    assert float(loss(hatch, hr, hatch)) == 0  # no worse than its moving average: left alone
    x = hatch.clone().requires_grad_(True)
    loss(x, hr, hr).backward()
    assert x.grad[..., :, 20:].abs().max() == 0 and x.grad[..., :, 3:13].abs().sum() > 0


def test_spectral_loss_lets_a_texture_move_but_not_change_frequency() -> None:
    """Per unit of pixel error, a random texture shifted by one pixel (its spectrum kept, up to what
    enters and leaves each window) costs far less than a diagonal checker added to it (energy where
    the truth has none); descending the loss takes the checker out."""
    from vsr.train.losses import SpectralLoss

    g = torch.Generator().manual_seed(2)
    base = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 72, 72, generator=g), 3, stride=1)  # 70x70 texture
    hr = base[..., 1:65, 1:65]
    moved = base[..., 1:65, 2:66]  # the same texture one pixel to the right
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    checker = hr + 0.03 * (((yy + xx) % 2) * 2 - 1).float()  # a Nyquist diagonal pattern
    loss, l1 = SpectralLoss(16, 8, mode="both"), L1Loss()
    assert float(loss(hr, hr)) == 0
    per_error = lambda x: float(loss(x, hr)) / float(l1(x, hr))  # noqa: E731
    assert per_error(moved) < 0.75 * per_error(checker)
    # the mean of each window is left out: a brightness change alone costs nothing
    assert float(loss(hr + 0.05, hr)) == pytest.approx(0, abs=1e-3)
    pattern = checker - hr
    x = checker.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=2e-3)
    for _ in range(60):  # descending the loss alone takes most of the pattern out
        opt.zero_grad()
        loss(x, hr).backward()
        assert torch.isfinite(x.grad).all()
        opt.step()
    left = ((x.detach() - hr) * pattern).sum() / (pattern * pattern).sum()
    assert float(loss(x.detach(), hr)) < 0.1 * float(loss(checker, hr)) and float(left) < 0.3


def test_spectral_excess_charges_invented_energy_not_missing_detail() -> None:
    """An upscale that lacks the truth's fine detail (a blur) is far off in the two-sided term and
    nearly free in "excess" mode; a pattern the truth lacks costs the same in both."""
    from vsr.train.losses import SpectralLoss

    g = torch.Generator().manual_seed(2)
    hr = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 66, 66, generator=g), 3, stride=1)
    blur = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(hr, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    checker = hr + 0.04 * (((yy + xx) % 2) * 2 - 1).float()
    both, excess = SpectralLoss(16, 8, mode="both"), SpectralLoss(16, 8, mode="excess")
    assert float(excess(blur, hr)) < 0.01 * float(both(blur, hr))
    assert float(excess(checker, hr)) > 0.9 * float(both(checker, hr)) > 0
    assert float(excess(checker, hr)) > 20 * float(excess(blur, hr))
    with pytest.raises(ValueError, match="mode"):
        SpectralLoss(mode="deficit")


def test_spectral_loss_takes_windows_at_the_given_stride_and_odd_sizes() -> None:
    from vsr.train.losses import SpectralLoss

    x = torch.rand(2, 3, 37, 29, generator=torch.Generator().manual_seed(4))
    spec = SpectralLoss(8, 4).spectrum(x)
    windows = ((37 - 8) // 4 + 1) * ((29 - 8) // 4 + 1)
    assert spec.shape == (2, 3 * windows, 8, 5)
    # windows by hand: one channel, mean removed, Hann x Hann, orthonormal DFT magnitude
    hann = torch.hann_window(8, periodic=False)
    for image, channel, index, (y0, x0) in ((0, 0, 0, (0, 0)), (1, 2, 7, (4, 4)), (1, 1, 2, (0, 8))):
        y = x[image, channel, y0 : y0 + 8, x0 : x0 + 8]
        ref = torch.fft.rfft2((y - y.mean()) * torch.outer(hann, hann), norm="ortho").abs()
        assert torch.allclose(spec[image, channel * windows + index], ref, atol=1e-4)


def test_spectral_loss_sees_a_pattern_in_one_colour_channel() -> None:
    """A checker drawn in the chroma only (luma unchanged) is still charged."""
    from vsr.train.losses import SpectralLoss

    hr = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 50, 50, generator=torch.Generator().manual_seed(6)), 3, stride=1)
    yy, xx = torch.meshgrid(torch.arange(48), torch.arange(48), indexing="ij")
    c = 0.04 * (((yy + xx) % 2) * 2 - 1).float()
    chroma = hr + torch.stack([c, -c * 0.299 / 0.587, torch.zeros_like(c)])  # R up, G down: BT.601 luma unchanged
    luma = lambda t: (t * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1)  # noqa: E731
    assert (luma(chroma) - luma(hr)).abs().max() < 1e-6
    loss = SpectralLoss(16, 8, mode="excess")
    assert float(loss(chroma, hr)) > 20 * float(loss(hr, hr) + 1e-6)
