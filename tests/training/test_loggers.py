"""Experiment tracking (rom_cli/training/loggers.py): a tiny run with logger=tensorboard writes readable event
files holding its losses; logger=none writes nothing; W&B and MLflow go offline / to a file store in the run
directory; a tracker that is not installed is one line naming its package."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from rom_cli.errors import RomError
from rom_cli.training.loggers import build_logger, event_metrics
from rom_cli.training.trainer import Trainer
from tests.conftest import REPO, TINY


def test_tensorboard_event_file_holds_the_losses_config_and_evaluations(tiny_cfg, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tiny_cfg("logger=tensorboard", "trainer.eval_at_start=true", "trainer.eval_every=3", "task.eval_limit=4")
    Trainer(cfg, tmp_path).run()
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    for task in cfg.mixture.tasks:  # every task's loss at every logged step, as in metrics.jsonl
        logged = {x["step"]: x["losses"][task] for x in lines if task in x.get("losses", {})}
        assert logged, task
        points = {e.step: e.value for e in acc.Scalars(f"train/losses/{task}")}
        assert points == pytest.approx(logged, rel=1e-6)
    for tag in ("train/lr", "train/probabilities/retrieval", "index_refresh/seconds", "select/end_to_end.top1.em"):
        assert tag in scalars, (tag, sorted(scalars))
    steps = [e.step for e in acc.Scalars("eval/retrieval/gold/top1")]
    assert sorted(steps) == [0, 3]  # step 0 and the last step under the same tag
    assert "config/text_summary" in acc.Tags()["tensors"]
    text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "logger:" in text and "name: tensorboard" in text


def test_logger_none_writes_nothing_beside_the_run(tiny_cfg, tmp_path):
    Trainer(tiny_cfg("logger=none"), tmp_path).run()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "metrics.json", "metrics.jsonl"]


def test_records_become_named_scalars():
    assert event_metrics({"step": 4, "losses": {"ict": 1.5}, "lr": 1e-4, "note": "x"}) == {
        "train/losses/ict": 1.5, "train/lr": 1e-4}
    assert event_metrics({"step": 4, "event": "select", "metric": "end_to_end.top1.em", "value": 50.0,
                          "best_step": 4, "split": "dev"}) == {"select/end_to_end.top1.em": 50.0,
                                                              "select/best_step": 4.0}


class _FakeRun:
    def __init__(self):
        self.summary, self.logged, self.finished = {}, [], None

    def log(self, metrics, step):
        self.logged.append((step, metrics))

    def finish(self, exit_code=0):
        self.finished = exit_code


def test_wandb_runs_offline_in_the_run_directory(tiny_cfg, tmp_path, monkeypatch):
    run, inits = _FakeRun(), []
    fake = types.ModuleType("wandb")
    fake.init = lambda **k: inits.append(k) or run
    monkeypatch.setitem(sys.modules, "wandb", fake)
    logger = build_logger(tiny_cfg("logger=wandb"), tmp_path)
    assert not inits and not (tmp_path / "wandb").exists()  # nothing until the first write
    logger.log_text("config", "a: 1")
    logger.log_event({"step": 2, "losses": {"retrieval": 0.5}})
    logger.log_metrics(0, {"eval": {"top1": 10.0}})  # an earlier step than the last: the summary
    logger.close()
    (kwargs,) = inits
    assert kwargs["mode"] == "offline" and kwargs["dir"] == str(tmp_path / "wandb")
    assert kwargs["config"]["logger"]["name"] == "wandb" and kwargs["resume"] == "allow"
    assert run.logged == [(2, {"train/losses/retrieval": 0.5})]
    assert run.summary == {"config": "a: 1", "eval/top1@step0": 10.0}
    assert run.finished == 0


def test_mlflow_logs_to_a_file_store_in_the_run_directory(tiny_cfg, tmp_path, monkeypatch):
    clients, batches = [], []

    class Client:
        def __init__(self, tracking_uri):
            clients.append(tracking_uri)

        def get_experiment_by_name(self, name):
            return None

        def create_experiment(self, name):
            return "1"

        def create_run(self, experiment_id, run_name):
            return types.SimpleNamespace(info=types.SimpleNamespace(run_id="r1"))

        def log_batch(self, run_id, metrics=(), params=()):
            batches.append((list(metrics), list(params)))

        def log_text(self, run_id, text, name):
            batches.append(("text", name))

        def set_terminated(self, run_id, status):
            batches.append(("end", status))

    fake = types.ModuleType("mlflow")
    fake.tracking = types.SimpleNamespace(MlflowClient=Client)
    entities = types.ModuleType("mlflow.entities")
    entities.Param = lambda k, v: (k, v)
    entities.Metric = lambda k, v, t, s: (k, v, s)
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    monkeypatch.setitem(sys.modules, "mlflow.entities", entities)
    logger = build_logger(tiny_cfg("logger=mlflow"), tmp_path)
    logger.log_event({"step": 3, "event": "index_refresh", "seconds": 0.5, "passages_per_s": 100.0})
    logger.log_metrics(3, {"eval": {"retrieval": {"answer_mrr@100": 0.25}}})
    logger.log_text("config", "a: 1")
    logger.close(failed=True)
    assert clients == [(tmp_path / "mlruns").resolve().as_uri()] and (tmp_path / "mlruns").is_dir()
    params = [p for m, p in batches if isinstance(m, list) for p in p]
    assert ("logger.name", "mlflow") in params and ("trainer.max_steps", "3") in params
    metrics = [m for m, _ in batches if isinstance(m, list) for m in m]
    assert ("index_refresh/seconds", 0.5, 3) in metrics
    assert ("eval/retrieval/answer_mrr_100", 0.25, 3) in metrics  # '@' is not allowed in MLflow names
    assert ("text", "config.yaml") in batches and batches[-1] == ("end", "FAILED")


@pytest.mark.parametrize("name, package", [("wandb", "wandb"), ("mlflow", "mlflow")])
def test_a_tracker_that_is_not_installed_is_one_line_naming_it(tiny_cfg, tmp_path, monkeypatch, name, package):
    monkeypatch.setitem(sys.modules, package, None)  # `import wandb` raises ImportError
    with pytest.raises(RomError, match=rf"logger={name}: the {package} package is not installed.*rom-cli\[{name}\]"):
        build_logger(tiny_cfg(f"logger={name}"), tmp_path)


def test_rom_train_with_a_missing_tracker_fails_before_writing(tmp_path):
    run_dir = tmp_path / "run"
    code = ("import sys; sys.modules['wandb'] = None; from rom_cli.cli import main; "
            f"main(['train', *{TINY!r}, 'logger=wandb', 'hydra.run.dir={run_dir}'])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and "the wandb package is not installed" in out.stderr
    assert not Path(run_dir).exists()


def test_a_resumed_run_shows_each_step_once(tiny_cfg, tmp_path, monkeypatch):
    """The crashed session logged steps 1-3, its last checkpoint is step 2: the resumed session's event file
    hides the first session's step 3 (purge_step) and logs 3 and 4 again, as metrics.jsonl keeps them."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    overrides = ("logger=tensorboard", "trainer.max_steps=4", "trainer.checkpoint_every=2", "mixture=retrieval_only")
    original = Trainer.train_step

    def crash_at_four(self):
        if self.step == 3:
            raise RuntimeError("killed")
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", crash_at_four)
    with pytest.raises(RuntimeError, match="killed"):
        Trainer(tiny_cfg(*overrides), tmp_path).run()
    monkeypatch.setattr(Trainer, "train_step", original)
    Trainer(tiny_cfg(*overrides), tmp_path).run()
    assert len(list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))) == 2
    acc = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    steps = [e.step for e in acc.Scalars("train/losses/retrieval")]
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines() if "losses" in x]
    assert steps == [x["step"] for x in lines] == [1, 2, 3, 4]
