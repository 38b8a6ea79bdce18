"""The training loop: seeded, resumable, mixed precision on CUDA, progress with losses and it/s.

Data for step ``k`` is drawn with a generator seeded from ``(seed, k)`` by background threads
(bounded prefetch, in step order; their errors are raised in the loop), so a resumed run sees exactly
the batches an uninterrupted one would have seen.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import os
import pickle
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from vsr.archs.files import save_weights_file
from vsr.archs.presets import ModelPreset, load_preset
from vsr.errors import BackendUnavailableError, ConfigError, InputNotFoundError, InvalidInputError
from vsr.train.config import TrainConfig
from vsr.train.data import HRImageSet, TeacherTargets, find_images
from vsr.train.degrade import make_degradation
from vsr.train.losses import (ArtifactLoss, CharbonnierLoss, HighFreqLoss, L1Loss, ShiftConsistencyLoss, SpectralLoss,
                              STLPIPSLoss, gan_loss, make_discriminator)

log = logging.getLogger("vsr.train")

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainResult:
    step: int
    weights: Path  # deploy weights (safetensors) of the last step
    checkpoint: Path
    seconds: float  # wall time of this invocation
    losses: dict[str, float]  # the last logged loss terms
    finished: bool  # reached optim.steps (False: stopped by max_minutes)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailableError(f"device {name!r} requested but CUDA is not available (use cpu or auto)")
    return dev


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from ``optim.lr`` to ``optim.lr_min`` at ``optim.steps``."""
    o = cfg.optim
    if step < o.warmup:
        return o.lr * (step + 1) / o.warmup
    t = (step - o.warmup) / max(1, o.steps - o.warmup)
    return o.lr_min + 0.5 * (o.lr - o.lr_min) * (1 + math.cos(math.pi * min(1.0, t)))


