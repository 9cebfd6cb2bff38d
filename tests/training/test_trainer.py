"""The trainer on the tiny encoder and the demo task: every schedule x supervision x mixture runs,
loss goes down, a crashed run resumes to the same parameters, three towers cost three encoders."""

from __future__ import annotations

import json

import pytest
import torch

from rom_cli.errors import RomError
from rom_cli.training.trainer import Trainer

SCHEDULES = ["round_robin", "proportional", "temperature", "uniform", "specified", "sequential", "joint"]
LEVELS = ["full", "weak", "none"]
MIXTURES = ["rom", "retrieval_only", "reader_only", "ict_only"]


@pytest.mark.parametrize("mixture", MIXTURES)
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_schedule_level_mixture_runs(tiny_cfg, tmp_path, schedule, level, mixture):
    cfg = tiny_cfg(f"schedule={schedule}", f"supervision={level}", f"mixture={mixture}", "task.eval_limit=4")
    metrics = Trainer(cfg, tmp_path).run()
    assert metrics["train"]["steps"] == 3
    ran = {name for name, s in metrics["train"]["tasks"].items() if s["batches"] > 0}
    assert ran and ran <= set(cfg.mixture.tasks)
    probs = metrics["train"]["task_probabilities"]
    assert abs(sum(probs.values()) - 1.0) < 1e-6
    assert metrics["final"]["retrieval"]["questions"] == 4
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if "losses" in x] == [1, 2, 3]


def test_weak_and_hard_negatives_rebuild_the_live_index(tiny_cfg, tmp_path):
    cfg = tiny_cfg("supervision=weak", "trainer.max_steps=5", "index.refresh_every=2")
    metrics = Trainer(cfg, tmp_path).run()
    assert metrics["train"]["index_refreshes"] == 3  # before step 0, at steps 2 and 4
    assert metrics["train"]["index_passages_per_s"] > 0


def test_loss_goes_down_on_a_fixed_batch(tiny_cfg, tmp_path):
    import numpy as np

    cfg = tiny_cfg("trainer.lr=1e-3", "trainer.warmup_ratio=0.0")
    trainer = Trainer(cfg, tmp_path)
    optimizer = torch.optim.AdamW(trainer.model.parameters(), lr=1e-3)
    for name, objective in trainer.objectives.items():
        if objective.needs_index():
            trainer.mixture.live[0].refresh(0)
        batch = objective.next_batch(np.random.default_rng(0))
        first = last = None
        for _ in range(25):
            loss = objective.loss(trainer.model, batch, trainer.device)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            last = loss.item()
            first = last if first is None else first
        assert last < 0.5 * first, f"{name}: {first:.3f} -> {last:.3f}"


def _params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_crashed_run_resumes_to_identical_parameters(tiny_cfg, tmp_path, monkeypatch):
    overrides = ["trainer.max_steps=8", "trainer.checkpoint_every=3", "index.refresh_every=2", "trainer.eval_at_start=true"]
    straight = Trainer(tiny_cfg(*overrides), tmp_path / "straight")
    straight_metrics = straight.run()

    crashed_dir = tmp_path / "crashed"
    crashing = Trainer(tiny_cfg(*overrides), crashed_dir)
    original = Trainer.train_step

    def crash_at_five(self):
        if self.step == 5:  # after the checkpoint of step 3, before the one of step 6
            raise SystemExit("killed")
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", crash_at_five)
    with pytest.raises(SystemExit):
        crashing.run()
    monkeypatch.setattr(Trainer, "train_step", original)
    assert (crashed_dir / "checkpoints" / "step-0000003").is_dir()

    resumed = Trainer(tiny_cfg(*overrides), crashed_dir)
    resumed_metrics = resumed.run()
    a, b = _params(straight.model), _params(resumed.model)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed_metrics["final"] == straight_metrics["final"] or _same_metrics(resumed_metrics, straight_metrics)
    assert resumed_metrics["step0"] == straight_metrics["step0"] or _same_metrics(resumed_metrics, straight_metrics, "step0")
    steps = [json.loads(x)["step"] for x in (crashed_dir / "metrics.jsonl").read_text().splitlines()
             if "losses" in json.loads(x)]
    assert steps == list(range(1, 9))  # lines after the checkpoint were dropped, not duplicated


