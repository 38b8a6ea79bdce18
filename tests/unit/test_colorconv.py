"""Y'CbCr <-> R'G'B' against the spec formulas, round trips, odd sizes and high bit depth."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vsr.io.color import resolve_color
from vsr.ops.colorconv import YuvSpec, gray_to_rgb, rgb_to_yuv, yuv_to_rgb


def solid(rgb: tuple[float, float, float], h: int = 4, w: int = 6) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32).view(3, 1, 1).expand(3, h, w).contiguous()


@pytest.mark.parametrize(
    "matrix,full,rgb,expected",
    [
        # BT.709 limited range, 8 bit: the textbook code values.
        ("bt709", False, (1.0, 1.0, 1.0), (235, 128, 128)),
        ("bt709", False, (0.0, 0.0, 0.0), (16, 128, 128)),
        ("bt709", False, (1.0, 0.0, 0.0), (63, 102, 240)),
        ("bt709", False, (0.0, 1.0, 0.0), (173, 42, 26)),
        ("bt709", False, (0.0, 0.0, 1.0), (32, 240, 118)),
        # BT.601 limited: red is Y=81, Cb=90, Cr=240.
        ("bt601", False, (1.0, 0.0, 0.0), (81, 90, 240)),
        # BT.601 full range (JPEG): white 255/128/128, red 76/85/255.
        ("bt601", True, (1.0, 1.0, 1.0), (255, 128, 128)),
        ("bt601", True, (1.0, 0.0, 0.0), (76, 85, 255)),
    ],
)
def test_known_code_values(matrix, full, rgb, expected) -> None:
    spec = YuvSpec(matrix, full, 8)
    y, u, v = rgb_to_yuv(solid(rgb), spec)
    assert (int(y[0, 0]), int(u[0, 0]), int(v[0, 0])) == expected
    back = yuv_to_rgb(y, u, v, spec)
    assert torch.allclose(back, solid(rgb), atol=1.5 / 255)


def test_ten_bit_levels() -> None:
    spec = YuvSpec("bt2020", False, 10)
    y, u, v = rgb_to_yuv(solid((1.0, 1.0, 1.0)), spec)
    assert (int(y[0, 0]), int(u[0, 0]), int(v[0, 0])) == (940, 512, 512)
    y, _, _ = rgb_to_yuv(solid((0.0, 0.0, 0.0)), spec)
    assert int(y[0, 0]) == 64


@pytest.mark.parametrize("matrix", ["bt601", "bt709", "bt2020"])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("bits", [8, 10])
@pytest.mark.parametrize("shifts", [(1, 1), (1, 0), (0, 0)])
@pytest.mark.parametrize("size", [(32, 48), (33, 47)])
def test_round_trip_of_smooth_pictures(matrix, full, bits, shifts, size) -> None:
    torch.manual_seed(0)
    h, w = size
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    phase = torch.rand(3, 1, 1) * 6.28
    rgb = 0.5 + 0.45 * torch.sin(2 * torch.pi * (xx / 40 + yy / 56) + phase)  # smooth colour waves
    spec = YuvSpec(matrix, full, bits, *shifts)
    y, u, v = rgb_to_yuv(rgb, spec)
    assert y.shape == (h, w)
    assert u.shape == (-(-h // (1 << shifts[1])), -(-w // (1 << shifts[0])))
    back = yuv_to_rgb(y, u, v, spec)
    err = (back - rgb).abs() * 255
    if shifts == (0, 0):  # no subsampling: quantisation error only
        assert err.max() < (1.6 if bits == 8 else 0.4)
    else:  # chroma subsampling loses some colour detail, most at the extrapolated last column
        assert err.mean() < 2.5 and err[:, 1:-1, 1:-1].max() < 7.0


@pytest.mark.parametrize("shifts", [(1, 1), (1, 0)])
@pytest.mark.parametrize("axis", [-1, -2])
def test_chroma_siting_is_exact_on_linear_ramps(shifts, axis) -> None:
    # On a linear colour ramp, co-sited/centred down- and up-sampling reconstruct exactly: any
    # half-pixel siting mistake would show as an error of half the slope (~10 code values here).
    h, w = 24, 36
    t = torch.linspace(0.1, 0.9, w if axis == -1 else h)
    ramp = t.view(1, -1) if axis == -1 else t.view(-1, 1)
    ramp = ramp.expand(h, w)
    rgb = torch.stack([ramp, 1.0 - ramp, 0.5 + 0.0 * ramp])
    spec = YuvSpec("bt709", False, 8, *shifts)
    back = yuv_to_rgb(*rgb_to_yuv(rgb, spec), spec)
    err = (back - rgb).abs() * 255
    assert err[:, 1:-1, 1:-1].max() < 1.6


def test_chroma_subsampling_keeps_flat_colour_exact_and_sites_are_right() -> None:
    spec = YuvSpec("bt709", False, 8, 1, 1)
    flat = solid((0.2, 0.5, 0.8), 9, 11)
    y, u, v = rgb_to_yuv(flat, spec)
    assert u.unique().numel() == 1 and v.unique().numel() == 1
    # A one-column chroma impulse at even column 4 (co-sited) spreads to columns 3 and 5 only.
    uu = torch.full((2, 6), 128, dtype=torch.uint8)
    uu[:, 2] = 200
    rgb = yuv_to_rgb(torch.full((4, 12), 128, dtype=torch.uint8), uu, torch.full((2, 6), 128, dtype=torch.uint8), spec)
    blue = rgb[2, 0].tolist()
    assert blue[4] > blue[3] > blue[2]
    assert blue[3] == pytest.approx(blue[5]) and blue[2] == pytest.approx(blue[6])
    assert blue[2] == pytest.approx(blue[0])  # columns 0..2 and 6.. see no impulse


def test_gray_and_batches() -> None:
    spec = YuvSpec("bt709", False, 8)
    g = gray_to_rgb(torch.tensor([[16, 235]], dtype=torch.uint8), spec)
    assert g.shape == (3, 1, 2) and torch.allclose(g[:, 0, 0], torch.zeros(3)) and torch.allclose(g[:, 0, 1], torch.ones(3))
    batch = torch.rand(2, 3, 8, 8)
    y, u, v = rgb_to_yuv(batch, spec)
    assert y.shape == (2, 8, 8) and u.shape == (2, 4, 4)
    assert yuv_to_rgb(y, u, v, spec, torch.float16).dtype == torch.float16


def test_untagged_hd_is_bt709_and_sd_is_bt601() -> None:
    hd = resolve_color(2, 0, 2, 2, 1920, 1080, "yuv420p")
    sd = resolve_color(2, 0, 2, 2, 720, 480, "yuv420p")
    assert hd.matrix == "bt709" and sd.matrix == "bt601"
    assert hd.colorspace == 1 and sd.colorspace == 6  # written tags say what was assumed
    assert not hd.full_range and "limited range" in hd.assumed
    jpeg = resolve_color(5, 0, 2, 2, 640, 480, "yuvj420p")
    assert jpeg.full_range and jpeg.matrix == "bt601" and jpeg.assumed == ()
    uhd = resolve_color(9, 1, 9, 16, 3840, 2160, "yuv420p10le")
    assert uhd.matrix == "bt2020" and uhd.trc == 16  # PQ transfer is carried through
    assert resolve_color(2, 1, 9, 2, 640, 360, "yuv420p").matrix == "bt2020"  # from primaries


def test_channels_last_and_half_inputs_give_the_same_codes() -> None:
    """The engine hands over channels-last frames on the CPU (and fp16 on CUDA): same planes."""
    torch.manual_seed(3)
    big = torch.rand(2, 3, 20, 30) * 1.2 - 0.1  # also out of range: clamped alike
    rgb = big[..., 1:19, 2:28].contiguous()
    spec = YuvSpec("bt709", False, 8, 1, 1)
    ref = rgb_to_yuv(rgb, spec)
    for other in (rgb.contiguous(memory_format=torch.channels_last), big[..., 1:19, 2:28]):  # and a tile's view
        assert not other.is_contiguous()
        got = rgb_to_yuv(other, spec)
        assert all(torch.equal(a, b) for a, b in zip(ref, got))
    half = rgb.half()
    assert all(torch.equal(a, b) for a, b in zip(rgb_to_yuv(half, spec), rgb_to_yuv(half.float(), spec)))
