"""Engine speed per backend and batch: eager vs torch.compile (+CUDA graphs) vs TensorRT.

For each model, input size and batch, every backend that can run here is built (or loaded from the
engine cache), warmed up and timed on the same input in one run: frames per second, speed relative
to eager, and on a GPU the fraction of the device's dense fp16 tensor peak reached
(model FLOPs x fps / peak). Each row also records how far that backend's output lies from the eager
fp32 engine's on one seeded random input (``max_abs_diff_vs_fp32``, in [0,1] units). Build time
(and whether the build came from the disk cache) is reported separately from the timing.

    python benchmarks/bench_backends.py --models compact-x2-fast compact-x4-fast \
        --sizes 960x540 1280x720 1920x1080 --batches 1 4 --json benchmarks/results/<date>-<gpu>-backends.json
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from vsr.archs import load_model
from vsr.archs.presets import conv_macs_per_pixel
from vsr.bench.suite import result_header, write_result
from vsr.engine.backends import BACKENDS, COMPILE_MODES, compile_mode, unavailable
from vsr.engine.device import configure_threads, resolve_device, tune_host_allocator
from vsr.engine.engine import Engine
from vsr.errors import VsrError

# Dense fp16 tensor-core peaks (TFLOPS, no sparsity) from NVIDIA's data sheets.
FP16_PEAK_TFLOPS = {"H100 80GB HBM3": 989.4, "H100 SXM": 989.4, "H100 PCIe": 756.0, "H100 NVL": 835.5,
                    "H200": 989.4, "A100": 312.0, "L40S": 362.1, "RTX 4090": 165.2}


def fp16_peak(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, peak in FP16_PEAK_TFLOPS.items():
        if key in name:
            return peak
    return None


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["compact-x2-fast"])
    ap.add_argument("--scale", type=int, default=0, help="0: each model's own scale")
    ap.add_argument("--sizes", nargs="+", default=None, help="input WxH (default 540p/720p/1080p on GPU, 360p on CPU)")
    ap.add_argument("--batches", nargs="+", type=int, default=[1])
    ap.add_argument("--backends", nargs="+", default=["eager", "compile", "tensorrt"],
                    help="eager, compile, compile@MODE (a torch.compile mode; several may run side by side), tensorrt")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--iters", type=int, default=0, help="timed calls (0: ~2 s worth)")
    ap.add_argument("--peak-tflops", type=float, default=None, help="override the fp16 peak used for the fraction")
    ap.add_argument("--compile-mode", default=None, choices=COMPILE_MODES,
                    help="torch.compile mode of the compile backend (default: max-autotune on CUDA)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    configure_threads(device, 0)
    tune_host_allocator()
    sizes = args.sizes or (["960x540", "1280x720", "1920x1080"] if device.type == "cuda" else ["640x360"])
    peak = args.peak_tflops or fp16_peak(device)
    for b in args.backends:
        backend, _, mode = b.partition("@")
        if backend not in BACKENDS or backend == "auto" or (mode and (backend != "compile" or mode not in COMPILE_MODES)):
            raise SystemExit(f"unknown backend {b!r} (eager, compile, compile@MODE with MODE one of "
                             f"{', '.join(COMPILE_MODES)}, tensorrt)")
    rows: list[dict] = []
    # rewritten after every row, "complete" only at the end: a run stopped by a time limit (a cold
    # max-autotune build can take minutes) keeps every row it measured
    record = {**result_header("backends", argv, device), "fp16_peak_tflops": peak, "complete": False, "results": rows}

    def save() -> None:
        if args.json:
            write_result(args.json, record, quiet=True)

    for name in args.models:
        for size in sizes:
            w, h = (int(v) for v in size.split("x"))
            for batch in args.batches:
                eager_fps = None
                probe = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(0)).to(device)
                reference: list[torch.Tensor] = []  # eager fp32 on the probe, made when first needed
                for spec in args.backends:
                    backend, _, mode = spec.partition("@")
                    if mode:
                        os.environ["VSR_COMPILE_MODE"] = mode
                    elif args.compile_mode:
                        os.environ["VSR_COMPILE_MODE"] = args.compile_mode
                    else:
                        os.environ.pop("VSR_COMPILE_MODE", None)
                    row = {"model": name, "input": size, "batch": batch, "backend": backend}
                    if backend == "compile":
                        row["compile_mode"] = compile_mode(device)
                        spec = f"compile@{row['compile_mode']}"
                    reason = unavailable(backend, device)
                    if reason:
                        rows.append({**row, "skipped": reason})
                        print(f"{name} {size} b{batch} {spec:>8}: skipped ({reason})")
                        save()
                        continue
                    model = load_model(name, args.scale or (4 if "x4" in name else 2))
                    macs = conv_macs_per_pixel(model.module) * w * h if model.learned else 0.0
                    try:
                        engine = Engine(model, device, backend=backend, batch=batch)
                        x = torch.rand(batch, 3, h, w, device=device, dtype=engine.dtype)
                        t0 = time.perf_counter()
                        engine.warmup(h, w)
                        build_s = time.perf_counter() - t0
                        fps = _fps(engine, x, args.iters)
                        if not reference:
                            reference.append(Engine(model, device, precision="fp32")(probe).float())
                        diff = (engine(probe).float() - reference[0]).abs().max().item()
                    except (VsrError, RuntimeError) as e:
                        rows.append({**row, "failed": str(e).splitlines()[0]})
                        print(f"{name} {size} b{batch} {spec:>8}: failed ({str(e).splitlines()[0]})")
                        save()
                        continue
                    row.update({
                        "precision": str(engine.dtype).removeprefix("torch."), "fps": round(fps, 2),
                        "build_s": round(build_s, 2), "build_cached": any(b.cached for b in engine.builds),
                        "gflops_per_frame": round(2 * macs / 1e9, 1), "max_abs_diff_vs_fp32": round(diff, 5),
                    })
                    if backend == "eager":
                        eager_fps = fps
                    if eager_fps:
                        row["vs_eager"] = round(fps / eager_fps, 3)
                    if peak and macs:
                        row["fraction_of_fp16_peak"] = round(2 * macs * fps / (peak * 1e12), 4)
                    rows.append(row)
                    print(f"{name} {size} b{batch} {spec:>8}: {fps:8.2f} fps"
                          + (f"  {row['vs_eager']:.2f}x eager" if "vs_eager" in row else "")
                          + (f"  {row['fraction_of_fp16_peak'] * 100:.1f}% of fp16 peak" if "fraction_of_fp16_peak" in row else "")
                          + f"  (build {build_s:.1f} s{', cached' if row['build_cached'] else ''};"
                          f" max |out - fp32| {diff * 255:.2f}/255)")
                    save()
                del reference, probe
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    record["complete"] = True
    if args.json:
        write_result(args.json, record)
    return record


@torch.inference_mode()
def _fps(engine: Engine, x: torch.Tensor, iters: int) -> float:
    sync = (lambda: torch.cuda.synchronize(engine.device)) if engine.device.type == "cuda" else (lambda: None)
    engine(x)
    sync()
    if iters <= 0:
        t = time.perf_counter()
        engine(x)
        sync()
        iters = max(3, min(200, int(2.0 / max(time.perf_counter() - t, 1e-4))))
    t = time.perf_counter()
    for _ in range(iters):
        engine(x)
    sync()
    return iters * x.shape[0] / (time.perf_counter() - t)


if __name__ == "__main__":
    main()
