"""Training data, degradations, configs and the resumable loop (tiny CPU runs)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from vsr.archs import load_model
from vsr.cli.train import command
from vsr.errors import ConfigError, InvalidInputError
from vsr.io.image import write_image
from vsr.ops.resize import downscale_taps, imresize_down
from vsr.train.config import TRAIN_CONFIG_DIR, DegradationConfig, load_train_config
from vsr.train.data import HRImageSet, find_images
from vsr.train.degrade import (BicubicDegradation, JpegDegradation, RealWorldDegradation, VideoDegradation, h264_roundtrip,
                                jpeg_roundtrip, libjpeg_roundtrip)


def _pattern(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([128 + 90 * np.sin(xx / (2 + seed)), 128 + 80 * np.cos(yy / 3), (xx * 7 + yy * 3) % 256], -1)
    return (img + rng.normal(0, 4, img.shape)).clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hr")
    for i in range(3):
        write_image(d / f"img{i}.png", _pattern(72, 88, i))
    (d / "sub").mkdir()
    write_image(d / "sub" / "small.png", _pattern(20, 20, 5))  # skipped: smaller than the crop
    return d


def test_shipped_train_configs_load() -> None:
    paths = sorted(TRAIN_CONFIG_DIR.glob("*.toml"))
    assert len(paths) >= 4
    for p in paths:
        cfg = load_train_config(p)
        load_train_config(p.stem)  # by name too
        assert cfg.model


def test_train_config_errors() -> None:
    with pytest.raises(ConfigError, match="allowed"):
        load_train_config("x2-fast-fidelity", ["loss.nope=1"])
    with pytest.raises(ConfigError, match="degradation.kind"):
        load_train_config("x2-fast-fidelity", ["degradation.kind=sinc"])
    with pytest.raises(ConfigError, match="teacher"):
        load_train_config("x2-teacher", ["loss.distill_weight=1.0"])
    with pytest.raises(ConfigError, match="available"):
        load_train_config("no-such-config")
    with pytest.raises(ConfigError, match="even"):
        load_train_config("x2-fast-fidelity", ["loss.temporal_weight=1", "data.batch=5"])
    with pytest.raises(ConfigError, match="temporal_margin"):
        load_train_config("x2-fast-fidelity", ["loss.temporal_weight=1", "loss.temporal_margin=40"])


def test_imresize_matches_matlab_taps_and_keeps_constants() -> None:
    taps, first = downscale_taps(2)
    # MATLAB imresize(x, 0.5, 'bicubic') weights
    assert torch.allclose(taps[:4], torch.tensor([-0.01171875, -0.03515625, 0.11328125, 0.43359375], dtype=torch.float64))
    assert first == -3
    x = torch.full((1, 3, 12, 8), 0.25)
    assert torch.allclose(imresize_down(x, 4), torch.full((1, 3, 3, 2), 0.25))
    ramp = torch.arange(16.0).view(1, 1, 1, 16).expand(1, 1, 4, 16)
    mid = imresize_down(ramp, 2)[0, 0, 0, 3:5]  # interior of a linear ramp: centre of each pair
    assert torch.allclose(mid, torch.tensor([6.5, 8.5]), atol=1e-5)


def test_data_crops(image_dir: Path) -> None:
    paths = find_images([image_dir])
    assert len(paths) == 4
    data = HRImageSet(paths, crop=32)
    assert len(data) == 3
    a = data.sample(5, torch.Generator().manual_seed(1))
    b = data.sample(5, torch.Generator().manual_seed(1))
    assert a.shape == (5, 3, 32, 32) and a.dtype == torch.uint8 and torch.equal(a, b)


def test_pairs_are_two_views_of_one_picture_moved_by_their_shift(image_dir: Path) -> None:
    data = HRImageSet(find_images([image_dir]), crop=32)
    hr, shifts = data.sample_pairs(6, 8, torch.Generator().manual_seed(2))
    again, shifts2 = data.sample_pairs(6, 8, torch.Generator().manual_seed(2))
    assert hr.shape == (12, 3, 32, 32) and hr.dtype == torch.uint8 and shifts.shape == (6, 2)
    assert torch.equal(hr, again) and torch.equal(shifts, shifts2)  # seeded
    assert shifts.abs().max() <= 8 and (shifts != 0).any()
    for i, (dy, dx) in enumerate(shifts.tolist()):
        first, second = hr[i].int(), hr[6 + i].int()
        ys, xs = slice(max(0, -dy), 32 - max(0, dy)), slice(max(0, -dx), 32 - max(0, dx))
        yd, xd = slice(ys.start + dy, ys.stop + dy), slice(xs.start + dx, xs.stop + dx)
        assert torch.equal(second[:, ys, xs], first[:, yd, xd])
        if (dy, dx) != (0, 0):
            assert not torch.equal(first, second)
    small = HRImageSet(find_images([image_dir]), crop=72)  # 72x88 images: no room to move vertically
    _, tight = small.sample_pairs(4, 8, torch.Generator().manual_seed(0))
    assert (tight == 0).all()


def test_degradations(image_dir: Path) -> None:
    data = HRImageSet(find_images([image_dir]), crop=48)
    hr = data.sample(3, torch.Generator().manual_seed(0))
    bic = BicubicDegradation(2)(hr)
    assert bic.shape == (3, 3, 24, 24)
    assert torch.equal(bic, imresize_down(hr.float() / 255, 2).clamp(0, 1).mul(255).round().div(255))
    real = RealWorldDegradation(2, DegradationConfig(kind="realworld", video_prob=1.0))
    lr1 = real(hr, torch.Generator().manual_seed(3))
    lr2 = real(hr, torch.Generator().manual_seed(3))
    assert lr1.shape == bic.shape and torch.equal(lr1, lr2)  # seeded
    assert 0 <= lr1.min() and lr1.max() <= 1 and (lr1 - bic).abs().mean() > 0.005
    # video: the same bicubic LR, then H.264 (always at video_prob 1, never at 0)
    video = VideoDegradation(2, DegradationConfig(kind="video", video_prob=1.0, video_crf=(30, 30)))
    lr3 = video(hr, torch.Generator().manual_seed(3))
    assert torch.equal(lr3, video(hr, torch.Generator().manual_seed(3)))
    assert lr3.shape == bic.shape and 0.002 < (lr3 - bic).abs().mean() < (lr1 - bic).abs().mean()
    never = VideoDegradation(2, DegradationConfig(kind="video", video_prob=0.0))
    assert torch.equal(never(hr, torch.Generator().manual_seed(3)), bic)
    x = hr[0].float() / 255
    err = lambda y, ref=x: (y - ref).abs().mean().item()  # noqa: E731
    assert err(jpeg_roundtrip(x, 10)) > err(jpeg_roundtrip(x, 95))
    odd = x[:, :47, :45]
    assert h264_roundtrip(odd, 10).shape == odd.shape
    assert err(h264_roundtrip(odd, 45), odd) > err(h264_roundtrip(odd, 10), odd)


def test_jpeg_degradation_is_pillows_libjpeg_at_a_drawn_quality(image_dir: Path) -> None:
    import io

    from PIL import Image

    data = HRImageSet(find_images([image_dir]), crop=48)
    hr = data.sample(3, torch.Generator().manual_seed(0))
    bic = BicubicDegradation(2)(hr)
    always = JpegDegradation(2, DegradationConfig(kind="jpeg", jpeg_prob=1.0, jpeg_quality=(60, 60)))
    lr = always(hr, torch.Generator().manual_seed(1))
    assert torch.equal(lr, always(hr, torch.Generator().manual_seed(1))) and lr.shape == bic.shape
    # each LR is the bicubic LR saved by Pillow at quality 60 (4:2:0 or 4:4:4) and read back
    for got, clean in zip(lr, bic, strict=True):
        rgb = clean.permute(1, 2, 0).mul(255).round().byte().numpy()
        decoded = []
        for sub in (2, 0):
            buf = io.BytesIO()
            Image.fromarray(rgb).save(buf, format="JPEG", quality=60, subsampling=sub)
            decoded.append(torch.from_numpy(np.array(Image.open(io.BytesIO(buf.getvalue())))).permute(2, 0, 1) / 255)
        assert any(torch.equal(got, d) for d in decoded)
        assert (got - clean).abs().mean() > 0.003
    never = JpegDegradation(2, DegradationConfig(kind="jpeg", jpeg_prob=0.0))
    assert torch.equal(never(hr, torch.Generator().manual_seed(1)), bic)
    x = hr[0].float() / 255
    assert (libjpeg_roundtrip(x, 20) - x).abs().mean() > (libjpeg_roundtrip(x, 95) - x).abs().mean()


def _tiny_preset(tmp_path: Path) -> Path:
    p = tmp_path / "tiny-x2.toml"
    p.write_text('scale = 2\nchannels = 8\nnum_conv = 1\nexpand = 1\n')
    return p


def _train(args: list[str]) -> str:
    result = CliRunner().invoke(command, args)
    if result.exception is not None:
        raise result.exception
    return result.output


def test_training_runs_resumes_and_exports(image_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    preset = _tiny_preset(tmp_path)
    common = ["-c", "x2-fast-fidelity", "--data", str(image_dir), f"--set=model=\"{preset}\"",
              "--set=loss.distill_weight=0", "--set=data.batch=2", "--set=data.patch=12",
              "--set=run.log_every=2", "--set=run.checkpoint_every=2", "--set=optim.warmup=0", "--set=optim.lr=1e-3"]
    straight = tmp_path / "straight"
    out = _train(common + [f"--set=run.dir=\"{straight}\"", "--set=optim.steps=6"])
    assert re.search(r"step 6/6 loss [0-9.]+ \(pixel [0-9.]+ hfp [0-9.]+\) [0-9.]+ it/s", out)
    split = tmp_path / "split"
    _train(common + [f"--set=run.dir=\"{split}\"", "--set=optim.steps=6", "--set=run.max_minutes=1e-9"])
    assert torch.load(split / "checkpoint.pt", weights_only=True)["step"] == 1  # stopped early
    out = _train(common + [f"--set=run.dir=\"{split}\"", "--set=optim.steps=6"])
    assert "resumed" in out and "at step 1" in out
    a = load_file(str(straight / "tiny-x2.safetensors"))
    b = load_file(str(split / "tiny-x2.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # resuming == never stopping
    from vsr.archs.files import read_state_dict

    _, meta = read_state_dict(straight / "tiny-x2.safetensors")
    assert meta["steps"] == "6" and meta["data_dirs"] == f'["{image_dir}"]' and meta["preset"] == "tiny-x2"
    model = load_model(str(straight / "tiny-x2.safetensors"), 2)
    with torch.no_grad():
        assert model.module(torch.rand(1, 3, 10, 10)).shape == (1, 3, 20, 20)


def test_training_loss_goes_down(image_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    preset = _tiny_preset(tmp_path)
    out = _train(["-c", "x2-fast-fidelity", "--data", str(image_dir), f"--set=model=\"{preset}\"",
                  "--set=loss.distill_weight=0", "--set=loss.hfp_weight=0", "--set=data.batch=4", "--set=data.patch=16",
                  "--set=run.log_every=10", "--set=optim.warmup=0", "--set=optim.lr=3e-3", "--set=optim.steps=40",
                  f"--set=run.dir=\"{tmp_path / 'run'}\""])
    losses = [float(m) for m in re.findall(r"loss ([0-9.]+)", out)]
    assert len(losses) == 4 and losses[-1] < losses[0]


def test_temporal_loss_trains_on_pairs_and_makes_outputs_steadier(image_dir: Path, tmp_path: Path) -> None:
    """With only the temporal term the network is pushed to give the same output for a picture
    whatever its sub-pixel phase and codec noise; its pairs' disagreement goes down as it trains."""
    from vsr.train.loop import Trainer, _degraded_pairs
    from vsr.train.losses import ShiftConsistencyLoss
    from vsr.train.degrade import make_degradation

    torch.set_num_threads(1)
    preset = _tiny_preset(tmp_path)
    cfg = load_train_config("x2-fast-fidelity", [
        f'model="{preset}"', "loss.distill_weight=0", "loss.hfp_weight=0", "loss.pixel_weight=0.1",
        "loss.temporal_weight=1", "loss.temporal_shift=5", "loss.temporal_margin=2", "data.batch=4",
        "data.patch=16", "run.log_every=10", "optim.warmup=0", "optim.lr=3e-3", "optim.steps=40",
        'degradation.kind="video"', "degradation.video_prob=1", f'run.dir="{tmp_path / "run"}"'])
    trainer = Trainer(cfg, progress=lambda _: None)
    data = HRImageSet(find_images([image_dir]), crop=32)
    hr, lr, target, shifts = _degraded_pairs(data, make_degradation(2, cfg.degradation), 4, 5,
                                             torch.Generator().manual_seed(7))
    assert target is None and hr.shape == (4, 3, 32, 32) and lr.shape == (4, 3, 16, 16)
    measure = ShiftConsistencyLoss(4)

    def disagreement() -> float:
        with torch.no_grad():
            return float(measure(trainer.model(lr), shifts))

    before = disagreement()
    result = trainer.run([str(image_dir)], fresh=True)
    assert "temporal" in result.losses and result.step == 40
    assert disagreement() < before
    with pytest.raises(ValueError, match="pairs"):
        trainer.train_step(hr, lr)  # a plain batch has no shifts


