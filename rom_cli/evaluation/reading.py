"""Answer extraction across passages with the shared reader.

Every candidate passage is cut into windows; each window gets its best span (start + end log-probs
within the window) and a relevance logit. A question's answer is the window maximising
log_softmax(relevance over its windows) + span log-prob (+ the retriever's log-softmax over the
candidates when asked): raw span scores alone are not comparable across passages (REFERENCE.md,
section 4), the relevance and retrieval terms make them so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rom_cli.model.inputs import Packer, window_budget, windows
from rom_cli.model.passage_tokens import PassageTokens
from rom_cli.model.runtime import autocast


@dataclass
class Answer:
    text: str
    score: float
    passage: int  # position in the corpus
    start: int  # character offsets in the passage text
    end: int


def _best_spans(start: torch.Tensor, end: torch.Tensor, mask: torch.Tensor, max_len: int):
    """Best (score, start, end) per row under end >= start and length <= max_len."""
    start_lp = F.log_softmax(start.float(), dim=-1)
    end_lp = F.log_softmax(end.float(), dim=-1)
    length = start.shape[1]
    idx = torch.arange(length, device=start.device)
    valid = (idx[None, :] >= idx[:, None]) & (idx[None, :] - idx[:, None] < max_len)
    valid = valid[None] & mask.bool()[:, :, None] & mask.bool()[:, None, :]
    scores = (start_lp[:, :, None] + end_lp[:, None, :]).masked_fill(~valid, float("-inf"))
    flat = scores.view(scores.shape[0], -1)
    best, arg = flat.max(dim=1)
    return best, arg // length, arg % length


@dataclass
class WindowScores:
    """Per window row: its question, passage (corpus position), rank among the question's
    candidates, relevance logit, best span log-prob and the span's character offsets."""

    question: np.ndarray
    passage: np.ndarray
    rank: np.ndarray
    relevance: np.ndarray
    span: np.ndarray
    start: np.ndarray
    end: np.ndarray


@torch.no_grad()
def score_windows(model, packer: Packer, enc_cfg, question_ids: list[list[int]], candidates: list[list[int]],
                  tokens: PassageTokens, batch_size: int, device, precision, console=None,
                  label: str = "read") -> WindowScores:
    """Run the reader over every window of every candidate passage, once (a progress bar on `console`)."""
    from rom_cli.console import tracked

    tokens.prefetch(p for cands in candidates for p in cands)
    rows = []  # (question, passage, rank, window lo, window hi)
    for qi, cands in enumerate(candidates):
        q = question_ids[qi][: enc_cfg.query_max_length]
        budget = window_budget(enc_cfg.reader_max_length, len(q))
        for rank, p in enumerate(cands):
            for lo, hi in windows(len(tokens.get(int(p)).text), budget, int(enc_cfg.reader_stride)):
                rows.append((qi, int(p), rank, lo, hi))
    n = len(rows)
    span_lp, rel = np.zeros(n), np.zeros(n)
    span_pos = np.zeros((n, 2), dtype=np.int64)
    order = np.argsort([-(min(len(question_ids[r[0]]), enc_cfg.query_max_length) + r[4] - r[3]) for r in rows],
                       kind="stable")
    was_training = model.training
    model.eval()
    try:
        with tracked(console, label, n, "windows") as advance:
            for lo in range(0, n, batch_size):
                chunk = order[lo: lo + batch_size]
                batch = packer.reader_pairs(
                    [question_ids[rows[r][0]] for r in chunk],
                    [tokens.get(rows[r][1]).text[rows[r][3]: rows[r][4]] for r in chunk],
                    enc_cfg.reader_max_length, enc_cfg.query_max_length,
                )
                offset = batch.pop("window_offset")
                batch = {k: v.to(device) for k, v in batch.items()}
                with autocast(device, precision):
                    start, end, relevance = model.read(batch)
                best, s, e = _best_spans(start, end, batch["passage_mask"], int(enc_cfg.max_answer_tokens))
                span_lp[chunk] = best.cpu().numpy()
                rel[chunk] = relevance.float().cpu().numpy()
                span_pos[chunk, 0] = (s.cpu() - offset).numpy()
                span_pos[chunk, 1] = (e.cpu() - offset).numpy()
                advance(len(chunk))
    finally:
        model.train(was_training)
    starts, ends = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for r, (_, p, _, w_lo, _) in enumerate(rows):
        offsets = tokens.get(p).offsets
        starts[r] = offsets[w_lo + span_pos[r, 0]][0]
        ends[r] = offsets[w_lo + span_pos[r, 1]][1]
    col = lambda j: np.asarray([r[j] for r in rows], dtype=np.int64)  # noqa: E731
    return WindowScores(col(0), col(1), col(2), rel, span_lp, starts, ends)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max()
    return x - (m + np.log(np.exp(x - m).sum()))


