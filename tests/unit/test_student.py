"""The distilled ST-LPIPS student: shipped weights, agreement with ST-LPIPS, trainer, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from clips import natural_picture
from vsr.errors import InvalidInputError
from vsr.metrics.stlpips import STLPIPS
from vsr.metrics.student import PerceptualStudent, load_student
from vsr.train import student as trainer

ALEX_MACS_PER_PIXEL = 3 * 64 * 11 * 11  # ST-LPIPS(alex)'s first conv alone, at full resolution


@pytest.fixture(scope="module")
def picture() -> torch.Tensor:
    return torch.from_numpy(natural_picture(128, seed=3)).permute(2, 0, 1)[None]


def _versions(x: torch.Tensor) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    src = torch.nn.functional.pad(x, (4, 4, 4, 4), mode="reflect")
    out = [x]
    for fam in (trainer.d_blur, trainer.d_noise, trainer.d_jpeg, trainer.d_downup, trainer.d_sharpen,
                trainer.d_h264, trainer.d_posterise, trainer.d_lanczos):
        for _ in range(2):
            out.append(fam(x, src, g).clamp(0, 1))
    return out


def test_shipped_student_ranks_distortions_like_stlpips(picture) -> None:
    student, teacher = load_student(), STLPIPS("alex")
    versions = _versions(picture)
    with torch.inference_mode():
        ref = picture.expand(len(versions), -1, -1, -1)
        d_student = student(torch.cat(versions), ref).numpy()
        d_teacher = teacher(torch.cat(versions), ref).numpy()
    assert d_student[0] == pytest.approx(0.0, abs=1e-6) and (d_student[1:] > 0).all()
    assert trainer.spearman(d_student, d_teacher) > 0.8


def test_student_orders_identical_blurred_noisy(picture) -> None:
    student = load_student()
    blurred = trainer.gaussian_blur(picture, 2.0)
    noisy = (picture + 0.2 * torch.randn(picture.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    with torch.inference_mode():
        same, blur, noise = (float(student(v, picture)) for v in (picture, blurred, noisy))
    assert same < blur and same < noise


def test_student_is_a_small_fraction_of_stlpips_cost() -> None:
    s = PerceptualStudent()
    assert s.macs_per_pixel() < ALEX_MACS_PER_PIXEL / 20


def test_bad_weights_are_a_clear_error(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="not found"):
        load_student(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_student(junk)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(other))
    with pytest.raises(InvalidInputError, match="not a perceptual student"):
        load_student(other)


def test_spearman_and_rank_loss() -> None:
    assert trainer.spearman(np.array([1, 2, 3, 4.0]), np.array([10, 20, 30, 40.0])) == pytest.approx(1.0)
    assert trainer.spearman(np.array([1, 2, 3, 4.0]), np.array([4, 3, 2, 1.0])) == pytest.approx(-1.0)
    assert trainer.spearman(np.array([1, 1, 2.0]), np.array([1, 1, 2.0])) == pytest.approx(1.0)  # ties
    target = torch.tensor([[0.1, 0.2, 0.3]])
    right = trainer.rank_loss(torch.tensor([[0.0, 0.5, 0.9]]), target)
    wrong = trainer.rank_loss(torch.tensor([[0.9, 0.5, 0.0]]), target)
    assert right < wrong


def test_trainer_end_to_end_on_generated_pictures(tmp_path) -> None:
    from vsr.io.image import write_image

    for split, seeds in (("train", range(4)), ("held", range(10, 12))):
        d = tmp_path / split
        d.mkdir()
        for s in seeds:
            img = (natural_picture(72, seed=s) * 255).round().astype(np.uint8)
            write_image(d / f"{split}{s}.png", img)
    out = tmp_path / "s.safetensors"
    report = tmp_path / "r.json"
    rc = trainer.main(["--data", str(tmp_path / "train"), "--heldout", str(tmp_path / "held"), "--out", str(out),
                       "--json", str(report), "--cache", str(tmp_path / "cache"), "--crops", "4", "--versions", "3",
                       "--size", "48", "--heldout-crops", "2", "--heldout-size", "48", "--steps", "4", "--batch", "2",
                       "--cost-size", "64x48"])
    assert rc == 0
    r = json.loads(report.read_text())
    assert r["heldout_seen_families"]["pairs"] == 6 and r["heldout_new_families"]["pairs"] == 3
    assert r["cost_per_pair"]["student_ms"] > 0
    model = load_student(out)
    assert isinstance(model, PerceptualStudent)
    assert list((tmp_path / "cache").glob("train-*.npz"))  # pair sets cached for a rerun
