"""Question → passage contrastive retrieval (DPR), at every supervision level.

full: the gold passage is the positive; hard negatives come from the data or are mined from the
live index (top-ranked passages without the answer). weak: positives are live-index candidates
that contain an answer (DPR's has_answer), trained by marginal likelihood (ORQA). none: ICT pairs.
"""

from __future__ import annotations

import torch

from rom_cli.tasks.base import Objective, TaskContext, ict_pool
from rom_cli.tasks.ict import contrastive_loss, ict_batch


class RetrievalObjective(Objective):
    name = "retrieval"

    def __init__(self, ctx: TaskContext, key: int):
        corpus = ctx.corpus
        self.level = ctx.level
        if self.level == "full":
            self.pool = [i for i, q in enumerate(ctx.questions) if any(g in corpus for g in q.gold_passage_ids)]
        elif self.level == "weak":
            self.pool = [i for i, q in enumerate(ctx.questions) if q.answers]
        else:
            self.pool = ict_pool(ctx)
        super().__init__(ctx, key)

    def size(self) -> int:
        return len(self.pool)

    def needs_index(self) -> bool:
        if self.level == "weak":
            return True
        if self.level == "full" and self.objective_cfg.mine_from_index and self.objective_cfg.hard_negatives > 0:
            return True
        return False

    def make_batch(self, indices, rng):
        items = [self.pool[i] for i in indices]
        if self.level == "none":
            return ict_batch(self.ctx, items, rng, float(self.ctx.cfg.objectives.ict.keep_prob))
        ctx, n_hard = self.ctx, int(self.objective_cfg.hard_negatives)
        if ctx.live is not None:
            ctx.live.prefetch(items)  # one query-encoder pass for the whole batch
        columns: list[int] = []

        def add(p: int) -> None:
            if p not in columns:
                columns.append(p)

        for qi in items:
            q = ctx.questions[qi]
            if self.level == "full":
                golds = [ctx.corpus.index_of(g) for g in q.gold_passage_ids if g in ctx.corpus]
                add(golds[0])
                negatives = [ctx.corpus.index_of(h) for h in q.hard_negative_ids if h in ctx.corpus]
                if not negatives and ctx.live is not None:
                    negatives = [c for c in ctx.live.candidates(qi)[: self.objective_cfg.mine_top_k]
                                 if c not in golds and not ctx.live.contains_answer(qi, c)]
                for p in negatives[:n_hard]:
                    add(p)
            else:
                cands = ctx.live.candidates(qi)[: ctx.cfg.supervision.top_k]
                pos = [c for c in cands if ctx.live.contains_answer(qi, c)]
                neg = [c for c in cands if not ctx.live.contains_answer(qi, c)]
                for p in pos[:1] + neg[:n_hard]:
                    add(p)
        if self.level == "full":
            gold_sets = [{ctx.corpus.index_of(g) for g in ctx.questions[qi].gold_passage_ids if g in ctx.corpus}
                         for qi in items]
            positive = [[c in gold for c in columns] for gold in gold_sets]
        else:
            positive = [[ctx.live.contains_answer(qi, c) for c in columns] for qi in items]
        enc = ctx.cfg.encoder
        return {
            "queries": ctx.packer.queries([ctx.question_tokens.ids[qi] for qi in items], enc.query_max_length),
            "passages": ctx.packer.passages([ctx.passage_tokens.titles[c] for c in columns],
                                            [ctx.passage_tokens.texts[c] for c in columns], enc.passage_max_length),
            "positive": torch.tensor(positive, dtype=torch.bool),
            "column_ids": torch.tensor(columns, dtype=torch.long),
            "examples": len(items),
        }

    def loss(self, model, batch, device):
        chunk = self.ctx.cfg.objectives.ict.grad_cache_chunk if self.level == "none" else self.objective_cfg.grad_cache_chunk
        return contrastive_loss(model, batch, device, self.ctx.dist, int(chunk))

    def gathers_across_ranks(self) -> bool:
        return True
