"""vsr against the way other upscalers run, side by side in one run, on the same clip and machine.

Contenders, each a whole process from start to a closed output file (so each pays its own start-up,
model load and warm-up), on the same frames, the same scale and the same x264 settings:

- ``realesrgan_method``: the method of Real-ESRGAN's ``inference_realesrgan_video.py``: an FFmpeg
  process decodes to raw BGR on a pipe, each frame goes through ``RealESRGANer.enhance`` (to float
  /255, BGR -> RGB, a CHW tensor on the device, fp16 on CUDA as its default ``--fp32``-less run,
  the network, clamp, back to the host, x255, round, RGB -> BGR) one frame at a time, and a second
  FFmpeg process encodes raw BGR from a pipe. The network has the architecture of its video model,
  ``realesr-animevideov3`` (SRVGGNetCompact, 64 channels, 16 convs, PReLU, x4; 0.62M parameters).
- ``vsr_same_network``: ``vsr upscale -m that.pth``, the same network through vsr's pipeline.
- ``vsr_default``: ``vsr upscale`` with vsr's default model for the scale.

Real-ESRGAN's trained weights cannot be downloaded here, and its package does not import beside
this torch (basicsr needs a matching torchvision). Its network is therefore our default model grown
to that architecture with the same function (:meth:`RepSR.load_plain`, as for distillation
teachers: our weights in the first channels and convs, identities in the extra convs, the extra
channels random but cut off from the output): a dense network costs the same whatever its weights, and every
contender then makes the same pictures, so the encoders get the same work and the outputs can be
checked against each other (``psnr_y_vs_realesrgan_method``). This measures speed at that
network's cost; it says nothing about Real-ESRGAN's picture quality, which needs its weights.

With ``--onnxruntime``, the engine alone is also timed under ONNX Runtime's CPU provider (vs-mlrt's
``vsort`` backend) and under vsr's torch engine, on the same pre-decoded frames and network.
Video2X (C++, ncnn over Vulkan) and vs-mlrt itself (a VapourSynth plugin; TensorRT on NVIDIA) are
not installable on these machines and are not measured.

FFmpeg's command line tool is used for the pipes where it is on PATH; otherwise (the GPU machine's
image) two helper processes of this script do the same with PyAV's FFmpeg libraries.

    python benchmarks/bench_competitors.py --clip bench:360p --frames 32 --repeat 2 --json out.json
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from vsr.archs import load_model
from vsr.archs.files import load_weights_file
from vsr.archs.plain import PlainSR
from vsr.archs.presets import deploy_cost
from vsr.archs.rep import RepSR
from vsr.bench.clips import bench_clip, is_bench_clip
from vsr.bench.suite import result_header, write_result
from vsr.metrics import fidelity
from vsr.engine import Engine
from vsr.engine.device import resolve_device, tune_host_allocator
from vsr.io.samples import is_sample, resolve_sample

# realesr-animevideov3: SRVGGNetCompact(num_feat=64, num_conv=16, act_type='prelu', upscale=4)
COMPETITOR_CHANNELS, COMPETITOR_CONVS = 64, 16


# -- the pipes: ffmpeg, or the same with PyAV in helper processes ----------------------------------


def decoder_command(clip: str, frames: int, use_ffmpeg: bool) -> list[str]:
    if use_ffmpeg:
        return ["ffmpeg", "-loglevel", "error", "-nostdin", "-i", clip, "-map", "0:v:0", "-frames:v", str(frames),
                "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
    return [sys.executable, __file__, "--pipe-decode", clip, "--frames", str(frames)]


def encoder_command(out: Path, width: int, height: int, rate: Fraction, crf: int, preset: str,
                    use_ffmpeg: bool) -> list[str]:
    if use_ffmpeg:
        return ["ffmpeg", "-loglevel", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
                "-s", f"{width}x{height}", "-framerate", str(rate), "-i", "pipe:0", "-pix_fmt", "yuv420p",
                "-c:v", "libx264", "-crf", str(crf), "-preset", preset, str(out)]
    return [sys.executable, __file__, "--pipe-encode", str(out), "--size", f"{width}x{height}",
            "--rate", str(rate), "--crf", str(crf), "--preset", preset]


def pipe_decode(clip: str, frames: int) -> None:
    """Helper process: the first ``frames`` video frames of ``clip`` as raw bgr24 on stdout."""
    out = sys.stdout.buffer
    with av.open(clip) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i >= frames:
                break
            out.write(frame.to_ndarray(format="bgr24").tobytes())
    out.flush()


def pipe_encode(path: str, size: str, rate: str, crf: int, preset: str) -> None:
    """Helper process: raw bgr24 frames from stdin encoded with libx264 (yuv420p) into ``path``."""
    width, height = map(int, size.split("x"))
    n = width * height * 3
    src = sys.stdin.buffer
    with av.open(path, "w") as c:
        s = c.add_stream("libx264", rate=Fraction(rate), options={"crf": str(crf), "preset": preset})
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        i = 0
        while len(data := src.read(n)) == n:
            frame = av.VideoFrame.from_ndarray(np.frombuffer(data, np.uint8).reshape(height, width, 3), "bgr24")
            frame.pts = i
            i += 1
            c.mux(s.encode(frame))
        c.mux(s.encode())


# -- the Real-ESRGAN video script's method ----------------------------------------------------------


def enhance(model: torch.nn.Module, bgr: np.ndarray, dev: torch.device, half: bool) -> np.ndarray:
    """One frame as ``RealESRGANer.enhance`` treats it (no tiles, no pre-padding, outscale = scale):
    ``(H,W,3)`` uint8 BGR in, ``(sH,sW,3)`` uint8 BGR out."""
    img = bgr.astype(np.float32) / 255.0
    img = img[:, :, ::-1]  # BGR -> RGB
    x = torch.from_numpy(np.transpose(img, (2, 0, 1)).copy()).float().unsqueeze(0).to(dev)
    if half:
        x = x.half()
    with torch.no_grad():
        y = model(x)
    y = y.data.squeeze(0).float().cpu().clamp_(0, 1).numpy()
    y = np.transpose(y[[2, 1, 0], :, :], (1, 2, 0))  # RGB -> BGR, HWC
    return (y * 255.0).round().astype(np.uint8)


def realesrgan_method(clip: str, weights: Path, frames: int, out: Path, crf: int, preset: str, device: str,
                      use_ffmpeg: bool) -> None:
    """One process's work: decode pipe -> enhance each frame -> encode pipe."""
    dev = resolve_device(device)
    half = dev.type == "cuda"  # the script runs fp16 unless --fp32
    loaded = load_weights_file(weights)  # an SRVGGNetCompact state dict, rebuilt as the same PlainSR
    scale, model = loaded.scale, loaded.module.eval().to(dev)
    if half:
        model = model.half()
    with av.open(clip) as c:
        v = c.streams.video[0]
        width, height, rate = v.codec_context.width, v.codec_context.height, v.average_rate or Fraction(25)
    dec = subprocess.Popen(decoder_command(clip, frames, use_ffmpeg), stdout=subprocess.PIPE)
    enc = subprocess.Popen(encoder_command(out, width * scale, height * scale, rate, crf, preset, use_ffmpeg),
                           stdin=subprocess.PIPE)
    assert dec.stdout is not None and enc.stdin is not None
    n = width * height * 3
    while len(data := dec.stdout.read(n)) == n:
        bgr = np.frombuffer(data, np.uint8).reshape(height, width, 3)
        enc.stdin.write(enhance(model, bgr, dev, half).tobytes())
    enc.stdin.close()
    if dec.wait() != 0 or enc.wait() != 0:
        raise SystemExit(f"pipe failed: decoder {dec.returncode}, encoder {enc.returncode}")


