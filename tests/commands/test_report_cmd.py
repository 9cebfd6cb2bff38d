"""`rom report` over a real 2x2 sweep of the tiny encoder: four rows, report files and plots."""

from __future__ import annotations

import csv

import pytest

from tests.commands.conftest import one_line_error, rom
from tests.conftest import TINY


@pytest.mark.slow
def test_report_of_a_2x2_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    base = [a for a in TINY if not a.startswith("trainer.max_steps=")]
    out = rom("train", "-m", *base, "task.demo_passages=20", "task.eval_limit=4", "schedule=round_robin,proportional",
              "trainer.max_steps=2,3", f"hydra.sweep.dir={sweep}", timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    report_dir = tmp_path / "report"
    out = rom("report", str(sweep), "metric=final.retrieval.answer.top5", f"hydra.run.dir={report_dir}")
    assert out.returncode == 0, out.stderr[-3000:]
    with open(report_dir / "report.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    assert {(r["schedule"], r["trainer.max_steps"]) for r in rows} == {
        (s, n) for s in ("round_robin", "proportional") for n in ("2", "3")}
    assert sum(int(r["best"]) for r in rows) == 1 and all(r["final checkpoint"] for r in rows)
    for name in ("metric_vs_schedule.png", "metric_vs_trainer.max_steps.png", "training_loss.png",
                 "task_probabilities.png"):
        assert (report_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    md = (report_dir / "report.md").read_text()
    assert md.count("\n| ") == 5 and "best run by final.retrieval.answer.top5" in md
    assert "best run by" in out.stdout and "schedule=" in out.stdout


def test_report_without_finished_runs_is_one_line(tmp_path):
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    line = one_line_error(rom("report", str(tmp_path), f"hydra.run.dir={tmp_path / 'out'}"))
    assert "no finished runs" in line and "1 unfinished" in line
    line = one_line_error(rom("report", str(tmp_path / "missing"), f"hydra.run.dir={tmp_path / 'out2'}"))
    assert "no such directory" in line
