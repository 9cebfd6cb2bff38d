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
    column_ids = torch.tensor(col_ids, dtype=torch.long)
    return {
        "queries": ctx.packer.queries(queries, enc.query_max_length),
        "passages": ctx.packer.passages([ctx.passage_tokens.titles[c] for c in col_ids],
                                        [unique[c] for c in col_ids], enc.passage_max_length),
        "positive": positive,
        "column_ids": column_ids,  # corpus positions: cross-rank batches keep each passage once
        "examples": len(passages),
    }


def contrastive_loss(model, batch: dict, device: torch.device, dist=None, grad_cache_chunk: int = 0) -> torch.Tensor:
    """In-batch (plus hard-negative) softmax over every passage column of the batch; under torch.distributed
    (with `distributed.cross_rank_negatives`) over every column of every rank, for every rank's questions.
    With `grad_cache_chunk` the vectors are computed in chunks without a graph (`grad_cache`): the loss is
    back-propagated to them, and `batch["replay"]` finishes the backward pass through the encoder."""
    from rom_cli.training.distributed import unwrap

    queries, passages = to_device(batch["queries"], device), to_device(batch["passages"], device)
    if grad_cache_chunk and max(queries["input_ids"].shape[0], passages["input_ids"].shape[0]) > grad_cache_chunk:
        from rom_cli.tasks.grad_cache import encode_pair

        q, p, batch["replay"] = encode_pair(model, queries, passages, int(grad_cache_chunk), device)
    else:
        q, p = model("pair", queries, passages)
    positive = batch["positive"].to(device)
    if dist is not None and dist.enabled and dist.cross_rank_negatives:
        q, p = dist.gather_with_grad(q), dist.gather_with_grad(p)
        positive, keep = cross_rank_targets(dist, positive, batch["column_ids"].to(device))
        scores = unwrap(model).scores(q, p).masked_fill(~keep[None, :], float("-inf"))
        return multi_positive_nll(scores, positive)
    return multi_positive_nll(unwrap(model).scores(q, p), positive)


def cross_rank_targets(dist, positive: torch.Tensor, column_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(global positives [all questions, all columns], columns kept): a passage several ranks drew is kept
    once (its first column), and it is a positive of every question whose own positive it is, as in one
    process, where a batch holds each passage once."""
    width = max(dist.gather_objects(int(column_ids.shape[0])))
    pos_ids = torch.where(positive, column_ids[None, :], torch.full_like(positive, -1, dtype=column_ids.dtype))
    if pos_ids.shape[1] < width:
        pos_ids = torch.cat([pos_ids, pos_ids.new_full((pos_ids.shape[0], width - pos_ids.shape[1]), -1)], dim=1)
    all_pos_ids = dist.gather_with_grad(pos_ids)  # [all questions, width]
    all_ids = dist.gather_with_grad(column_ids)  # [all columns]
    n = all_ids.shape[0]
    _, inverse = torch.unique(all_ids, return_inverse=True)
    order = torch.arange(n, device=all_ids.device)
    first = torch.full((int(inverse.max()) + 1,), n, device=all_ids.device).scatter_reduce(0, inverse, order, "amin")
    keep = order == first[inverse]
    targets = (all_pos_ids[:, :, None] == all_ids[None, None, :]).any(dim=1) & keep[None, :]
    return targets, keep


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
        return contrastive_loss(model, batch, device, self.ctx.dist, int(self.objective_cfg.grad_cache_chunk))

    def gathers_across_ranks(self) -> bool:
        return True
