"""The rerank stage: the reader's relevance head reorders the first stage's top-k (a cross-encoder at no extra
parameters); reports get `rerank` rows."""

from __future__ import annotations

import numpy as np
import pytest

from rom_cli.evaluation import pipeline
from rom_cli.evaluation.reading import WindowScores, pick_answers, rerank_order, reranked


def scores(relevance_by_passage: dict[int, list[float]]) -> WindowScores:
    """One question; passage p's windows have the given relevance logits (ranked in insertion order)."""
    q, p, rank, rel = [], [], [], []
    for r, (passage, rels) in enumerate(relevance_by_passage.items()):
        for value in rels:
            q.append(0), p.append(passage), rank.append(r), rel.append(value)
    n = len(q)
    return WindowScores(np.asarray(q), np.asarray(p), np.asarray(rank), np.asarray(rel, dtype=float), np.zeros(n),
                        np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64))


def test_a_relevance_head_that_prefers_the_gold_passage_moves_it_to_rank_one():
    ws = scores({7: [0.1], 3: [-1.0, 0.2], 9: [5.0, -2.0], 4: [0.0]})  # first stage: 7, 3, 9, 4; gold: 9
    order = rerank_order(ws, [[7, 3, 9, 4]])
    assert order == [[9, 3, 7, 4]]  # a passage scores its best window
    ordered = reranked(ws, order)
    assert sorted(set(zip(ordered.passage.tolist(), ordered.rank.tolist(), strict=True))) == [(3, 1), (4, 3), (7, 2), (9, 0)]

    class Corpus:
        def __getitem__(self, i):
            return type("P", (), {"text": f"passage {i}"})()

    assert pick_answers(ordered, Corpus(), 1, k=1)[0].passage == 9  # reading the reranked top-1 reads passage 9


def test_evaluate_reports_rerank_rows(tiny_cfg, tmp_path, monkeypatch):
    """Through `evaluate` with a relevance head that prefers gold passages: reranked top-1 is perfect."""
    from rom_cli.data.load import load_task
    from rom_cli.training.trainer import Trainer

    cfg = tiny_cfg("eval.rerank_top_k=5", "eval.top_k=[1,5]")
    trainer = Trainer(cfg, tmp_path)
    data = load_task(cfg.task, cfg.data)
    questions, corpus = data.split("test"), data.corpus("test")
    gold = {(i, corpus.index_of(q.gold_passage_ids[0])) for i, q in enumerate(questions)}
    real = pipeline.score_windows

    def oracle(model, packer, enc_cfg, q_ids, cands, *args, **kwargs):
        ws = real(model, packer, enc_cfg, q_ids, cands, *args, **kwargs)
        if "rerank" in kwargs.get("label", ""):
            ws.relevance = np.asarray([10.0 if (q, p) in gold else 0.0
                                       for q, p in zip(ws.question.tolist(), ws.passage.tolist(), strict=True)])
        return ws

    monkeypatch.setattr(pipeline, "score_windows", oracle)
    setup = pipeline.EvalSetup(trainer.model, trainer.packer, cfg.encoder, cfg.eval, cfg.index, trainer.device, "fp32")
    metrics, _ = pipeline.evaluate(setup, corpus, questions)
    rerank = metrics["rerank"]
    assert rerank["k"] == 5 and rerank["windows_per_s"] > 0
    assert rerank["gold"]["top1"] == metrics["retrieval"]["gold"]["top5"]  # every gold found in the top-5 goes first
    assert rerank["gold"]["top5"] == metrics["retrieval"]["gold"]["top5"]  # reranking only reorders
    assert set(rerank["end_to_end"]) == {"top1"}


@pytest.mark.parametrize("rerank_k,read_k", [(5, 2), (2, 5)])
def test_rerank_shares_the_reading_pass_without_changing_first_stage_results(tiny_cfg, tmp_path, rerank_k, read_k):
    """The top-K windows are scored once for reading and reranking: end-to-end rows are those of an evaluation
    without reranking, and the rerank rows count only the first stage's top-K (also when reading goes deeper)."""
    from rom_cli.data.load import load_task
    from rom_cli.training.trainer import Trainer

    base = ("eval.top_k=[1,2,5]", f"eval.read_top_k=[1,{read_k}]")
    cfg = tiny_cfg(*base)
    trainer = Trainer(cfg, tmp_path)
    data = load_task(cfg.task, cfg.data)
    questions, corpus = data.split("test")[:12], data.corpus("test")
    plain_setup = pipeline.EvalSetup(trainer.model, trainer.packer, cfg.encoder, cfg.eval, cfg.index, trainer.device, "fp32")
    plain, _ = pipeline.evaluate(plain_setup, corpus, questions)
    cfg_r = tiny_cfg(*base, f"eval.rerank_top_k={rerank_k}")
    setup = pipeline.EvalSetup(trainer.model, trainer.packer, cfg_r.encoder, cfg_r.eval, cfg_r.index, trainer.device, "fp32")
    metrics, _ = pipeline.evaluate(setup, corpus, questions)
    assert metrics["end_to_end"] == plain["end_to_end"]
    assert metrics["retrieval"] == plain["retrieval"]
    rerank = metrics["rerank"]
    assert rerank["k"] == rerank_k
    assert set(rerank["answer"]) == {f"top{k}" for k in (1, 2, 5) if k <= rerank_k}
    assert rerank["answer"][f"top{rerank_k}"] == plain["retrieval"]["answer"][f"top{rerank_k}"]  # only reordered
    assert rerank["windows"] >= rerank_k * len(questions)  # at least a window per candidate
    assert set(rerank["end_to_end"]) == {f"top{k}" for k in (1, read_k) if k <= rerank_k}
