"""scripts/bench_tasks.py: one shared encoder grows by heads only; one encoder per task by whole encoders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("external", [False, True])
def test_bench_tasks_smoke(tmp_path, external):
    out = tmp_path / "tasks.json"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_tasks.py"), "--tasks", "1,2", "--steps", "1",
                           "--out", str(out)] + (["--external"] if external else []),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = json.loads(out.read_text())["rows"]
    assert two["separate"]["parameters"] == 2 * one["separate"]["parameters"]
    growth = two["shared"]["parameters"] - one["shared"]["parameters"]
    assert growth == (2 * 32 + 2 if external else 0)  # a claim head: Linear(32, 2) on the tiny encoder
    assert two["shared"]["growth_per_added_task_pct_of_encoder"] < 0.1 and two["shared"]["peak_rss_mb"] > 0