def test_perceptual_run_from_fidelity_init(image_dir: Path, tmp_path: Path) -> None:
    """Real-world degradations on 2 worker threads, ST-LPIPS + adversarial terms, init from a checkpoint."""
    torch.set_num_threads(1)
    preset = _tiny_preset(tmp_path)
    base = ["--data", str(image_dir), f"--set=model=\"{preset}\"", "--set=data.batch=2", "--set=data.patch=16",
            "--set=run.log_every=1", "--set=optim.warmup=0"]
    fid = tmp_path / "fid"
    _train(["-c", "x2-fast-fidelity", *base, "--set=loss.distill_weight=0", "--set=optim.steps=1", f"--set=run.dir=\"{fid}\""])
    out = _train(["-c", "x2-fast-perceptual", *base, "--set=optim.steps=2", "--set=loss.gan_start=1", "--set=data.workers=2",
                  f"--set=run.init=\"{fid / 'checkpoint.pt'}\"", f"--set=run.dir=\"{tmp_path / 'perc'}\""])
    assert "initialised the model from" in out
    assert re.search(r"step 1/2 .*stlpips [0-9.]+\)", out) and "gan" not in out.split("step 1/2")[1].split("\n")[0]
    assert re.search(r"step 2/2 .*stlpips [0-9.]+ gan [0-9.]+ disc [0-9.]+\)", out)
    state = torch.load(tmp_path / "perc" / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2 and "disc" in state


def test_init_from_deploy_weights(image_dir: Path, tmp_path: Path) -> None:
    """run.init with a .safetensors file fine-tunes those weights: exported before any step they come back unchanged."""
    torch.set_num_threads(1)
    preset = _tiny_preset(tmp_path)
    from vsr.archs.files import load_weights_file, save_weights_file
    from vsr.archs.rep import RepSR

    torch.manual_seed(5)
    net = RepSR(2, 8, 1, expand=1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    start = tmp_path / "start.safetensors"
    save_weights_file(start, net.reparameterize())
    common = ["-c", "x2-fast-fidelity", "--data", str(image_dir), f"--set=model=\"{preset}\"", "--set=loss.distill_weight=0",
              "--set=data.batch=2", "--set=data.patch=12", f"--set=run.init=\"{start}\""]
    from vsr.train.loop import Trainer

    trainer = Trainer(load_train_config("x2-fast-fidelity", [o.removeprefix("--set=") for o in common if o.startswith("--set")]
                                        + [f"run.dir=\"{tmp_path / 'a'}\""]))
    trainer.init_from(str(start))
    x = torch.rand(1, 3, 10, 12)
    with torch.no_grad():
        same = load_weights_file(trainer.export()).module(x)
        assert (same - net(x)).abs().max() < 1e-5
    out = _train(common + ["--set=optim.steps=2", f"--set=run.dir=\"{tmp_path / 'b'}\""])
    assert f"initialised the model from {start}" in out
    with torch.no_grad():
        moved = load_weights_file(tmp_path / "b" / "tiny-x2.safetensors").module(x)
    assert (moved - same).abs().max() > 1e-6
    wrong = tmp_path / "wrong.safetensors"
    save_weights_file(wrong, RepSR(2, 16, 1).reparameterize())
    with pytest.raises(InvalidInputError, match="cannot start"):
        _train(common[:-1] + [f"--set=run.init=\"{wrong}\"", "--set=optim.steps=1", f"--set=run.dir=\"{tmp_path / 'c'}\""])


def test_distillation_from_teacher_file(image_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    preset = _tiny_preset(tmp_path)
    teacher = tmp_path / "teacher.safetensors"
    from vsr.archs.files import save_weights_file
    from vsr.archs.rep import RepSR

    save_weights_file(teacher, RepSR(2, 8, 1).reparameterize())
    out = _train(["-c", "x2-fast-fidelity", "--data", str(image_dir), f"--set=model=\"{preset}\"",
                  f"--set=loss.teacher=\"{teacher}\"", "--set=data.batch=2", "--set=data.patch=12",
                  "--set=optim.steps=2", "--set=run.log_every=1", f"--set=run.dir=\"{tmp_path / 'd'}\""])
    assert re.search(r"step 2/2 .*distill [0-9.]+\)", out)


class _Nearest(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")


def test_teacher_targets_are_aligned_crops_of_one_teacher_pass(image_dir: Path) -> None:
    """The teacher runs once per whole image; every sampled triple is aligned: the teacher crop is the
    teacher's output for the LR crop, and the LR crop is the bicubic downscale of the HR crop away
    from the crop's edge."""
    from vsr.train.data import TeacherTargets

    data = HRImageSet(find_images([image_dir]), 24)
    targets = TeacherTargets(data, 2, BicubicDegradation(2), _Nearest())
    assert len(targets) == 3
    hr, lr, teacher = targets.sample(6, torch.Generator().manual_seed(4))
    assert hr.shape == teacher.shape == (6, 3, 24, 24) and lr.shape == (6, 3, 12, 12)
    assert (teacher - _Nearest()(lr)).abs().max() < 1e-3  # f16 storage
    own = BicubicDegradation(2)(hr, torch.Generator())
    assert (own[..., 3:-3, 3:-3] - lr[..., 3:-3, 3:-3]).abs().max() < 1.5 / 255
    again = targets.sample(6, torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip((hr, lr, teacher), again))


def test_distillation_runs_the_teacher_once_for_bicubic(image_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    preset = _tiny_preset(tmp_path)
    from vsr.archs.files import save_weights_file
    from vsr.archs.rep import RepSR

    teacher = tmp_path / "teacher.safetensors"
    save_weights_file(teacher, RepSR(2, 8, 1).reparameterize())
    common = ["-c", "x2-fast-fidelity", "--data", str(image_dir), f"--set=model=\"{preset}\"",
              f"--set=loss.teacher=\"{teacher}\"", "--set=data.batch=2", "--set=data.patch=12",
              "--set=optim.steps=2", "--set=run.log_every=1"]
    out = _train([*common, f"--set=run.dir=\"{tmp_path / 'once'}\""])
    assert "ran the teacher once over the 3 training images" in out
    assert re.search(r"step 2/2 .*distill [0-9.]+\)", out)
    out = _train([*common, "--set=loss.teacher_once=false", f"--set=run.dir=\"{tmp_path / 'each'}\""])
    assert "ran the teacher once" not in out and re.search(r"step 2/2 .*distill [0-9.]+\)", out)
    real = _train([*common, "--set=degradation.kind=\"realworld\"", f"--set=run.dir=\"{tmp_path / 'real'}\""])
    assert "ran the teacher once" not in real


def test_artifact_loss_trains_with_a_moving_average_that_resumes(image_dir: Path, tmp_path: Path) -> None:
    from vsr.train.loop import Trainer

    torch.set_num_threads(1)
    preset = _tiny_preset(tmp_path)
    over = [f'model="{preset}"', "loss.distill_weight=0", "loss.hfp_weight=0", "loss.artifact_weight=1",
            "loss.ema_decay=0.9", "data.batch=2", "data.patch=16", "optim.warmup=0", "optim.lr=3e-3",
            "run.checkpoint_every=3", f'run.dir="{tmp_path / "run"}"']
    trainer = Trainer(load_train_config("x2-fast-fidelity", [*over, "optim.steps=3"]), progress=lambda _: None)
    start = [p.detach().clone() for p in trainer.model.parameters()]
    result = trainer.run([str(image_dir)], fresh=True)
    assert "artifact" in result.losses and result.step == 3
    assert trainer.ema is not None and all(not p.requires_grad for p in trainer.ema.parameters())
    for avg, now, first in zip(trainer.ema.parameters(), trainer.model.parameters(), start):
        # the average began at the starting weights and trails the model: between the two
        if not torch.equal(now, first):
            assert (avg - first).abs().sum() < (now - first).abs().sum() and not torch.equal(avg, first)
    saved = [p.detach().clone() for p in trainer.ema.parameters()]
    again = Trainer(load_train_config("x2-fast-fidelity", [*over, "optim.steps=4"]), progress=lambda _: None)
    again.load_checkpoint()
    assert again.step == 3 and all(torch.equal(a, b) for a, b in zip(again.ema.parameters(), saved))
    with pytest.raises(ConfigError, match="artifact_window"):
        load_train_config("x2-fast-fidelity", ["loss.artifact_weight=1", "loss.artifact_window=6"])
    with pytest.raises(ConfigError, match="ema_decay"):
        load_train_config("x2-fast-fidelity", ["loss.artifact_weight=1", "loss.ema_decay=1"])


def _two_step_trainer(tmp_path: Path, *losses: str):
    """A Trainer for two steps of the tiny preset on 16-px patches, distillation off, with ``losses``."""
    from vsr.train.loop import Trainer

    torch.set_num_threads(1)
    cfg = load_train_config("x2-fast-fidelity", [
        f'model="{_tiny_preset(tmp_path)}"', "loss.distill_weight=0", *losses,
        "data.batch=2", "data.patch=16", "optim.warmup=0", "optim.steps=2", f'run.dir="{tmp_path / "run"}"'])
    return Trainer(cfg, progress=lambda _: None)


def test_a_vgg_st_lpips_term_beside_the_alexnet_one(image_dir: Path, tmp_path: Path) -> None:
    trainer = _two_step_trainer(tmp_path, "loss.stlpips_weight=1", "loss.stlpips_vgg_weight=0.5")
    assert trainer.terms["stlpips"][1].metric.net_name == "alex" and trainer.terms["stlpips_vgg"][0] == 0.5
    assert trainer.terms["stlpips_vgg"][1].metric.net_name == "vgg"
    result = trainer.run([str(image_dir)], fresh=True)
    assert result.losses["stlpips_vgg"] > 0 and result.losses["stlpips"] > 0
    with pytest.raises(ConfigError, match="stlpips_vgg_weight"):
        load_train_config("x2-fast-fidelity", ['loss.stlpips_net="vgg"', "loss.stlpips_vgg_weight=1"])


def test_the_spectral_term_trains_and_its_window_is_checked(image_dir: Path, tmp_path: Path) -> None:
    trainer = _two_step_trainer(tmp_path, "loss.spectral_weight=10", "loss.spectral_patch=8", "loss.spectral_stride=4")
    weight, term = trainer.terms["spectral"]
    assert weight == 10 and (term.patch, term.stride, term.mode) == (8, 4, "excess")
    result = trainer.run([str(image_dir)], fresh=True)
    assert result.losses["spectral"] > 0 and result.step == 2
    with pytest.raises(ConfigError, match="spectral_patch"):
        load_train_config("x2-fast-fidelity", ["loss.spectral_weight=1", "data.patch=16", "loss.spectral_patch=40"])
    with pytest.raises(ConfigError, match="spectral_stride"):
        load_train_config("x2-fast-fidelity", ["loss.spectral_weight=1", "loss.spectral_stride=0"])
    with pytest.raises(ConfigError, match="spectral_mode"):
        load_train_config("x2-fast-fidelity", ["loss.spectral_weight=1", 'loss.spectral_mode="deficit"'])