def competitor_network(ours: PlainSR) -> PlainSR:
    """``realesr-animevideov3``'s architecture computing our network's function (same pictures)."""
    torch.manual_seed(0)  # the extra channels' random weights: the same network every run
    grown = RepSR(ours.scale, COMPETITOR_CHANNELS, COMPETITOR_CONVS)
    grown.load_plain(ours.float().eval())
    return grown.reparameterize().eval()


# -- measuring ---------------------------------------------------------------------------------------


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return seconds


def decode_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def psnr_y(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Mean over frames of the PSNR-Y between two decoded outputs (capped at 100 dB per frame)."""
    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x).permute(2, 0, 1)[None].double() / 255

    return float(np.mean([min(fidelity.psnr_y(tensor(x), tensor(y)).item(), 100.0) for x, y in zip(a, b)]))


def engine_fps(run, frames: list[np.ndarray], repeats: int = 2) -> float:
    run(frames[0])  # warm-up (and, for ORT, its first-run allocations)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for f in frames:
            run(f)
        best = min(best, time.perf_counter() - start)
    return len(frames) / best


def onnxruntime_engines(network: PlainSR, clip: str, frames: int, device: torch.device, tmp: Path) -> dict:
    """Engine alone, same network and frames: ONNX Runtime (CPU provider) against vsr's torch engine."""
    try:
        import onnxruntime as ort
    except ImportError:
        return {"skipped": "onnxruntime is not installed (pip install onnxruntime onnx)"}
    path = tmp / "net.onnx"
    x = torch.rand(1, 3, 64, 64)
    try:
        with warnings.catch_warnings():  # the legacy exporter warns that it is legacy; it is what works here
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(network, (x,), str(path), dynamo=False, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {2: "h", 3: "w"}, "y": {2: "H", 3: "W"}}, opset_version=17)
    except Exception as e:  # noqa: BLE001 - a missing exporter dependency is reported, not raised
        return {"skipped": f"ONNX export failed: {type(e).__name__}: {e}"}
    with av.open(clip) as c:
        pics = []
        for i, f in enumerate(c.decode(video=0)):
            if i >= frames:
                break
            pics.append(np.ascontiguousarray(f.to_ndarray(format="rgb24").transpose(2, 0, 1)[None], np.float32) / 255)
    tune_host_allocator()  # as vsr runs its engine (both engines run under it)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ort_fps = engine_fps(lambda a: session.run(None, {"x": a}), pics)
    from vsr.archs import SRModel

    same = SRModel(name="same-network", arch="plain", scale=network.scale, module=network, learned=True,
                   context=network.receptive_radius)
    engine = Engine(same, torch.device("cpu"), precision="fp32")
    torch_fps = engine_fps(lambda a: engine(torch.from_numpy(a)), pics)
    return {"frames": len(pics), "onnxruntime_cpu_fps": ort_fps, "vsr_torch_cpu_fps": torch_fps,
            "vsr_over_onnxruntime": torch_fps / ort_fps, "onnxruntime": ort.__version__,
            "note": "CPU only: vs-mlrt's CUDA backend is TensorRT, not measured here"
            + ("" if device.type == "cpu" else " (this run's contenders used CUDA)")}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="bench:360p", help="video file, sample:NAME or bench:SIZE")
    ap.add_argument("--scale", type=int, default=4, choices=(2, 4))
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--crf", type=int, default=18)
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--repeat", type=int, default=2, help="rounds of all contenders, interleaved; best kept")
    ap.add_argument("--pipes", choices=("auto", "ffmpeg", "pyav"), default="auto",
                    help="the Real-ESRGAN method's decode/encode processes (auto: ffmpeg where on PATH)")
    ap.add_argument("--onnxruntime", action="store_true", help="also time the engine under ONNX Runtime (CPU)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--pipe-decode", help=argparse.SUPPRESS)
    ap.add_argument("--pipe-encode", help=argparse.SUPPRESS)
    ap.add_argument("--size", help=argparse.SUPPRESS)
    ap.add_argument("--rate", help=argparse.SUPPRESS)
    ap.add_argument("--realesrgan-run", nargs=2, metavar=("WEIGHTS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    use_ffmpeg = args.pipes == "ffmpeg" or (args.pipes == "auto" and shutil.which("ffmpeg") is not None)
    if args.pipe_decode:
        pipe_decode(args.pipe_decode, args.frames)
        return {}
    if args.pipe_encode:
        pipe_encode(args.pipe_encode, args.size, args.rate, args.crf, args.preset)
        return {}
    clip = args.clip
    if is_bench_clip(clip):
        clip = str(bench_clip(clip, args.frames).path)
    elif is_sample(clip):
        clip = str(resolve_sample(clip))
    if args.realesrgan_run:
        realesrgan_method(clip, Path(args.realesrgan_run[0]), args.frames, Path(args.realesrgan_run[1]),
                          args.crf, args.preset, args.device, use_ffmpeg)
        return {}

    device = resolve_device(args.device)
    ours = load_model("auto", args.scale)
    network = competitor_network(ours.module)
    with av.open(clip) as c:
        cc = c.streams.video[0].codec_context
        width, height = cc.width, cc.height
    common = ["--crf", str(args.crf), "--preset", args.preset, "--codec", "libx264", "--frames", str(args.frames),
              "--device", args.device, "-q", "-y"]
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        weights = tmp / "realesr-animevideov3-shaped.pth"
        torch.save(network.state_dict(), weights)  # SRVGGNetCompact's layout: vsr reads it as a foreign file
        outs = {name: tmp / f"{name}.mp4" for name in ("realesrgan_method", "vsr_same_network", "vsr_default")}
        commands = {
            "realesrgan_method": [sys.executable, __file__, "--clip", clip, "--frames", str(args.frames),
                                  "--device", args.device, "--crf", str(args.crf), "--preset", args.preset,
                                  "--pipes", "ffmpeg" if use_ffmpeg else "pyav",
                                  "--realesrgan-run", str(weights), str(outs["realesrgan_method"])],
            "vsr_same_network": [sys.executable, "-m", "vsr", "upscale", clip, "-o", str(outs["vsr_same_network"]),
                                 "-m", str(weights), "-s", str(args.scale), *common],
            "vsr_default": [sys.executable, "-m", "vsr", "upscale", clip, "-o", str(outs["vsr_default"]),
                            "-m", ours.name, "-s", str(args.scale), *common],
        }
        runs: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(args.repeat):  # interleaved, so slow drift of the machine hits all alike
            for name, cmd in commands.items():
                runs[name].append(timed(cmd))
                print(f"round {round_ + 1}: {name} {runs[name][-1]:.1f} s", flush=True)
        pictures = {name: decode_rgb(path) for name, path in outs.items()}
        reference = pictures["realesrgan_method"]
        for name in commands:
            best = min(runs[name])
            results[name] = {
                "seconds": best, "fps": len(pictures[name]) / best, "runs_s": runs[name],
                "frames_out": len(pictures[name]), "size": f"{pictures[name][0].shape[1]}x{pictures[name][0].shape[0]}",
                "psnr_y_vs_realesrgan_method": None if name == "realesrgan_method" else psnr_y(pictures[name], reference),
            }
        del pictures, reference
        if args.onnxruntime:
            results["engine_alone"] = onnxruntime_engines(network, clip, args.frames, device, tmp)
    base = results["realesrgan_method"]["fps"]
    ratios = {f"{name}_over_realesrgan_method": results[name]["fps"] / base for name in ("vsr_same_network", "vsr_default")}
    networks = {}
    for label, module in (("realesr-animevideov3 shape", network), (ours.name, ours.module)):
        params, gflops = deploy_cost(module, width, height)
        networks[label] = {"params": params, "gflops_per_frame": round(gflops, 2)}
    record = {
        **result_header("competitors", argv, device),
        "clip": f"{Path(clip).name} {width}x{height}", "frames": args.frames, "scale": args.scale,
        "encoder": f"libx264 crf {args.crf} preset {args.preset}, yuv420p",
        "pipes": "ffmpeg CLI" if use_ffmpeg else "PyAV helper processes",
        "networks": networks, "results": results, "ratios": ratios,
        "not_measured": "Video2X (ncnn/Vulkan) and vs-mlrt (VapourSynth; TensorRT): not installable here; "
                        "Real-ESRGAN's own weights (picture quality): not downloadable here",
    }
    print(f"\n{record['clip']} x{args.scale}, {args.frames} frames, {record['device']}, {record['encoder']}")
    for label, n in networks.items():
        print(f"  network {label}: {n['params']:,} params, {n['gflops_per_frame']} GFLOPs per frame")
    print(f"{'contender':<20}{'fps':>8}{'seconds':>9}{'frames':>8}{'vs Real-ESRGAN method':>23}{'PSNR-Y vs it':>14}")
    for name in commands:
        r = results[name]
        ratio = r["fps"] / base
        same = "" if r["psnr_y_vs_realesrgan_method"] is None else f"{r['psnr_y_vs_realesrgan_method']:.1f} dB"
        print(f"{name:<20}{r['fps']:>8.2f}{r['seconds']:>9.1f}{r['frames_out']:>8}{ratio:>22.2f}x{same:>14}")
    e = results.get("engine_alone")
    if e and "skipped" not in e:
        print(f"engine alone, same network: vsr torch {e['vsr_torch_cpu_fps']:.2f} fps, ONNX Runtime CPU "
              f"{e['onnxruntime_cpu_fps']:.2f} fps ({e['vsr_over_onnxruntime']:.2f}x)")
    elif e:
        print(f"engine alone: {e['skipped']}")
    if args.json:
        write_result(args.json, record)
    return record


if __name__ == "__main__":
    main()