def _degraded_batch(data: HRImageSet, degrade: Callable, batch: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(hr, lr)`` f32 [0,1]: random HR crops and their degradation."""
    hr = data.sample(batch, gen)
    return hr.float().div(255), degrade(hr, gen)


def _degraded_pairs(data: HRImageSet, degrade: Callable, batch: int, max_shift: int,
                    gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, None, torch.Tensor]:
    """``(hr, lr, None, shifts)``: ``batch // 2`` pairs of moved crops (:meth:`HRImageSet.sample_pairs`),
    each crop degraded on its own (a random degradation draws its noise anew for each, as a codec does
    for each frame)."""
    hr, shifts = data.sample_pairs(batch // 2, max_shift, gen)
    return hr.float().div(255), degrade(hr, gen), None, shifts


class _Batches:
    """Prefetches the CPU batches of steps ``start..end-1`` on ``workers`` threads, in step order:
    ``draw(gen)`` makes one batch (a tuple of tensors) from the step's seeded generator
    (degradations run in C: PyAV codecs and torch ops release the GIL). A worker's error is raised
    by :meth:`get`."""

    def __init__(self, draw: Callable[[torch.Generator], tuple[torch.Tensor, ...]], seed: int, start: int, end: int,
                 workers: int = 1) -> None:
        self.draw, self.seed = draw, seed
        self.next_step, self.end = start, end
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="train-data")
        self.pending: deque[Future] = deque()
        self.depth = 2 * max(1, workers)
        self._fill()

    def _make(self, step: int) -> tuple[torch.Tensor, ...]:
        return self.draw(torch.Generator().manual_seed(self.seed * 1_000_003 + step))

    def _fill(self) -> None:
        while len(self.pending) < self.depth and self.next_step < self.end:
            self.pending.append(self.pool.submit(self._make, self.next_step))
            self.next_step += 1

    def get(self) -> tuple[torch.Tensor, ...]:
        item = self.pending.popleft().result()
        self._fill()
        return item

    def close(self) -> None:
        for f in self.pending:
            f.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)


class Trainer:
    """Builds everything a :class:`TrainConfig` asks for; :meth:`run` trains (resuming if a checkpoint
    exists in ``run.dir``) and exports the re-parameterised deploy weights."""

    def __init__(self, cfg: TrainConfig, progress: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.progress = progress or log.info
        self.preset: ModelPreset = load_preset(cfg.model)
        self.scale = self.preset.scale
        self.device = resolve_device(cfg.run.device)
        if cfg.run.threads > 0:
            torch.set_num_threads(cfg.run.threads)
        self.amp = cfg.run.amp and self.device.type == "cuda"
        self.run_dir = Path(cfg.run.dir)
        torch.manual_seed(cfg.run.seed)
        self.model = self.preset.build().to(self.device)
        self.optim = torch.optim.Adam(
            self.model.parameters(), lr=cfg.optim.lr, betas=(0.9, 0.99), weight_decay=cfg.optim.weight_decay
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        loss = cfg.loss
        self.terms: dict[str, tuple[float, nn.Module]] = {}
        if loss.pixel_weight > 0:
            self.terms["pixel"] = (loss.pixel_weight, CharbonnierLoss() if loss.pixel == "charbonnier" else L1Loss())
        if loss.hfp_weight > 0:
            self.terms["hfp"] = (loss.hfp_weight, HighFreqLoss(loss.hfp_method, loss.hfp_levels))
        if loss.stlpips_weight > 0:
            self.terms["stlpips"] = (loss.stlpips_weight, STLPIPSLoss(loss.stlpips_net).to(self.device))
        if loss.stlpips_vgg_weight > 0:
            self.terms["stlpips_vgg"] = (loss.stlpips_vgg_weight, STLPIPSLoss("vgg").to(self.device))
        if loss.spectral_weight > 0:
            self.terms["spectral"] = (loss.spectral_weight,
                                      SpectralLoss(loss.spectral_patch, loss.spectral_stride,
                                                   loss.spectral_mode).to(self.device))
        self.temporal: ShiftConsistencyLoss | None = None
        if loss.temporal_weight > 0:
            self.temporal = ShiftConsistencyLoss(loss.temporal_margin * self.scale)
        self.artifact: ArtifactLoss | None = None
        self.ema: nn.Module | None = None  # the moving average of the weights, made at the first step
        if loss.artifact_weight > 0:
            self.artifact = ArtifactLoss(loss.artifact_window)
        self.teacher: nn.Module | None = None
        if loss.distill_weight > 0:
            from vsr.archs import load_model

            self.teacher = load_model(loss.teacher, self.scale).module.to(self.device).eval().requires_grad_(False)
        self.disc: nn.Module | None = None
        if loss.gan_weight > 0:
            self.disc = make_discriminator(loss.discriminator).to(self.device)
            self.optim_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.optim.d_lr, betas=(0.9, 0.99))
            self.scaler_d = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.step = 0
        self.data_dirs: tuple[str, ...] = cfg.data.dirs

    # --- checkpoints -----------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT

    def save_checkpoint(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "step": self.step,
            "preset": self.preset.name,
            "config": json.dumps(dataclasses.asdict(self.cfg)),
            "model": self.model.state_dict(),
            "optim": self.optim.state_dict(),
            "scaler": self.scaler.state_dict(),
        }
        if self.disc is not None:
            state["disc"] = self.disc.state_dict()
            state["optim_d"] = self.optim_d.state_dict()
            state["scaler_d"] = self.scaler_d.state_dict()
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        tmp = self.checkpoint_path.with_suffix(".tmp.pt")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)

    def load_checkpoint(self) -> None:
        try:
            state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is one clear error
            raise InvalidInputError(f"cannot resume from {self.checkpoint_path}: {e}") from None
        if state.get("preset") != self.preset.name:
            raise ConfigError(
                f"checkpoint {self.checkpoint_path} is for model {state.get('preset')!r}, not {self.preset.name!r} "
                f"(use another run.dir or --fresh)"
            )
        self.model.load_state_dict(state["model"])
        self.optim.load_state_dict(state["optim"])
        self.scaler.load_state_dict(state["scaler"])
        if self.disc is not None:
            if "disc" not in state:
                raise ConfigError(f"checkpoint {self.checkpoint_path} has no discriminator (was gan_weight 0?)")
            self.disc.load_state_dict(state["disc"])
            self.optim_d.load_state_dict(state["optim_d"])
            self.scaler_d.load_state_dict(state["scaler_d"])
        if self.artifact is not None and "ema" in state:
            self._start_ema().load_state_dict(state["ema"])
        self.step = int(state["step"])

    def init_from(self, source: str) -> None:
        """Start from the model weights of another run's checkpoint (same preset; step and
        optimiser start fresh), e.g. a perceptual run from a fidelity run; or from deploy weights (a
        ``.safetensors`` file or a shipped model name) of the same size, loaded exactly into the
        train-time branches, e.g. to fine-tune a shipped model."""
        path = Path(source)
        if path.suffix != ".pt":
            from vsr.archs import load_model

            try:
                plain = load_model(source, self.scale).module
                self.model.load_plain(plain)  # type: ignore[operator]
            except (ValueError, AttributeError, TypeError) as e:
                raise InvalidInputError(f"run.init {source}: cannot start {self.preset.name!r} from it: {e}") from None
            return
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
            self.model.load_state_dict(state["model"])
        except FileNotFoundError:
            raise InputNotFoundError(f"run.init checkpoint not found: {path}") from None
        except (KeyError, RuntimeError, pickle.UnpicklingError) as e:
            raise InvalidInputError(f"run.init {path} is not a checkpoint of {self.preset.name!r}: {e}") from None

    def export(self) -> Path:
        """Save the re-parameterised deploy network as ``run.dir/<preset>.safetensors``."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / f"{self.preset.name}.safetensors"
        was_training = self.model.training
        plain = self.model.reparameterize()  # type: ignore[operator]
        self.model.train(was_training)
        save_weights_file(path, plain, preset=self.preset.name, steps=str(self.step),
                          train_config=json.dumps(dataclasses.asdict(self.cfg)), data_dirs=json.dumps(list(self.data_dirs)))
        return path

    # --- training --------------------------------------------------------------------------------

    def _start_ema(self) -> nn.Module:
        """The moving average of the weights, begun as a copy of the model as it is now."""
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        return self.ema

    @torch.no_grad()
    def _update_ema(self) -> None:
        assert self.ema is not None
        decay = self.cfg.loss.ema_decay
        for avg, now in zip(self.ema.parameters(), self.model.parameters()):
            avg.lerp_(now.detach(), 1 - decay)
        for avg, now in zip(self.ema.buffers(), self.model.buffers()):
            avg.copy_(now)

    def train_step(self, hr: torch.Tensor, lr_img: torch.Tensor, target: torch.Tensor | None = None,
                   shifts: torch.Tensor | None = None) -> dict[str, float]:
        """One optimisation step on ``hr (N,3,sH,sW)`` / ``lr (N,3,H,W)`` f32 [0,1] batches; ``target``:
        the teacher's output for ``lr`` when it was computed beforehand (else the teacher runs here);
        ``shifts``: with the temporal loss, the batch is pairs of moved crops (:func:`_degraded_pairs`)."""
        cfg = self.cfg
        for group in self.optim.param_groups:
            group["lr"] = lr_at(self.step, cfg)
        hr, lr_img = hr.to(self.device, non_blocking=True), lr_img.to(self.device, non_blocking=True)
        use_gan = self.disc is not None and self.step >= cfg.loss.gan_start
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            sr = self.model(lr_img)
            parts: dict[str, torch.Tensor] = {}
            for name, (w, fn) in self.terms.items():
                parts[name] = w * fn(sr, hr)
            if self.temporal is not None:
                if shifts is None:
                    raise ValueError("the temporal loss needs the batch as pairs of moved crops, with their shifts")
                parts["temporal"] = cfg.loss.temporal_weight * self.temporal(sr, shifts)
            if self.artifact is not None:
                ema = self.ema if self.ema is not None else self._start_ema()
                with torch.no_grad():
                    sr_ema = ema(lr_img)
                parts["artifact"] = cfg.loss.artifact_weight * self.artifact(sr, hr, sr_ema)
            if self.teacher is not None:
                if target is None:
                    with torch.no_grad():
                        target = self.teacher(lr_img)
                else:
                    target = target.to(self.device, non_blocking=True)
                parts["distill"] = cfg.loss.distill_weight * (sr.float() - target.float()).abs().mean()
            if use_gan:
                assert self.disc is not None
                self.disc.requires_grad_(False)
                parts["gan"] = cfg.loss.gan_weight * gan_loss(self.disc(sr), real=True)
            total = sum(parts.values())
        self.optim.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()  # type: ignore[arg-type]
        if cfg.optim.grad_clip > 0:
            self.scaler.unscale_(self.optim)
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.optim.grad_clip)
        self.scaler.step(self.optim)
        self.scaler.update()
        if self.ema is not None:
            self._update_ema()
        out = {k: float(v.detach()) for k, v in parts.items()}
        if use_gan:
            assert self.disc is not None
            self.disc.requires_grad_(True)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                d_loss = gan_loss(self.disc(hr), real=True) + gan_loss(self.disc(sr.detach()), real=False)
            self.optim_d.zero_grad(set_to_none=True)
            self.scaler_d.scale(d_loss).backward()
            self.scaler_d.step(self.optim_d)
            self.scaler_d.update()
            out["disc"] = float(d_loss.detach())
        out["total"] = float(total.detach())  # type: ignore[union-attr]
        self.step += 1
        return out

    def run(self, data_dirs: tuple[str, ...] | list[str] = (), fresh: bool = False) -> TrainResult:
        cfg = self.cfg
        start_wall = time.monotonic()
        if self.checkpoint_path.exists() and not fresh:
            self.load_checkpoint()
            self.progress(f"resumed {self.checkpoint_path} at step {self.step}")
        elif cfg.run.init:
            self.init_from(cfg.run.init)
            self.progress(f"initialised the model from {cfg.run.init}")
        dirs = tuple(data_dirs) or cfg.data.dirs
        self.data_dirs = dirs
        if not dirs:
            raise ConfigError("no training data: set data.dirs in the config or pass --data DIR")
        crop = cfg.data.patch * self.scale
        data = HRImageSet(find_images(dirs)[: cfg.data.max_images or None], crop, cfg.data.min_size)
        self.progress(
            f"training {self.preset.name} ({sum(p.numel() for p in self.model.parameters())} train-time params) on "
            f"{len(data)} images, device {self.device}{' amp' if self.amp else ''}, steps {self.step}->{cfg.optim.steps}"
        )
        degrade = make_degradation(self.scale, cfg.degradation)
        if self.temporal is not None:
            draw = partial(_degraded_pairs, data, degrade, cfg.data.batch, cfg.loss.temporal_shift)
        elif self.teacher is not None and cfg.loss.teacher_once and cfg.degradation.kind == "bicubic":
            t0 = time.monotonic()
            targets = TeacherTargets(data, self.scale, degrade, self.teacher, self.device)
            self.progress(f"ran the teacher once over the {len(targets)} training images ({time.monotonic() - t0:.0f} s)")
            draw = partial(targets.sample, cfg.data.batch)
        else:
            draw = partial(_degraded_batch, data, degrade, cfg.data.batch)
        batches = _Batches(draw, cfg.run.seed, self.step, cfg.optim.steps, cfg.data.workers)
        self.model.train()
        losses: dict[str, float] = {}
        sums: dict[str, float] = {}
        window_start, window_steps = time.monotonic(), 0
        finished = True
        try:
            while self.step < cfg.optim.steps:
                parts = self.train_step(*batches.get())
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + v
                window_steps += 1
                if self.step % cfg.run.log_every == 0 or self.step == cfg.optim.steps:
                    rate = window_steps / max(1e-9, time.monotonic() - window_start)
                    losses = {k: v / window_steps for k, v in sums.items()}
                    terms = " ".join(f"{k} {v:.4f}" for k, v in losses.items() if k != "total")
                    self.progress(
                        f"step {self.step}/{cfg.optim.steps} loss {losses['total']:.4f} ({terms}) "
                        f"{rate:.2f} it/s lr {lr_at(self.step - 1, cfg):.2e}"
                    )
                    sums, window_start, window_steps = {}, time.monotonic(), 0
                if self.step % cfg.run.checkpoint_every == 0:
                    self.save_checkpoint()
                if cfg.run.max_minutes > 0 and time.monotonic() - start_wall > cfg.run.max_minutes * 60:
                    finished = self.step >= cfg.optim.steps
                    self.progress(f"stopping at step {self.step}: run.max_minutes={cfg.run.max_minutes} reached")
                    break
        finally:
            batches.close()
        self.save_checkpoint()
        weights = self.export()
        self.progress(f"saved {self.checkpoint_path} and deploy weights {weights}")
        return TrainResult(self.step, weights, self.checkpoint_path, time.monotonic() - start_wall, losses, finished)


__all__ = ["Trainer", "TrainResult", "lr_at", "resolve_device"]
