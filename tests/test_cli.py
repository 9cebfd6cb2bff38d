"""The `rom` console script end to end, in subprocesses, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY


def rom(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rom_cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def test_help_lists_every_subcommand():
    out = rom("--help")
    assert out.returncode == 0
    for name in ("train", "eval", "index", "ask", "report", "data"):
        assert f"  {name}" in out.stdout
    bare = rom()
    assert bare.returncode == 2 and "train" in bare.stdout


def test_unknown_subcommand_is_one_line_exit_2():
    out = rom("trian")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "'trian'" in out.stderr and "train" in out.stderr


def test_cfg_job_prints_the_composed_config():
    out = rom("train", "--cfg", "job", "task=nq", "schedule=round_robin")
    assert out.returncode == 0, out.stderr
    assert "name: nq" in out.stdout and "name: round_robin" in out.stdout
    assert "psgs_w100.tsv" in out.stdout


def test_subcommand_help_lists_groups():
    out = rom("train", "--help")
    assert out.returncode == 0
    assert "schedule: " in out.stdout and "supervision: " in out.stdout
    assert "encoder: bert_base, distilbert, minilm, tiny" in out.stdout
    assert "schema" not in out.stdout.split("== Config ==")[0]


@pytest.mark.parametrize("override,needle", [
    ("trainer.lrr=0.1", "trainer.lrr"),
    ("schedule=cyclic", "schedule/cyclic"),
    ("encoder.pooling=max", "max"),
    ("trainer.max_steps=many", "trainer.max_steps"),
])
def test_config_mistakes_are_one_line_exit_2(override, needle):
    out = rom("train", override)
    assert out.returncode == 2
    assert needle in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_impossible_value_is_one_line_exit_2(tmp_path):
    out = rom("train", "encoder=tiny", "trainer.max_steps=0", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2
    assert "trainer.max_steps" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.slow
def test_multirun_sweep_over_two_schedules(tmp_path):
    out = rom("train", "-m", *TINY, "trainer.max_steps=2", "task.eval_limit=4",
              "schedule=round_robin,proportional", f"hydra.sweep.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-2000:]
    runs = sorted(p for p in tmp_path.iterdir() if p.is_dir() and (p / "metrics.json").exists())
    assert len(runs) == 2
    schedules = {json.loads((r / "metrics.json").read_text())["config"]["schedule"] for r in runs}
    assert schedules == {"round_robin", "proportional"}
    for run in runs:
        assert (run / "checkpoints" / "LATEST").exists()
        assert (run / ".hydra" / "overrides.yaml").exists()


def rom_into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """Run with stdout a pipe whose reader is already gone (`rom ... | head` after head exited)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "rom_cli", *args], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=300)
    finally:
        os.close(write_end)
    return proc


@pytest.mark.parametrize("args", [["index", "--help"], ["train", "--help"], ["--help"]])
def test_a_closed_stdout_pipe_ends_quietly(args):
    out = rom_into_closed_pipe(*args)
    assert out.returncode == 0 and "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr


@pytest.mark.slow
def test_train_output_is_whole_lines_and_lands_in_the_run_log(tmp_path):
    """Off a terminal nothing is wrapped (a long run dir stays on one line); the log keeps the console output;
    a report piped into a closed reader ends quietly with exit 0."""
    run = tmp_path / ("a-run-directory-with-a-long-name-" + "x" * 60) / "run"
    out = rom("train", *TINY, "trainer.max_steps=1", "task.eval_limit=4", f"hydra.run.dir={run}")
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"run directory: {run}\n" in out.stderr
    assert f"metrics: {run / 'metrics.json'}," in out.stdout
    log = (run / "train.log").read_text()
    assert f"run directory: {run}" in log and "rom train: encoder tiny" in log and "precision fp32" in log
    assert (run / ".hydra" / "config.yaml").is_file() and (run / ".hydra" / "overrides.yaml").is_file()
    piped = rom_into_closed_pipe("report", str(run), f"hydra.run.dir={tmp_path / 'report'}")
    assert piped.returncode == 0 and "Traceback" not in piped.stderr, piped.stderr