def test_resume_from_an_older_optimizer_layout_is_one_error(tiny_cfg, tmp_path):
    """A checkpoint written before the backbone / heads parameter groups (two groups, not four)."""
    overrides = ["trainer.max_steps=2", "trainer.checkpoint_every=2", "trainer.eval_at_start=false"]
    Trainer(tiny_cfg(*overrides), tmp_path).run()
    path = tmp_path / "checkpoints" / "step-0000002" / "trainer_state.pt"
    state = torch.load(path, weights_only=False)
    groups = state["optimizer"]["param_groups"]
    merged = [{**groups[0], "params": groups[0]["params"] + groups[2]["params"]},
              {**groups[1], "params": groups[1]["params"] + groups[3]["params"]}]
    state["optimizer"]["param_groups"] = merged
    torch.save(state, path)
    with pytest.raises(RomError, match=r"trainer.resume=auto: the optimizer state of checkpoint .* does not fit"):
        Trainer(tiny_cfg("trainer.max_steps=2", "trainer.eval_at_start=false"), tmp_path).run()


def test_resume_with_another_max_steps_is_refused_naming_the_planned_number(tiny_cfg, tmp_path):
    """The learning-rate schedule is fixed by max_steps: continuing with another number would bend it mid-run."""
    Trainer(tiny_cfg("trainer.max_steps=2"), tmp_path).run()
    with pytest.raises(RomError, match=r"trainer.max_steps=5: .* planned for trainer.max_steps=2.*expected "
                                       r"trainer.max_steps=2"):
        Trainer(tiny_cfg("trainer.max_steps=5"), tmp_path).run()
    assert Trainer(tiny_cfg("trainer.max_steps=2"), tmp_path).run()["train"]["steps"] == 2


def _same_metrics(a, b, key="final"):
    strip = lambda m: {k: v for k, v in m[key].items() if k != "speed"}  # noqa: E731
    return strip(a) == strip(b)


def test_three_towers_have_three_times_the_parameters(tiny_cfg, tmp_path):
    shared = Trainer(tiny_cfg(), tmp_path / "a").model
    towers = Trainer(tiny_cfg("encoder.shared=false"), tmp_path / "b").model
    backbone = sum(shared.parameter_breakdown()[k] for k in shared.parameter_breakdown() if k.startswith("backbone"))
    assert towers.num_parameters() - shared.num_parameters() == 2 * backbone
    assert 2.9 < towers.num_parameters() / shared.num_parameters() <= 3.0


def test_heads_learn_at_the_scaled_rate(tiny_cfg, tmp_path):
    trainer = Trainer(tiny_cfg("trainer.lr=1e-4", "trainer.head_lr_scale=30", "encoder.projection_dim=8",
                               "trainer.warmup_ratio=0.0"), tmp_path)
    by_param = {id(p): g["lr"] for g in trainer.optimizer.param_groups for p in g["params"]}
    for name, param in trainer.model.named_parameters():
        expected = 1e-4 if name.startswith("backbones.") else 3e-3
        assert by_param[id(param)] == pytest.approx(expected), name
    heads = {n for n, _ in trainer.model.named_parameters() if not n.startswith("backbones.")}
    assert {"span_head.weight", "relevance_head.bias", "projections.query.weight"} <= heads
    trainer.optimizer.step()  # no gradients yet: moves nothing
    trainer.scheduler.step()  # the decay keeps the ratio
    lrs = sorted({g["lr"] for g in trainer.optimizer.param_groups})
    assert lrs[1] / lrs[0] == pytest.approx(30)


