"""HR training images, cached in memory as uint8, and seeded random crops; for distillation with a
deterministic degradation, the teacher's output on each whole image, computed once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from vsr.errors import InputNotFoundError, InvalidInputError
from vsr.io.image import IMAGE_SUFFIXES, read_image

log = logging.getLogger("vsr.train")


def find_images(dirs: Iterable[str | Path]) -> list[Path]:
    """Every image file under ``dirs`` (recursive), sorted for reproducibility."""
    found: list[Path] = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise InputNotFoundError(f"training data folder not found: {d}")
        found += [p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(found)


def _augment(patch: torch.Tensor, flips: list[int]) -> torch.Tensor:
    """``(C,H,W)`` patch flipped horizontally, vertically and/or transposed, per the three 0/1 ``flips``."""
    if flips[0]:
        patch = patch.flip(2)
    if flips[1]:
        patch = patch.flip(1)
    if flips[2]:
        patch = patch.transpose(1, 2)
    return patch


class HRImageSet:
    """HR images held as ``(3,H,W)`` uint8 CPU tensors; :meth:`sample` draws random crops.

    ``crop`` is the HR crop edge (LR patch * scale); images smaller than ``min_size`` (default:
    ``crop``) on their short side are skipped.
    """

    def __init__(self, paths: list[Path], crop: int, min_size: int = 0) -> None:
        self.crop = crop
        min_size = max(min_size, crop)
        self.images: list[torch.Tensor] = []
        self.paths: list[Path] = []
        for p in paths:
            rgb = read_image(p)
            if min(rgb.shape[:2]) < min_size:
                continue
            self.images.append(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous())
            self.paths.append(p)
        if not self.images:
            raise InvalidInputError(f"no training image of at least {min_size}x{min_size} pixels in {len(paths)} files")
        nbytes = sum(t.numel() for t in self.images)
        log.info("training data: %d images, %.1f MiB uint8 in memory", len(self.images), nbytes / 2**20)

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, batch: int, gen: torch.Generator) -> torch.Tensor:
        """``(batch,3,crop,crop)`` uint8 CPU crops, each from a random image, flipped/transposed at random."""
        out = torch.empty(batch, 3, self.crop, self.crop, dtype=torch.uint8)
        for i in range(batch):
            img = self.images[int(torch.randint(len(self.images), (1,), generator=gen))]
            h, w = img.shape[1:]
            y = int(torch.randint(h - self.crop + 1, (1,), generator=gen))
            x = int(torch.randint(w - self.crop + 1, (1,), generator=gen))
            patch = img[:, y : y + self.crop, x : x + self.crop]
            out[i] = _augment(patch, torch.randint(2, (3,), generator=gen).tolist())
        return out

    def sample_pairs(self, pairs: int, max_shift: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Two views of each of ``pairs`` random places, as two frames of a moving picture: crops of
        one image whose origins differ by a random ``(dy, dx)`` of at most ``max_shift`` HR pixels a
        side (less where the image is too small), flipped/transposed alike.

        Returns ``hr (2*pairs,3,crop,crop)`` uint8, the first views then the second ones, and
        ``shifts (pairs,2)`` int64 such that ``second[i][:, y, x] == first[i][:, y + dy, x + dx]``.
        """
        c = self.crop
        out = torch.empty(2 * pairs, 3, c, c, dtype=torch.uint8)
        shifts = torch.empty(pairs, 2, dtype=torch.int64)
        for i in range(pairs):
            img = self.images[int(torch.randint(len(self.images), (1,), generator=gen))]
            h, w = img.shape[1:]
            m = max(0, min(max_shift, h - c, w - c))
            y = int(torch.randint(h - c - m + 1, (1,), generator=gen))
            x = int(torch.randint(w - c - m + 1, (1,), generator=gen))
            region = _augment(img[:, y : y + c + m, x : x + c + m], torch.randint(2, (3,), generator=gen).tolist())
            ya, xa, yb, xb = (int(v) for v in torch.randint(m + 1, (4,), generator=gen))
            out[i] = region[:, ya : ya + c, xa : xa + c]
            out[pairs + i] = region[:, yb : yb + c, xb : xb + c]
            shifts[i] = torch.tensor([yb - ya, xb - xa])
        return out, shifts


class TeacherTargets:
    """Aligned random crops of ``(HR, LR, teacher output)`` with the teacher run once per image.

    With a deterministic degradation (bicubic) a teacher's output for a crop is fixed, so instead of
    a teacher forward pass per training step (several times the student's step on the CPU for a
    larger teacher), each HR image (trimmed to a multiple of ``scale``) is degraded whole, the
    teacher upscales the whole LR image once, and :meth:`sample` crops all three at the same place
    (LR patch edge ``data.crop // scale``; same flips). LR crops are then crops of the whole LR image,
    which differ from degrading the HR crop only in the 2-3 LR pixels at a crop's edge (there they are
    the true downscale, not an edge-padded one). The teacher's outputs are kept as f16 CPU tensors.
    """

    def __init__(self, data: HRImageSet, scale: int, degrade: Callable, teacher: torch.nn.Module,
                 device: torch.device | str = "cpu") -> None:
        if data.crop % scale:
            raise InvalidInputError(f"crop {data.crop} is not a multiple of the scale {scale}")
        self.scale, self.patch = scale, data.crop // scale
        self.hr: list[torch.Tensor] = []
        self.lr: list[torch.Tensor] = []
        self.target: list[torch.Tensor] = []
        gen = torch.Generator().manual_seed(0)  # a deterministic degradation draws nothing from it
        with torch.no_grad():
            for img in data.images:
                h, w = (img.shape[1] // scale) * scale, (img.shape[2] // scale) * scale
                hr = img[:, :h, :w]  # a view: no second copy of the images
                lr = degrade(hr[None], gen)[0]
                out = teacher(lr[None].to(device)).float()[0].cpu()
                self.hr.append(hr)
                self.lr.append(lr.mul(255).round().byte())  # the degradation quantises to 8-bit levels
                self.target.append(out.half())
        nbytes = sum(t.numel() * 2 for t in self.target)
        log.info("teacher outputs for %d images, %.1f MiB f16 in memory", len(self.target), nbytes / 2**20)

    def __len__(self) -> int:
        return len(self.hr)

    def sample(self, batch: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``hr (batch,3,P*s,P*s)``, ``lr (batch,3,P,P)``, ``teacher (batch,3,P*s,P*s)``: f32 [0,1] CPU
        (the teacher's output is not clamped), each from a random image and place, flipped/transposed
        at random, the three aligned."""
        s, p = self.scale, self.patch
        hr_out = torch.empty(batch, 3, p * s, p * s)
        lr_out = torch.empty(batch, 3, p, p)
        t_out = torch.empty(batch, 3, p * s, p * s)
        for i in range(batch):
            k = int(torch.randint(len(self.hr), (1,), generator=gen))
            lr = self.lr[k]
            y = int(torch.randint(lr.shape[1] - p + 1, (1,), generator=gen))
            x = int(torch.randint(lr.shape[2] - p + 1, (1,), generator=gen))
            flips = torch.randint(2, (3,), generator=gen).tolist()
            crops = (
                self.hr[k][:, y * s : (y + p) * s, x * s : (x + p) * s].float().div(255),
                lr[:, y : y + p, x : x + p].float().div(255),
                self.target[k][:, y * s : (y + p) * s, x * s : (x + p) * s].float(),
            )
            for dst, c in zip((hr_out, lr_out, t_out), crops):
                dst[i] = _augment(c, flips)
        return hr_out, lr_out, t_out


__all__ = ["HRImageSet", "TeacherTargets", "find_images"]
