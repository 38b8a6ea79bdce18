"""Training configuration (configs/train/*.toml) as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vsr.config import CONFIG_DIR, load
from vsr.errors import ConfigError

TRAIN_CONFIG_DIR = CONFIG_DIR / "train"


@dataclass(frozen=True)
class DataConfig:
    dirs: tuple[str, ...] = ()  # folders of HR images (searched recursively); or `vsr train --data`
    patch: int = 48  # LR patch edge; HR crops are patch * scale
    batch: int = 16
    min_size: int = 0  # skip images whose short side is below this (0: below the HR crop)
    max_images: int = 0  # 0: all
    workers: int = 1  # threads preparing batches (raise it for the realworld degradation on a GPU)


@dataclass(frozen=True)
class DegradationConfig:
    kind: str = "bicubic"  # bicubic | video (bicubic, then H.264 with video_prob) | jpeg (then libjpeg, jpeg_prob) | realworld
    # realworld (Real-ESRGAN-style, two rounds); ranges are [min, max]
    blur_prob: float = 0.8
    blur_sigma: tuple[float, ...] = (0.2, 2.0)
    resize_range: tuple[float, ...] = (0.5, 1.5)  # random rescale within a round
    noise_prob: float = 0.8
    noise_sigma: tuple[float, ...] = (1.0, 15.0)  # on the 0..255 scale
    gray_noise_prob: float = 0.3
    jpeg_quality: tuple[int, ...] = (40, 95)  # realworld's JPEG rounds, and jpeg's
    jpeg_prob: float = 0.8  # jpeg: chance of a libjpeg round (Pillow)
    second_round_prob: float = 0.8
    video_prob: float = 0.5  # chance of a final H.264 round (libx264 via PyAV)
    video_crf: tuple[int, ...] = (18, 38)


@dataclass(frozen=True)
class LossConfig:
    pixel: str = "charbonnier"  # charbonnier | l1
    pixel_weight: float = 1.0
    hfp_weight: float = 0.0  # High-Frequency Perception loss (vsr.ops.highfreq bands)
    hfp_method: str = "haar"  # haar | highpass
    hfp_levels: int = 2
    stlpips_weight: float = 0.0
    stlpips_net: str = "alex"  # alex | vgg
    # a second ST-LPIPS term on VGG beside an AlexNet one: each network accepts textures the other
    # sees through (benchmarks/metric_adversary.py), so an output must pass both
    stlpips_vgg_weight: float = 0.0
    distill_weight: float = 0.0  # L1 to the teacher's output
    teacher: str = ""  # teacher weight file (.safetensors/.pth) or shipped name
    teacher_once: bool = True  # bicubic degradation: run the teacher once per training image, not per step
    gan_weight: float = 0.0
    discriminator: str = "unet"  # unet | patch
    gan_start: int = 0  # step at which the adversarial term starts
    # temporal stability from stills: batches become pairs of crops moved by up to temporal_shift HR
    # pixels, degraded independently; their outputs must agree where they overlap (ShiftConsistencyLoss).
    # A distillation teacher then runs every step (teacher_once precomputes single crops only)
    temporal_weight: float = 0.0
    temporal_shift: int = 8  # HR pixels a side
    temporal_margin: int = 4  # LR pixels at each crop edge left out of the comparison
    # LDL (ArtifactLoss): a pixel loss weighted by where the error varies quickly and the network
    # does worse than the moving average of its own weights (decay ema_decay per step)
    artifact_weight: float = 0.0
    artifact_window: int = 7
    ema_decay: float = 0.999
    # SpectralLoss: L1 between the local amplitude spectra (R, G and B; spectral_patch-px Hann windows
    # every spectral_stride px) of output and target; phase-free, so textures may move but not change
    # frequency (a pattern the truth lacks, like ST-LPIPS alex's crosshatch, pays). spectral_mode
    # "excess" charges only the energy the output has beyond the truth's, "both" any difference
    spectral_weight: float = 0.0
    spectral_mode: str = "excess"
    spectral_patch: int = 16
    spectral_stride: int = 8


@dataclass(frozen=True)
class OptimConfig:
    steps: int = 100_000
    lr: float = 5e-4
    lr_min: float = 1e-6  # cosine decay to this
    warmup: int = 0
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # 0: off
    d_lr: float = 1e-4


@dataclass(frozen=True)
class RunConfig:
    dir: str = "runs/default"
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # mixed precision on CUDA (ignored on the CPU)
    threads: int = 0  # torch CPU threads (0: torch's default)
    log_every: int = 50
    checkpoint_every: int = 500
    max_minutes: float = 0.0  # stop (with a checkpoint) after this wall time; 0: no limit
    init: str = ""  # start from another run's checkpoint.pt (e.g. perceptual from fidelity), or deploy weights (.safetensors / shipped name)


@dataclass(frozen=True)
class TrainConfig:
    model: str = "compact-x2-fast"  # preset name (configs/models) or TOML path
    data: DataConfig = field(default_factory=DataConfig)
    degradation: DegradationConfig = field(default_factory=DegradationConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)


def load_train_config(name_or_path: str | Path | None, overrides: tuple[str, ...] | list[str] = ()) -> TrainConfig:
    """A config by path, or by name in configs/train; then ``section.key=value`` overrides."""
    path: Path | None = None
    if name_or_path:
        path = Path(name_or_path)
        if path.suffix != ".toml" and not path.exists():
            candidate = TRAIN_CONFIG_DIR / f"{name_or_path}.toml"
            if not candidate.exists():
                names = ", ".join(sorted(p.stem for p in TRAIN_CONFIG_DIR.glob("*.toml")))
                raise ConfigError(f"unknown training config {str(name_or_path)!r} (available: {names})")
            path = candidate
    cfg = load(TrainConfig, path, overrides)
    _validate(cfg)
    return cfg


def _validate(cfg: TrainConfig) -> None:
    def choice(key: str, value: str, valid: tuple[str, ...]) -> None:
        if value not in valid:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(valid)}")

    choice("degradation.kind", cfg.degradation.kind, ("bicubic", "video", "jpeg", "realworld"))
    choice("loss.pixel", cfg.loss.pixel, ("charbonnier", "l1"))
    choice("loss.hfp_method", cfg.loss.hfp_method, ("haar", "highpass"))
    choice("loss.stlpips_net", cfg.loss.stlpips_net, ("alex", "vgg"))
    choice("loss.discriminator", cfg.loss.discriminator, ("unet", "patch"))
    for key, rng in (
        ("degradation.blur_sigma", cfg.degradation.blur_sigma),
        ("degradation.resize_range", cfg.degradation.resize_range),
        ("degradation.noise_sigma", cfg.degradation.noise_sigma),
        ("degradation.jpeg_quality", cfg.degradation.jpeg_quality),
        ("degradation.video_crf", cfg.degradation.video_crf),
    ):
        if len(rng) != 2 or rng[0] > rng[1]:
            raise ConfigError(f"{key}: expected [min, max], got {list(rng)}")
    if cfg.loss.distill_weight > 0 and not cfg.loss.teacher:
        raise ConfigError("loss.distill_weight > 0 needs loss.teacher (a teacher weight file)")
    weights = (cfg.loss.pixel_weight, cfg.loss.hfp_weight, cfg.loss.stlpips_weight, cfg.loss.distill_weight, cfg.loss.gan_weight,
               cfg.loss.temporal_weight, cfg.loss.artifact_weight, cfg.loss.stlpips_vgg_weight, cfg.loss.spectral_weight)
    if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
        raise ConfigError(f"loss weights must be >= 0 and at least one > 0, got {weights}")
    if cfg.loss.temporal_weight > 0:
        if cfg.data.batch % 2:
            raise ConfigError(f"loss.temporal_weight > 0 trains on pairs of crops: data.batch must be even, got {cfg.data.batch}")
        if cfg.loss.temporal_shift < 1 or cfg.loss.temporal_margin < 0 or 2 * cfg.loss.temporal_margin >= cfg.data.patch:
            raise ConfigError("loss.temporal_shift must be >= 1 and loss.temporal_margin in 0..data.patch/2")
    if cfg.loss.stlpips_vgg_weight > 0 and cfg.loss.stlpips_net == "vgg":
        raise ConfigError("loss.stlpips_vgg_weight is a VGG term beside an AlexNet one: set loss.stlpips_net=\"alex\" "
                          "(or raise loss.stlpips_weight instead)")
    if cfg.loss.artifact_weight > 0 and (cfg.loss.artifact_window < 3 or cfg.loss.artifact_window % 2 == 0
                                         or not 0 < cfg.loss.ema_decay < 1):
        raise ConfigError(f"loss.artifact_window must be odd and >= 3 and loss.ema_decay in (0, 1), got "
                          f"{cfg.loss.artifact_window} and {cfg.loss.ema_decay}")
    if cfg.loss.spectral_weight > 0 and not (4 <= cfg.loss.spectral_patch <= 2 * cfg.data.patch
                                             and cfg.loss.spectral_stride >= 1):
        raise ConfigError(f"loss.spectral_patch must be 4..{2 * cfg.data.patch} px (within the smallest HR patch) and "
                          f"loss.spectral_stride >= 1, got {cfg.loss.spectral_patch} and {cfg.loss.spectral_stride}")
    if cfg.loss.spectral_mode not in ("both", "excess"):
        raise ConfigError(f"loss.spectral_mode must be \"both\" or \"excess\", got {cfg.loss.spectral_mode!r}")
    if cfg.data.patch < 8 or cfg.data.batch < 1 or cfg.optim.steps < 1 or cfg.data.workers < 1:
        raise ConfigError("data.patch must be >= 8, data.batch, data.workers and optim.steps >= 1")


__all__ = ["DataConfig", "DegradationConfig", "LossConfig", "OptimConfig", "RunConfig", "TrainConfig", "load_train_config"]