def test_impossible_values_fail_before_loading(tiny_cfg, tmp_path):
    with pytest.raises(RomError, match="trainer.head_lr_scale"):
        Trainer(tiny_cfg("trainer.head_lr_scale=0"), tmp_path)
    with pytest.raises(RomError, match="objectives.retrieval.batch_size"):
        Trainer(tiny_cfg("objectives.retrieval.batch_size=0"), tmp_path)
    with pytest.raises(RomError, match="index.refresh_every"):
        Trainer(tiny_cfg("index.refresh_every=0"), tmp_path)
    with pytest.raises(RomError, match="encoder.reader_max_length"):
        Trainer(tiny_cfg("encoder.reader_max_length=4096"), tmp_path)


def test_nonfinite_loss_stops_naming_step_task_and_batch(tiny_cfg, tmp_path, monkeypatch):
    from rom_cli.tasks.ict import IctObjective

    monkeypatch.setattr(IctObjective, "loss", lambda self, model, batch, device: torch.tensor(float("nan")))
    with pytest.raises(RomError, match=r"non-finite loss .* at step 0, task 'ict', batch examples \["):
        Trainer(tiny_cfg("mixture=ict_only"), tmp_path).run()


def test_nonfinite_loss_can_be_skipped_and_counted(tiny_cfg, tmp_path, monkeypatch):
    from rom_cli.tasks.ict import IctObjective

    original = IctObjective.loss
    calls = {"n": 0}

    def sometimes_nan(self, model, batch, device):
        calls["n"] += 1
        loss = original(self, model, batch, device)
        return loss * float("nan") if calls["n"] == 2 else loss

    monkeypatch.setattr(IctObjective, "loss", sometimes_nan)
    metrics = Trainer(tiny_cfg("mixture=ict_only", "trainer.skip_nonfinite=true"), tmp_path).run()
    assert metrics["train"]["skipped_batches"] == 1
    assert metrics["train"]["steps"] == 3


def test_metrics_name_the_precision_its_reason_and_the_machine(tiny_cfg, tmp_path):
    metrics = Trainer(tiny_cfg("trainer.precision=auto", "trainer.max_steps=1"), tmp_path).run()
    from rom_cli.model.runtime import resolve_precision

    expected = resolve_precision("auto", torch.device("cpu"))
    config = metrics["config"]
    assert config["precision"] == expected.precision and config["precision_requested"] == "auto"
    assert config["precision_reason"] == expected.reason
    assert metrics["machine"]["cpu_capability"] and metrics["machine"]["torch"] == torch.__version__


def test_a_loss_scaler_trains_and_resumes_exactly(tiny_cfg, tmp_path):
    """The fp16 path's GradScaler (enabled here on CPU in fp32) scales, unscales before clipping, and its
    state is checkpointed: a resumed run ends where the uninterrupted one does."""

    def trainer(where) -> Trainer:
        t = Trainer(tiny_cfg("trainer.max_steps=4"), where)
        t.scaler = torch.amp.GradScaler("cpu", enabled=True, init_scale=2.0**8)
        return t

    whole = trainer(tmp_path / "whole")
    whole.run()
    assert 0 < whole.scaler.get_scale() <= 2.0**8
    first = trainer(tmp_path / "split")
    first.run_dir.mkdir(parents=True)
    for _ in range(2):  # the first half of the run, then a checkpoint (as a killed run leaves)
        first.train_step()
        first.step += 1
    path = first.save()
    state = torch.load(path / "trainer_state.pt", weights_only=False)
    assert state["scaler"]["scale"] == first.scaler.get_scale()
    resumed = trainer(tmp_path / "split")
    resumed.run()
    assert resumed.scaler.get_scale() == whole.scaler.get_scale()
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_a_task_that_trains_on_nothing_is_named_in_a_warning(tiny_cfg, tmp_path):
    import io

    from rich.console import Console

    buf = io.StringIO()
    trainer = Trainer(tiny_cfg("trainer.max_steps=3"), tmp_path, console=Console(file=buf, width=400))
    trainer.objectives["reader"].make_batch = lambda indices, rng: {"empty": True, "examples": 0}
    metrics = trainer.run()
    assert metrics["train"]["tasks"]["reader"] == {**metrics["train"]["tasks"]["reader"], "examples": 0, "batches": 1}
    assert "warning: reader trained on 0 examples in 1 batches" in buf.getvalue()
    assert "ict trained on 0" not in buf.getvalue()
