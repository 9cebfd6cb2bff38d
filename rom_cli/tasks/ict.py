"""Inverse Cloze Task (ORQA): a sentence is the pseudo-query, its passage the positive.

The sentence is removed from the passage except with probability `keep_prob`, which teaches some
lexical matching. Needs only a corpus, so it is also what `retrieval` trains on under supervision
level `none`.
"""

from __future__ import annotations

import numpy as np
import torch

from rom_cli.tasks.base import Objective, TaskContext, ict_pool, multi_positive_nll, to_device


def ict_batch(ctx: TaskContext, passages: list[int], rng: np.random.Generator, keep_prob: float) -> dict:
    enc = ctx.cfg.encoder
    queries, columns = [], []
    for p in passages:
        sentences = ctx.sentences(p)
        a, b = sentences[int(rng.integers(len(sentences)))]
        positions = ctx.tokens_in(p, a, b)
        text = ctx.passage_tokens.texts[p]
        if not positions:
            positions = list(range(len(text)))
        queries.append([text[i] for i in positions])
        if len(sentences) > 1 and rng.random() >= keep_prob:
            drop = set(positions)
            columns.append((p, [t for i, t in enumerate(text) if i not in drop]))
        else:
            columns.append((p, text))
    unique: dict[int, list[int]] = {}
    for p, ids in columns:  # a passage drawn twice is one column (its duplicate is not a negative)
        unique.setdefault(p, ids)
    col_ids = list(unique)
    positive = torch.tensor([[c == p for c in col_ids] for p in passages], dtype=torch.bool)
    return {
        "queries": ctx.packer.queries(queries, enc.query_max_length),
        "passages": ctx.packer.passages([ctx.passage_tokens.titles[c] for c in col_ids],
                                        [unique[c] for c in col_ids], enc.passage_max_length),
        "positive": positive,
        "examples": len(passages),
    }


def contrastive_loss(model, batch: dict, device: torch.device) -> torch.Tensor:
    """In-batch (plus hard-negative) softmax over every passage column of the batch."""
    q = model.embed("query", to_device(batch["queries"], device))
    p = model.embed("passage", to_device(batch["passages"], device))
    return multi_positive_nll(model.scores(q, p), batch["positive"].to(device))


class IctObjective(Objective):
    name = "ict"

    def __init__(self, ctx: TaskContext, key: int):
        self.pool = ict_pool(ctx)
        super().__init__(ctx, key)

    def size(self) -> int:
        return len(self.pool)

    def make_batch(self, indices, rng):
        return ict_batch(self.ctx, [self.pool[i] for i in indices], rng, float(self.objective_cfg.keep_prob))

    def loss(self, model, batch, device):
        return contrastive_loss(model, batch, device)
