"""CuPy kernels against their torch references on the GPU: time per call and effective bandwidth.

Each op runs on one frame-sized batch; the time is the median of CUDA-event timings after warm-up.
Bandwidth counts the bytes an op must move at least (inputs read once, outputs written once) and is
set against the device's memory bandwidth: the theoretical figure from its properties and a measured
device-to-device copy. Needs a CUDA GPU and CuPy; elsewhere it says so in one line and exits 2.

    python benchmarks/bench_kernels.py --size 1920x1080 --json benchmarks/results/kernels.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Callable

import torch

from vsr.bench.suite import result_header, write_result
from vsr.ops import kernels
from vsr.ops.colorconv import YuvSpec, rgb_to_yuv, yuv_to_rgb
from vsr.ops.highfreq import haar_dwt, highpass


def _time_ms(fn: Callable[[], object], iters: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _peak_gbs(device: torch.device) -> float | None:
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(device.index or 0)
    clock_khz, bus_bits = props.get("memoryClockRate"), props.get("memoryBusWidth")
    if not clock_khz or not bus_bits:
        return None
    return 2 * clock_khz * 1e3 * bus_bits / 8 / 1e9  # double data rate


def main(argv: list[str] | None = None) -> dict | None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1920x1080", help="WxH of the frames")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench_kernels: needs a CUDA GPU (none here; torch sees no CUDA device) - nothing measured")
        sys.exit(2)
    if not kernels.cupy_available():
        print("bench_kernels: needs CuPy (pip install 'vsr[cuda]') - nothing measured")
        sys.exit(2)
    w, h = (int(v) for v in args.size.lower().split("x"))
    n = args.batch
    dev = torch.device("cuda", torch.cuda.current_device())
    torch.manual_seed(0)
    big = torch.empty(256 << 20, dtype=torch.uint8, device=dev)
    copy_ms = _time_ms(lambda: big.clone(), 20)
    copy_gbs = 2 * big.numel() / copy_ms / 1e6
    del big
    peak = _peak_gbs(dev)

    cases: list[tuple[str, Callable[[str], object], int]] = []
    for dtype, tag in ((torch.float16, "f16"), (torch.float32, "f32")):
        x = torch.rand(n, 3, h, w, device=dev).to(dtype)
        size = x.numel() * x.element_size()
        cases.append((f"haar_dwt {tag}", lambda b, x=x: haar_dwt(x, b), 2 * size))
        # highpass: the kernel reads x twice (rows, cols) and keeps an f32 intermediate
        cases.append((f"highpass s=1 {tag}", lambda b, x=x: highpass(x, 1.0, b), 2 * size))
    for bits in (8, 10):
        spec = YuvSpec("bt709", False, bits)
        rgb = torch.rand(n, 3, h, w, device=dev, dtype=torch.float16)
        y, u, v = rgb_to_yuv(rgb, spec, backend="torch")
        code = y.element_size()
        planes_bytes = (y.numel() + u.numel() + v.numel()) * code
        rgb_bytes = rgb.numel() * 2
        cases.append((f"yuv_to_rgb {bits}bit->f16", lambda b, p=(y, u, v), s=spec: yuv_to_rgb(*p, s, torch.float16, b),
                      planes_bytes + rgb_bytes))
        cases.append((f"rgb_to_yuv f16->{bits}bit", lambda b, r=rgb, s=spec: rgb_to_yuv(r, s, b), planes_bytes + rgb_bytes))

    results = []
    print(f"{torch.cuda.get_device_name(dev)}: {w}x{h} x{n}; memory bandwidth "
          f"{'%.0f' % peak if peak else '?'} GB/s theoretical, {copy_gbs:.0f} GB/s measured copy")
    print(f"{'op':<24}{'kernel ms':>10}{'GB/s':>8}{'% copy':>8}{'torch ms':>10}{'speed-up':>10}")
    for name, fn, nbytes in cases:
        k_ms = _time_ms(lambda: fn("cuda"), args.iters)
        t_ms = _time_ms(lambda: fn("torch"), args.iters)
        gbs = nbytes / k_ms / 1e6
        row = {"op": name, "bytes": nbytes, "kernel_ms": round(k_ms, 4), "kernel_gbs": round(gbs, 1),
               "of_copy_bandwidth": round(gbs / copy_gbs, 3), "torch_ms": round(t_ms, 4),
               "speedup": round(t_ms / k_ms, 2)}
        if peak:
            row["of_peak_bandwidth"] = round(gbs / peak, 3)
        results.append(row)
        print(f"{name:<24}{k_ms:>10.3f}{gbs:>8.0f}{100 * gbs / copy_gbs:>7.0f}%{t_ms:>10.3f}{t_ms / k_ms:>9.2f}x")
    record = {**result_header("kernels", argv, dev), "width": w, "height": h, "batch": n,
              "peak_gbs": round(peak, 1) if peak else None, "copy_gbs": round(copy_gbs, 1), "results": results}
    if args.json:
        write_result(args.json, record)
    return record


if __name__ == "__main__":
    main()