@dataclass
class Priors:
    """The first stage's scores of each question's candidates (rank order) as a prior over the passages read:
    `logits(q, k)` = scale x (scores of the first k), z-scored over those k when `standardize`.

    Dense scores / temperature are the logits of the retriever's own softmax (scale 1/T, as trained). BM25 and
    fused hybrid scores are not logits (their scale depends on the question and the corpus): their z-scores
    over the k candidates read, times a weight, are (`eval.first_stage_prior`)."""

    scores: list[np.ndarray]
    scale: float
    standardize: bool = False

    def logits(self, q: int, k: int | None) -> np.ndarray:
        s = np.asarray(self.scores[q], dtype=np.float64)[:k]
        if self.standardize and len(s):
            s = (s - s.mean()) / max(float(s.std()), 1e-6)
        return self.scale * s


def retriever_priors(scores: np.ndarray, retriever: str, rank_with_retriever: bool, temperature: float,
                     first_stage_prior: float = 0.0) -> Priors | None:
    """The `priors` of `pick_answers` for retrieval scores [Q, depth] (padding -inf), or None.

    Dense (`rank_with_retriever`): the retriever's own logits. BM25 / hybrid (`first_stage_prior` > 0): the
    z-scored first-stage scores times that weight. Without a prior, the reader alone decides between passages,
    and on the cpu_long head-lr-x10 checkpoint reading the hybrid top-5 then answered worse than reading its top-1 (EM 12.5
    vs 22.8 on 2,000 SQuAD-dev questions; 23.5 with weight 1: scripts/rerank_study.py). `rom eval` and
    `rom ask` both rank with this, so they pick the same answer."""
    rows = [row[row > -np.inf] for row in scores]
    if retriever == "dense":
        return Priors(rows, 1.0 / float(temperature)) if rank_with_retriever else None
    return Priors(rows, float(first_stage_prior), standardize=True) if first_stage_prior > 0 else None


def pick_answers(scores: WindowScores, corpus, n_questions: int, k: int | None = None,
                 priors: Priors | None = None) -> list[Answer | None]:
    """Best answer per question among its first k candidates (all when k is None).

    Score of a window = log_softmax(relevance over the question's windows) + span log-prob, plus
    log_softmax(`priors.logits` over the k candidates) of its passage when `priors` are given."""
    answers: list[Answer | None] = [None] * n_questions
    keep = np.ones(len(scores.question), dtype=bool) if k is None else scores.rank < k
    for qi in range(n_questions):
        rs = np.flatnonzero(keep & (scores.question == qi))
        if len(rs) == 0:
            continue
        total = _log_softmax(scores.relevance[rs]) + scores.span[rs]
        if priors is not None:
            total = total + _log_softmax(priors.logits(qi, k))[scores.rank[rs]]
        best = rs[int(np.argmax(total))]
        p = int(scores.passage[best])
        a, b = int(scores.start[best]), int(scores.end[best])
        answers[qi] = Answer(corpus[p].text[a:b], float(total.max()), p, a, b)
    return answers


def rerank_order(scores: WindowScores, candidates: list[list[int]]) -> list[list[int]]:
    """Each question's candidates reordered by the reader's relevance logit (a passage scores its best window):
    the shared encoder acting as a cross-encoder over `[CLS] q [SEP] p [SEP]`. Ties keep the first-stage order."""
    best: dict[tuple[int, int], float] = {}
    for q, p, rel in zip(scores.question.tolist(), scores.passage.tolist(), scores.relevance.tolist(), strict=True):
        best[(q, p)] = max(rel, best.get((q, p), float("-inf")))
    return [sorted(cands, key=lambda p, q=q: -best.get((q, int(p)), float("-inf"))) for q, cands in enumerate(candidates)]


def reranked(scores: WindowScores, order: list[list[int]]) -> WindowScores:
    """The same windows with each one's rank in its question's reranked list (so `pick_answers(k)` reads the
    reranked top-k)."""
    position = {(q, int(p)): r for q, ps in enumerate(order) for r, p in enumerate(ps)}
    rank = np.asarray([position[(q, p)] for q, p in zip(scores.question.tolist(), scores.passage.tolist(), strict=True)],
                      dtype=np.int64)
    return WindowScores(scores.question, scores.passage, rank, scores.relevance, scores.span, scores.start, scores.end)


def read_candidates(model, packer: Packer, enc_cfg, question_ids: list[list[int]], candidates: list[list[int]],
                    tokens: PassageTokens, corpus, batch_size: int, device, precision,
                    priors: list[np.ndarray] | None = None, console=None, label: str = "read") -> list[Answer | None]:
    """The best answer per question among its candidate passages (corpus positions)."""
    scores = score_windows(model, packer, enc_cfg, question_ids, candidates, tokens, batch_size, device, precision,
                           console, label)
    return pick_answers(scores, corpus, len(candidates), priors=priors)
