"""Shared helpers: compose configs with the Compose API, tiny fast training settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from rom_cli.config.schema import register_configs

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ROM_SHARED_DATA", REPO.parent / "shared" / "data"))

# A few steps of the tiny random BERT on a slice of the demo task: seconds per run.
TINY = [
    "encoder=tiny",
    "trainer.max_steps=3",
    "trainer.log_every=1",
    "trainer.eval_at_start=false",
    "trainer.threads=1",
    "trainer.precision=fp32",
    "task.train_limit=48",
    "task.eval_limit=12",
    "eval.top_k=[1,5]",
    "eval.read_top_k=[1]",
    "index.refresh_every=2",
    "objectives.ict.batch_size=4",
    "objectives.retrieval.batch_size=4",
    "objectives.reader.batch_size=2",
    "objectives.reader.passages_per_question=2",
]


def compose_cfg(config_name: str = "train", overrides=()):
    register_configs()
    with initialize_config_module("rom_cli.conf", version_base="1.3"):
        return compose(config_name, overrides=list(overrides))


@pytest.fixture
def tiny_cfg():
    return lambda *extra: compose_cfg("train", TINY + list(extra))
