"""Distil ST-LPIPS into the image-level :class:`~vsr.metrics.student.PerceptualStudent`.

``python -m vsr.train.student --data TRAIN_DIR --heldout EVAL_DIR --out student.safetensors``

1. Pairs: whole crops of the training images, each with several distorted versions (families in
   :data:`TRAIN_FAMILIES`: blur, noise, JPEG, bicubic down-up, our x2 model's up-scale of a
   down-scale, sharpening, colour shifts, small translations, and mixtures), stored 8-bit.
2. Labels: ST-LPIPS(alex) of each pair: the teacher.
3. Training: squared error of log(distance + 0.01) (optionally plus a logistic ranking loss between
   the versions of the same picture, ``--rank-weight``), Adam with a one-cycle schedule, seeded.
4. Held-out report: Spearman rank correlation with ST-LPIPS on pairs made from images the student
   never saw (``--heldout``), over all pairs and within each picture, for the training families and
   for families it was never trained on (H.264, lanczos down-up, posterisation); and the cost per
   720p pair of both metrics. Written to ``--json`` and printed.

Pair sets are cached in ``--cache`` (npz) so a rerun only trains.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vsr.metrics.stlpips import STLPIPS
from vsr.metrics.student import PerceptualStudent
from vsr.ops.highfreq import gaussian_blur, highpass
from vsr.ops.resize import imresize_down
from vsr.train.data import find_images
from vsr.train.degrade import _uniform as _u
from vsr.train.degrade import h264_roundtrip, jpeg_roundtrip

Distortion = Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


def _resample_up(x: torch.Tensor, scale: int, kernel: str) -> torch.Tensor:
    from vsr.archs.resample import ResampleUpscaler

    return ResampleUpscaler(scale, kernel)(x).clamp(0, 1)


def _down_up(x: torch.Tensor, scale: int, kernel: str = "bicubic") -> torch.Tensor:
    h, w = x.shape[-2:]
    hc, wc = h // scale * scale, w // scale * scale
    up = _resample_up(imresize_down(x[..., :hc, :wc], scale).clamp(0, 1), scale, kernel)
    return F.pad(up, (0, w - wc, 0, h - hc), mode="replicate")


_SR: list = []


def _sr_x2(x: torch.Tensor) -> torch.Tensor:
    if not _SR:
        from vsr.archs import load_model

        _SR.append(load_model(None, 2).module.eval())
    h, w = x.shape[-2:]
    with torch.no_grad():
        up = _SR[0](imresize_down(x[..., : h // 2 * 2, : w // 2 * 2], 2).clamp(0, 1)).clamp(0, 1)
    return F.pad(up, (0, w - up.shape[-1], 0, h - up.shape[-2]), mode="replicate")


# Each distortion: (reference (1,3,H,W), the larger source window (1,3,H+2m,W+2m), gen) -> (1,3,H,W).
def d_blur(x, src, g):
    return gaussian_blur(x, _u(g, 0.4, 3.0))


def d_noise(x, src, g):
    sigma = _u(g, 1, 25) / 255
    if _u(g, 0, 1) < 0.3:  # luma-only noise
        return x + sigma * torch.randn(1, 1, *x.shape[-2:], generator=g)
    return x + sigma * torch.randn(x.shape, generator=g)


def d_jpeg(x, src, g):
    return jpeg_roundtrip(x[0], int(_u(g, 5, 90)))[None]


def d_downup(x, src, g):
    return _down_up(x, int(torch.randint(2, 5, (1,), generator=g)), "bicubic")


def d_sr(x, src, g):
    return _sr_x2(x)


def d_sharpen(x, src, g):
    return x + _u(g, 0.5, 3.0) * highpass(x, _u(g, 0.7, 2.0))


def d_colour(x, src, g):
    gain = _u(g, 0.8, 1.2)
    bias = _u(g, -0.08, 0.08)
    grey = x.mean(1, keepdim=True)
    sat = _u(g, 0.5, 1.5)
    return (grey + sat * (x - grey)) * gain + bias


def d_shift(x, src, g):
    m = (src.shape[-1] - x.shape[-1]) // 2
    dy, dx = (int(torch.randint(-m, m + 1, (1,), generator=g)) for _ in range(2))
    h, w = x.shape[-2:]
    return src[..., m + dy : m + dy + h, m + dx : m + dx + w]


def d_mix(x, src, g):
    first = [d_blur, d_downup, d_sr][int(torch.randint(3, (1,), generator=g))]
    second = [d_noise, d_jpeg][int(torch.randint(2, (1,), generator=g))]
    return second(first(x, src, g).clamp(0, 1), src, g)


def d_h264(x, src, g):
    return h264_roundtrip(x[0], int(_u(g, 20, 48)))[None]


def d_lanczos(x, src, g):
    return _down_up(x, int(torch.randint(2, 5, (1,), generator=g)), "lanczos")


def d_posterise(x, src, g):
    levels = 2 ** int(torch.randint(2, 6, (1,), generator=g))
    return torch.round(x * (levels - 1)) / (levels - 1)


TRAIN_FAMILIES: dict[str, Distortion] = {
    "blur": d_blur, "noise": d_noise, "jpeg": d_jpeg, "downup": d_downup, "sr_x2": d_sr,
    "sharpen": d_sharpen, "colour": d_colour, "shift": d_shift, "mix": d_mix,
}
HELDOUT_FAMILIES: dict[str, Distortion] = {"h264": d_h264, "lanczos": d_lanczos, "posterise": d_posterise}
LOG_EPS = 0.01
MARGIN = 4  # pixels of source around each crop, for the translation family


def make_pairs(paths: list[Path], crops: int, versions: int, size: int, families: dict[str, Distortion],
               seed: int) -> dict[str, np.ndarray]:
    """``crops`` whole crops (``size`` px) from ``paths``, each with ``versions`` distortions from
    ``families``: uint8 refs ``(C,3,S,S)``, dists ``(C,V,3,S,S)``, family index ``(C,V)``."""
    from vsr.io.image import read_image

    g = torch.Generator().manual_seed(seed)
    names = list(families)
    images = []
    for p in paths:
        a = read_image(p)
        if min(a.shape[:2]) >= size + 2 * MARGIN:
            images.append(torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1))
    if not images:
        raise SystemExit(f"no image of at least {size + 2 * MARGIN} px in {len(paths)} files")
    refs = np.empty((crops, 3, size, size), np.uint8)
    dists = np.empty((crops, versions, 3, size, size), np.uint8)
    fams = np.empty((crops, versions), np.int16)
    for c in range(crops):
        img = images[c % len(images)] if crops >= len(images) else images[int(torch.randint(len(images), (1,), generator=g))]
        h, w = img.shape[1:]
        y = int(torch.randint(0, h - size - 2 * MARGIN + 1, (1,), generator=g))
        x = int(torch.randint(0, w - size - 2 * MARGIN + 1, (1,), generator=g))
        src = img[None, :, y : y + size + 2 * MARGIN, x : x + size + 2 * MARGIN].float() / 255
        ref = src[..., MARGIN:-MARGIN, MARGIN:-MARGIN]
        refs[c] = (ref[0] * 255).round().byte().numpy()
        picks = torch.randperm(len(names), generator=g).tolist()
        picks = (picks * (versions // len(picks) + 1))[:versions]
        for v, k in enumerate(picks):
            out = families[names[k]](ref, src, g).clamp(0, 1)
            dists[c, v] = (out[0] * 255).round().byte().numpy()
            fams[c, v] = k
        if (c + 1) % 100 == 0:
            print(f"  pairs: {c + 1}/{crops} crops", file=sys.stderr, flush=True)
    return {"refs": refs, "dists": dists, "families": fams, "family_names": np.array(names)}


@torch.inference_mode()
def label(data: dict[str, np.ndarray], teacher: torch.nn.Module, batch: int = 8) -> np.ndarray:
    refs, dists = data["refs"], data["dists"]
    c, v = dists.shape[:2]
    out = np.empty((c, v), np.float32)
    t0 = time.perf_counter()
    for i in range(0, c):
        r = torch.from_numpy(refs[i]).float().div(255)[None].expand(v, -1, -1, -1)
        d = torch.from_numpy(dists[i]).float().div(255)
        out[i] = teacher(d, r).numpy()
        if (i + 1) % 100 == 0:
            print(f"  labels: {i + 1}/{c} crops ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return out


def load_or_make(cache: Path | None, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if cache is not None and cache.is_file():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    data = make()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **data)
    return data


def rank_loss(pred: torch.Tensor, target: torch.Tensor, tau: float = 0.01) -> torch.Tensor:
    """Logistic loss on every ordered pair of versions of the same picture: ``(B,V)`` each."""
    dp = pred[:, :, None] - pred[:, None, :]
    dt = target[:, :, None] - target[:, None, :]
    sign = torch.sign(dt)
    weight = (dt.abs() > 1e-3).float()
    return (F.softplus(-sign * dp / tau) * weight).sum() / weight.sum().clamp_min(1)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    def ranks(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x))
        # average ties
        xs = x[order]
        i = 0
        while i < len(xs):
            j = i
            while j + 1 < len(xs) and xs[j + 1] == xs[i]:
                j += 1
            r[order[i : j + 1]] = (i + j) / 2
            i = j + 1
        return r

    ra, rb = ranks(np.asarray(a, float)), ranks(np.asarray(b, float))
    ra -= ra.mean()
    rb -= rb.mean()
    den = math.sqrt(float((ra**2).sum() * (rb**2).sum()))
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


@torch.inference_mode()
def predict(student: PerceptualStudent, data: dict[str, np.ndarray], batch: int = 16) -> np.ndarray:
    refs, dists = data["refs"], data["dists"]
    c, v = dists.shape[:2]
    out = np.empty((c, v), np.float32)
    for i in range(c):
        r = torch.from_numpy(refs[i]).float().div(255)[None].expand(v, -1, -1, -1)
        out[i] = student(torch.from_numpy(dists[i]).float().div(255), r).numpy()
    return out


def report(pred: np.ndarray, target: np.ndarray, families: np.ndarray, names: list[str]) -> dict:
    """Spearman over all pairs, the mean within-picture Spearman, and per family (over all pairs)."""
    within = [spearman(p, t) for p, t in zip(pred, target) if len(set(t.tolist())) > 1]
    per_family = {}
    for k, name in enumerate(names):
        m = families == k
        if m.sum() > 2:
            per_family[name] = round(spearman(pred[m], target[m]), 4)
    return {
        "pairs": int(pred.size),
        "spearman": round(spearman(pred.ravel(), target.ravel()), 4),
        "spearman_within_picture": round(float(np.nanmean(within)), 4),
        "pearson": round(float(np.corrcoef(pred.ravel(), target.ravel())[0, 1]), 4),
        "mean_abs_error": round(float(np.abs(pred - target).mean()), 4),
        "per_family": per_family,
    }


def train(student: PerceptualStudent, data: dict[str, np.ndarray], labels: np.ndarray, steps: int, batch: int,
          lr: float, seed: int, rank_weight: float = 0.0) -> list[float]:
    g = torch.Generator().manual_seed(seed)
    refs, dists = data["refs"], data["dists"]
    c, v = dists.shape[:2]
    opt = torch.optim.Adam(student.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    losses = []
    t0 = time.perf_counter()
    student.train()
    for step in range(steps):
        idx = torch.randint(c, (batch,), generator=g).numpy()
        # random flips / transposes: the metric is orientation-free
        r = torch.from_numpy(refs[idx]).float().div(255)
        d = torch.from_numpy(dists[idx]).float().div(255)  # (B,V,3,S,S)
        if step % 2:
            r, d = r.flip(-1), d.flip(-1)
        if step % 4 >= 2:
            r, d = r.transpose(-1, -2), d.transpose(-1, -2)
        y = torch.from_numpy(labels[idx])
        pred = student(d.flatten(0, 1), r[:, None].expand_as(d).flatten(0, 1)).view(batch, v)
        # squared error of log(d + 0.01): relative error matters at every level of distortion (an L1
        # on d itself left the small, SR-like distances that the monitor sees unlearned)
        lp, ly = torch.log(pred + LOG_EPS), torch.log(y + LOG_EPS)
        loss = (lp - ly).pow(2).mean()
        if rank_weight:
            loss = loss + rank_weight * rank_loss(lp, ly, tau=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if (step + 1) % 100 == 0:
            rate = (step + 1) / (time.perf_counter() - t0)
            print(f"  step {step + 1}/{steps} loss {np.mean(losses[-100:]):.4f} {rate:.1f} it/s",
                  file=sys.stderr, flush=True)
    student.eval()
    return losses


@torch.inference_mode()
def cost_per_pair(student: PerceptualStudent, teacher: torch.nn.Module, h: int = 720, w: int = 1280,
                  repeats: int = 3) -> dict[str, float]:
    a, b = torch.rand(1, 3, h, w), torch.rand(1, 3, h, w)

    def timed(fn) -> float:
        fn(a, b)
        best = math.inf
        for _ in range(repeats):
            t = time.perf_counter()
            fn(a, b)
            best = min(best, time.perf_counter() - t)
        return best * 1000

    ms_student, ms_teacher = timed(student), timed(teacher)
    return {"frame": f"{w}x{h}", "student_ms": round(ms_student, 1), "stlpips_ms": round(ms_teacher, 1),
            "speedup": round(ms_teacher / ms_student, 1), "threads": torch.get_num_threads()}


def save(student: PerceptualStudent, path: Path, meta: dict[str, str]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: t.detach().contiguous() for k, t in student.state_dict().items()}
    save_file(state, str(path), metadata={"channels": ",".join(map(str, student.channels)), **meta})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vsr.train.student", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", required=True, help="training image folders")
    ap.add_argument("--heldout", nargs="+", required=True, help="held-out image folders (never trained on)")
    ap.add_argument("--out", required=True, help="student weights (.safetensors)")
    ap.add_argument("--json", default=None, help="write the held-out report here")
    ap.add_argument("--cache", default="runs/student", help="folder for the pair sets (npz)")
    ap.add_argument("--crops", type=int, default=1200)
    ap.add_argument("--versions", type=int, default=4)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--heldout-crops", type=int, default=240)
    ap.add_argument("--heldout-size", type=int, default=192)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=8, help="pictures per step (x versions pairs)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--rank-weight", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cost-size", default="1280x720", help="frame size WxH at which the cost per pair is timed")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t_start = time.time()
    teacher = STLPIPS("alex")
    cache = Path(args.cache)
    train_paths, held_paths = find_images(args.data), find_images(args.heldout)
    overlap = {p.name for p in train_paths} & {p.name for p in held_paths}
    if overlap:
        raise SystemExit(f"held-out images also in the training data: {sorted(overlap)[:3]}")

    def labelled(name: str, paths: list[Path], crops: int, size: int, fams: dict, seed: int) -> dict:
        def make() -> dict:
            print(f"making {name} pairs", file=sys.stderr)
            d = make_pairs(paths, crops, args.versions, size, fams, seed)
            d["labels"] = label(d, teacher)
            return d

        return load_or_make(cache / f"{name}-{crops}x{args.versions}-{size}-s{seed}.npz", make)

    tr = labelled("train", train_paths, args.crops, args.size, TRAIN_FAMILIES, args.seed)
    ho = labelled("heldout", held_paths, args.heldout_crops, args.heldout_size, TRAIN_FAMILIES, args.seed + 1)
    hf = labelled("heldout-newfamilies", held_paths, args.heldout_crops // 2, args.heldout_size,
                  HELDOUT_FAMILIES, args.seed + 2)
    t_data = time.time() - t_start

    student = PerceptualStudent()
    t0 = time.time()
    losses = train(student, tr, tr["labels"], args.steps, args.batch, args.lr, args.seed, args.rank_weight)
    t_train = time.time() - t0
    result = {
        "command": "python -m vsr.train.student " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "student_params": sum(p.numel() for p in student.parameters()),
        "student_macs_per_pixel": student.macs_per_pixel(),
        "train": {"crops": args.crops, "versions": args.versions, "size": args.size, "steps": args.steps,
                  "final_loss": round(float(np.mean(losses[-100:])), 4), "data_s": round(t_data),
                  "train_s": round(t_train)},
        "heldout_seen_families": report(predict(student, ho), ho["labels"], ho["families"], list(ho["family_names"])),
        "heldout_new_families": report(predict(student, hf), hf["labels"], hf["families"], list(hf["family_names"])),
        "train_fit": report(predict(student, tr), tr["labels"], tr["families"], list(tr["family_names"])),
        "cost_per_pair": cost_per_pair(student, teacher, *reversed([int(v) for v in args.cost_size.split("x")])),
    }
    save(student, Path(args.out), {"trained_by": result["command"], "date": result["date"]})
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
