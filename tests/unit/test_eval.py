"""`vsr eval`: table and JSON for a model beside bicubic and lanczos (generated images)."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from vsr.archs.files import save_weights_file
from vsr.archs.plain import PlainSR
from vsr.cli.eval import command
from vsr.io.image import write_image
from vsr.metrics import psnr_y, quantize
from vsr.metrics.benchmark import find_datasets
from vsr.ops.resize import imresize_down


def _pattern(h: int, w: int, seed: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([128 + 90 * np.sin(xx / (2 + seed)), 128 + 80 * np.cos(yy / 3), (xx * 5 + yy * 3) % 256], -1)
    return img.clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def eval_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval")
    for name, n in (("SetA", 2), ("SetB", 1)):
        (root / name).mkdir()
        for i in range(n):
            write_image(root / name / f"{i}.png", _pattern(41, 38 + i, i))  # odd sizes: modcrop
    return root


def test_find_datasets(eval_root: Path) -> None:
    found = find_datasets([eval_root])
    assert list(found) == ["SetA", "SetB"] and len(found["SetA"]) == 2
    assert list(find_datasets([eval_root / "SetB"])) == ["SetB"]


def test_eval_table_and_json(eval_root: Path, tmp_path: Path) -> None:
    nearest = PlainSR(2, channels=4, num_conv=0, act="relu")
    with torch.no_grad():
        for p in nearest.parameters():
            p.zero_()  # output = nearest-neighbour upsampling exactly
    weights = tmp_path / "nearest.safetensors"
    save_weights_file(weights, nearest)
    out_json = tmp_path / "r.json"
    result = CliRunner().invoke(
        command, ["-m", str(weights), "--data", str(eval_root), "-s", "2", "--json", str(out_json), "--threads", "1"]
    )
    assert result.exception is None, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("SetA") and str(weights) in line for line in lines)
    rows = lambda m: [ln for ln in lines if re.match(rf"^\S*\s+{m}\s+\d+\.\d+", ln)]  # noqa: E731
    assert len(rows("bicubic")) == 2 and len(rows("lanczos")) == 2
    doc = json.loads(out_json.read_text())
    assert doc["commit"] and doc["date"] and doc["command"]
    scores = doc["datasets"]["SetB"]
    assert set(scores) == {str(weights), "bicubic", "lanczos"}
    # independent check of the nearest model's PSNR-Y on SetB's one image (38x41 -> crop 38x40)
    from vsr.io.image import read_image

    hr = torch.from_numpy(read_image(eval_root / "SetB" / "0.png")).permute(2, 0, 1)[None].float() / 255
    hr = hr[..., :40, :38]
    lr = quantize(imresize_down(hr, 2))
    expected = psnr_y(quantize(F.interpolate(lr, scale_factor=2, mode="nearest")), hr, crop=2).item()
    assert scores[str(weights)]["psnr_y"] == pytest.approx(expected, abs=1e-6)
    # on smooth content the interpolating baselines beat nearest-neighbour, and lanczos/bicubic are close
    assert scores["bicubic"]["psnr_y"] > expected and scores["lanczos"]["psnr_y"] > expected
    for s in scores.values():
        assert 0 < s["ssim_y"] <= 1 and s["stlpips"] >= 0 and s["images"] == 1


def test_eval_scores_st_lpips_on_the_network_asked_for(eval_root: Path, tmp_path: Path) -> None:
    from vsr.metrics.stlpips import STLPIPS

    out_json = tmp_path / "vgg.json"
    result = CliRunner().invoke(command, ["-m", "bicubic", "--no-baselines", "--data", str(eval_root / "SetB"),
                                          "-s", "2", "--lpips-net", "vgg", "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    assert "ST-LPIPS on vgg" in result.output
    doc = json.loads(out_json.read_text())
    assert doc["lpips_net"] == "vgg" and "ST-LPIPS vgg" in doc["protocol"]
    # the figure is ST-LPIPS(vgg) of the 8-bit output against the HR, both cropped by the scale
    from vsr.io.image import read_image

    hr = torch.from_numpy(read_image(eval_root / "SetB" / "0.png")).permute(2, 0, 1)[None].float() / 255
    hr = hr[..., :40, :38]
    from vsr.archs import load_model

    sr = quantize(load_model("bicubic", 2).module(quantize(imresize_down(hr, 2))))
    with torch.no_grad():
        vgg = float(STLPIPS("vgg")(sr[..., 2:-2, 2:-2], hr[..., 2:-2, 2:-2])[0])
        alex = float(STLPIPS("alex")(sr[..., 2:-2, 2:-2], hr[..., 2:-2, 2:-2])[0])
    assert doc["datasets"]["SetB"]["bicubic"]["stlpips"] == pytest.approx(vgg, rel=1e-4)
    assert abs(vgg - alex) > 1e-3  # another network, another figure
    bad = CliRunner().invoke(command, ["-m", "bicubic", "--data", str(eval_root / "SetB"), "-s", "2", "--lpips-net", "squeeze"])
    assert bad.exit_code == 2 and "squeeze" in bad.output


def test_eval_without_lpips_and_unknown_model(eval_root: Path) -> None:
    result = CliRunner().invoke(command, ["-m", "lanczos", "--data", str(eval_root / "SetA"), "-s", "2", "--no-lpips"])
    assert result.exception is None and "SetA" in result.output and result.output.count("lanczos") == 2
    result = CliRunner().invoke(command, ["-m", "lanczos", "--compare", "bicubic", "--no-baselines", "--data",
                                          str(eval_root / "SetA"), "-s", "2", "--no-lpips"])
    rows = [ln.split()[-6] for ln in result.output.splitlines() if re.search(r"\s\d+\.\d+\s+\d\.\d{4}\s", ln)]
    assert result.exception is None and rows == ["lanczos", "bicubic"], result.output
    result = CliRunner().invoke(command, ["-m", "lanczos", "--no-baselines", "--data", str(eval_root / "SetA"), "-s", "2",
                                          "--no-lpips"])
    rows = [ln for ln in result.output.splitlines() if re.search(r"\s\d+\.\d+\s+\d\.\d{4}\s", ln)]
    assert result.exception is None and len(rows) == 1 and "lanczos" in rows[0], result.output
    result = CliRunner().invoke(command, ["-m", "no-such-model", "--data", str(eval_root), "-s", "2"])
    assert isinstance(result.exception, LookupError) and "unknown model" in str(result.exception)


def test_eval_on_compressed_lr_matches_an_independent_h264_roundtrip(eval_root: Path, tmp_path: Path) -> None:
    out_json = tmp_path / "c.json"
    args = ["-m", "bicubic", "--no-baselines", "--data", str(eval_root / "SetB"), "-s", "2", "--no-lpips"]
    plain = CliRunner().invoke(command, args)
    result = CliRunner().invoke(command, [*args, "--lr-crf", "40", "--json", str(out_json)])
    assert result.exception is None and "then H.264 (libx264 crf 40)" in result.output, result.output
    doc = json.loads(out_json.read_text())
    assert doc["lr_crf"] == 40 and "H.264" in doc["protocol"]
    got = doc["datasets"]["SetB"]["bicubic"]["psnr_y"]
    # the same LR made here with PyAV directly: bicubic downscale, then libx264 at crf 40
    import av
    from vsr.io.image import read_image

    hr = torch.from_numpy(read_image(eval_root / "SetB" / "0.png")).permute(2, 0, 1)[None].float() / 255
    hr = hr[..., :40, :38]
    lr = quantize(imresize_down(hr, 2))[0]
    rgb = (lr.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)  # 20x19: 4:2:0 wants even sizes
    rgb = np.pad(rgb, ((0, 0), (0, 1), (0, 0)), mode="edge")
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt, enc.time_base = 20, 20, "yuv420p", Fraction(1, 25)
    enc.options = {"crf": "40", "preset": "ultrafast", "tune": "zerolatency", "threads": "1"}
    packets = []
    for i, img in enumerate((np.roll(rgb, (1, 0), axis=(0, 1)), rgb)):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets += list(enc.encode(frame))
    packets += list(enc.encode(None))
    dec = av.CodecContext.create("h264", "r")
    last = [f for p in packets for f in dec.decode(p)] + list(dec.decode(None))
    lr_c = torch.from_numpy(last[-1].to_ndarray(format="rgb24")[:, :19]).permute(2, 0, 1)[None].float() / 255
    from vsr.archs import load_model

    expected = psnr_y(quantize(load_model("bicubic", 2).module(lr_c).clamp(0, 1)), hr, crop=2).item()
    assert got == pytest.approx(expected, abs=1e-4)
    # compression at crf 40 costs fidelity against the clean LR's result
    clean = float(re.search(r"bicubic\s+(\d+\.\d+)", plain.output).group(1))
    assert got < clean - 0.3


def test_eval_on_jpeg_lr_matches_an_independent_pillow_roundtrip(eval_root: Path, tmp_path: Path) -> None:
    import io

    from PIL import Image

    out_json = tmp_path / "j.json"
    args = ["-m", "bicubic", "--no-baselines", "--data", str(eval_root / "SetB"), "-s", "2", "--no-lpips"]
    result = CliRunner().invoke(command, [*args, "--lr-jpeg", "30", "--json", str(out_json)])
    assert result.exception is None and "then JPEG (libjpeg q 30, 4:2:0)" in result.output, result.output
    doc = json.loads(out_json.read_text())
    assert doc["lr_jpeg"] == 30 and doc["lr_crf"] is None and "JPEG" in doc["protocol"]
    from vsr.archs import load_model
    from vsr.io.image import read_image

    hr = torch.from_numpy(read_image(eval_root / "SetB" / "0.png")).permute(2, 0, 1)[None].float() / 255
    hr = hr[..., :40, :38]
    lr = quantize(imresize_down(hr, 2))[0]
    buf = io.BytesIO()
    Image.fromarray((lr.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(buf, format="JPEG", quality=30)
    lr_j = torch.from_numpy(np.array(Image.open(io.BytesIO(buf.getvalue())))).permute(2, 0, 1)[None].float() / 255
    expected = psnr_y(quantize(load_model("bicubic", 2).module(lr_j).clamp(0, 1)), hr, crop=2).item()
    assert doc["datasets"]["SetB"]["bicubic"]["psnr_y"] == pytest.approx(expected, abs=1e-4)
    both = CliRunner().invoke(command, [*args, "--lr-jpeg", "30", "--lr-crf", "20"])
    assert both.exit_code == 2 and "one degradation at a time" in both.output


def test_temporal_psnr_scores_flicker_not_a_steady_error() -> None:
    from vsr.metrics.fidelity import temporal_psnr_y

    g = torch.Generator().manual_seed(0)
    hr = [torch.rand(1, 3, 24, 24, generator=g) * 0.5 + 0.25 for _ in range(2)]
    steady = [h + 0.05 for h in hr]  # wrong by the same amount in both frames: no flicker
    assert float(temporal_psnr_y(steady[0], steady[1], hr[0], hr[1])[0]) > 100  # (float rounding only)
    noise = [h + 0.02 * torch.randn(1, 3, 24, 24, generator=g) for h in hr]  # a new error each frame
    frozen = [hr[0], hr[0]]  # the motion is lost
    flicker = float(temporal_psnr_y(noise[0], noise[1], hr[0], hr[1])[0])
    assert 20 < flicker < 60
    # the closed form: PSNR of the change of the error, on the luma
    from vsr.metrics.fidelity import rgb_to_y

    e = (rgb_to_y(noise[1].double()) - rgb_to_y(hr[1].double())) - (rgb_to_y(noise[0].double()) - rgb_to_y(hr[0].double()))
    assert abs(flicker - float(10 * torch.log10(255.0**2 / e.pow(2).mean()))) < 1e-9
    assert float(temporal_psnr_y(frozen[0], frozen[1], hr[0], hr[1])[0]) < flicker


def test_eval_temporal_scores_consecutive_frames_and_ranks_a_flickering_method_lower(tmp_path: Path) -> None:
    from vsr.metrics.benchmark import evaluate

    seq = tmp_path / "seq"
    seq.mkdir()
    for t in range(4):  # a pattern panning one pixel per frame
        write_image(seq / f"{t:08d}.png", _pattern(40, 48 + 8, 1)[:, t:t + 48])

    class Flicker(torch.nn.Module):  # bilinear, plus a new error every frame
        def __init__(self) -> None:
            super().__init__()
            self.g = torch.Generator().manual_seed(1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            return y + 0.03 * torch.randn(y.shape, generator=self.g)

    class Steady(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    datasets = find_datasets([seq])
    scores = evaluate({"steady": Steady(), "flicker": Flicker()}, datasets, 2, torch.device("cpu"), lpips=False,
                      temporal=True)["seq"]
    assert scores["steady"].tpsnr_y > scores["flicker"].tpsnr_y + 3
    assert evaluate({"steady": Steady()}, datasets, 2, torch.device("cpu"), lpips=False)["seq"]["steady"].tpsnr_y is None


def _stability_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("eval_stability", Path(__file__).parents[2] / "benchmarks" / "eval_stability.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stability_benchmark_compares_outputs_where_the_two_frames_show_the_same_place(tmp_path: Path) -> None:
    from vsr.train.losses import shifted_overlap

    mod = _stability_module()
    hr = torch.from_numpy(_pattern(64, 72, 1)).permute(2, 0, 1)[None].float() / 255
    for shift in mod.SHIFTS_HR:
        a, b = mod.shifted_pair(hr, shift)
        assert a.shape == b.shape and a.shape[-1] % 8 == 0 and not torch.equal(a, b)
        oa, ob = shifted_overlap(a, b, *shift, margin=3)
        assert oa.shape == ob.shape and oa.numel() > 0 and torch.equal(oa, ob)  # the same place of the picture
    data = tmp_path / "set" / "imgs"
    data.mkdir(parents=True)
    for i in range(2):
        write_image(data / f"{i}.png", _pattern(56, 64, i))
    out = tmp_path / "stability.json"
    assert mod.main(["-s", "2", "-m", "compact-x2-fast", "--data", str(tmp_path / "set"), "--threads", "1",
                     "--json", str(out)]) == 0
    assert torch.is_grad_enabled()  # the benchmark leaves the caller's grad mode alone
    doc = json.loads(out.read_text())
    rows = doc["datasets"]["imgs"]
    assert set(rows) == {"compact-x2-fast", "bicubic", "lanczos"} and doc["commit"] and doc["scale"] == 2
    for r in rows.values():
        # sub-pixel phases change every method's output a little, none beyond recognition
        assert r["pairs"] == 2 * len(mod.SHIFTS_HR) and 20 < r["spsnr_y"] < 80 and 0 < r["disagreement"] < 0.05


def _benchmark(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[2] / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_metric_adversary_drives_each_metric_down_and_scores_with_the_other(tmp_path: Path) -> None:
    from clips import natural_picture
    from vsr.io.image import read_image

    data = tmp_path / "photos"
    data.mkdir()
    write_image(data / "a.png", (natural_picture(64, seed=3) * 255).round().astype(np.uint8))
    out, sheet = tmp_path / "adv.json", tmp_path / "adv.png"
    mod = _benchmark("metric_adversary")
    assert mod.main(["--data", str(data), "--crop", "48", "--steps", "4", "--lr", "0.01", "--threads", "1",
                     "--spectral-weight", "50", "--spectral-mode", "excess", "--json", str(out), "--sheet", str(sheet)]) == 0
    doc = json.loads(out.read_text())
    (row,) = doc["images"]
    for net in ("alex", "vgg"):  # the search lowers the metric it follows
        assert row[f"{net}-optimised"][f"stlpips_{net}"] < row["start"][f"stlpips_{net}"]
    pair = row["alex+50excess-optimised"]  # and the pair of losses, which it was given
    assert pair["stlpips_alex"] + 50 * pair["spectral"] < row["start"]["stlpips_alex"] + 50 * row["start"]["spectral"]
    for what in ("start", "alex-optimised", "vgg-optimised", "alex+50excess-optimised"):
        assert set(row[what]) == {"stlpips_alex", "stlpips_vgg", "psnr_y", "ssim_y", "spectral"}
    assert doc["mean"]["start"] == row["start"] and doc["commit"]
    assert "SpectralLoss(HR, mode=excess)" in doc["protocol"]
    assert read_image(sheet).shape == (48, 5 * 48, 3)  # HR | start | alex- | vgg- | alex+spectral-optimised
    assert mod.main(["--data", str(data), "--crop", "96"]) == 1  # no image that large


def test_spectral_excess_splits_what_an_upscale_invents_from_what_it_lacks(tmp_path: Path) -> None:
    from clips import natural_picture

    data = tmp_path / "photos"
    data.mkdir()
    for seed in (1, 2):
        write_image(data / f"p{seed}.png", (natural_picture(64, seed=seed) * 255).round().astype(np.uint8))
    out = tmp_path / "ex.json"
    mod = _benchmark("spectral_excess")
    assert mod.main(["-s", "2", "-m", "bicubic", "-m", "compact-x2-fast", "--data", str(data), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    rows = {r["model"]: r for r in doc["results"]}
    assert len(doc["images"]) == 2 and doc["commit"] and doc["command"].startswith("python benchmarks/spectral_excess.py")
    for r in rows.values():
        assert r["excess"] >= 0 and r["deficit"] > 0 and r["two_sided"] == pytest.approx(r["excess"] + r["deficit"], abs=2e-4)
        grid = np.array(r["excess_bins"])  # where the excess sits: its mean over the bins is the excess
        assert grid.shape == (16, 9) and grid.mean() == pytest.approx(r["excess"], rel=1e-2, abs=2e-3)
    # a blurry upscale lacks far more than it invents; the network restores some of it (less deficit)
    assert rows["bicubic"]["deficit"] > 20 * rows["bicubic"]["excess"]
    assert rows["compact-x2-fast"]["deficit"] < 0.9 * rows["bicubic"]["deficit"]
    assert mod.main(["-s", "2", "-m", "bicubic", "--data", str(tmp_path / "none")]) == 1


def test_crop_sheet_puts_the_same_place_of_every_output_side_by_side(tmp_path: Path) -> None:
    from vsr.io.image import read_image

    img = tmp_path / "a.png"
    write_image(img, _pattern(41, 50, 1))
    mod = _benchmark("crop_sheet")
    out = tmp_path / "sheet.png"
    assert mod.main(["-s", "2", "-m", "bicubic", "-m", "lanczos", "--crop", f"{img}:4:6:16",
                     "--crop", f"{img}:20:30:16", "--zoom", "2", "-o", str(out)]) == 0
    sheet = read_image(out)
    assert sheet.shape == (2 * 32, 3 * 32, 3)
    hr = _pattern(41, 50, 1)[:40, :50]  # cropped to a multiple of the scale
    assert np.array_equal(sheet[:32:2, :32:2], hr[4:20, 6:22]) and np.array_equal(sheet[32::2, :32:2], hr[20:36, 30:46])
    assert not np.array_equal(sheet[:32, 32:64], sheet[:32, 64:96])  # bicubic and lanczos differ
    assert mod.main(["-s", "2", "-m", "bicubic", "--crop", f"{img}:30:30:16", "-o", str(out)]) == 1  # outside
