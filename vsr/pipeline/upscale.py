"""Upscaling a file: the job behind ``vsr upscale``.

A job resolves the model, device and engine once, opens the input, writes the output atomically,
runs decode -> upload -> infer -> download -> encode (+ the monitor tap) on a :class:`Runner`, and
reports frames, time and warnings. Still images take a short path through the same engine.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from fractions import Fraction
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from vsr.archs import SRModel, load_model, supported_scales
from vsr.config import ModelConfig, PipelineConfig
from vsr.engine.device import configure_threads, describe_device, resolve_device, tune_host_allocator
from vsr.engine.engine import Engine
from vsr.errors import (ConfigError, EncoderError, InputNotFoundError, Interrupted, InvalidInputError,
                        OutputError)
from vsr.io.atomic import AtomicOutput, AtomicSequence
from vsr.io.geometry import model_scale_for, output_size, quarter_turned
from vsr.io.image import (IMAGE_SUFFIXES, READ_ONLY, is_animated_webp, is_image_path, is_sequence_pattern,
                          read_only_reason, read_picture, undecodable, write_image, written_name)
from vsr.io.media import ANIMATION_FORMATS, EncodeOptions, MediaInput, MediaOutput, is_url
from vsr.io.samples import is_sample, resolve_sample
from vsr.io.span import Span
from vsr.ops.resize import resize_to
from vsr.pipeline.monitor import MonitorOptions, MonitorStage
from vsr.pipeline.runner import Runner, RunStats
from vsr.pipeline.stages import (
    DecodeStage,
    DownloadStage,
    EncodeStage,
    Frame,
    InferStage,
    UploadStage,
)

log = logging.getLogger("vsr.pipeline")


@dataclass
class UpscaleResult:
    input: str
    output: str
    frames: int
    seconds: float
    width: int
    height: int
    out_width: int
    out_height: int
    model: str
    device: str
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)
    stats: RunStats | None = None
    latency_p50_ms: float | None = None
    monitor: dict | None = None  # MonitorStage.summary() when the monitor scored frames
    images: bool = False  # a folder of still images, each at its own size (width... are the first's)
    videos: int = 0  # a folder of videos: how many were upscaled (frames: all of theirs)
    rest_from: Fraction | None = None  # interrupted: the --start (seconds into the input) of the frames not written

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def is_folder(output_path: str) -> bool:
    """An output that names a folder: an existing one, or a name ending in ``/``."""
    return Path(output_path).is_dir() or output_path.endswith(("/", os.sep))


def is_folder_job(input_path: str, output_path: str) -> bool:
    """A folder into a folder (an existing one, or a name ending in ``/``): a batch of still images,
    each on its own (:meth:`UpscaleJob._run_folder`), not the frames of one video; or, in a folder
    without images, a batch of videos."""
    return Path(input_path).is_dir() and is_folder(output_path)


# what a folder's videos are known by (a batch upscales each into a file of the same name)
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm", ".ts", ".m2ts", ".mts", ".mpg", ".mpeg",
                  ".vob", ".flv", ".wmv", ".asf", ".3gp", ".ogv", ".mxf", ".nut", ".y4m", ".gif")


# outputs FFmpeg writes as a playlist beside segment files (vsr stream writes them live)
MANY_FILE_OUTPUTS = {".m3u8": "HLS (.m3u8)", ".mpd": "DASH (.mpd)"}


def folder_contents(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """A folder's still images and videos, each list in name order."""
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))
    return ([p for p in files if is_image_path(p)],
            [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES])


def build_engine(config: PipelineConfig) -> tuple[SRModel, Engine]:
    """Model + device + engine, decided once and logged."""
    mc = config.model
    if mc.batch < 1:
        raise ConfigError(f"batch must be >= 1, got {mc.batch}")
    model = load_model(mc.name, mc.scale, detail=None if mc.detail == -1.0 else mc.detail)
    device = resolve_device(config.runtime.device)
    configure_threads(device, config.runtime.torch_threads)
    tune_host_allocator()
    engine = Engine(
        model, device, precision=mc.precision, backend=mc.backend, tile=mc.tile,
        tile_overlap=mc.tile_overlap, batch=mc.batch, layout=mc.layout,
    )
    log.info("device %s; model %s", describe_device(device), engine.describe())
    return model, engine


