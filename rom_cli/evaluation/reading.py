"""Answer extraction across passages with the shared reader.

Every candidate passage is cut into windows; each window gets its best span (start + end log-probs
within the window) and a relevance logit. A question's answer is the window maximising
log_softmax(relevance over its windows) + span log-prob: raw span scores alone are not comparable
across passages (REFERENCE.md, section 4), the relevance term makes them so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rom_cli.model.inputs import Packer, window_budget, windows
from rom_cli.model.runtime import autocast


@dataclass
class Answer:
    text: str
    score: float
    passage: int  # position in the corpus
    start: int  # character offsets in the passage text
    end: int


class LazyPassageTokens:
    """Text token ids and offsets of corpus passages, tokenised on first use (big corpora)."""

    def __init__(self, packer: Packer, corpus):
        self.packer, self.corpus, self._cache = packer, corpus, {}

    def get(self, p: int) -> tuple[list[int], list[tuple[int, int]]]:
        if p not in self._cache:
            tok = self.packer.tokenize([self.corpus[p].text], with_offsets=True)
            self._cache[p] = (tok.ids[0], tok.offsets[0])
        return self._cache[p]

    def prefetch(self, passages) -> None:
        todo = sorted({int(p) for p in passages if int(p) not in self._cache})
        for lo in range(0, len(todo), 512):
            chunk = todo[lo: lo + 512]
            tok = self.packer.tokenize([self.corpus[p].text for p in chunk], with_offsets=True)
            for p, ids, offs in zip(chunk, tok.ids, tok.offsets, strict=True):
                self._cache[p] = (ids, offs)


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


@torch.no_grad()
def read_candidates(model, packer: Packer, enc_cfg, question_ids: list[list[int]], candidates: list[list[int]],
                    tokens: LazyPassageTokens, corpus, batch_size: int, device, precision) -> list[Answer | None]:
    """The best answer per question among its candidate passages (corpus positions)."""
    tokens.prefetch(p for cands in candidates for p in cands)
    rows = []  # (question, passage, window lo, window hi)
    for qi, cands in enumerate(candidates):
        q = question_ids[qi][: enc_cfg.query_max_length]
        budget = window_budget(enc_cfg.reader_max_length, len(q))
        for p in cands:
            ids, _ = tokens.get(int(p))
            for lo, hi in windows(len(ids), budget, int(enc_cfg.reader_stride)):
                rows.append((qi, int(p), lo, hi))
    if not rows:
        return [None] * len(candidates)
    order = np.argsort([-(min(len(question_ids[r[0]]), enc_cfg.query_max_length) + r[3] - r[2]) for r in rows],
                       kind="stable")
    span_lp = np.zeros(len(rows), dtype=np.float64)
    rel = np.zeros(len(rows), dtype=np.float64)
    span_pos = np.zeros((len(rows), 2), dtype=np.int64)
    was_training = model.training
    model.eval()
    try:
        for lo in range(0, len(order), batch_size):
            chunk = order[lo: lo + batch_size]
            batch = packer.reader_pairs(
                [question_ids[rows[r][0]] for r in chunk],
                [tokens.get(rows[r][1])[0][rows[r][2]: rows[r][3]] for r in chunk],
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
    finally:
        model.train(was_training)
    by_question: dict[int, list[int]] = {}
    for r, row in enumerate(rows):
        by_question.setdefault(row[0], []).append(r)
    answers: list[Answer | None] = [None] * len(candidates)
    for qi, rs in by_question.items():
        rel_q = rel[rs]
        rel_lp = rel_q - (np.log(np.exp(rel_q - rel_q.max()).sum()) + rel_q.max())
        total = rel_lp + span_lp[rs]
        best = rs[int(np.argmax(total))]
        _, p, w_lo, _ = rows[best]
        _, offsets = tokens.get(p)
        a = offsets[w_lo + span_pos[best, 0]][0]
        b = offsets[w_lo + span_pos[best, 1]][1]
        answers[qi] = Answer(corpus[p].text[a:b], float(total.max()), p, int(a), int(b))
    return answers
