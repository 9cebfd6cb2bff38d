"""scripts/tune_squad.py end to end on the smoke profile (tiny random encoder, demo task: real
`rom train -m` sweeps, no SQuAD needed), and scripts/tune_table.py on its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_smoke_sweeps_write_json_and_table(tmp_path):
    out, runs, table = tmp_path / "results", tmp_path / "runs", tmp_path / "TUNING.md"
    cmd = [sys.executable, str(REPO / "scripts" / "tune_squad.py"), "--profile", "smoke", "--out", str(out),
           "--runs", str(runs), "--table", str(table)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "tuning-smoke.json").read_text())
    assert set(result["sweeps"]) == {"base", "lr"}
    lr_runs = result["sweeps"]["lr"]["runs"]
    assert [r["overrides"] for r in lr_runs] == [["trainer.lr=5e-05"], ["trainer.lr=0.0002"]]
    for r in [*result["sweeps"]["base"]["runs"], *lr_runs]:
        assert Path(r["run_dir"], "metrics.json").is_file()
        assert 0 <= r["metrics"]["top-1"] <= 100 and r["metrics"]["reader F1"] is not None
    text = table.read_text()
    assert "| `trainer.lr=0.0002` |" in text and "| `(base)` |" in text

    # --only reruns one sweep and keeps the other's results
    proc = subprocess.run([*cmd, "--only", "lr"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(json.loads((out / "tuning-smoke.json").read_text())["sweeps"]) == {"base", "lr"}

    bad = subprocess.run([*cmd, "--only", "nope"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown sweep 'nope'" in bad.stderr
