"""Untrained tiny checkpoints of several shapes (pooling, projection, shared or three towers), written in a second."""

from __future__ import annotations

import pytest
import torch

from rom_cli.checkpoints import save_checkpoint
from rom_cli.evaluation.session import open_checkpoint
from rom_cli.model.backbone import load_tokenizer
from rom_cli.model.rom_model import RomModel
from tests.conftest import TINY, compose_cfg


@pytest.fixture(scope="session")
def make_session(tmp_path_factory):
    """A CheckpointSession (fp32, CPU) of a freshly initialised tiny model with these encoder overrides."""

    def make(*overrides: str):
        cfg = compose_cfg("train", TINY + list(overrides))
        torch.manual_seed(len(overrides))
        model, tokenizer = RomModel(cfg.encoder), load_tokenizer(cfg.encoder)
        with torch.no_grad():  # heads away from their init, so a route or head mixed up shows
            for p in model.parameters():
                p.add_(0.02 * torch.randn_like(p))
        run = tmp_path_factory.mktemp("ckpt")
        path = save_checkpoint(run / "checkpoints", 1, model, tokenizer, cfg, {}, {"fingerprint": "x"}, keep_last=1)
        return open_checkpoint(path, "cpu", "fp32", threads=1)

    return make
