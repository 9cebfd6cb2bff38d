"""Extractive QA through the shared encoder: `[CLS] question [SEP] passage window [SEP]`.

Each question brings M windows: a positive and M-1 negatives (live-index neighbours without the
answer where an index exists, else random passages). Loss = span marginal likelihood over the gold
spans of the positive windows + a passage-relevance softmax over the M windows, so span scores can
later be compared across passages (DPR's reader). full: gold spans. weak: every occurrence of an
answer string in a live-index candidate. none: salient-span masking — a name or number of a
sentence is masked in the pseudo-question and must be found in its passage.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F

from rom_cli.data.common import find_all_answers
from rom_cli.errors import ConfigError
from rom_cli.model.inputs import char_span_to_tokens, window_budget, windows
from rom_cli.tasks.base import Objective, TaskContext, multi_positive_nll, to_device

_SALIENT = re.compile(r"\b(?:[A-Z][\w'-]+(?:\s+(?:of\s+)?[A-Z][\w'-]+)*|\d{2,4})\b")


def answer_char_spans(text: str, answers: list[str]) -> list[tuple[int, int]]:
    """Every case-insensitive occurrence of an answer string in text (weak supervision), word-bounded
    like the loaders' answer search, so "he" inside "the" is no target span."""
    return find_all_answers(text, answers)


