"""HR training images, cached in memory as uint8, and seeded random crops."""

from __future__ import annotations

import logging
from collections.abc import Iterable
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
            flips = torch.randint(2, (3,), generator=gen).tolist()
            if flips[0]:
                patch = patch.flip(2)
            if flips[1]:
                patch = patch.flip(1)
            if flips[2]:
                patch = patch.transpose(1, 2)
            out[i] = patch
        return out


__all__ = ["HRImageSet", "find_images"]