def auto_x3(config: PipelineConfig) -> PipelineConfig:
    """``-s 3`` with the default model: the x4 network, its output shrunk to 3x (as Real-ESRGAN's
    ``-s 3`` does), which beats Lanczos x3 on every eval set (see the README); no shipped network
    is x3. An explicit model, size or outscale is left as it is."""
    mc, ec = config.model, config.encode
    if mc.scale == 3 and mc.name in ("", "auto") and not (ec.size or ec.outscale):
        return replace(config, model=replace(mc, scale=4), encode=replace(ec, outscale=3.0))
    return config


# Decoders of the lossy, block-transform video codecs whose artefacts `compact-x2-fast-video` was
# fine-tuned on (H.264 and its kin; AV1 and VP8/9 by their decoders' names too).
LOSSY_VIDEO_DECODERS = frozenset({
    "h264", "hevc", "vvc", "av1", "libdav1d", "libaom-av1", "vp8", "vp9", "libvpx", "libvpx-vp9",
    "mpeg1video", "mpeg2video", "mpeg4", "msmpeg4v2", "msmpeg4v3", "h263", "h263p", "flv1", "theora",
    "vc1", "wmv1", "wmv2", "wmv3", "rv30", "rv40",
})


# The highest JPEG quality (libjpeg's scale, :func:`vsr.io.image.jpeg_quality`) at which the default
# model follows a JPEG source (JPEG_DEFAULTS). At x2 `compact-x2-fast-jpeg`, at q 60, 75 and 85
# level with `compact-x2-fast` or ahead in PSNR-Y, with 20-35% less ST-LPIPS; at x4 the JPEG
# fine-tune mixed halfway with the fidelity model, against the x4 default on q-75 and q-85 LR
# -0.08 to +0.11 dB with 4-9% less ST-LPIPS. At q 90 both fall behind in PSNR-Y, and on clean LR
# well behind (README, *JPEG photos*).
JPEG_MODEL_UP_TO = 85
JPEG_DEFAULTS = {2: "compact-x2-fast-jpeg", 4: "compact-x4-fast-jpeg@0.5"}


def for_source(config: PipelineConfig, decoder: str = "", jpeg_quality: int | None = None) -> PipelineConfig:
    """The default model for the input's compression. At x2, ``compact-x2-fast-video`` for a lossy
    video (``decoder`` in :data:`LOSSY_VIDEO_DECODERS`): on H.264 LR at crf 18, 23 and 28 it beats the
    fidelity model in PSNR-Y and ST-LPIPS (README, *The x2 default follows the source*). At x2 and x4
    (and x3, the x4 network shrunk), :data:`JPEG_DEFAULTS` for JPEG stills, JPEG sequences and MJPEG
    video up to :data:`JPEG_MODEL_UP_TO` (their ``jpeg_quality``, the first frame's). Other stills
    and frames, lossless video and JPEGs near lossless keep the default; a model or ``--detail``
    asked for is kept. ``vsr upscale`` and ``vsr stream`` apply it once the source is open."""
    mc = config.model
    if mc.name not in ("", "auto") or mc.detail != -1.0:
        return config
    if mc.scale == 2 and decoder in LOSSY_VIDEO_DECODERS:
        log.info("model auto: compact-x2-fast-video, for the %s input's compression", decoder)
        return replace(config, model=replace(mc, name="compact-x2-fast-video"))
    if mc.scale in JPEG_DEFAULTS and jpeg_quality is not None and jpeg_quality <= JPEG_MODEL_UP_TO:
        name = JPEG_DEFAULTS[mc.scale]
        log.info("model auto: %s, for the input's JPEG compression (quality %d)", name, jpeg_quality)
        return replace(config, model=replace(mc, name=name))
    return config


