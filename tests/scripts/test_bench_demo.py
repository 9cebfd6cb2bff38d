"""scripts/bench_demo.py times the demo as a user runs it and writes JSON naming the machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_demo_smoke(tmp_path):
    out = tmp_path / "demo.json"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_demo.py"), "--precisions", "fp32",
                           "--out", str(out), "encoder=tiny", "trainer.max_steps=2", "trainer.threads=1",
                           "task.eval_limit=4"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    run = result["runs"]["fp32"]
    assert run["precision"] == "fp32" and run["steps"] == 2 and run["wall_s"] > 0
    assert run["eval_questions"] == 4 and run["train_examples_per_s"] > 0
    assert result["machine"]["cpu_capability"] and result["target_s"] == 300
    assert "retrieval gold top-1" in run["headline"]
