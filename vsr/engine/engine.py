"""The engine: one forward pass of a model over a batch of frames, whole or in tiles."""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import os
from dataclasses import dataclass

import torch
from torch import nn

from vsr.archs import SRModel, set_precision
from vsr.engine.device import resolve_precision
from vsr.engine.backends import BACKENDS, Build, make_runner
from vsr.errors import ConfigError

log = logging.getLogger("vsr.engine")

LAYOUTS = ("auto", "channels_last", "contiguous")


@dataclass(frozen=True)
class Tile:
    """A core region of the input (``y0:y1, x0:x1``) and the padded window computed for it."""

    y0: int
    y1: int
    x0: int
    x1: int
    py0: int
    py1: int
    px0: int
    px1: int


def plan_tiles(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """Cover ``height x width`` with cores of at most ``tile`` px, each inside a window padded by
    ``overlap`` px.

    Only the core of each tile is kept, and every core output pixel sees at least ``overlap`` px of
    real context on every side (or the true image border), so when ``overlap`` >= the model's
    receptive radius the tiled result equals the untiled one exactly. The cores of a row (column)
    are as even as the size allows, and every window has the same shape (``tile + 2*overlap``, or
    the frame's side if smaller): a window at the border is shifted inward rather than cut. So a
    static-shape backend (compile, TensorRT) builds one engine for all tiles, and each tile's
    feature maps fit the memory the previous one freed.
    """
    if tile <= 0 or (tile >= height and tile >= width):
        return [Tile(0, height, 0, width, 0, height, 0, width)]

    def spans(size: int) -> list[tuple[int, int, int, int]]:
        n = -(-size // tile)  # the count of cores a tile edge needs, then sized within 1 px of each other
        cuts = [i * size // n for i in range(n + 1)]
        window = min(size, -(-size // n) + 2 * overlap)
        out = []
        for a, b in zip(cuts, cuts[1:]):
            lo = min(max(0, a - overlap), size - window)
            out.append((a, b, lo, lo + window))
        return out

    return [Tile(y0, y1, x0, x1, py0, py1, px0, px1)
            for y0, y1, py0, py1 in spans(height) for x0, x1, px0, px1 in spans(width)]


def bytes_per_pixel(module: nn.Module, scale: int, element_size: int) -> int:
    """About how many bytes a forward pass of ``module`` holds per input pixel of each frame: three
    maps of its widest convolution (a layer's input and output, and a branch or activation beside
    them), the upsampler's ``3*scale^2`` maps before and after the pixel shuffle, the input. For
    ``compact-x4-fast`` on the CPU (fp32) that is 972 B, 11.0 GiB for a 12 MP photo: an upper bound
    (whole-frame passes of that photo peaked at 8-10 GB)."""
    widest = max((m.out_channels for m in module.modules() if isinstance(m, nn.Conv2d)), default=3)
    return element_size * (3 * widest + 2 * 3 * scale * scale + 3)


def memory_budget(device: torch.device) -> int:
    """Bytes a forward pass may hold before frames are split into tiles: on the CPU 2 GiB (at most
    an eighth of the RAM), on CUDA a quarter of the GPU's memory."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory // 4
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): assume 16 GiB
        ram = 16 << 30
    return min(2 << 30, ram // 8)


def auto_tile(frames: int, height: int, width: int, per_pixel: int, budget: int, overlap: int) -> int:
    """The tile edge (input pixels) that keeps a forward pass over ``frames`` frames of
    ``height x width`` within ``budget`` bytes at ``per_pixel`` bytes a pixel (its window, the tile
    and ``overlap`` on each side), or 0 when whole frames fit. With the model's context as
    ``overlap`` the output is the same as whole frames' (see :func:`plan_tiles`)."""
    if frames * height * width * per_pixel <= budget:
        return 0
    return max(64, math.isqrt(budget // (frames * per_pixel)) - 2 * overlap)


def weights_digest(module: nn.Module) -> str:
    """A stable hash of a module's parameters and buffers (engine cache keys, model cards)."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        t = tensor.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16: hash the same bits as int16
            h.update(b"bf16")
            t = t.view(torch.int16)
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


class Engine:
    """Runs an :class:`SRModel` on ``(N,3,H,W)`` RGB batches in [0,1].

    Output is ``(N,3,sH,sW)`` clamped to [0,1], on the engine's device, in :attr:`output_dtype`: the
    compute dtype (fp16 on CUDA for fp16-safe models, fp32 otherwise), except fp32 for a bf16 body.
    ``tile`` > 0 splits frames into tiles of that many input pixels with ``tile_overlap`` (default:
    the model's context) of padding; 0 runs whole frames, or tiles where a whole frame would hold
    more than :attr:`budget` bytes (:meth:`tile_for`). ``layout``: ``auto`` runs learned networks
    channels-last (on CUDA for the tensor cores, on the CPU for oneDNN's blocked convolutions:
    1.07-1.14x measured here) and the fixed-kernel scalers as they are; ``channels_last`` /
    ``contiguous`` force one.
    """

    def __init__(
        self,
        model: SRModel,
        device: torch.device,
        *,
        precision: str = "auto",
        backend: str = "eager",
        tile: int = 0,
        tile_overlap: int = 0,
        batch: int = 1,
        layout: str = "auto",
    ) -> None:
        if layout not in LAYOUTS:
            raise ConfigError(f"unknown layout {layout!r} (valid: {', '.join(LAYOUTS)})")
        if tile < 0 or tile_overlap < 0:
            raise ConfigError(f"tile and tile_overlap must be >= 0, got {tile} and {tile_overlap}")
        if 0 < tile < 16:
            raise ConfigError(f"tile {tile} is too small (use 0 for whole frames, or >= 16)")
        self.model = model
        self.scale = model.scale
        self.device = device
        self.dtype = resolve_precision(precision, device, model.fp16)
        self.tile = tile
        self.overlap = tile_overlap or model.context
        # a private copy: converting in place would round the shared module's weights for every later user
        module = copy.deepcopy(model.module).to(device=device).eval()
        # fp16: an fp32 head and skip where the network has that form (PlainSR.mixed_half)
        self.input_dtype = set_precision(module, self.dtype)
        self.output_dtype = torch.float32 if self.dtype == torch.bfloat16 else self.dtype
        for p in module.parameters():
            p.requires_grad_(False)
        self.channels_last = layout == "channels_last" or (layout == "auto" and (device.type == "cuda" or model.learned))
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # video: the same shapes frame after frame
            # fp32 convolutions (the fp32 engine, the fp16 engine's head) in true fp32, not TF32: TF32's
            # 10-bit mantissa is no better than fp16 and would undo the fp32 head
            torch.backends.cudnn.allow_tf32 = False
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module
        # tile 0: whole frames, unless one would not fit the memory budget (a phone photo at x4 on
        # the CPU): then tiles, which give the same output
        self.per_pixel = bytes_per_pixel(module, self.scale, torch.finfo(self.dtype).bits // 8) if model.learned else 0
        self.budget = memory_budget(device)
        self._auto_tiles: dict[tuple[int, int, int], int] = {}
        self.batch = max(1, batch)
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r} (valid: {', '.join(BACKENDS)})")
        if not model.learned and backend in ("compile", "auto"):
            backend = "eager"  # fixed-kernel resamplers gain nothing from compilation
        self.runner = make_runner(backend, module, model.name, weights_digest(module) if backend != "eager" else "",
                                  device, self.dtype)

    @property
    def backend(self) -> str:
        """The backend running the network (for ``auto``: its choice, once the first batch ran)."""
        return self.runner.effective().name

    @property
    def builds(self) -> list[Build]:
        return self.runner.effective().builds

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        runner = self.runner.effective()
        n = x.shape[0]
        if runner.static_shapes and n < self.batch:
            # compiled engines are built per shape: pad a short (last) batch instead of building another
            pad = x[-1:].expand(self.batch - n, *x.shape[1:])
            return self.runner(torch.cat([x, pad]))[:n]
        return self.runner(x)

    def warmup(self, height: int, width: int) -> None:
        """Build (or load) and run the engines for frames of this size once, before timing."""
        x = torch.zeros((self.batch, 3, height, width), device=self.device, dtype=self.input_dtype)
        self(x)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (N,3,H,W), got {tuple(x.shape)}")
        x = x.to(device=self.device, dtype=self.input_dtype, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        n, _, h, w = x.shape
        tiles = plan_tiles(h, w, self.tile or self.tile_for(n, h, w), self.overlap)
        if len(tiles) == 1:
            return self._forward(x).clamp_(0.0, 1.0)
        s = self.scale
        out = torch.empty((n, 3, h * s, w * s), device=self.device, dtype=self.output_dtype)
        for t in tiles:
            y = self._forward(x[:, :, t.py0 : t.py1, t.px0 : t.px1])
            oy, ox = (t.y0 - t.py0) * s, (t.x0 - t.px0) * s
            out[:, :, t.y0 * s : t.y1 * s, t.x0 * s : t.x1 * s] = y[
                :, :, oy : oy + (t.y1 - t.y0) * s, ox : ox + (t.x1 - t.x0) * s
            ]
        return out.clamp_(0.0, 1.0)

    def tile_for(self, frames: int, height: int, width: int) -> int:
        """The tile edge an untiled engine (``tile`` 0) uses for this batch shape: 0 (whole frames)
        unless they would need more than :attr:`budget` bytes (:func:`auto_tile`)."""
        key = (frames, height, width)
        if key not in self._auto_tiles:
            tile = auto_tile(frames, height, width, self.per_pixel, self.budget, self.overlap) if self.per_pixel else 0
            if tile:
                tiles = plan_tiles(height, width, tile, self.overlap)
                t = tiles[0]
                log.info("%d frame(s) of %dx%d would need %.1f GiB whole: run in %d tiles of %dx%d (%dx%d with "
                         "their context), the same output", frames, width, height,
                         frames * height * width * self.per_pixel / 2**30, len(tiles), t.x1 - t.x0, t.y1 - t.y0,
                         t.px1 - t.px0, t.py1 - t.py0)
            self._auto_tiles[key] = tile
        return self._auto_tiles[key]

    def describe(self) -> str:
        dtype = {torch.float16: "fp16", torch.bfloat16: "bf16"}.get(self.dtype, "fp32")
        tiling = f", tile {self.tile}+{self.overlap}" if self.tile else ""
        return f"{self.model.name} x{self.scale} ({self.backend}, {dtype}{tiling})"
