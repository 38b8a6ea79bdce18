"""Compact SR networks: presets, re-parameterisation, weight files (ours and foreign layouts)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import vsr.archs as archs
from vsr.archs import ARCHS, load_model
from vsr.archs.files import load_weights_file, save_weights_file
from vsr.archs.plain import PlainSR
from vsr.archs.presets import deploy_cost, load_preset, preset_names
from vsr.archs.rep import RepConv, RepSR
from vsr.errors import ConfigError, InvalidInputError, UnknownModelError, UnsupportedScaleError, VsrError

PRESETS = preset_names()


def test_presets_exist_for_both_scales() -> None:
    scales = {load_preset(n).scale for n in PRESETS}
    assert {2, 4} <= scales
    for s in (2, 4):
        assert f"compact-x{s}-fast" in PRESETS and f"compact-x{s}-quality" in PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_preset_builds_runs_and_states_its_cost(name: str) -> None:
    preset = load_preset(name)
    torch.manual_seed(0)
    net = preset.build().eval()
    x = torch.rand(1, 3, 17, 23)
    with torch.no_grad():
        y = net(x)
        plain = net.reparameterize()
        y_plain = plain(x)
    assert y.shape == (1, 3, 17 * preset.scale, 23 * preset.scale) and y.dtype == torch.float32
    assert torch.isfinite(y).all()
    assert isinstance(plain, PlainSR)
    assert (y - y_plain).abs().max() < 1e-4
    params, gflops = deploy_cost(plain)
    assert params == preset.params, f"{name}: stated params {preset.params}, computed {params}"
    assert abs(gflops - preset.gflops_1080p) < 0.05 + 1e-9, f"{name}: stated {preset.gflops_1080p}, computed {gflops:.2f}"


def test_reparameterised_equals_multibranch_exactly() -> None:
    torch.manual_seed(1)
    net = RepSR(2, channels=16, num_conv=3, act="prelu", expand=2).double()
    with torch.no_grad():  # make every branch matter: perturb all params
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.rand(2, 3, 19, 14, dtype=torch.float64)
    with torch.no_grad():
        ref = net(x)
        out = net.reparameterize()(x)
    assert (ref - out).abs().max() < 1e-10


@pytest.mark.parametrize("c_in,c_out,expand", [(3, 8, 2), (8, 8, 0), (8, 8, 3), (8, 12, 1)])
def test_repconv_fuses_to_one_conv_borders_included(c_in: int, c_out: int, expand: int) -> None:
    torch.manual_seed(2)
    block = RepConv(c_in, c_out, expand).double()
    x = torch.randn(1, c_in, 9, 7, dtype=torch.float64)
    w, b = block.fused()
    with torch.no_grad():
        assert (block(x) - F.conv2d(x, w, b, padding=1)).abs().max() < 1e-10


def test_load_plain_starts_the_branches_at_the_deploy_network() -> None:
    """Fine-tuning shipped weights: the multi-branch net loaded from a plain one computes the same
    function, re-parameterises back to the same weights, and still trains every branch."""
    torch.manual_seed(3)
    plain = RepSR(2, 8, 2).double()
    with torch.no_grad():
        for p in plain.parameters():
            p.add_(0.05 * torch.randn_like(p))
    plain = plain.reparameterize()
    net = RepSR(2, 8, 2).double()
    net.load_plain(plain)
    x = torch.rand(1, 3, 11, 9, dtype=torch.float64)
    with torch.no_grad():
        assert (net(x) - plain(x)).abs().max() < 1e-10
        for a, b in zip(net.reparameterize().parameters(), plain.parameters()):
            assert (a - b).abs().max() < 1e-10
    net(x).square().mean().backward()
    assert net.convs[1].conv1.weight.grad.abs().sum() > 0 and net.convs[1].expand3.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="does not fit"):
        RepSR(2, 4, 2).load_plain(plain)  # narrower
    with pytest.raises(ValueError, match="does not fit"):
        RepSR(4, 8, 2).load_plain(plain)  # another scale
    with pytest.raises(ValueError, match="needs prelu"):
        RepSR(2, 8, 4, act="relu").load_plain(PlainSR(2, 8, 2, act="relu"))


@pytest.mark.parametrize("channels,num_conv", [(8, 2), (12, 2), (8, 5), (12, 7)])
def test_load_plain_grows_a_larger_network_with_the_same_function(channels: int, num_conv: int) -> None:
    """A teacher started from a trained student (wider and/or deeper) computes the student's function
    at step 0, and a training step moves every kind of weight, extra channels and convs included, so
    the added capacity can learn."""
    torch.manual_seed(5)
    small = RepSR(2, 8, 2).double()
    with torch.no_grad():
        for p in small.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for act in small.acts:
            act.weight.uniform_(0.05, 0.5)
    plain = small.reparameterize()
    big = RepSR(2, channels, num_conv).double()
    big.load_plain(plain)
    x = torch.rand(2, 3, 13, 10, dtype=torch.float64)
    with torch.no_grad():
        assert (big(x) - plain(x)).abs().max() < 1e-10
        assert (big.reparameterize()(x) - plain(x)).abs().max() < 1e-10
    target = torch.rand(2, 3, 26, 20, dtype=torch.float64)
    (big(x) - target).square().mean().backward()
    tail = big.convs[-1].conv3.weight.grad
    assert tail.abs().sum() > 0
    if channels > 8:  # weights from the extra channels into the output start at 0 but get gradients
        assert tail[:, 8:].abs().sum() > 0
    for rep in big.convs[1:]:
        assert rep.conv3.weight.grad.abs().sum() > 0 and rep.conv1.weight.grad.abs().sum() > 0


def test_mixed_half_keeps_head_and_skip_in_fp32() -> None:
    torch.manual_seed(4)
    net = RepSR(2, 8, 2)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    plain = net.reparameterize()
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        ref = plain(x)
        mixed = plain.mixed_half()
        assert mixed is plain and plain.body[0].weight.dtype == torch.float32
        assert all(m.weight.dtype == torch.float16 for m in list(plain.body)[1:] if hasattr(m, "weight"))
        out = mixed(x)
        assert out.dtype == torch.float16 and out.shape == ref.shape
        assert (out.float() - ref).abs().max() < 5e-3 * max(1.0, ref.abs().max().item())
        assert mixed.mixed_half() is mixed  # idempotent
    with pytest.raises(ValueError, match="fp32 network"):
        RepSR(2, 8, 1).reparameterize().half().mixed_half()


def test_mixed_bf16_keeps_head_skip_and_output_in_fp32() -> None:
    torch.manual_seed(5)
    plain = RepSR(2, 8, 2).reparameterize()
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        ref = plain(x)
        plain.mixed(torch.bfloat16)
        assert plain.body_dtype == torch.bfloat16 and plain.body[0].weight.dtype == torch.float32
        assert all(m.weight.dtype == torch.bfloat16 for m in list(plain.body)[1:] if hasattr(m, "weight"))
        out = plain(x)
        assert out.dtype == torch.float32 and out.shape == ref.shape
        assert 0 < (out - ref).abs().max() < 3e-2 * max(1.0, ref.abs().max().item())
        with pytest.raises(ValueError, match="fp32 network"):
            plain.mixed(torch.float16)  # from another mixed form
        with pytest.raises(ValueError, match="float16 or bfloat16"):
            plain.unmixed().mixed(torch.float64)
        back = plain(x)  # unmixed(): one dtype again (the weights keep their bf16 rounding)
        assert back.dtype == torch.float32 and not plain.fp32_head and (back - ref).abs().max() < 3e-2


def test_set_precision_picks_the_form_and_input_dtype() -> None:
    plain = RepSR(2, 8, 1).reparameterize()
    assert archs.set_precision(plain, torch.float16) == torch.float32 and plain.fp32_head
    assert archs.set_precision(plain, torch.bfloat16) == torch.float32 and plain.body_dtype == torch.bfloat16
    assert archs.set_precision(plain, torch.float32) == torch.float32 and not plain.fp32_head
    with torch.no_grad():
        assert plain(torch.rand(1, 3, 6, 6)).dtype == torch.float32
    lanczos = load_model("lanczos", 2).module
    assert archs.set_precision(lanczos, torch.float16) == torch.float16
    with pytest.raises(ConfigError, match="bf16 is offered for the compact"):
        archs.set_precision(lanczos, torch.bfloat16)


def test_reparameterize_changes_with_training() -> None:
    """The fused weights follow the trained branches (not a stale copy)."""
    net = RepSR(2, 8, 1)
    before = net.reparameterize().body[0].weight.clone()
    with torch.no_grad():
        net.convs[0].expand1.weight.add_(1.0)
    assert not torch.allclose(before, net.reparameterize().body[0].weight)


# --- weight files ------------------------------------------------------------------------------


def _compact_state_dict(scale: int, channels: int = 8, num_conv: int = 2) -> dict[str, torch.Tensor]:
    """An SRVGGNetCompact state dict as Real-ESRGAN saves it (body.N, PReLU weights)."""
    g = torch.Generator().manual_seed(3)
    sd: dict[str, torch.Tensor] = {}
    c_prev, idx = 3, 0
    for _ in range(num_conv + 1):
        sd[f"body.{idx}.weight"] = 0.1 * torch.randn(channels, c_prev, 3, 3, generator=g)
        sd[f"body.{idx}.bias"] = 0.1 * torch.randn(channels, generator=g)
        sd[f"body.{idx + 1}.weight"] = torch.full((channels,), 0.25)
        c_prev, idx = channels, idx + 2
    sd[f"body.{idx}.weight"] = 0.1 * torch.randn(3 * scale * scale, channels, 3, 3, generator=g)
    sd[f"body.{idx}.bias"] = 0.1 * torch.randn(3 * scale * scale, generator=g)
    return sd


def _compact_reference(sd: dict[str, torch.Tensor], x: torch.Tensor, scale: int) -> torch.Tensor:
    h = x
    idx = 0
    while f"body.{idx + 1}.weight" in sd:
        h = F.prelu(F.conv2d(h, sd[f"body.{idx}.weight"], sd[f"body.{idx}.bias"], padding=1), sd[f"body.{idx + 1}.weight"])
        idx += 2
    h = F.conv2d(h, sd[f"body.{idx}.weight"], sd[f"body.{idx}.bias"], padding=1)
    return F.pixel_shuffle(h, scale) + F.interpolate(x, scale_factor=scale, mode="nearest")


def _conv3xc(g: torch.Generator, c_in: int, c_out: int, prefix: str, sd: dict[str, torch.Tensor]) -> None:
    r = lambda *s: 0.05 * torch.randn(*s, generator=g)  # noqa: E731
    sd[f"{prefix}.sk.weight"], sd[f"{prefix}.sk.bias"] = r(c_out, c_in, 1, 1), r(c_out)
    sd[f"{prefix}.conv.0.weight"], sd[f"{prefix}.conv.0.bias"] = r(2 * c_in, c_in, 1, 1), r(2 * c_in)
    sd[f"{prefix}.conv.1.weight"], sd[f"{prefix}.conv.1.bias"] = r(2 * c_out, 2 * c_in, 3, 3), r(2 * c_out)
    sd[f"{prefix}.conv.2.weight"], sd[f"{prefix}.conv.2.bias"] = r(c_out, 2 * c_out, 1, 1), r(c_out)
    sd[f"{prefix}.eval_conv.weight"], sd[f"{prefix}.eval_conv.bias"] = r(c_out, c_in, 3, 3), r(c_out)  # stale


def _span_state_dict(scale: int, c: int = 8) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(4)
    sd: dict[str, torch.Tensor] = {}
    _conv3xc(g, 3, c, "conv_1", sd)
    for i in range(1, 7):
        for j in (1, 2, 3):
            _conv3xc(g, c, c, f"block_{i}.c{j}_r", sd)
    sd["conv_cat.weight"], sd["conv_cat.bias"] = 0.05 * torch.randn(c, 4 * c, 1, 1, generator=g), torch.zeros(c)
    _conv3xc(g, c, c, "conv_2", sd)
    sd["upsampler.0.weight"] = 0.05 * torch.randn(3 * scale * scale, c, 3, 3, generator=g)
    sd["upsampler.0.bias"] = torch.zeros(3 * scale * scale)
    return sd


def _span_reference(sd: dict[str, torch.Tensor], x: torch.Tensor, scale: int) -> torch.Tensor:
    """SPAN computed branch by branch (1x1 output padded with its bias == zero-padded fused conv)."""

    def c3xc(p: str, h: torch.Tensor) -> torch.Tensor:
        b0 = sd[f"{p}.conv.0.bias"].view(1, -1, 1, 1)
        mid = F.conv2d(h, sd[f"{p}.conv.0.weight"], sd[f"{p}.conv.0.bias"])
        mid = F.conv2d(F.pad(mid - b0, (1, 1, 1, 1)) + b0, sd[f"{p}.conv.1.weight"], sd[f"{p}.conv.1.bias"])
        mid = F.conv2d(mid, sd[f"{p}.conv.2.weight"], sd[f"{p}.conv.2.bias"])
        return mid + F.conv2d(h, sd[f"{p}.sk.weight"], sd[f"{p}.sk.bias"])

    mean = torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1)
    feat = c3xc("conv_1", (x - mean) * 255.0)
    h, outs = feat, []
    for i in range(1, 7):
        o1 = F.silu(c3xc(f"block_{i}.c1_r", h))
        o3 = c3xc(f"block_{i}.c3_r", F.silu(c3xc(f"block_{i}.c2_r", o1)))
        h = (o3 + h) * (torch.sigmoid(o3) - 0.5)
        outs.append((h, o1))
    h = c3xc("conv_2", h)
    cat = torch.cat([feat, h, outs[0][0], outs[-1][1]], 1)
    out = F.conv2d(cat, sd["conv_cat.weight"], sd["conv_cat.bias"])
    return F.pixel_shuffle(F.conv2d(out, sd["upsampler.0.weight"], sd["upsampler.0.bias"], padding=1), scale)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_load_realesrgan_compact(tmp_path: Path, scale: int, suffix: str) -> None:
    sd = _compact_state_dict(scale)
    path = tmp_path / f"compact{suffix}"
    if suffix == ".pth":
        torch.save({"params": sd}, path)  # Real-ESRGAN wraps the dict in "params"
    else:
        save_file(sd, str(path))
    model = load_model(str(path), scale)
    assert model.arch == "plain" and model.learned and model.scale == scale and model.context == 4
    x = torch.rand(1, 3, 11, 13)
    with torch.no_grad():
        assert (model.module(x) - _compact_reference(sd, x, scale)).abs().max() < 1e-5


@pytest.mark.parametrize("scale", [2, 4])
def test_load_span(tmp_path: Path, scale: int) -> None:
    sd = _span_state_dict(scale)
    path = tmp_path / "span.pth"
    torch.save(sd, path)
    model = load_model(str(path), scale)
    assert model.arch == "span" and model.scale == scale
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        ref = _span_reference(sd, x, scale)
        out = model.module(x)
    assert (out - ref).abs().max() < 1e-4 * max(1.0, ref.abs().max().item())


def test_own_weights_roundtrip_and_scale_check(tmp_path: Path) -> None:
    torch.manual_seed(5)
    plain = RepSR(2, 8, 1).reparameterize()
    path = tmp_path / "mine.safetensors"
    save_weights_file(path, plain, preset="test")
    loaded = load_weights_file(path)
    assert loaded.layout == "vsr" and loaded.metadata["preset"] == "test"
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded.module(x), plain(x))
    with pytest.raises(UnsupportedScaleError, match="upscales by 2"):
        load_model(str(path), 4)


def test_pickled_code_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # noqa: ANN204
            return (Path.touch, (marker,))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"body.0.weight": Evil()}, f)
    with pytest.raises(InvalidInputError, match="pickled code"):
        load_model(str(path), 2)
    assert not marker.exists()


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(InvalidInputError, match="garbage.safetensors"):
        load_model(str(garbage), 2)
    garbage_pth = tmp_path / "garbage.pth"
    garbage_pth.write_bytes(b"\x00\x01junk")
    with pytest.raises(InvalidInputError):
        load_model(str(garbage_pth), 2)
    unknown = tmp_path / "unknown.safetensors"
    save_file({"encoder.layer.weight": torch.zeros(2, 2)}, str(unknown))
    with pytest.raises(UnknownModelError, match="unrecognised model layout"):
        load_model(str(unknown), 2)
    truncated = tmp_path / "truncated.pth"
    sd = _compact_state_dict(2)
    sd.pop("body.2.bias")
    torch.save(sd, truncated)
    with pytest.raises(UnknownModelError, match="missing"):
        load_model(str(truncated), 2)
    with pytest.raises(VsrError, match="not found"):
        load_model(str(tmp_path / "absent.pth"), 2)


def test_names_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archs, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(UnknownModelError, match="no trained weights"):
        load_model("compact-x2-fast", 2)
    with pytest.raises(UnknownModelError, match="architecture"):
        load_model("repsr", 2)
    plain = RepSR(2, 8, 1).reparameterize()
    save_weights_file(tmp_path / "compact-x2-fast.safetensors", plain, preset="compact-x2-fast")
    assert "compact-x2-fast" in archs.model_names()
    model = load_model("compact-x2-fast", 2)
    assert model.source == "shipped" and archs.supported_scales("compact-x2-fast") == (2,)
    assert load_model("bicubic", 2).learned is False
    assert set(ARCHS) >= {"bicubic", "lanczos", "plain", "repsr", "span"}


@pytest.mark.parametrize("scale", [2, 4])
def test_detail_blends_the_fidelity_and_perceptual_weights(scale: int) -> None:
    fidelity = load_model(f"compact-x{scale}-fast", scale)
    perceptual = load_model(f"compact-x{scale}-fast-perceptual", scale)
    half = load_model(f"compact-x{scale}-fast", scale, detail=0.5)
    assert half.name == f"compact-x{scale}-fast-perceptual@0.5" and half.fp16
    a, b, m = (x.module.state_dict() for x in (fidelity, perceptual, half))
    assert all(torch.allclose(m[k], (a[k] + b[k]) / 2, atol=1e-7) for k in a)
    assert any(not torch.equal(a[k], b[k]) for k in a)  # two different networks were mixed
    # the ends are the shipped models themselves; the name syntax means the same
    assert load_model(f"compact-x{scale}-fast", scale, detail=0.0).name == fidelity.name
    assert load_model(f"compact-x{scale}-fast-perceptual@1", scale).name == perceptual.name
    quarter = load_model(f"compact-x{scale}-fast-perceptual@0.25", scale).module.state_dict()
    assert all(torch.allclose(quarter[k], 0.75 * a[k] + 0.25 * b[k], atol=1e-7) for k in a)
    # -video is the other end where named, and for the default model at x4 (itself a blend toward it)
    video = load_model(f"compact-x{scale}-fast-video", scale, detail=0.5)
    assert video.name == f"compact-x{scale}-fast-video@0.5"
    default_end = "video" if scale == 4 else "perceptual"
    assert load_model(None, scale, detail=0.25).name == f"compact-x{scale}-fast-{default_end}@0.25"
    assert load_model("auto", scale, detail=0.0).name == fidelity.name
    default = load_model(None, scale)
    assert default.name == ("compact-x4-fast-video@0.5" if scale == 4 else fidelity.name)
    if scale == 4:
        v = load_model("compact-x4-fast-video", 4).module.state_dict()
        d = default.module.state_dict()
        assert all(torch.allclose(d[k], (a[k] + v[k]) / 2, atol=1e-7) for k in a)
    # the mixed network's picture lies between the two (the fine-tune left the fidelity model's basin
    # little: the blend is not a third, broken network)
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ya, yb, ym = fidelity.module(x), perceptual.module(x), half.module(x)
    assert (ym - (ya + yb) / 2).abs().mean() < 0.25 * (ya - yb).abs().mean()


def test_detail_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match=r"--detail blends compact-x4-fast with a fine-tune of it \("
                                          r"compact-x4-fast-perceptual, compact-x4-fast-video, compact-x4-fast-jpeg\); "
                                          r"lanczos is none"):
        load_model("lanczos", 4, detail=0.5)
    with pytest.raises(ConfigError, match=r"\(compact-x2-fast-perceptual, compact-x2-fast-video, "
                                          r"compact-x2-fast-jpeg\); compact-x2-quality is none"):
        load_model("compact-x2-quality", 2, detail=0.5)
    assert load_model("compact-x2-fast-jpeg", 2, detail=0.5).name == "compact-x2-fast-jpeg@0.5"
    with pytest.raises(ConfigError, match="detail must be in 0..1, got 1.5"):
        load_model(None, 4, detail=1.5)
    with pytest.raises(ConfigError, match="bad detail 'much'"):
        load_model("compact-x4-fast@much", 4)
