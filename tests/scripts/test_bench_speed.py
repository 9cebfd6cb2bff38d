"""scripts/bench_speed.py --processes / --attention-dropout: whole `rom train` runs compared, examples/s as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY

REPO = Path(__file__).resolve().parents[2]


def bench_speed(out: Path, *args: str) -> dict:
    overrides = [o for o in TINY if not o.startswith(("trainer.max_steps", "trainer.threads", "trainer.eval_at_start"))]
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_speed.py"), *args, "--steps", "2",
                           "--out", str(out), *overrides], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_one_versus_two_processes_smoke(tmp_path):
    result = bench_speed(tmp_path / "dist.json", "--processes", "1,2")
    assert set(result["runs"]) == {"1", "2"} and result["runs"]["2"]["world_size"] == 2
    assert result["runs"]["2"]["rank_fingerprints_agree"] and result["runs"]["1"]["speedup"] == 1.0
    assert all(r["train_examples_per_s"] > 0 for r in result["runs"].values())


@pytest.mark.slow
def test_attention_dropout_comparison_smoke(tmp_path):
    result = bench_speed(tmp_path / "attn.json", "--attention-dropout", "null,0.0")
    assert result["compared"] == "encoder.attention_dropout" and list(result["runs"]) == ["null", "0.0"]
    assert result["runs"]["null"]["speedup"] == 1.0
    assert all(r["train_examples_per_s"] > 0 and r["per_task_examples_per_s"] for r in result["runs"].values())
