"""Every config group option composes with the other groups' defaults; typos fail at compose time."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from tests.conftest import REPO, compose_cfg

GROUPS = ["encoder", "task", "mixture", "schedule", "supervision", "index", "experiment"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (REPO / "conf" / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes(group, option):
    cfg = compose_cfg("train", [f"{group}={option}"])
    if group not in ("experiment",):
        assert cfg[group] is not None
    assert cfg.trainer.max_steps > 0


@pytest.mark.parametrize("command", ["train", "eval", "index", "ask", "report", "data"])
def test_every_primary_config_composes(command):
    assert compose_cfg(command, []) is not None


def test_misspelt_key_fails():
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg("train", ["trainer.lrr=0.1"])
    assert isinstance(info.value.__cause__, (ConfigKeyError, ConfigAttributeError))
    assert "lrr" in str(info.value.__cause__)


def test_wrong_type_and_choice_fail():
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg("train", ["trainer.max_steps=many"])
    assert isinstance(info.value.__cause__, ValidationError)
    with pytest.raises(ConfigCompositionException):
        compose_cfg("train", ["encoder.pooling=max"])


def test_unknown_group_option_fails():
    with pytest.raises(ConfigCompositionException, match="schedule/cyclic"):
        compose_cfg("train", ["schedule=cyclic"])


def test_typo_inside_a_preset_file_fails(tmp_path: Path):
    """A user's own preset is validated against the group's schema (the primary config types the group)."""
    (tmp_path / "encoder").mkdir()
    (tmp_path / "encoder" / "mine.yaml").write_text("name: mine\npoolling: cls\n")
    search = f"hydra.searchpath=[file://{tmp_path}]"
    with pytest.raises(ConfigCompositionException):
        compose_cfg("train", [search, "encoder=mine"])
    (tmp_path / "encoder" / "mine.yaml").write_text("name: mine\npooling: cls\n")
    assert compose_cfg("train", [search, "encoder=mine"]).encoder.pooling == "cls"


@pytest.mark.parametrize("group", ["encoder", "task", "mixture", "schedule", "supervision", "index"])
def test_schema_is_not_an_option_of_any_group(group):
    """The schemas type the groups from the primary config; `group=schema` is no option to pick."""
    with pytest.raises(ConfigCompositionException, match="Could not find"):
        compose_cfg("train", [f"{group}=schema"])
