"""The loss ablation trains every variant of a recipe and evaluates each (tiny run on generated images)."""

from __future__ import annotations

import json

import numpy as np

from clips import natural_picture
from vsr.io.image import write_image
from vsr.train import ablation
from vsr.train.config import load_train_config


def test_variants_switch_off_each_active_loss() -> None:
    cfg = load_train_config("x2-fast-perceptual", ["loss.distill_weight=0"])
    names = [n for n, _ in ablation.variants(cfg)]
    assert names == ["full", "no pixel", "no hfp", "no stlpips", "no gan"]
    only_pixel = load_train_config("x2-fast-fidelity", ["loss.distill_weight=0", "loss.hfp_weight=0"])
    assert [n for n, _ in ablation.variants(only_pixel)] == ["full"]


def test_ablation_trains_and_evaluates_each_variant(tmp_path) -> None:
    train, evals = tmp_path / "train", tmp_path / "eval" / "Tiny"
    for d, seeds in ((train, range(3)), (evals, range(10, 12))):
        d.mkdir(parents=True)
        for s in seeds:
            write_image(d / f"p{s}.png", (natural_picture(64, seed=s) * 255).round().astype(np.uint8))
    out = tmp_path / "ablation.json"
    rc = ablation.main(["-c", "x2-fast-fidelity", "--data", str(train), "--eval", str(evals), "--steps", "2",
                        "--out", str(tmp_path / "runs"), "--json", str(out),
                        "--set", "loss.distill_weight=0", "--set", "data.patch=16", "--set", "data.batch=2",
                        "--set", "run.threads=1"])
    assert rc == 0
    record = json.loads(out.read_text())
    assert [r["variant"] for r in record["rows"]] == ["full", "no pixel", "no hfp"]
    for r in record["rows"]:
        assert r["steps"] == 2
        s = r["scores"]["Tiny"]
        assert s["images"] == 2 and 5 < s["psnr_y"] < 60 and 0 <= s["stlpips"] < 1
    assert record["table"].count("\n") == 4  # header, rule, three variants
