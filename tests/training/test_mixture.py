"""Mixtures across datasets: entries compose, schedules sample entries by size, every dataset is evaluated
(with a macro average), datasets over one passages TSV share a corpus, and an objective from outside rom
(examples/claim_verification.py) trains on the shared encoder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rom_cli.config.schema import ScheduleConfig, ScheduleName
from rom_cli.errors import ConfigError
from rom_cli.training.mixture import entries_of
from rom_cli.training.schedules import build_sampler
from rom_cli.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]
SMALL = ["task.eval_limit=4", "task.train_limit=null", "trainer.max_steps=4", "trainer.eval_at_start=false"]


def test_a_three_entry_mixture_composes(tmp_path):
    from tests.conftest import compose_cfg

    (tmp_path / "mixture").mkdir()
    (tmp_path / "mixture" / "three.yaml").write_text(
        "name: three\nentries:\n"
        "  nq_retrieval: {objective: retrieval, data: nq}\n"
        "  trivia_retrieval: {objective: retrieval, data: trivia, weight: 2.0}\n"
        "  squad_reader: {objective: reader, data: squad, supervision: full}\n")
    cfg = compose_cfg("train", [f"hydra.searchpath=[file://{tmp_path}]", "mixture=three"])
    entries = entries_of(cfg)
    assert [(e.name, e.objective, e.data, e.weight) for e in entries] == [
        ("nq_retrieval", "retrieval", "nq", 1.0), ("trivia_retrieval", "retrieval", "trivia", 2.0),
        ("squad_reader", "reader", "squad", 1.0)]
    assert entries[2].supervision == "full" and entries[0].supervision is None
    (tmp_path / "mixture" / "typo.yaml").write_text("name: t\nentries:\n  a: {objective: retrieval, dat: nq}\n")
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException):
        compose_cfg("train", [f"hydra.searchpath=[file://{tmp_path}]", "mixture=typo"])


def test_the_one_dataset_form_is_unchanged(tiny_cfg):
    entries = entries_of(tiny_cfg())
    assert [(e.name, e.objective, e.data) for e in entries] == [("ict", "ict", None), ("retrieval", "retrieval", None),
                                                                 ("reader", "reader", None)]


def test_proportional_sampling_over_entries_follows_their_sizes():
    sizes = {"big": 9000, "mid": 3000, "small": 1000}
    s = build_sampler(ScheduleConfig(name=ScheduleName.proportional), list(sizes), sizes, {}, seed=3, max_steps=20000)
    draws = [s.tasks_for_step(i)[0] for i in range(20000)]
    for name, n in sizes.items():
        share, expected = draws.count(name) / len(draws), n / sum(sizes.values())
        assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / len(draws)), (name, share)
    t = build_sampler(ScheduleConfig(name=ScheduleName.temperature, temperature=2.0), list(sizes), sizes, {}, 3, 1)
    assert t.probabilities(0)["small"] > 1000 / 13000  # T > 1 flattens towards the small entry


def test_two_datasets_train_and_report_each_with_a_macro_average(tiny_cfg, tmp_path):
    metrics = Trainer(tiny_cfg("experiment=demo_multi", *SMALL, "trainer.eval_every=2"), tmp_path).run()
    final = metrics["final"]
    assert set(final["datasets"]) == {"demo", "demo_alt"} and metrics["config"]["datasets"] == ["demo", "demo_alt"]
    assert final["retrieval"] == final["datasets"]["demo"]["retrieval"]  # the primary dataset's rows stay on top
    a, b = (final["datasets"][d]["retrieval"]["gold"]["top1"] for d in ("demo", "demo_alt"))
    assert final["macro"]["retrieval"]["gold"]["top1"] == pytest.approx((a + b) / 2)
    assert metrics["best"]["metric"] == "macro.end_to_end.top1.em"
    assert set(metrics["train"]["tasks"]) == {"demo_ict", "demo_retrieval", "demo_reader", "alt_retrieval", "alt_reader"}
    assert metrics["config"]["mixture"]["alt_reader"]["dataset"] == "demo_alt"


def test_a_mixture_resumes_exactly(tiny_cfg, tmp_path):
    def trainer(where):
        return Trainer(tiny_cfg("experiment=demo_multi", *SMALL, "trainer.max_steps=6"), where)

    whole = trainer(tmp_path / "whole")
    whole.run()
    first = trainer(tmp_path / "split")
    first.run_dir.mkdir(parents=True)
    for _ in range(3):
        first.train_step()
        first.step += 1
    first.save()
    resumed = trainer(tmp_path / "split")
    resumed.run()
    assert {n: o.stream.consumed for n, o in resumed.objectives.items()} == \
        {n: o.stream.consumed for n, o in whole.objectives.items()}
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_datasets_over_one_passages_tsv_share_the_corpus_and_the_live_index(tiny_cfg, tmp_path):
    out = tmp_path / "dpr"
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_corpus.py"), "--out", str(out), "--passages", "600",
                    "--questions", "60", "--dev", "10"], check=True, capture_output=True)
    (tmp_path / "mixture").mkdir()
    task = "{format: dpr, train: train.json, dev: dev.csv, passages: psgs.tsv, eval_split: dev, name: %s}"
    (tmp_path / "mixture" / "two.yaml").write_text(
        "name: two\nentries:\n"
        f"  a_retrieval: {{objective: retrieval, data: {task % 'a'}}}\n"
        f"  b_retrieval: {{objective: retrieval, data: {task % 'b'}, weight: 0.5}}\n")
    cfg = tiny_cfg(f"hydra.searchpath=[file://{tmp_path}]", "mixture=two", f"data.root={out}", "task.eval_limit=4",
                   "trainer.max_steps=2", f"data.cache_dir={tmp_path / 'cache'}", "task=dpr", "task.train=train.json",
                   "task.dev=dev.csv", "task.eval_split=dev")
    trainer = Trainer(cfg, tmp_path / "run")
    a, b = trainer.objectives["a_retrieval"].ctx, trainer.objectives["b_retrieval"].ctx
    assert a.corpus is b.corpus and a.passage_tokens is b.passage_tokens
    assert len(trainer.mixture.live) == 1 and a.live.index is b.live.index


def test_a_bad_entry_is_one_error_naming_it(tiny_cfg, tmp_path):
    (tmp_path / "mixture").mkdir()
    (tmp_path / "mixture" / "bad.yaml").write_text("name: bad\nentries:\n  x: {objective: retrieval, data: nqq}\n")
    with pytest.raises(ConfigError, match=r"mixture.entries.x.data='nqq': expected a task preset \(demo, demo_alt"):
        Trainer(tiny_cfg(f"hydra.searchpath=[file://{tmp_path}]", "mixture=bad"), tmp_path / "r")
    (tmp_path / "mixture" / "bad.yaml").write_text("name: bad\nentries:\n  x: {objective: {_target_: collections.OrderedDict}}\n")
    with pytest.raises(ConfigError, match="a subclass of rom_cli.tasks.base.Objective"):
        Trainer(tiny_cfg(f"hydra.searchpath=[file://{tmp_path}]", "mixture=bad"), tmp_path / "r")


def test_an_objective_from_outside_rom_trains_beside_retrieval(tiny_cfg, tmp_path):
    from examples.claim_verification import make_claims
    from rom_cli.data.load import load_task

    cfg = tiny_cfg()
    data = load_task(cfg.task, cfg.data)
    claims = make_claims(data.splits["train"], data.corpus("train"), tmp_path / "claims.jsonl")
    (tmp_path / "mixture").mkdir()
    (tmp_path / "mixture" / "claims.yaml").write_text(
        "name: claims\nentries:\n  demo_retrieval: {objective: retrieval, data: demo}\n"
        "  claims: {objective: {_target_: examples.claim_verification.ClaimVerification, "
        f"claims: '{claims}', batch_size: 8}}, data: demo}}\n")
    cfg = tiny_cfg(f"hydra.searchpath=[file://{tmp_path}]", "mixture=claims", "trainer.max_steps=2")
    trainer = Trainer(cfg, tmp_path / "run")
    objective = trainer.objectives["claims"]
    assert "claims" in trainer.model.extra_heads and trainer.model.parameter_breakdown()["heads"] > 0
    batch = objective.next_batch(np.random.default_rng(0))
    optimizer = torch.optim.AdamW(trainer.model.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss = objective.loss(trainer.model, batch, trainer.device)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses[::5]
    metrics = trainer.run()  # and as one entry of a run, checkpointed with its head
    assert metrics["train"]["tasks"]["claims"]["batches"] >= 1
    heads = torch.load(Path(metrics["checkpoint"]) / "heads.pt")
    assert any(k.startswith("extra_heads.claims.") for k in heads)
    from rom_cli.checkpoints import load_model

    load_model(Path(metrics["checkpoint"]), torch.device("cpu"))  # evaluation loads it, ignoring the extra head
    json.dumps(metrics["config"]["mixture"])
