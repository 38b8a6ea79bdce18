"""Configs: every shipped preset loads, unknown keys list the allowed ones, overrides are typed."""

from __future__ import annotations

import pytest

from vsr import config as cfg
from vsr.config import PipelineConfig
from vsr.errors import ConfigError


def test_every_shipped_pipeline_config_loads() -> None:
    paths = [p for p in cfg.shipped_configs() if p.parent.name == "pipelines"]
    assert paths, "no pipeline presets found"
    for path in paths:
        c = cfg.load(PipelineConfig, path)
        assert c.model.scale in (2, 3, 4) and c.runtime.queue_size >= 1


def test_defaults_file_matches_the_dataclass_defaults() -> None:
    path = cfg.CONFIG_DIR / "pipelines" / "default.toml"
    assert cfg.load(PipelineConfig, path) == PipelineConfig()


def test_unknown_keys_and_sections_are_errors_listing_allowed(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nscael = 4\n")
    with pytest.raises(ConfigError, match=r"unknown key 'scael' \(allowed: .*scale"):
        cfg.load(PipelineConfig, bad)
    with pytest.raises(ConfigError, match="allowed: decode, encode, model, runtime"):
        cfg.load(PipelineConfig, None, ["modle.scale=2"])


def test_overrides_are_parsed_and_type_checked() -> None:
    c = cfg.load(PipelineConfig, None, ["model.scale=4", "encode.codec=libx265", "model.name=\"lanczos\""])
    assert c.model.scale == 4 and c.encode.codec == "libx265" and c.model.name == "lanczos"
    with pytest.raises(ConfigError, match="expected int"):
        cfg.load(PipelineConfig, None, ["model.scale=big"])
    with pytest.raises(ConfigError, match="expected an integer"):
        cfg.load(PipelineConfig, None, ["model.batch=true"])
    with pytest.raises(ConfigError, match="section.key=value"):
        cfg.parse_override("scale4")
    with pytest.raises(ConfigError, match="not found"):
        cfg.load(PipelineConfig, "/nonexistent.toml")
