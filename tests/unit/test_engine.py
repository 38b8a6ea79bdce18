"""Engine: tiling is seamless, batching and precision rules, clear errors for what cannot run."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vsr.archs import SRModel, load_model
from vsr.engine.device import resolve_device, resolve_precision
from vsr.engine.engine import Engine, auto_tile, bytes_per_pixel, plan_tiles, weights_digest
from vsr.errors import BackendUnavailableError, ConfigError


def conv_net(scale: int) -> SRModel:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale), nn.Sigmoid(),
    )
    return SRModel("tiny", "tiny", scale, net, learned=True, context=3)


@pytest.mark.parametrize("h, w, tile", [(50, 70, 16), (3024, 4032, 1344), (17, 90, 16), (33, 33, 32)])
def test_plan_tiles_covers_every_pixel_once(h, w, tile) -> None:
    tiles = plan_tiles(h, w, tile, 4)
    cover = torch.zeros(h, w, dtype=torch.int32)
    for t in tiles:
        cover[t.y0:t.y1, t.x0:t.x1] += 1
        # context on every side, or the frame's border
        assert t.py0 == 0 or t.py0 <= t.y0 - 4
        assert t.px0 == 0 or t.px0 <= t.x0 - 4
        assert t.py1 == h or t.py1 >= t.y1 + 4
        assert t.px1 == w or t.px1 >= t.x1 + 4
        assert 0 <= t.py0 and t.py1 <= h and 0 <= t.px0 and t.px1 <= w
        assert t.y1 - t.y0 <= tile and t.x1 - t.x0 <= tile
    assert bool((cover == 1).all())
    # one window shape for all (one engine per shape for compiled backends); cores as even as can be
    assert len({(t.py1 - t.py0, t.px1 - t.px0) for t in tiles}) == 1
    assert max(t.y1 - t.y0 for t in tiles) - min(t.y1 - t.y0 for t in tiles) <= 1 or len({t.y0 for t in tiles}) == 1
    assert len(plan_tiles(h, w, 0, 4)) == 1


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


def test_frames_over_the_memory_budget_run_in_tiles_with_the_same_output() -> None:
    m = conv_net(2)
    x = torch.rand(2, 3, 150, 170)
    whole = Engine(m, torch.device("cpu"))
    assert whole.tile_for(2, 150, 170) == 0  # a small frame fits the default budget
    small = Engine(m, torch.device("cpu"))
    small.budget = 2 * 100 * 100 * small.per_pixel  # room for 100x100 windows of two frames
    edge = small.tile_for(2, 150, 170)
    assert edge == 100 - 2 * small.overlap and len(plan_tiles(150, 170, edge, small.overlap)) == 4
    assert torch.allclose(whole(x), small(x), atol=1e-6)
    # the budget's frame count matters: one frame gets bigger tiles than two
    assert small.tile_for(1, 150, 170) > edge


def test_bytes_per_pixel_and_auto_tile() -> None:
    # the shipped x4 network in fp32: 48 channels at its widest (the upsampler's 3 * 4^2)
    assert bytes_per_pixel(load_model("compact-x4-fast", 4).module, 4, 4) == 4 * (3 * 48 + 2 * 48 + 3)
    per_pixel, budget = 972, 2 << 30
    assert auto_tile(1, 1080, 1920, per_pixel, budget, 8) == 0  # 1080p fits whole
    edge = auto_tile(1, 3024, 4032, per_pixel, budget, 8)  # a 12 MP photo does not
    assert edge > 0 and (edge + 16) ** 2 * per_pixel <= budget < (edge + 17) ** 2 * per_pixel
    assert auto_tile(4, 1080, 1920, per_pixel, budget, 8) > 0  # a batch of four does not either
    assert auto_tile(1, 30000, 30000, per_pixel, 1 << 20, 8) == 64  # never slivers


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


_THREAD_FAULTS = """
import resource, sys, threading, torch
if sys.argv[1] == "tuned":
    from vsr.engine.device import tune_host_allocator
    assert tune_host_allocator()
x, w = torch.rand(1, 3, 720, 1280), torch.rand(32, 3, 3, 3)
def frames():  # what the infer thread does per frame: feature maps over a thread arena's 64 MB (118 MB)
    for _ in range(3):
        torch.nn.functional.conv2d(x, w, padding=1).relu_().sum()
threading.Thread(target=frames).start()  # warm: the first frame faults its memory in
for t in threading.enumerate()[1:]:
    t.join()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
