"""A run killed with SIGKILL mid-training resumes from its last complete checkpoint and ends with
bit-identical parameters to an uninterrupted run (CPU, fp32, one thread)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from tests.conftest import TINY

ARGS = [*TINY, "trainer.max_steps=60", "trainer.checkpoint_every=10", "index.refresh_every=7",
        "trainer.eval_at_start=false", "task.eval_limit=4"]


def train(run_dir, *extra):
    return subprocess.Popen([sys.executable, "-m", "rom_cli", "train", *ARGS, *extra, f"hydra.run.dir={run_dir}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def final_weights(run_dir):
    latest = (run_dir / "checkpoints" / "LATEST").read_text().strip()
    return load_file(run_dir / "checkpoints" / latest / "encoder" / "model.safetensors")


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path):
    straight = tmp_path / "straight"
    assert train(straight).wait(timeout=300) == 0

    killed = tmp_path / "killed"
    proc = train(killed)
    deadline = time.time() + 240
    while time.time() < deadline and not (killed / "checkpoints" / "step-0000020").exists():
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed; raise max_steps"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists()
    latest = killed / "checkpoints" / (killed / "checkpoints" / "LATEST").read_text().strip()
    assert (latest / "meta.json").is_file()  # LATEST only ever names a complete checkpoint

    resumed = train(killed)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-2000:]
    a, b = final_weights(straight), final_weights(killed)
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]).all() for k in a)
