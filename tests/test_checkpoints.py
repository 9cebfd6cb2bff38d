"""Checkpoint folders (rom_cli/checkpoints.py): names that resolve, damage that fails in one line, and
evaluation code that loads them without importing the trainer."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from rom_cli.checkpoints import BEST, checkpoint_name, resolve_checkpoint, save_checkpoint
from rom_cli.errors import RomError
from rom_cli.evaluation.session import open_checkpoint
from rom_cli.model.backbone import load_tokenizer
from rom_cli.model.rom_model import RomModel
from tests.commands.conftest import one_line_error, rom
from tests.conftest import REPO, TINY, compose_cfg


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run dir with two untrained tiny checkpoints (steps 1 and 2), no BEST pointer."""
    cfg = compose_cfg("train", TINY)
    torch.manual_seed(0)
    model, tokenizer = RomModel(cfg.encoder), load_tokenizer(cfg.encoder)
    run = tmp_path_factory.mktemp("ckpt") / "run"
    for step in (1, 2):
        save_checkpoint(run / "checkpoints", step, model, tokenizer, cfg, {}, {"fingerprint": "x"}, keep_last=2)
    return run


@pytest.fixture
def damaged(run_dir, tmp_path) -> Path:
    """A copy of the step-2 checkpoint that a test may damage."""
    dst = tmp_path / "damaged"
    shutil.copytree(run_dir / "checkpoints" / checkpoint_name(2), dst)
    return dst


def test_plain_paths_resolve_to_the_latest(run_dir):
    step2 = run_dir / "checkpoints" / checkpoint_name(2)
    assert resolve_checkpoint(str(run_dir)) == step2
    assert resolve_checkpoint(str(run_dir / "checkpoints")) == step2
    assert resolve_checkpoint(str(run_dir / "checkpoints" / checkpoint_name(1))).name == checkpoint_name(1)


@pytest.mark.parametrize("name", ["last", "latest", "LATEST"])
def test_last_names_the_latest_pointer(run_dir, name):
    step2 = run_dir / "checkpoints" / checkpoint_name(2)
    assert resolve_checkpoint(str(run_dir / name)) == step2
    assert resolve_checkpoint(str(run_dir / "checkpoints" / name)) == step2


def test_best_names_the_best_pointer_or_says_why_not(run_dir, tmp_path):
    with pytest.raises(RomError, match="BEST does not exist: the run was trained without trainer.eval_every"):
        resolve_checkpoint(str(run_dir / "best"))
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / "checkpoints" / BEST).write_text(checkpoint_name(1) + "\n")
    step1 = run / "checkpoints" / checkpoint_name(1)
    for path in (run / "best", run / "BEST", run / "checkpoints" / "best", run / "checkpoints" / BEST):
        assert resolve_checkpoint(str(path)) == step1
    shutil.rmtree(step1)
    with pytest.raises(RomError, match="names 'step-0000001', which is not a complete checkpoint"):
        resolve_checkpoint(str(run / "best"))
    with pytest.raises(RomError, match="is not a directory"):
        resolve_checkpoint(str(tmp_path / "nowhere" / "last"))
    with pytest.raises(RomError, match="no complete checkpoint in"):
        resolve_checkpoint(str(tmp_path / "last"))


def test_missing_heads_is_one_line_naming_the_file(damaged):
    path = damaged
    (path / "heads.pt").unlink()
    with pytest.raises(RomError, match=r"missing heads\.pt: expected the span, relevance") as err:
        open_checkpoint(path, "cpu", "fp32")
    assert "\n" not in str(err.value)


def test_truncated_encoder_weights_are_one_line_naming_the_file(damaged, tmp_path):
    path = damaged
    weights = path / "encoder" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 3])
    with pytest.raises(RomError, match=r"encoder/model\.safetensors is unreadable .*: expected the encoder weights") as err:
        open_checkpoint(path, "cpu", "fp32")
    assert "\n" not in str(err.value)
    line = one_line_error(rom("eval", f"checkpoint={path}", f"hydra.run.dir={tmp_path / 'eval'}"))
    assert "encoder/model.safetensors is unreadable" in line, line


def test_evaluation_loads_checkpoints_without_the_trainer(run_dir):
    """Evaluation, `rom eval`, `rom index` and `rom ask` must not depend on rom_cli.training."""
    code = textwrap.dedent(f"""
        import importlib, pkgutil, sys
        import rom_cli.evaluation
        for m in pkgutil.iter_modules(rom_cli.evaluation.__path__):
            importlib.import_module("rom_cli.evaluation." + m.name)
        for name in ("eval", "index", "ask"):
            importlib.import_module("rom_cli.commands." + name)
        from rom_cli.evaluation.session import open_checkpoint, peek_run_config
        path, _ = peek_run_config({str(run_dir / "last")!r})
        open_checkpoint(path, "cpu", "fp32")
        print(sorted(m for m in sys.modules if m.startswith("rom_cli.training")))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_no_evaluation_source_imports_the_trainer():
    """Also the imports inside functions: evaluation and the eval-side commands never name rom_cli.training."""
    sources = sorted((REPO / "rom_cli" / "evaluation").glob("*.py"))
    sources += [REPO / "rom_cli" / "commands" / f"{name}.py" for name in ("eval", "index", "ask", "report")]
    offenders = [str(p.relative_to(REPO)) for p in sources if "rom_cli.training" in p.read_text(encoding="utf-8")]
    assert not offenders
