"""Engine: tiling is seamless, batching and precision rules, clear errors for what cannot run."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vsr.archs import SRModel, load_model
from vsr.engine.device import resolve_device, resolve_precision
from vsr.engine.engine import Engine, plan_tiles, weights_digest
from vsr.errors import BackendUnavailableError, ConfigError


def conv_net(scale: int) -> SRModel:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale), nn.Sigmoid(),
    )
    return SRModel("tiny", "tiny", scale, net, learned=True, context=3)


def test_plan_tiles_covers_every_pixel_once() -> None:
    tiles = plan_tiles(50, 70, 16, 4)
    cover = torch.zeros(50, 70, dtype=torch.int32)
    for t in tiles:
        cover[t.y0:t.y1, t.x0:t.x1] += 1
        assert t.py0 == max(0, t.y0 - 4) and t.px1 == min(70, t.x1 + 4)
    assert bool((cover == 1).all())
    assert len(plan_tiles(50, 70, 0, 4)) == 1


@pytest.mark.parametrize("model", ["lanczos", "net"])
def test_tiled_output_equals_whole_frame(model) -> None:
    m = load_model("lanczos", 2) if model == "lanczos" else conv_net(2)
    x = torch.rand(2, 3, 37, 53)
    whole = Engine(m, torch.device("cpu"))(x)
    tiled = Engine(m, torch.device("cpu"), tile=16)(x)
    assert tiled.shape == (2, 3, 74, 106)
    assert torch.allclose(whole, tiled, atol=1e-6)
    # Too little overlap for the receptive field shows seams: the check above is not vacuous.
    seamy = Engine(m, torch.device("cpu"), tile=16, tile_overlap=1)(x)
    assert (seamy - whole).abs().max() > 1e-4


def test_output_is_clamped_and_batched_equals_single() -> None:
    m = load_model("lanczos", 2)
    e = Engine(m, torch.device("cpu"))
    x = torch.zeros(3, 3, 16, 16)
    x[..., 8:] = 1.0  # a hard edge makes lanczos ring past [0,1]
    y = e(x)
    assert y.min() >= 0 and y.max() <= 1
    assert torch.allclose(e(x[1:2]), y[1:2], atol=1e-6)
    assert m.module(x).max() > 1.0  # the raw resampler does overshoot


def test_device_precision_and_backend_errors() -> None:
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match="valid: auto, cpu, cuda"):
        resolve_device("tpu")
    assert resolve_precision("auto", torch.device("cpu"), True) == torch.float32
    with pytest.raises(ConfigError):
        resolve_precision("int4", torch.device("cpu"), True)
    m = load_model("bicubic", 2)
    with pytest.raises(ConfigError, match="unknown backend"):
        Engine(m, torch.device("cpu"), backend="magic")
    with pytest.raises(BackendUnavailableError, match="tensorrt"):
        Engine(m, torch.device("cpu"), backend="tensorrt")
    with pytest.raises(ConfigError, match="too small"):
        Engine(m, torch.device("cpu"), tile=4)
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="no CUDA GPU"):
            resolve_device("cuda")
        with pytest.raises(BackendUnavailableError, match="fp16 needs a CUDA"):
            Engine(m, torch.device("cpu"), precision="fp16")


def test_weights_digest_changes_with_weights() -> None:
    a, b = conv_net(2), conv_net(2)
    assert weights_digest(a.module) == weights_digest(b.module)
    with torch.no_grad():
        b.module[0].weight[0, 0, 0, 0] += 1
    assert weights_digest(a.module) != weights_digest(b.module)


def test_host_allocator_keeps_freed_frames_in_the_process() -> None:
    import ctypes
    import platform

    from vsr.engine.device import tune_host_allocator

    took = tune_host_allocator()
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        assert took is False
        return
    assert took is True

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    block = 64 << 20
    t = torch.empty(block, dtype=torch.uint8)
    assert libc.mallinfo2().hblkhd < block  # served from the heap, not from a private mmap
    del t
    # The freed frame-sized block stays with the allocator for the next frame; untuned glibc
    # unmaps it at once (and page-faults it in again on the next allocation).
    assert libc.mallinfo2().fordblks >= block
