"""benchmarks/bench_competitors.py on a tiny clip: every contender makes every frame, and the same
pictures, so its speed ratios compare equal work. No speed is asserted."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from clips import natural_picture, write_clip
from vsr.archs import load_model
from vsr.engine import Engine

BENCH = Path(__file__).parents[2] / "benchmarks" / "bench_competitors.py"


def bench_module():
    spec = importlib.util.spec_from_file_location("bench_competitors", BENCH)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_the_competitor_network_has_realesrgan_video_cost_and_our_function() -> None:
    mod = bench_module()
    ours = load_model("auto", 4).module
    grown = mod.competitor_network(ours)
    # realesr-animevideov3 (SRVGGNetCompact 64 ch, 16 convs, PReLU, x4) has 621,424 parameters
    assert sum(p.numel() for p in grown.parameters()) == 621_424
    assert (grown.channels, grown.num_conv, grown.scale) == (64, 16, 4)
    x = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        assert (grown(x) - ours(x)).abs().max() < 1e-5
        # the extra channels carry real (non-zero) activity: the cost is not an all-zeros shortcut
        h = x
        for layer in grown.body[:-1]:
            h = layer(h)
        assert h[:, ours.channels:].abs().mean() > 1e-2


def test_the_realesrgan_method_makes_the_pictures_vsr_makes() -> None:
    """Its per-frame path (BGR uint8 -> network -> BGR uint8) against vsr's engine, same network:
    within one code value (rounding), where another model or a swapped channel order is far off."""
    mod = bench_module()
    ours = load_model("auto", 4)
    grown = mod.competitor_network(ours.module)
    rgb = (natural_picture(40, seed=2)[:30] * 255).round().astype(np.uint8)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    out = mod.enhance(grown, bgr, torch.device("cpu"), half=False)[:, :, ::-1].astype(int)
    engine = Engine(ours, torch.device("cpu"), precision="fp32")
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    ref = (engine(x)[0].permute(1, 2, 0).numpy() * 255).round().astype(int)
    assert out.shape == (120, 160, 3) and np.abs(out - ref).max() <= 1
    other = Engine(load_model("bicubic", 4), torch.device("cpu"), precision="fp32")
    bicubic = (other(x)[0].permute(1, 2, 0).numpy() * 255).round().astype(int)
    assert np.abs(bicubic - ref).max() > 20 and np.abs(ref[..., ::-1] - ref).max() > 20


def test_every_contender_makes_every_frame_and_the_same_pictures(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", frames=4, width=48, height=32)
    out = tmp_path / "result.json"
    record = bench_module().main(["--clip", str(clip), "--frames", "3", "--repeat", "1", "--preset", "ultrafast",
                                  "--pipes", "pyav", "--device", "cpu", "--json", str(out)])
    assert json.loads(out.read_text()) == record
    assert record["pipes"] == "PyAV helper processes"
    for name in ("realesrgan_method", "vsr_same_network", "vsr_default"):
        r = record["results"][name]
        assert r["frames_out"] == 3 and r["size"] == "192x128"
        assert r["fps"] == pytest.approx(3 / r["seconds"])
    for name in ("vsr_same_network", "vsr_default"):
        # a sanity bound (a swapped channel order or wrong frames fall far below it): on a clip this
        # small the two colour conversions and encodes, not the network, set the figure (33 dB)
        assert record["results"][name]["psnr_y_vs_realesrgan_method"] > 28
    assert record["networks"]["realesr-animevideov3 shape"]["params"] == 621_424
    assert set(record["ratios"]) == {"vsr_same_network_over_realesrgan_method", "vsr_default_over_realesrgan_method"}
    assert record["commit"] and record["date"] and record["device"].startswith("cpu")
