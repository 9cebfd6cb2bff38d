"""One short training run per test session, shared by the eval / index / ask / report command tests.

The run memorises a handful of demo training questions (reader + retrieval, no ICT, 120 steps of
the tiny encoder on one CPU thread: about ten seconds), so `rom ask` has answers it should get right.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

MEMORISE = [
    "encoder=tiny",
    "task.demo_passages=20",
    "task.train_limit=4",
    "task.eval_limit=4",
    "~mixture.tasks.ict=1.0",
    "trainer.max_steps=120",
    "trainer.threads=1",
    "trainer.lr=5e-3",
    "trainer.warmup_ratio=0.05",
    "trainer.eval_at_start=false",
    "trainer.log_every=10",
    "trainer.checkpoint_every=1000",
    "objectives.reader.batch_size=4",
    "objectives.reader.passages_per_question=2",
    "objectives.retrieval.batch_size=4",
    "objectives.retrieval.mine_from_index=false",
    "eval.top_k=[1,5]",
    "eval.read_top_k=[1]",
]


def rom(*args: str, stdin: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "rom_cli", *args], cwd=REPO, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def one_line_error(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rom: error: "), out.stderr
    return lines[0]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    out = rom("train", *MEMORISE, f"hydra.run.dir={run_dir}")
    assert out.returncode == 0, out.stderr[-3000:]
    return run_dir


@pytest.fixture(scope="session")
def index_dir(trained_run, tmp_path_factory) -> Path:
    out_dir = tmp_path_factory.mktemp("index")
    out = rom("index", f"checkpoint={trained_run}", f"out={out_dir / 'index'}", f"hydra.run.dir={out_dir / 'run'}")
    assert out.returncode == 0, out.stderr[-3000:]
    return out_dir / "index"
