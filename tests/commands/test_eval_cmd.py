"""`rom eval`: reproduces training's final numbers from the checkpoint alone, adds BM25 and hybrid rows."""

from __future__ import annotations

import json

from omegaconf import OmegaConf

from rom_cli.config.schema import EvalCmdConfig
from rom_cli.evaluation.session import effective_config
from tests.commands.conftest import one_line_error, rom


def _numbers(d, prefix=""):
    out = {}
    for k, v in d.items():
        if k == "speed":
            continue
        if isinstance(v, dict):
            out.update(_numbers(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)):
            out[prefix + k] = v
    return out


def test_eval_reproduces_training_metrics(trained_run, tmp_path):
    out = rom("eval", f"checkpoint={trained_run}", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    trained = json.loads((trained_run / "metrics.json").read_text())
    assert _numbers(report["metrics"]) == _numbers(trained["final"])
    assert report["training"]["reproduced"] is True and "reproduced exactly" in out.stdout
    assert set(report["results"]) == {"dense", "bm25", "hybrid"}
    assert report["results"]["bm25"]["retriever"] == "bm25"
    assert report["questions"] == 4 and report["settings"]["eval"]["top_k"] == [1, 5]  # from the checkpoint
    md = (tmp_path / "report.md").read_text()
    assert "| retrieval gold top-1 |" in md and "bm25" in md and "hybrid" in md
    preds = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 4
    assert {"retrieved", "prediction", "gold_answers", "em", "f1"} <= set(preds[0])
    # progress on stderr (every phase with its rate), and the console output kept in the run's log
    assert f"run directory: {tmp_path}" in out.stderr
    for bar in ("encode passages", "passages/s", "read gold passages", "read top-1", "windows/s"):
        assert bar in out.stderr, bar
    assert "reproduced exactly" in (tmp_path / "eval.log").read_text()
    assert {"id", "score"} == set(preds[0]["retrieved"][0])
    assert "dense (model)" in out.stdout and "end-to-end EM (top-1)" in out.stdout


def test_eval_overrides_replace_checkpoint_settings(trained_run, tmp_path):
    out = rom("eval", f"checkpoint={trained_run}", "task.eval_limit=2", "eval.retriever=bm25", "compare=false",
              f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["questions"] == 2 and list(report["results"]) == ["bm25"]
    assert report["settings"]["task"]["demo_passages"] == 20  # the rest of the task still from the checkpoint
    assert report["training"]["same_settings"] is False and report["training"]["reproduced"] is None


def test_effective_config_takes_only_what_the_user_set():
    run_cfg = OmegaConf.create({"task": {"name": "demo", "format": "demo", "eval_limit": 7},
                                "eval": {"top_k": [1, 5]}, "trainer": {"device": "cpu", "precision": "bf16"}})
    cmd = OmegaConf.structured(EvalCmdConfig(checkpoint="x"))
    cmd.task.eval_limit = 100
    cmd.eval.top_k = [1, 2, 3]
    eff = effective_config(cmd, run_cfg, ["task.eval_limit=100"])
    assert eff.task.eval_limit == 100 and eff.task.name == "demo" and eff.eval.top_k == [1, 5]
    assert eff.device == "cpu" and eff.precision == "bf16"
    cmd.task.name = "squad"
    cmd.precision = "fp32"
    eff = effective_config(cmd, run_cfg, ["task=squad", "task.eval_limit=100", "precision=fp32"])
    assert eff.task.name == "squad" and eff.task.eval_limit == 100 and eff.precision == "fp32"


def test_eval_bad_checkpoints_are_one_line(tmp_path):
    assert "checkpoint=... is required" in one_line_error(rom("eval", f"hydra.run.dir={tmp_path / 'r0'}"))
    line = one_line_error(rom("eval", f"checkpoint={tmp_path / 'nope'}", f"hydra.run.dir={tmp_path / 'r1'}"))
    assert "no such file or directory" in line
    (tmp_path / "empty").mkdir()
    line = one_line_error(rom("eval", f"checkpoint={tmp_path / 'empty'}", f"hydra.run.dir={tmp_path / 'r2'}"))
    assert "not a rom checkpoint" in line


def test_eval_of_a_multi_dataset_checkpoint_reports_every_dataset_and_the_macro(tmp_path):
    from tests.conftest import TINY

    run = tmp_path / "run"
    out = rom("train", *TINY, "experiment=demo_multi", "trainer.max_steps=2", "task.eval_limit=4",
              "trainer.eval_every=null", f"hydra.run.dir={run}")
    assert out.returncode == 0, out.stderr[-3000:]
    trained = json.loads((run / "metrics.json").read_text())
    assert set(trained["final"]["datasets"]) == {"demo", "demo_alt"}
    assert trained["final"]["datasets"]["demo"]["retrieval"]["questions"] == 4  # task.* reaches the run's dataset
    ev = rom("eval", f"checkpoint={run}", "compare=false", "task.eval_limit=4", f"hydra.run.dir={tmp_path / 'e'}")
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert "demo_alt (dense)" not in ev.stdout  # a task override evaluates that task only
    ev = rom("eval", f"checkpoint={run}", "compare=false", f"hydra.run.dir={tmp_path / 'e2'}")
    assert ev.returncode == 0, ev.stderr[-3000:]
    report = json.loads((tmp_path / "e2" / "report.json").read_text())
    assert set(report["metrics"]["datasets"]) == {"demo", "demo_alt"} and "macro" in report["metrics"]
    assert report["training"]["reproduced"] is True  # the primary dataset's numbers, as trained
    assert "demo_alt (dense)" in ev.stdout and "macro (dense)" in ev.stdout
