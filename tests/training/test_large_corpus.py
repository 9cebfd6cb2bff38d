"""Training over a disk-backed passages TSV reads passages by position, never the whole corpus: no
whole-corpus tokenisation, a bounded live index stated in metrics.json."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rom_cli.data.dpr import TsvCorpus
from rom_cli.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dpr_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dpr")
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "make_corpus.py"), "--out", str(out),
                           "--passages", "3000", "--questions", "120", "--dev", "20", "--seed", "3"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_training_on_a_tsv_corpus_reads_only_what_batches_need(dpr_data, tiny_cfg, tmp_path, monkeypatch):
    reads = {"n": 0}
    original = TsvCorpus.__getitem__

    def counted(self, i):
        reads["n"] += 1
        return original(self, i)

    def whole(self, *args, **kwargs):
        raise AssertionError("the whole corpus was iterated")

    monkeypatch.setattr(TsvCorpus, "__getitem__", counted)
    monkeypatch.setattr(TsvCorpus, "__iter__", whole)
    monkeypatch.setattr(TsvCorpus, "batches", whole)
    monkeypatch.setattr("rom_cli.tasks.base.SCAN_LIMIT", 1000)  # treat 3,000 passages as "large"
    cfg = tiny_cfg("task=dpr", f"data.root={dpr_data}", "task.train=train.json", "task.dev=dev.csv",
                   "task.passages=psgs.tsv", "task.eval_split=dev", "index.live_max_passages=400",
                   "trainer.eval_at_end=false", "trainer.max_steps=4", "index.refresh_every=2",
                   f"data.cache_dir={tmp_path / 'cache'}")
    metrics = Trainer(cfg, tmp_path / "run").run()
    live = metrics["train"]["live_index"]
    assert live["mode"] == "bounded" and live["passages"] == 400 and live["corpus_passages"] == 3000
    assert 0 < live["named"] <= 400 and live["named"] + live["sampled"] == 400
    assert metrics["final"] is None and metrics["train"]["steps"] == 4
    # two live-index builds of 400 passages, the batches' passages and the named-passage lookups: well under
    # the 3,000 of one pass over the corpus
    assert reads["n"] < 2000, reads


def test_the_bounded_live_index_is_seeded_and_puts_named_passages_first(dpr_data):
    from rom_cli.config.schema import IndexConfig, LiveCorpus
    from rom_cli.data.dpr import load_dpr_retriever
    from rom_cli.training.live_corpus import live_positions

    corpus = TsvCorpus(dpr_data / "psgs.tsv")
    questions, _ = load_dpr_retriever(dpr_data / "train.json", keep_passages=False)
    cfg = IndexConfig(live_corpus=LiveCorpus.bounded, live_max_passages=300)
    a, info = live_positions(cfg, corpus, questions, seed=1)
    b, _ = live_positions(cfg, corpus, questions, seed=1)
    c, _ = live_positions(cfg, corpus, questions, seed=2)
    assert (a == b).all() and not (a == c).all() and len(a) == 300 and len(set(a.tolist())) == 300
    gold = {corpus.index_of(g) for q in questions for g in q.gold_passage_ids}
    assert gold <= set(a.tolist()) and info["named_total"] >= len(gold)
    full, info = live_positions(IndexConfig(live_max_passages=5000), corpus, questions, seed=1)
    assert full is None and info == {"mode": "full", "passages": 3000, "corpus_passages": 3000}