def plan_output(config: PipelineConfig, width: int, height: int,
                rotation: float = 0.0) -> tuple[PipelineConfig, tuple[int, int]]:
    """The output size for a ``width x height`` input shown ``rotation`` degrees round, and the
    config with the model's scale settled: ``model.scale = 0`` takes the smallest the model has
    that reaches ``encode.size`` or ``encode.outscale`` (x2 up to 2x, else x4; a fixed-scale
    model's own), x2 without either; ``-s 3`` with the default model is :func:`auto_x3`."""
    turned = quarter_turned(rotation)
    config = auto_x3(config)
    ec, mc = config.encode, config.model
    scale = mc.scale
    if scale == 0:
        scales = supported_scales(mc.name)
        if ec.size or ec.outscale:
            scale = model_scale_for(width, height, *output_size(width, height, 1, ec.size, ec.outscale, turned), scales)
        else:
            scale = 2 if 2 in scales else scales[0]
        config = replace(config, model=replace(mc, scale=scale))
    return config, output_size(width, height, scale, ec.size, ec.outscale, turned)


def encode_options(config: PipelineConfig, low_latency: bool = False) -> EncodeOptions:
    ec = config.encode
    if not 0 <= ec.crf <= 63:
        raise ConfigError(f"crf must be in 0..63, got {ec.crf}")
    return EncodeOptions(ec.codec, ec.crf, ec.preset, ec.pix_fmt, ec.tune, ec.gop, low_latency, ec.audio, ec.subtitles,
                         ec.metadata)


@torch.inference_mode()  # the engine's outputs are inference tensors: only there in place
def _quantised(planes: list[torch.Tensor], deep: bool) -> np.ndarray:
    """``(C,H,W)`` f32 [0,1] planes (any device) -> one ``(H,W,C)`` uint8 (uint16 if ``deep``) array,
    scaled and rounded in place: a photo's x4 output in fp32 is 4 bytes a sample (2.3 GB for a 12 MP
    photo), and out-of-place steps held two or three copies of it at once."""
    out = torch.empty((*planes[0].shape[1:], sum(p.shape[0] for p in planes)),
                      dtype=torch.uint16 if deep else torch.uint8)
    c = 0
    for p in planes:
        q = p.mul_(65535.0 if deep else 255.0).round_().permute(1, 2, 0)
        if not deep:
            q = q.to(torch.uint8)  # on the engine's device: a quarter of the bytes to bring over
        out[..., c : c + q.shape[-1]] = q.cpu()  # the copy casts to uint16 (few uint16 kernels on CUDA)
        c += q.shape[-1]
    return out.numpy()


def _batch_result(src: Path, dst: Path, done: list[UpscaleResult], frames: int, t0: float,
                  warnings: list[str], **kwargs) -> UpscaleResult:
    """A folder's result: the first item's sizes, model and device; every item's warnings, named."""
    first = done[0] if done else None
    return UpscaleResult(
        str(src), str(dst), frames, time.perf_counter() - t0,
        first.width if first else 0, first.height if first else 0,
        first.out_width if first else 0, first.out_height if first else 0,
        first.model if first else "", first.device if first else "",
        warnings=[f"{Path(r.input).name}: {w}" for r in done for w in r.warnings] + warnings, **kwargs,
    )


