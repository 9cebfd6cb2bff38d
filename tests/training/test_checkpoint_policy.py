"""Which checkpoints a run keeps: the last `keep_last` plus, with `trainer.eval_every`, the best one by
`trainer.best_metric` on the dev split, named by `checkpoints/BEST`."""

from __future__ import annotations

import json

import pytest
import torch

from rom_cli.checkpoints import best_checkpoint, latest_checkpoint
from rom_cli.errors import RomError
from rom_cli.training import trainer as trainer_module
from rom_cli.training.trainer import Trainer


def steps_on_disk(run_dir) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").iterdir() if p.is_dir())


def test_best_checkpoint_survives_pruning_with_keep_last_1(tiny_cfg, tmp_path, monkeypatch):
    values = iter([0.5, 0.9, 0.1, 0.2, 0.0])  # selection at steps 1-4, then the final evaluation
    splits = []
    real = trainer_module.evaluate

    def scripted(setup, corpus, questions, retriever="dense", **kw):
        metrics, preds = real(setup, corpus, questions, retriever=retriever, **kw)
        splits.append(len(questions))
        metrics["end_to_end"]["top1"]["em"] = next(values)
        return metrics, preds

    monkeypatch.setattr(trainer_module, "evaluate", scripted)
    cfg = tiny_cfg("trainer.max_steps=4", "trainer.eval_every=1", "trainer.keep_last=1",
                   "trainer.checkpoint_every=100", "trainer.select_limit=3", "task.eval_limit=6")
    metrics = Trainer(cfg, tmp_path).run()

    assert steps_on_disk(tmp_path) == ["step-0000002", "step-0000004"]  # the best and the last
    assert (tmp_path / "checkpoints" / "BEST").read_text().strip() == "step-0000002"
    assert best_checkpoint(tmp_path / "checkpoints") == tmp_path / "checkpoints" / "step-0000002"
    assert latest_checkpoint(tmp_path / "checkpoints") == tmp_path / "checkpoints" / "step-0000004"
    best = metrics["best"]
    assert best["step"] == 2 and best["value"] == 0.9 and best["metric"] == "end_to_end.top1.em"
    assert best["checkpoint"] == str(tmp_path / "checkpoints" / "step-0000002")
    assert best["split"] == "dev"  # the demo task evaluates on test: selection must not look at it
    assert splits == [3, 3, 3, 3, 6]  # select_limit questions of dev, then eval_limit of the eval split
    events = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    selects = [e for e in events if e.get("event") == "select"]
    assert [(e["step"], e["value"], e["best_step"]) for e in selects] == [(1, 0.5, 1), (2, 0.9, 2), (3, 0.1, 2),
                                                                         (4, 0.2, 2)]
    assert [e["metrics"]["end_to_end.top1.em"] for e in selects] == [0.5, 0.9, 0.1, 0.2]  # the learning curve
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["best"] == best


def test_without_eval_every_there_is_no_best(tiny_cfg, tmp_path):
    metrics = Trainer(tiny_cfg("trainer.checkpoint_every=1", "trainer.keep_last=2"), tmp_path).run()
    assert metrics["best"] is None and not (tmp_path / "checkpoints" / "BEST").exists()
    assert steps_on_disk(tmp_path) == ["step-0000002", "step-0000003"]


def test_best_metric_must_name_a_number(tiny_cfg, tmp_path):
    cfg = tiny_cfg("trainer.eval_every=1", "trainer.best_metric=end_to_end.top9.em")
    with pytest.raises(RomError, match=r"config trainer.best_metric='end_to_end.top9.em': expected a dotted path .*"
                                       r"end_to_end.top1.em"):
        Trainer(cfg, tmp_path).run()


def test_selection_does_not_disturb_an_exact_resume(tiny_cfg, tmp_path, monkeypatch):
    """Mid-run evaluations on dev leave training bit-identical, and a resumed run keeps the best so far."""
    overrides = ["trainer.max_steps=6", "trainer.eval_every=2", "trainer.keep_last=1", "trainer.checkpoint_every=100",
                 "trainer.select_limit=4", "task.eval_limit=2"]
    plain = Trainer(tiny_cfg("trainer.max_steps=6", "task.eval_limit=2"), tmp_path / "plain")
    plain.run()
    straight = Trainer(tiny_cfg(*overrides), tmp_path / "straight")
    straight_metrics = straight.run()

    crashing = Trainer(tiny_cfg(*overrides), tmp_path / "crashed")
    original = Trainer.train_step

    def crash_at_five(self):
        if self.step == 5:
            raise SystemExit("killed")
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", crash_at_five)
    with pytest.raises(SystemExit):
        crashing.run()
    monkeypatch.setattr(Trainer, "train_step", original)
    resumed = Trainer(tiny_cfg(*overrides), tmp_path / "crashed")
    resumed_metrics = resumed.run()

    for other in (straight, resumed):
        a, b = plain.model.state_dict(), other.model.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed_metrics["best"]["step"] == straight_metrics["best"]["step"]
    assert resumed_metrics["best"]["value"] == straight_metrics["best"]["value"]
    assert best_checkpoint(tmp_path / "crashed" / "checkpoints") is not None
