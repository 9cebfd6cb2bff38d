"""Run aggregation for `rom report` on hand-made run folders (no training needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rom_cli.errors import RomError
from rom_cli.evaluation.report import collect, csv_text, lookup, markdown, rows, write


def make_run(root: Path, name: str, overrides: list[str], em: float | None, finished: bool = True) -> Path:
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if finished:
        final = {"retrieval": {"gold": {"top1": 10.0 + (em or 0)}}, "end_to_end": {"top1": {"em": em, "f1": 1.0}}}
        (run / "metrics.json").write_text(json.dumps({"final": final, "step0": None,
                                                      "checkpoint": str(run / "checkpoints" / "step-0000002")}))
        (run / "metrics.jsonl").write_text(
            json.dumps({"event": "index_refresh", "step": 0}) + "\n"
            + "".join(json.dumps({"step": s, "losses": {"reader": 3.0 / s}, "probabilities": {"reader": 0.5, "ict": 0.5}})
                      + "\n" for s in (1, 2)))
    return run


@pytest.fixture
def sweep(tmp_path):
    for i, (lr, sched, em) in enumerate([("1e-3", "round_robin", 5.0), ("1e-3", "proportional", 7.0),
                                         ("2e-3", "round_robin", 3.0), ("2e-3", "proportional", 9.0)]):
        make_run(tmp_path, str(i), [f"trainer.lr={lr}", f"schedule={sched}", "encoder=tiny",
                                    f"hydra.run.dir=/x/{i}"], em)
    make_run(tmp_path, "10", ["trainer.lr=3e-3"], None, finished=False)
    return tmp_path


def test_collect_rows_overrides_and_best(sweep):
    report = collect([str(sweep)], "end_to_end.top1.em")
    assert [r.name for r in report.runs] == ["0", "1", "2", "3"]  # natural order, unfinished left out
    assert [p.name for p in report.unfinished] == ["10"]
    assert report.override_keys == ["trainer.lr", "schedule", "encoder"]  # hydra.* keys dropped
    assert report.swept == ["trainer.lr", "schedule"]
    assert report.best.name == "3" and report.best.checkpoint.endswith("step-0000002")
    assert collect([str(sweep)], "final.end_to_end.top1.em", mode="min").best.name == "2"
    header, body = rows(report)
    assert header[:4] == ["run", "trainer.lr", "schedule", "encoder"] and body[3][0] == "3 *"
    text = csv_text(report)
    assert text.splitlines()[0].startswith("run,path,trainer.lr,schedule,encoder,end_to_end.top1.em")
    assert "Unfinished runs left out" in markdown(report, [])


def test_write_makes_report_files_and_plots(sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    written = write(collect([str(sweep)], "final.end_to_end.top1.em"), out)
    assert {"report.md", "report.csv", "metric_vs_trainer.lr.png", "metric_vs_schedule.png", "training_loss.png",
            "task_probabilities.png"} <= set(written)
    assert all(p.stat().st_size > 1000 for name, p in written.items() if name.endswith(".png"))
    assert not list(out.glob(".*tmp*"))


def test_several_run_dirs_and_eval_runs(sweep, tmp_path):
    ev = tmp_path / "eval_run"
    (ev / ".hydra").mkdir(parents=True)
    (ev / ".hydra" / "overrides.yaml").write_text("- checkpoint=/x\n")
    (ev / "report.json").write_text(json.dumps({"metrics": {"end_to_end": {"top1": {"em": 50.0}}},
                                                "checkpoint": "/x/step-1"}))
    report = collect([str(sweep / "0"), str(ev)], "end_to_end.top1.em")
    assert [r.kind for r in report.runs] == ["train", "eval"] and report.best.checkpoint == "/x/step-1"


def test_lookup_and_errors(sweep, tmp_path):
    metrics = {"final": {"a": {"b": 2}}, "top": 1, "nan": float("nan")}
    assert lookup(metrics, "a.b") == 2.0 and lookup(metrics, "final.a.b") == 2.0 and lookup(metrics, "top") == 1.0
    assert lookup(metrics, "nan") is None and lookup(metrics, "a") is None
    with pytest.raises(RomError, match="metric=final.nope"):
        collect([str(sweep)], "final.nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RomError, match="no finished runs"):
        collect([str(tmp_path / "empty")], "x")
    with pytest.raises(RomError, match="no paths given"):
        collect([], "x")


def test_a_multi_dataset_run_adds_a_row_per_dataset_and_the_macro_average(tmp_path):
    run = make_run(tmp_path, "multi", ["experiment=demo_multi"], 4.0)
    one = {"end_to_end": {"top1": {"em": 4.0, "f1": 1.0}}}
    two = {"end_to_end": {"top1": {"em": 30.0, "f1": 1.0}}}
    final = {**one, "datasets": {"demo": one, "demo_alt": two}, "macro": {"end_to_end": {"top1": {"em": 17.0, "f1": 1.0}}}}
    (run / "metrics.json").write_text(json.dumps({"final": final, "step0": None}))
    make_run(tmp_path, "single", [], 10.0)
    report = collect([str(tmp_path)], "end_to_end.top1.em")
    values = {r.name: r.values["end_to_end.top1.em"] for r in report.runs}
    assert values == {"multi": 4.0, "multi [demo]": 4.0, "multi [demo_alt]": 30.0, "multi [macro]": 17.0, "single": 10.0}
    assert report.best.name == "single"  # dataset rows are shown, not ranked as runs
