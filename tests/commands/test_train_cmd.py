"""`rom train` as a sweep's objective: trainer.sweep_metric makes it return that number of its metrics, the
Optuna preset (hydra/sweeper=optuna_rom) runs trials on it, and `rom report` reads the trials."""

from __future__ import annotations

import json

import pytest
import yaml
from omegaconf import OmegaConf

from rom_cli.commands.train import check_sweep_metric, sweep_value
from rom_cli.errors import ConfigError
from tests.commands.conftest import one_line_error, rom
from tests.conftest import TINY


def _cfg(**trainer):
    return OmegaConf.create({"trainer": {"sweep_metric": None, "eval_every": None, "eval_at_end": True, **trainer}})


def test_sweep_metric_is_checked_before_training_and_read_after():
    check_sweep_metric(_cfg(sweep_metric="best.value", eval_every=10))
    with pytest.raises(ConfigError, match="best.* exists only with trainer.eval_every=N"):
        check_sweep_metric(_cfg(sweep_metric="best.value"))
    with pytest.raises(ConfigError, match="final.* needs trainer.eval_at_end=true"):
        check_sweep_metric(_cfg(sweep_metric="final.end_to_end.top1.em", eval_at_end=False))
    metrics = {"best": {"value": 42.5, "step": 3}, "final": {"end_to_end": {"top1": {"em": 40}}}}
    assert sweep_value(_cfg(sweep_metric="final.end_to_end.top1.em"), metrics) == 40.0
    with pytest.raises(ConfigError, match=r"trainer.sweep_metric='final.em'.*e.g. best.value, best.step, final"):
        sweep_value(_cfg(sweep_metric="final.em"), metrics)


def test_a_sweep_metric_without_selection_is_one_line(tmp_path):
    line = one_line_error(rom("train", *TINY, "trainer.sweep_metric=best.value", f"hydra.run.dir={tmp_path}"))
    assert "trainer.sweep_metric='best.value'" in line and "trainer.eval_every=N" in line


@pytest.mark.slow
def test_optuna_sweep_of_two_trials_maximises_the_selection_metric(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    sweep = tmp_path / "sweep"
    out = rom("train", "-m", "hydra/sweeper=optuna_rom", "hydra.sweeper.n_trials=2", *TINY, "task.eval_limit=8",
              "trainer.select_limit=8", "trainer.best_metric=reader_gold.f1", f"hydra.sweep.dir={sweep}")
    assert out.returncode == 0, out.stderr[-3000:]
    runs = sorted(p for p in sweep.iterdir() if (p / "metrics.json").is_file())
    assert [p.name for p in runs] == ["0", "1"]
    values, sampled = [], []
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["best"]["step"] == 3 and metrics["best"]["metric"] == "reader_gold.f1"  # eval_every: last step
        values.append(metrics["best"]["value"])
        overrides = dict(o.split("=", 1) for o in yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text()))
        assert overrides["schedule"] == "specified" and overrides["trainer.sweep_metric"] == "best.value"
        sampled.append({k: overrides[k] for k in ("trainer.lr", "encoder.temperature", "mixture.tasks.reader",
                                                   "objectives.retrieval.hard_negatives")})
        assert 1e-5 <= float(overrides["trainer.lr"]) <= 3e-4
    assert sampled[0] != sampled[1]
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert result["best_value"] == pytest.approx(max(values))  # the runs' returns were their selection metric
    report = rom("report", str(sweep), "metric=best.value", f"hydra.run.dir={tmp_path / 'report'}")
    assert report.returncode == 0, report.stderr[-3000:]
    assert "rom report: 2 runs" in report.stdout
    header = (tmp_path / "report" / "report.csv").read_text().splitlines()[0].split(",")
    assert {"trainer.lr", "encoder.temperature", "objectives.retrieval.hard_negatives", "best.value"} <= set(header)
