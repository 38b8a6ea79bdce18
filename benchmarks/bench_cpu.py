"""CPU engine settings side by side: threads, memory layout, precision, on the engine and end to end.

In one run, on the same clip, model and frames, each variant is measured twice: the engine alone on
pre-decoded frames (warmed up, best of 2 passes) and ``vsr upscale`` itself (an :class:`UpscaleJob`
writing H.264), the pipeline runs interleaved across ``--repeat`` rounds so that slow drift of a
shared machine hits every variant alike (the best round is kept). Variants:

- ``before``: 1 torch thread, NCHW, fp32 (the defaults until 2026-12-02: half of 2 cores);
- ``threads``: every usable core, NCHW, fp32;
- ``default``: every usable core, channels-last, fp32 (today's defaults);
- ``bf16``: as ``default`` with ``--precision bf16`` (skipped where the CPU has no native bf16);
- ``compile``, ``compile-bf16`` (with ``--compile``): the ``compile`` backend (torch.compile,
  Inductor C++), build time reported apart and excluded from the fps.

For every variant its output on the first frames is compared with ``default``'s (fp32): the largest
difference in 1/255 and the share of 8-bit output values that differ. Ratios are against
``before`` and ``default``.

    python benchmarks/bench_cpu.py --clip sample:bikes --frames 60 --repeat 2 \
        --json benchmarks/results/<date>-cpu-settings.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from vsr.bench import measure
from vsr.bench.suite import result_header, write_result
from vsr.config import PipelineConfig, load
from vsr.engine.device import cpu_bf16_native, usable_cores
from vsr.io.media import MediaInput
from vsr.io.samples import is_sample, resolve_sample
from vsr.pipeline.upscale import UpscaleJob, build_engine


@dataclass(frozen=True)
class Variant:
    name: str
    threads: int  # 0: every usable core
    layout: str
    precision: str
    backend: str = "eager"

    def overrides(self) -> list[str]:
        return [f"runtime.torch_threads={self.threads}", f'model.layout="{self.layout}"',
                f'model.precision="{self.precision}"', f'model.backend="{self.backend}"']


VARIANTS = [
    Variant("before", 1, "contiguous", "fp32"),
    Variant("threads", 0, "contiguous", "fp32"),
    Variant("default", 0, "auto", "auto"),
    Variant("bf16", 0, "auto", "bf16"),
]
COMPILED = [Variant("compile", 0, "auto", "auto", "compile"), Variant("compile-bf16", 0, "auto", "bf16", "compile")]


def _levels(t: torch.Tensor) -> torch.Tensor:
    return (t.float().clamp(0, 1) * 255).round()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="sample:bikes", help="video file or sample:NAME")
    ap.add_argument("--model", default="auto")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--engine-frames", type=int, default=12, help="pre-decoded frames for the engine-alone runs")
    ap.add_argument("--preset", default="medium", help="x264 preset of the pipeline runs")
    ap.add_argument("--repeat", type=int, default=2, help="interleaved pipeline rounds; best kept")
    ap.add_argument("--compile", action="store_true", help="also the compile backend (fp32 and bf16)")
    ap.add_argument("--only", nargs="+", default=None, help="variant names to run (default: all)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    clip = str(resolve_sample(args.clip)) if is_sample(args.clip) else args.clip
    variants = VARIANTS + (COMPILED if args.compile else [])
    if args.only:
        unknown = set(args.only) - {v.name for v in variants}
        if unknown:
            raise SystemExit(f"unknown variant(s) {', '.join(sorted(unknown))} (valid: {', '.join(v.name for v in variants)})")
        variants = [v for v in variants if v.name in args.only]
    native_bf16 = cpu_bf16_native()
    base = [f'model.name="{args.model}"', f"model.scale={args.scale}", 'runtime.device="cpu"',
            f'encode.preset="{args.preset}"', 'encode.codec="libx264"']
    configs: dict[str, PipelineConfig] = {}
    results: dict[str, dict] = {}
    for v in variants:
        if v.precision == "bf16" and not native_bf16:
            results[v.name] = {"skipped": "no native bf16 on this CPU"}
            continue
        configs[v.name] = load(PipelineConfig, None, base + v.overrides())

    # engine alone, and the output of every variant on the same frames
    outputs: dict[str, list[torch.Tensor]] = {}
    rgb: list[torch.Tensor] = []
    for name, config in configs.items():
        t0 = time.perf_counter()
        model, engine = build_engine(config)
        if not rgb:
            rgb = measure.preload(clip, args.engine_frames, engine)
        engine.warmup(*rgb[0].shape[-2:])
        build_s = time.perf_counter() - t0
        alone = measure.engine_alone(engine, rgb, 1)
        outputs[name] = [engine(f[None]) for f in rgb[:3]]
        results[name] = {"threads": torch.get_num_threads(), "layout": "channels_last" if engine.channels_last else "nchw",
                         "precision": str(engine.dtype).removeprefix("torch."), "backend": engine.backend,
                         "engine_alone": alone, "build_s": round(build_s, 2)}
        print(f"{name:<13} engine alone {alone['fps']:7.2f} fps  (threads {results[name]['threads']}, "
              f"{results[name]['layout']}, {results[name]['precision']}, {engine.backend}; build {build_s:.1f} s)")
        del engine
    ref = outputs.get("default")
    if ref is not None:
        for name, outs in outputs.items():
            diff = max((o.float() - r.float()).abs().max().item() for o, r in zip(outs, ref)) * 255
            changed = sum(int((_levels(o) != _levels(r)).sum()) for o, r in zip(outs, ref))
            total = sum(r.numel() for r in ref)
            results[name]["vs_default_output"] = {"max_abs_diff_255": round(diff, 4),
                                                  "fraction_levels_changed": round(changed / total, 5)}
    del outputs, rgb

    # end to end, interleaved rounds
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for name, config in configs.items():
                job = UpscaleJob(clip, Path(tmp) / f"{name}{i}.mp4", config, overwrite=True, max_frames=args.frames)
                r = job.run()
                row = {**measure.timing(r.frames, r.seconds), **(measure.stage_report(r.stats) if r.stats else {})}
                if row["fps"] > results[name].get("pipeline", {}).get("fps", 0):
                    results[name]["pipeline"] = row
                print(f"round {i + 1} {name:<13} vsr upscale {row['fps']:7.2f} fps")

    for name in configs:
        for against in ("before", "default"):
            if against in configs and against != name:
                for what in ("engine_alone", "pipeline"):
                    results[name].setdefault("ratios", {})[f"{what}_over_{against}"] = round(
                        results[name][what]["fps"] / results[against][what]["fps"], 3)
    with MediaInput(clip) as media:
        clip_desc = f"{Path(clip).name} {media.info.width}x{media.info.height}"
    record = {**result_header("cpu-settings", argv, torch.device("cpu")), "clip": clip_desc,
              "model": f"{model.name} x{args.scale}", "usable_cores": usable_cores(), "native_bf16": native_bf16,
              "frames": args.frames, "engine_frames": args.engine_frames, "encoder": f"libx264 preset {args.preset}",
              "results": results}
    print(f"\n{clip_desc}, {model.name} x{args.scale}, {args.frames} frames, {usable_cores()} cores, native bf16: {native_bf16}")
    print(f"{'variant':<13}{'engine fps':>11}{'e2e fps':>9}{'e2e/before':>11}{'e2e/default':>12}{'max diff/255':>13}{'levels chg':>11}")
    for name, r in results.items():
        if "skipped" in r:
            print(f"{name:<13} skipped: {r['skipped']}")
            continue
        ratios, out = r.get("ratios", {}), r.get("vs_default_output", {})
        print(f"{name:<13}{r['engine_alone']['fps']:>11.2f}{r['pipeline']['fps']:>9.2f}"
              f"{ratios.get('pipeline_over_before', 1.0 if name == 'before' else float('nan')):>11.2f}"
              f"{ratios.get('pipeline_over_default', 1.0 if name == 'default' else float('nan')):>12.2f}"
              f"{out.get('max_abs_diff_255', float('nan')):>13.3f}{out.get('fraction_levels_changed', float('nan')):>11.4f}")
    if args.json:
        write_result(args.json, record)
    return record


if __name__ == "__main__":
    main()