class UpscaleJob:
    """One input file -> one output file. ``request_stop``/``abort`` may be called from a signal
    handler while :meth:`run` is running in the main thread."""

    def __init__(
        self,
        input_path: str | Path,
        output_path: str | Path,
        config: PipelineConfig,
        *,
        overwrite: bool = False,
        max_frames: int = 0,
        span: Span | None = None,
        ext: str | None = None,
        monitor: MonitorOptions | None = None,
        monitor_file: str | Path | None = None,
    ) -> None:
        """``span``: the part of a video to upscale (``--start``, ``--duration``, ``--to``); ``ext``:
        the format of a folder's outputs (``--ext``; None: each its input's)."""
        self.input_path = str(resolve_sample(str(input_path)) if is_sample(str(input_path)) else input_path)
        self.output_path = str(output_path)
        self.config = config
        self.overwrite = overwrite
        self.max_frames = max_frames
        self.span = span
        self.ext = ext.lower().lstrip(".") if ext else None
        self.monitor_options = monitor
        self.monitor_file = monitor_file
        self.monitor: MonitorStage | None = None
        self.runner: Runner | None = None
        self._inner: UpscaleJob | None = None  # a folder's video being upscaled
        self._stop_requested = False
        self._abort_requested = False

    # -- control ---------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop_requested = True
        if self._inner is not None:
            self._inner.request_stop()
        if self.runner is not None:
            self.runner.request_stop()

    def abort(self) -> None:
        self._abort_requested = True
        if self._inner is not None:
            self._inner.abort()
        if self.runner is not None:
            self.runner.abort()

    # -- run ---------------------------------------------------------------------------------------

    def run(self, on_start: Callable[[int], None] | None = None,
            on_frame: Callable[[int], None] | None = None) -> UpscaleResult:
        """Run to the end. ``on_start(total_frames_estimate)``; ``on_frame(frames_done)``."""
        if is_folder_job(self.input_path, self.output_path):
            return self._run_folder(on_start, on_frame)
        if is_folder(self.output_path) and not is_url(self.input_path):
            # one file into a folder (as Real-ESRGAN's -o results, or cp): under its own name there
            folder = Path(self.output_path)
            if not folder.exists() and folder.parent.is_dir():
                folder.mkdir()
            self.output_path = str(folder / written_name(Path(self.input_path).name, ext=self.ext))
            self.ext = None
        if self.ext:
            raise ConfigError(f"--ext sets the format of a folder's outputs; one output's own name says its "
                              f"format ({self.output_path})")
        sequence = is_sequence_pattern(self.output_path)  # numbered images: frames/%04d.png
        if is_image_path(self.input_path) and Path(self.input_path).exists() and not sequence:
            if is_animated_webp(Path(self.input_path)):
                raise undecodable(Path(self.input_path), ValueError("animated"))
            if not is_image_path(self.output_path):
                raise ConfigError(
                    f"input {self.input_path} is an image; give an image output (.png, .jpg, ...)"
                )
            if Path(self.output_path).suffix.lower() in READ_ONLY:
                raise ConfigError(f"cannot write {self.output_path}: "
                                  f"{read_only_reason(Path(self.output_path).suffix)}")
            return self._run_image(on_start, on_frame)
        # a video into .webp is an animated WebP, as ffmpeg writes one (.gif and .apng are video names)
        animation = Path(self.output_path).suffix.lower() == ".webp"
        if is_image_path(self.output_path) and not sequence and not animation:
            stem, suffix = Path(self.output_path).stem, Path(self.output_path).suffix
            raise ConfigError(f"output {self.output_path} is an image name but the input is a video "
                              f"(for its frames as images, name them with a number pattern: {stem}_%04d{suffix}; "
                              f".webp, .gif and .apng make an animation)")
        playlist = MANY_FILE_OUTPUTS.get(Path(self.output_path).suffix.lower())
        if playlist:  # a playlist and its segments: no one file to write whole and rename
            raise ConfigError(f"vsr upscale writes one file, whole or not at all, and {playlist} is a playlist of "
                              f"many: upscale into .mp4 or .ts and package that, or use vsr stream INPUT "
                              f"{Path(self.output_path).name} for a live playlist")
        media = MediaInput(self.input_path, threads=self.config.runtime.decode_threads,
                           deinterlace=self.config.decode.deinterlace, framerate=self.config.decode.fps or None,
                           span=self.span)
        target = None
        try:
            self.config, size = plan_output(self.config, media.info.width, media.info.height, media.info.rotation)
            self.config = for_source(self.config, media.info.codec, media.jpeg_quality())
            model, engine = build_engine(self.config)
            target = (AtomicSequence if sequence else AtomicOutput)(
                self.output_path, overwrite=self.overwrite, inputs=(self.input_path,))
            output = MediaOutput(target.tmp, media, model.scale, encode_options(self.config),
                                 name=str(self.output_path), size=size, format="image2" if sequence else None)
            return self._run_video(media, output, target, model, engine, on_start, on_frame)
        except BaseException:
            if target is not None:
                target.discard()
            raise
        finally:
            media.close()

    def _run_video(self, media: MediaInput, output: MediaOutput, target: AtomicOutput,
                   model: SRModel, engine: Engine, on_start, on_frame) -> UpscaleResult:
        info = media.info
        log.info(
            "input %s: %dx%d %s, %s, %s fps, ~%d frames", self.input_path, info.width, info.height,
            info.pix_fmt, info.color.describe(), f"{float(info.rate):.3f}" if info.rate else "?",
            info.frames,
        )
        done = [0]

        def frame_written(frame: Frame) -> None:
            done[0] += 1
            if on_frame is not None:
                on_frame(done[0])

        encode = EncodeStage(output, frame_written)
        decode = DecodeStage(media, self.max_frames)
        sink = open(self.monitor_file, "w", encoding="utf-8") if self.monitor_file else None
        self.monitor = MonitorStage(engine if self.monitor_options else None,
                                    self.monitor_options or MonitorOptions(), sink)
        self.runner = Runner(
            decode,
            [
                UploadStage(engine.device, engine.input_dtype),
                InferStage(engine, self.config.model.batch),
                DownloadStage(output.spec, engine.device),
                encode,
            ],
            queue_size=self.config.runtime.queue_size,
            policy="block",
            taps={"infer": self.monitor},
        )
        if self._abort_requested:
            self.runner.abort()
        elif self._stop_requested:
            self.runner.request_stop()
        if on_start is not None:
            total = info.frames
            if self.max_frames:
                total = min(total, self.max_frames) if total else self.max_frames
            on_start(total)
        t0 = time.perf_counter()
        try:
            stats = self.runner.run()
        except Interrupted:
            raise Interrupted("interrupted; no output written") from None
        finally:
            if sink is not None:
                sink.close()
        seconds = time.perf_counter() - t0
        frames = output.frames_written
        interrupted = stats.stopped_early and (not self.max_frames or frames < self.max_frames)
        if frames == 0:
            target.discard()
            if interrupted:
                raise Interrupted("interrupted before the first frame; no output written")
        target.commit()
        log.info("stage busy (fraction of wall time): %s", ", ".join(
            f"{st.name} {st.busy_s / max(stats.wall_s, 1e-9):.0%}" for st in stats.stages))
        warnings = media.warnings() + output.warnings + [f"monitor: {a}" for a in self.monitor.alerts[:10]]
        if isinstance(target, AtomicSequence) and target.stale:
            warnings.append(f"{len(target.stale)} older frames past this run's last remain "
                            f"({target.stale[0].name} ... {target.stale[-1].name})")
        lat = encode.latencies
        rest_from = None
        if interrupted and output.last_shown is not None:  # half a frame after the last one written
            rest_from = output.last_shown - media.origin + 1 / (2 * Fraction(info.rate or 25))
        return UpscaleResult(
            self.input_path, self.output_path, frames, seconds, info.width, info.height,
            output.spec.width, output.spec.height, model.name, str(engine.device),
            interrupted=interrupted, warnings=warnings, stats=stats, rest_from=rest_from,
            latency_p50_ms=statistics.median(lat) * 1000 if lat else None,
            monitor=self.monitor.summary() if self.monitor.active else None,
        )

    def _refuse_span(self, what: str) -> None:
        if self.span is not None:
            raise ConfigError(f"--start, --duration and --to cut a video; {self.input_path} is {what}")

    def _run_image(self, on_start, on_frame) -> UpscaleResult:
        if self.config.decode.fps:
            raise ConfigError(f"--fps sets the frame rate of an image sequence; {self.input_path} is one image")
        self._refuse_span("one image")
        if on_start is not None:
            on_start(1)
        result = self._upscale_image(Path(self.input_path), Path(self.output_path), {})
        if on_frame is not None:
            on_frame(1)
        return result

    def _upscale_image(self, src: Path, dst: Path,
                       engines: dict[ModelConfig, tuple[SRModel, Engine]]) -> UpscaleResult:
        """One still image into ``dst``; ``engines`` keeps the engines built so far (a folder's
        images share them: one per model scale the sizes ask for)."""
        picture = read_picture(src)
        h, w = picture.rgb.shape[:2]
        config, (out_w, out_h) = plan_output(self.config, w, h)
        config = for_source(config, jpeg_quality=picture.jpeg_quality)
        if config.model not in engines:
            engines[config.model] = build_engine(config)
        model, engine = engines[config.model]
        target = AtomicOutput(dst, overwrite=self.overwrite, inputs=(src,))
        try:
            t0 = time.perf_counter()
            x = torch.from_numpy(picture.rgb).permute(2, 0, 1)[None]
            planes = [resize_to(engine(x), out_h, out_w)[0]]  # (3,H,W) f32 [0,1], on the engine's device
            if picture.gray:  # gray stays gray (the network sees it as RGB)
                planes[0] = planes[0].mean(0, keepdim=True)
            if picture.alpha is not None:
                # Alpha is not colour: upscale it with the classic resampler, as Real-ESRGAN does.
                a = torch.from_numpy(picture.alpha)[None, None]
                resampler = load_model("bicubic", model.scale).module
                planes.append(resize_to(resampler(a).clamp(0, 1), out_h, out_w)[0].to(planes[0].device))
            lost = write_image(target.tmp.with_suffix(target.tmp.suffix), _quantised(planes, picture.deep),
                               icc=picture.icc, primaries=picture.primaries, trc=picture.trc,
                               exif=picture.exif if config.encode.metadata else None)
            seconds = time.perf_counter() - t0
            target.commit()
        except BaseException:
            target.discard()
            raise
        return UpscaleResult(
            str(src), str(dst), 1, seconds, w, h, out_w, out_h,
            model.name, str(engine.device), warnings=lost,
        )

    def _run_folder(self, on_start, on_frame) -> UpscaleResult:
        """Every image of a folder into another, each on its own at its own size, under its own name
        (as Real-ESRGAN's inference script does with ``-i folder -o folder``); a video is made of a
        folder only where the output is a video name or a frame-number pattern. An image that cannot
        be read is named at the end (exit 1); the others are written."""
        src, dst = Path(self.input_path), Path(self.output_path)
        if self.config.decode.fps:
            raise ConfigError("--fps sets the frame rate of an image sequence; a folder into a folder is "
                              "a batch of still images")
        images, videos = folder_contents(src)
        if not images and videos:
            return self._run_videos(videos, dst, on_start, on_frame)
        if not images:
            raise InvalidInputError(f"input is a directory with no images or videos in it: {src}")
        self._refuse_span("a folder of still images")
        if self.ext and (f".{self.ext}" not in IMAGE_SUFFIXES or f".{self.ext}" in READ_ONLY):
            writable = ", ".join(s[1:] for s in IMAGE_SUFFIXES if s not in READ_ONLY)
            raise ConfigError(f"--ext {self.ext}: the images of {src} can be written as {writable}")
        names = {p.name for p in images}
        targets = {p: dst / written_name(p.name, names, self.ext) for p in images}
        self._prepare_folder(src, dst, targets, "images")
        if on_start is not None:
            on_start(len(images))
        engines: dict[ModelConfig, tuple[SRModel, Engine]] = {}
        written = [0]

        def one(image: Path) -> UpscaleResult:
            result = self._upscale_image(image, targets[image], engines)
            written[0] += 1
            if on_frame is not None:
                on_frame(written[0])
            return result

        t0 = time.perf_counter()
        done = self._each(images, "images", dst, one, (InvalidInputError, InputNotFoundError))
        warnings = []
        if videos:
            warnings.append(f"{len(videos)} video(s) in {src} left alone ({videos[0].name}...): a folder with "
                            f"images is a batch of images; give the videos a folder of their own")
        renamed = [r for r in done if Path(r.output).name != Path(r.input).name and not self.ext]
        if renamed:  # formats vsr cannot write (DDS, HEIC): one line for them all
            kinds = sorted({READ_ONLY[Path(r.input).suffix.lower()] for r in renamed})
            warnings.append(f"{len(renamed)} {'/'.join(kinds)} image(s) written as PNG (vsr cannot write "
                            f"{'/'.join(kinds)}): {Path(renamed[0].input).name} -> {Path(renamed[0].output).name}")
        return _batch_result(src, dst, done, len(done), t0, warnings, interrupted=len(done) < len(images),
                             images=True)

    def _prepare_folder(self, src: Path, dst: Path, targets: dict[Path, Path], what: str) -> None:
        """Make the output folder (its parent must exist); refuse the input folder itself, and any
        of ``targets`` that exists without ``--overwrite``."""
        if dst.exists() and dst.resolve() == src.resolve():
            raise OutputError(f"output folder {dst} is the input folder; choose another")
        if not dst.exists():
            if not dst.parent.is_dir():
                raise OutputError(f"output directory does not exist: {dst.parent}")
            dst.mkdir()
        existing = [t.name for t in targets.values() if t.exists()]
        if existing and not self.overwrite:
            raise OutputError(f"output folder {dst} already has {len(existing)} of these {what}, from "
                              f"{existing[0]} (use --overwrite to replace them)")

    def _run_videos(self, videos: list[Path], dst: Path, on_start, on_frame) -> UpscaleResult:
        """Every video of a folder into another, one after the other, each under its own name and
        container, as ``vsr upscale`` does one (the progress restarts for each). One that cannot be
        upscaled is named at the end (exit 1); the others are written. A stop (Ctrl-C) finishes the
        video in flight, playable, and starts no other."""
        src = videos[0].parent
        if self.monitor_options is not None:
            raise ConfigError("--monitor scores one video into one file; run it on a video, not a folder")
        if self.ext and is_image_path(f"x.{self.ext}") and f".{self.ext}" not in ANIMATION_FORMATS:
            raise ConfigError(f"--ext {self.ext} is an image format; the videos of {src} need a video "
                              f"container (mkv, mp4, ...), or .webp/.gif for animations")
        names = {v.name for v in videos}
        targets = {v: dst / written_name(v.name, names, self.ext) for v in videos}
        self._prepare_folder(src, dst, targets, "videos")

        def one(video: Path) -> UpscaleResult:
            self._inner = UpscaleJob(video, targets[video], self.config, overwrite=self.overwrite,
                                     max_frames=self.max_frames, span=self.span)
            try:
                return self._inner.run(on_start=on_start, on_frame=on_frame)
            finally:
                self._inner = None

        t0 = time.perf_counter()
        done = self._each(videos, "videos", dst, one,
                          (InvalidInputError, InputNotFoundError, EncoderError, OutputError))
        return _batch_result(src, dst, done, sum(r.frames for r in done), t0, [],
                             interrupted=len(done) < len(videos) or any(r.interrupted for r in done),
                             videos=len(done))

    def _each(self, items: list[Path], what: str, dst: Path, run_one: Callable[[Path], UpscaleResult],
              caught: tuple[type[BaseException], ...]) -> list[UpscaleResult]:
        """``run_one`` on each of a folder's ``items`` in turn, until a stop or an interrupted one. One
        that raises ``caught`` is named at the end (exit 1), after all the others are written."""
        done: list[UpscaleResult] = []
        failed: list[str] = []
        for item in items:
            if self._stop_requested or self._abort_requested:
                break
            try:
                result = run_one(item)
            except caught as e:
                failed.append(f"{item.name}: {e}")
                continue
            done.append(result)
            if result.interrupted:
                break
        if failed:
            raise InvalidInputError(f"{len(failed)} of {len(items)} {what} could not be upscaled (the other "
                                    f"{len(done)} are in {dst}); {failed[0]}")
        return done