class ReaderObjective(Objective):
    name = "reader"

    def __init__(self, ctx: TaskContext, key: int):
        self.level = ctx.level
        corpus = ctx.corpus
        if self.level == "full":
            self.pool = [i for i, q in enumerate(ctx.questions) if any(s.passage_id in corpus for s in q.spans)]
        elif self.level == "weak":
            self.pool = [i for i, q in enumerate(ctx.questions) if q.answers]
        else:
            self.pool = range(len(corpus))
        m = int(ctx.cfg.objectives.reader.passages_per_question)
        if m > len(corpus):  # a group is the positive plus m-1 other passages: it could never be filled
            raise ConfigError("objectives.reader.passages_per_question", m,
                              f"at most the {len(corpus)} passages of the training corpus")
        super().__init__(ctx, key)

    def size(self) -> int:
        return len(self.pool)

    def needs_index(self) -> bool:
        return self.level == "weak" or (self.level == "full" and bool(self.ctx.cfg.objectives.retrieval.mine_from_index))

    # -- building rows ------------------------------------------------------------------------
    def _window_with(self, p: int, budget: int, token_spans, rng) -> tuple[int, int]:
        wins = windows(len(self.ctx.passage_tokens.texts[p]), budget, int(self.ctx.cfg.encoder.reader_stride))
        if token_spans:
            s, e = token_spans[0]
            for w in wins:
                if w[0] <= s and e < w[1]:
                    return w
        return wins[int(rng.integers(len(wins)))]

    def _negatives(self, qi: int | None, exclude: set[int], k: int, rng) -> list[int]:
        ctx, out = self.ctx, []
        if qi is not None and ctx.live is not None:
            for c in ctx.live.candidates(qi):
                if len(out) == k:
                    break
                if c not in exclude and not ctx.live.contains_answer(qi, c):
                    out.append(int(c))
        while len(out) < k and len(ctx.corpus) > len(exclude) + len(out):
            c = int(rng.integers(len(ctx.corpus)))
            if c not in exclude and c not in out:
                out.append(c)
        return out

    def _example(self, item: int, rng):
        """(question token ids, positive passage, its char spans, question index or None)."""
        ctx = self.ctx
        if self.level == "full":
            q = ctx.questions[item]
            spans = [s for s in q.spans if s.passage_id in ctx.corpus]
            p = ctx.corpus.index_of(spans[0].passage_id)
            chars = [(s.start, s.end) for s in spans if s.passage_id == spans[0].passage_id]
            return ctx.question_tokens.ids[item], p, chars, item
        if self.level == "weak":
            q = ctx.questions[item]
            for c in ctx.live.candidates(item)[: ctx.cfg.supervision.top_k]:
                if ctx.live.contains_answer(item, c):
                    chars = answer_char_spans(ctx.corpus[int(c)].text, q.answers)
                    if chars:
                        return ctx.question_tokens.ids[item], int(c), chars, item
            return ctx.question_tokens.ids[item], None, [], item
        return self._salient_example(item, rng)

    def _salient_example(self, p: int, rng):
        ctx = self.ctx
        text, ids = ctx.corpus[p].text, ctx.passage_tokens.texts[p]
        sentences = ctx.sentences(p)
        order = rng.permutation(len(sentences))
        for k in order:
            a, b = sentences[int(k)]
            matches = [m for m in _SALIENT.finditer(text, a, b) if m.start() > a]
            if not matches:
                continue
            m = matches[int(rng.integers(len(matches)))]
            span = ctx.tokens_in(p, m.start(), m.end())
            sentence = ctx.tokens_in(p, a, b)
            if not span or len(span) == len(sentence):
                continue
            masked, mask_id = set(span), ctx.packer.tokenizer.mask_token_id
            question = []
            for i in sentence:  # the salient run becomes one [MASK]
                if i not in masked:
                    question.append(ids[i])
                elif i == span[0] and mask_id is not None:
                    question.append(mask_id)
            return question, p, [(m.start(), m.end())], None
        return ids[:8], None, [], None

    def make_batch(self, indices, rng):
        ctx, enc = self.ctx, self.ctx.cfg.encoder
        m = int(self.objective_cfg.passages_per_question)
        q_rows, w_rows, spans_rows, positive_rows = [], [], [], []
        groups = 0
        items = [self.pool[i] for i in indices]
        if ctx.live is not None and self.level != "none":
            ctx.live.prefetch(items)  # one query-encoder pass for the whole batch
        for item in items:
            q_ids, pos, chars, qi = self._example(item, rng)
            q_ids = q_ids[: enc.query_max_length]
            budget = window_budget(enc.reader_max_length, len(q_ids))
            passages = ([pos] if pos is not None else []) + self._negatives(qi, {pos} if pos is not None else set(),
                                                                           m - (pos is not None), rng)
            if len(passages) < m:
                continue
            groups += 1
            for j, p in enumerate(passages):
                offsets = ctx.passage_tokens.offsets[p]
                token_spans = []
                if j == 0 and pos is not None:
                    token_spans = [t for t in (char_span_to_tokens(offsets, a, b) for a, b in chars) if t]
                lo, hi = self._window_with(p, budget, token_spans, rng)
                inside = [(s - lo, e - lo) for s, e in token_spans if lo <= s and e < hi and e - s < enc.max_answer_tokens]
                q_rows.append(q_ids)
                w_rows.append(ctx.passage_tokens.texts[p][lo:hi])
                spans_rows.append(inside)
                positive_rows.append(bool(inside))
        if not groups:
            return {"empty": True, "examples": 0}
        batch = ctx.packer.reader_pairs(q_rows, w_rows, enc.reader_max_length, enc.query_max_length)
        offset = batch.pop("window_offset")
        flat = [(r, int(offset[r]) + s, int(offset[r]) + e) for r, sp in enumerate(spans_rows) for s, e in sp]
        return {
            "pairs": batch,
            "span_index": torch.tensor(flat, dtype=torch.long).reshape(-1, 3),
            "positive": torch.tensor(positive_rows, dtype=torch.bool).view(groups, m),
            "examples": groups,
        }

    def loss(self, model, batch, device):
        if batch.get("empty"):
            from rom_cli.training.distributed import unwrap

            return sum(p.sum() for p in unwrap(model).span_head.parameters()) * 0.0
        start, end, relevance = model("read", to_device(batch["pairs"], device))
        positive = batch["positive"].to(device)
        rel_loss = multi_positive_nll(relevance.view(positive.shape), positive)
        spans = batch["span_index"].to(device)
        if spans.numel() == 0:
            return rel_loss * float(self.objective_cfg.relevance_weight)
        start_lp, end_lp = F.log_softmax(start, dim=-1), F.log_softmax(end, dim=-1)
        rows = spans[:, 0]
        pair_lp = start_lp[rows, spans[:, 1]] + end_lp[rows, spans[:, 2]]
        n_rows = start.shape[0]
        per_row = torch.full((n_rows,), float("-inf"), device=device)
        per_row = per_row.scatter_reduce(0, rows, pair_lp, reduce="amax")
        # marginal over the spans of each row: logsumexp computed stably around the row maximum
        shifted = torch.exp(pair_lp - per_row[rows])
        sums = torch.zeros(n_rows, device=device).index_add(0, rows, shifted)
        has = sums > 0
        span_loss = -(per_row[has] + torch.log(sums[has])).mean()
        return span_loss + float(self.objective_cfg.relevance_weight) * rel_loss
