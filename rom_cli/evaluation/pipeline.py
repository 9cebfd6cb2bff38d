"""Encode, retrieve, read, score: the evaluation that training ends with and `rom eval` runs.

Retrieval top-k is reported two ways: by gold passage (where the data knows it) and by answer
containment (DPR's has_answer: the answer's tokens occur contiguously in the passage's, see
`metrics.has_answer`). The reader is scored on the gold passage alone and end to end on
the top-k retrieved passages for each k in `eval.read_top_k`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, fields

import numpy as np

from rom_cli.evaluation.metrics import answer_key, exact_match, f1, mrr_at, topk_accuracy
from rom_cli.evaluation.reading import (
    WindowScores,
    pick_answers,
    read_candidates,
    rerank_order,
    reranked,
    retriever_priors,
    score_windows,
)
from rom_cli.model.encode import encode_queries
from rom_cli.model.inputs import Packer
from rom_cli.model.passage_tokens import PassageTokens
from rom_cli.retrieval.faiss_index import DenseIndex
from rom_cli.retrieval.vector_shards import build_dense_index


@dataclass
class EvalSetup:
    model: object
    packer: Packer
    enc_cfg: object
    eval_cfg: object
    index_cfg: object
    device: object
    precision: object
    console: object | None = None  # progress bars for encoding and reading (None: silent)


class AnswerMatcher:
    """DPR's has_answer over many (question, passage) pairs: each passage is tokenised once (the newest
    `capacity` kept, so a large corpus does not fill memory), each question's answers once by the caller
    (`answer_keys`)."""

    def __init__(self, corpus, capacity: int = 200_000):
        self.corpus, self.capacity, self._keys = corpus, capacity, OrderedDict()

    def passage(self, p: int) -> str:
        key = self._keys.get(p)
        if key is None:
            key = self._keys[p] = answer_key(self.corpus[p].text)
            if len(self._keys) > self.capacity:
                self._keys.popitem(last=False)
        return key

    @staticmethod
    def answer_keys(answers) -> list[str]:
        """The answers of one question in the form `contains` takes."""
        return [answer_key(a) for a in answers]

    def contains(self, p: int, keys: list[str]) -> bool:
        text = self.passage(p)
        return any(k and k in text for k in keys)


def retrieve(setup: EvalSetup, corpus, questions, k: int, bm25=None, retriever: str = "dense",
             hybrid_weight: float = 0.5, index: DenseIndex | None = None):
    """Top-k corpus positions per question. Returns (scores, indices, None, encoding stats).

    `index`: an already built (or loaded) dense index over `corpus`, in corpus order: nothing is encoded.
    Otherwise the corpus is encoded into a float16 scratch file and indexed from it (memory: the index
    plus one chunk).
    """
    stats = {}
    vectors = None
    q_tokens = setup.packer.tokenize([q.text for q in questions])
    dense = None
    if retriever in ("dense", "hybrid"):
        if index is None:
            index, stats = build_dense_index(setup.model, setup.packer, corpus, setup.enc_cfg.passage_max_length,
                                             int(setup.index_cfg.encode_batch_size), setup.device, setup.precision,
                                             setup.index_cfg, console=setup.console,
                                             scratch_dir=getattr(setup.index_cfg, "scratch_dir", None))
        q_vec = encode_queries(setup.model, setup.packer, q_tokens, setup.enc_cfg.query_max_length,
                               setup.eval_cfg.batch_size, setup.device, setup.precision)
        dense = index.search(q_vec, min(k, len(corpus)))
    if retriever == "dense":
        return dense[0], dense[1], vectors, stats
    if bm25 is None:
        from rom_cli.retrieval.bm25 import BM25Retriever

        bm25 = BM25Retriever.build([f"{p.title} {p.text}" for p in corpus])
    sparse = bm25.search([q.text for q in questions], min(k, len(corpus)))
    if retriever == "bm25":
        return sparse[0], sparse[1], vectors, stats
    from rom_cli.retrieval.fusion import hybrid_fuse

    fused = hybrid_fuse(dense[0], dense[1], sparse[0], sparse[1], hybrid_weight, min(k, len(corpus)))
    return fused[0], fused[1], vectors, stats


def _em_f1(answers, questions) -> dict:
    em = [exact_match(a.text if a else "", q.answers) for a, q in zip(answers, questions, strict=True)]
    f = [f1(a.text if a else "", q.answers) for a, q in zip(answers, questions, strict=True)]
    return {"em": 100.0 * float(np.mean(em)) if em else 0.0, "f1": 100.0 * float(np.mean(f)) if f else 0.0,
            "questions": len(questions)}


def _rerank(corpus, questions, cands, windows, seconds: float, k: int, ks: list[int], read_ks: list[int]) -> dict:
    """Top-k and end-to-end metrics after the reader's relevance head reorders the first stage's top-k
    (`windows`: the reader's scores of every window of `cands`, scored in `seconds`; only ranks < k count)."""
    cands = [row[:k] for row in cands]
    if len(windows.rank) and int(windows.rank.max()) >= k:  # read deeper than the rerank depth
        keep = windows.rank < k
        windows = WindowScores(*(getattr(windows, f.name)[keep] for f in fields(WindowScores)))
    order = rerank_order(windows, cands)
    matcher = AnswerMatcher(corpus)
    hits = [[matcher.contains(p, matcher.answer_keys(q.answers)) for p in row] for q, row in zip(questions, order, strict=True)]
    within = [x for x in ks if x <= k]
    out: dict = {"k": k, "answer": {f"top{x}": v for x, v in topk_accuracy(hits, within).items()},
                 "windows": len(windows.question), "windows_per_s": len(windows.question) / max(seconds, 1e-9)}
    gold = [(i, {corpus.index_of(g) for g in q.gold_passage_ids if g in corpus}) for i, q in enumerate(questions)]
    gold = [(i, g) for i, g in gold if g]
    if gold:
        out["gold"] = {f"top{x}": v for x, v in topk_accuracy([[p in g for p in order[i]] for i, g in gold], within).items()}
    ordered = reranked(windows, order)
    out["end_to_end"] = {f"top{x}": _em_f1(pick_answers(ordered, corpus, len(questions), x), questions)
                         for x in read_ks if x <= k}
    return out


def evaluate(setup: EvalSetup, corpus, questions, retriever: str = "dense", bm25=None,
             with_predictions: bool = False, index: DenseIndex | None = None) -> tuple[dict, list[dict]]:
    """All metrics for one (model, corpus, questions); predictions per question on request.

    `index`: a dense index over `corpus` to search instead of encoding the corpus again."""
    t0 = time.perf_counter()
    ks = sorted({int(k) for k in setup.eval_cfg.top_k})
    read_ks = sorted({int(k) for k in setup.eval_cfg.read_top_k})
    depth = max(ks + read_ks + [100])
    scores, idx, _, enc_stats = retrieve(setup, corpus, questions, depth, bm25=bm25, retriever=retriever,
                                         hybrid_weight=float(setup.eval_cfg.hybrid_weight), index=index)
    matcher = AnswerMatcher(corpus)
    answer_keys = [matcher.answer_keys(q.answers) for q in questions]
    answer_hits = [[matcher.contains(int(p), answer_keys[i]) for p in row if p >= 0] for i, row in enumerate(idx)]
    gold_rows, gold_hits = [], []
    for i, q in enumerate(questions):
        gold = {corpus.index_of(g) for g in q.gold_passage_ids if g in corpus}
        if gold:
            gold_rows.append(i)
            gold_hits.append([int(p) in gold for p in idx[i] if p >= 0])
    retrieval = {
        "answer": {f"top{k}": v for k, v in topk_accuracy(answer_hits, ks).items()},
        "answer_mrr@100": mrr_at(answer_hits, 100),
        "questions": len(questions),
        "questions_with_gold": len(gold_rows),
    }
    if gold_rows:
        retrieval["gold"] = {f"top{k}": v for k, v in topk_accuracy(gold_hits, ks).items()}
        retrieval["gold_mrr@100"] = mrr_at(gold_hits, 100)
    metrics: dict = {"retriever": retriever, "corpus_passages": len(corpus), "retrieval": retrieval}

    tokens = PassageTokens(setup.packer, corpus)
    q_ids = setup.packer.tokenize([q.text for q in questions]).ids

    def read(question_ids, cands):
        return read_candidates(setup.model, setup.packer, setup.enc_cfg, question_ids, cands, tokens, corpus,
                               setup.eval_cfg.batch_size, setup.device, setup.precision, console=setup.console,
                               label="read gold passages")

    if gold_rows:
        gold_cands = [[corpus.index_of(next(g for g in questions[i].gold_passage_ids if g in corpus))]
                      for i in gold_rows]
        gold_answers = read([q_ids[i] for i in gold_rows], gold_cands)
        metrics["reader_gold"] = _em_f1(gold_answers, [questions[i] for i in gold_rows])
    end_to_end, e2e_answers = {}, {}
    rerank_k = int(getattr(setup.eval_cfg, "rerank_top_k", 0) or 0)
    # Score the deepest k once: every smaller k (and the reading of the first stage's top-k, ranks < k)
    # is a subset of its windows, so reranking the top-K costs no second pass over the top-5.
    deepest_k = max(read_ks + [rerank_k])
    windows, read_seconds = None, 0.0
    if deepest_k:
        deepest = [[int(p) for p in row[:deepest_k] if p >= 0] for row in idx]
        start = time.perf_counter()
        windows = score_windows(setup.model, setup.packer, setup.enc_cfg, q_ids, deepest, tokens,
                                setup.eval_cfg.batch_size, setup.device, setup.precision, console=setup.console,
                                label=f"read top-{deepest_k}" + (" (rerank)" if rerank_k else ""))
        read_seconds = time.perf_counter() - start
    if read_ks:
        priors = retriever_priors(scores, retriever, bool(setup.eval_cfg.rank_with_retriever),
                                  float(setup.enc_cfg.temperature), float(setup.eval_cfg.first_stage_prior))
        for k in read_ks:
            e2e_answers[k] = pick_answers(windows, corpus, len(questions), k, priors)
            end_to_end[f"top{k}"] = _em_f1(e2e_answers[k], questions)
    metrics["end_to_end"] = end_to_end
    if rerank_k:
        metrics["rerank"] = _rerank(corpus, questions, deepest, windows, read_seconds, rerank_k, ks, read_ks)
    metrics["speed"] = {"index_passages_per_s": enc_stats.get("passages_per_s"), "eval_seconds": time.perf_counter() - t0}

    predictions = []
    if with_predictions:
        best_k = read_ks[0] if read_ks else None
        for i, q in enumerate(questions):
            ans = e2e_answers[best_k][i] if best_k is not None else None
            predictions.append({
                "id": q.id, "question": q.text, "gold_answers": q.answers,
                "retrieved": [{"id": corpus[int(p)].id, "score": float(s)} for p, s in zip(idx[i][:20], scores[i][:20], strict=True) if p >= 0],
                "prediction": ans.text if ans else "", "read_top_k": best_k,
                "em": exact_match(ans.text if ans else "", q.answers), "f1": f1(ans.text if ans else "", q.answers),
            })
    return metrics, predictions
