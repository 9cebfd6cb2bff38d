"""Ctrl-C (SIGINT) mid-run: the step in progress finishes, a checkpoint of it is saved, the run exits 130
with one line saying how to continue, and the resumed run ends bit-identical to an uninterrupted one."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from tests.conftest import TINY

ARGS = [*TINY, "trainer.max_steps=30", "trainer.checkpoint_every=1000", "index.refresh_every=7",
        "task.eval_limit=4"]


def train(run_dir) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "1000"}  # rich wraps long console lines at the terminal width
    # a suite started in the background inherits SIGINT ignored: give the run the default, as in a terminal
    return subprocess.Popen([sys.executable, "-m", "rom_cli", "train", *ARGS, f"hydra.run.dir={run_dir}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def logged_steps(run_dir) -> list[int]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]
    return [x["step"] for x in lines if "losses" in x]


def weights(checkpoint):
    return load_file(checkpoint / "encoder" / "model.safetensors")


@pytest.mark.slow
def test_sigint_saves_the_step_and_resume_finishes_identically(tmp_path):
    straight = tmp_path / "straight"
    proc = train(straight)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()[-2000:]

    run = tmp_path / "interrupted"
    proc = train(run)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not any(s >= 5 for s in logged_steps(run)):
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be interrupted; raise max_steps"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    m = re.fullmatch(r"rom: interrupted at step (\d+) of 30: saved (\S+); to continue, run the same command with "
                     r"trainer\.resume=auto and hydra\.run\.dir=(\S+)", last)
    assert m, err[-3000:]
    step = int(m.group(1))
    assert 5 <= step < 30 and m.group(3) == str(run)
    checkpoint = run / "checkpoints" / f"step-{step:07d}"
    assert m.group(2) == str(checkpoint) and (checkpoint / "meta.json").is_file()
    assert (run / "checkpoints" / "LATEST").read_text().strip() == checkpoint.name
    assert json.loads((checkpoint / "meta.json").read_text())["step"] == step
    assert logged_steps(run)[-1] == step  # the interrupted step was completed, not cut short
    assert not (run / "metrics.json").exists()

    resumed = train(run)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-3000:]
    assert f"resumed from {checkpoint} at step {step}" in err
    assert logged_steps(run) == list(range(1, 31))
    final_a = json.loads((straight / "metrics.json").read_text())
    final_b = json.loads((run / "metrics.json").read_text())
    assert final_b["train"]["steps"] == 30
    a, b = weights(straight / "checkpoints" / "step-0000030"), weights(run / "checkpoints" / "step-0000030")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    strip = lambda m: {k: v for k, v in m["final"].items() if k != "speed"}  # noqa: E731
    assert strip(final_a) == strip(final_b)