worker = threading.Thread(target=frames)
worker.start()
worker.join()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 3)
"""


def test_host_allocator_keeps_a_worker_threads_frames_too() -> None:
    import platform
    import subprocess
    import sys

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    pages = (118 << 20) // 4096

    def faults_per_frame(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", _THREAD_FAULTS, mode], capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    # a thread's own glibc arena mmaps blocks over 64 MB whatever the threshold and unmaps them on
    # free: every frame faults its feature maps in again. On the main heap (one arena) they stay.
    assert faults_per_frame("plain") > pages / 2
    # (the best of up to three: a busy machine can add stray faults to one run, once seen in a
    # full test run; untuned, every run faults the whole 118 MB in)
    tuned = faults_per_frame("tuned")
    if tuned >= pages / 20:
        tuned = min(tuned, faults_per_frame("tuned"), faults_per_frame("tuned"))
    assert tuned < pages / 20


def test_learned_networks_run_channels_last_on_the_cpu_with_the_same_output() -> None:
    m = load_model("compact-x2-fast", 2)
    x = torch.rand(2, 3, 23, 31)
    auto = Engine(m, torch.device("cpu"))
    nchw = Engine(m, torch.device("cpu"), layout="contiguous")
    assert auto.channels_last and not nchw.channels_last
    assert next(auto.module.parameters()).is_contiguous(memory_format=torch.channels_last)
    a, b = auto(x), nchw(x)
    assert a.is_contiguous(memory_format=torch.channels_last) and b.is_contiguous()
    assert (a - b).abs().max() < 1e-5  # the same fp32 arithmetic, only the summation order may differ
    assert torch.equal(Engine(m, torch.device("cpu"), tile=16)(x), Engine(m, torch.device("cpu"), tile=16)(x))
    assert (Engine(m, torch.device("cpu"), tile=16)(x) - b).abs().max() < 1e-5  # tiles of a channels-last frame
    assert not Engine(load_model("lanczos", 2), torch.device("cpu")).channels_last  # fixed kernels as they are
    with pytest.raises(ConfigError, match="unknown layout 'nhwc'"):
        Engine(m, torch.device("cpu"), layout="nhwc")


def test_bf16_precision_where_the_cpu_has_it(monkeypatch) -> None:
    import vsr.engine.device as device_mod

    cpu = torch.device("cpu")
    monkeypatch.setattr(device_mod, "cpu_bf16_native", lambda: False)
    with pytest.raises(BackendUnavailableError, match="native bf16"):
        resolve_precision("bf16", cpu, True)
    # bf16 arithmetic itself runs on any CPU (emulated where not native): the form is tested everywhere
    monkeypatch.setattr(device_mod, "cpu_bf16_native", lambda: True)
    assert resolve_precision("bf16", cpu, True) == torch.bfloat16
    m = load_model("compact-x2-fast", 2)
    x = torch.rand(1, 3, 24, 40)
    e = Engine(m, cpu, precision="bf16")
    assert e.dtype == torch.bfloat16 and e.input_dtype == torch.float32 and e.describe().endswith("(eager, bf16)")
    y, ref = e(x), Engine(m, cpu)(x)
    assert y.dtype == e.output_dtype == torch.float32  # not rounded to bf16's 8 significant bits
    diff = (y - ref).abs()
    assert 0 < diff.max() < 3 / 255 and diff.mean() < 0.2 / 255
    assert torch.equal(Engine(m, cpu, precision="bf16", tile=16)(x), y)  # tiles keep the fp32 output
    assert weights_digest(e.module) != weights_digest(Engine(m, cpu).module)  # bf16 weights hash apart
    with pytest.raises(ConfigError, match="compact .* networks only, not ResampleUpscaler"):
        Engine(load_model("lanczos", 2), cpu, precision="bf16")


def test_native_bf16_is_read_from_the_cpu_flags() -> None:
    from vsr.engine.device import cpu_bf16_native

    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        assert not cpu_bf16_native("flags\t\t: fpu avx512f avx512_bf16")
        return
    assert cpu_bf16_native("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert cpu_bf16_native("flags\t\t: fpu avx512f amx_bf16 amx_tile\n")
    assert cpu_bf16_native("Features\t: fp asimd sve bf16 i8mm\n")  # Arm
    assert not cpu_bf16_native("flags\t\t: fpu sse avx2 avx512f avx512bw avx512_vnni\n")  # Skylake-class: emulated
    assert not cpu_bf16_native("")


def test_cpu_threads_default_to_every_usable_core() -> None:
    from vsr.engine.device import configure_threads, usable_cores

    before = torch.get_num_threads()
    try:
        assert configure_threads(torch.device("cpu"), 0) == usable_cores() == torch.get_num_threads()
        assert configure_threads(torch.device("cpu"), 1) == 1 == torch.get_num_threads()
        with pytest.raises(ConfigError, match=">= 0"):
            configure_threads(torch.device("cpu"), -1)
    finally:
        torch.set_num_threads(before)
