"""The live passage index of training (REALM): rebuilt with the current encoder every
`index.refresh_every` steps; it feeds mined hard negatives and weak-supervision candidates.

`LiveIndex` is the passage side, one per passage collection: datasets of a mixture that share a corpus
(NQ and TriviaQA over psgs_w100.tsv) share one index. It covers the passages `live_corpus.live_positions`
chose (the whole corpus, or a bounded sub-corpus of a large one); under torchrun each rank encodes its
contiguous 1/N and the slices are gathered. Vectors are kept in float16 (half the memory; what is searched
is exactly what a checkpoint saves, so a resumed run searches the same index).

`LiveView` is what an objective asks, one per training context: question candidates are searched per
batch with the current query encoder (cheap: a batch of short queries), so only the passage side is
stale between refreshes and nothing but the passage vectors is needed to resume a run exactly.
"""

from __future__ import annotations

import time

import numpy as np

from rom_cli.evaluation.pipeline import AnswerMatcher
from rom_cli.model.encode import encode_corpus, encode_queries
from rom_cli.model.inputs import TokenizedTexts
from rom_cli.retrieval.faiss_index import DenseIndex


class LiveIndex:
    def __init__(self, cfg, packer, corpus, model, device, precision, depth: int,
                 positions: np.ndarray | None = None, dist=None):
        """`positions`: sorted corpus positions covered (None: the whole corpus)."""
        self.cfg, self.packer, self.corpus = cfg, packer, corpus
        self.model, self.device, self.precision, self.dist = model, device, precision, dist
        self.positions = positions
        self.size = len(corpus) if positions is None else len(positions)
        self.depth = max(1, min(depth, self.size))
        self.vectors: np.ndarray | None = None  # float16 [size, dim]
        self.index: DenseIndex | None = None
        self.built_at: int | None = None
        self.refreshes = 0
        self.generation = 0  # bumped at every (re)load: views drop their per-batch candidates

    def refresh(self, step: int) -> dict:
        start = time.perf_counter()
        positions = range(self.size) if self.positions is None else self.positions
        world, rank = (self.dist.world, self.dist.rank) if self.dist is not None else (1, 0)
        mine = positions[self.size * rank // world: self.size * (rank + 1) // world]
        out = np.zeros((len(mine), self.model.embedding_dim), dtype=np.float32)
        encode_corpus(self.model, self.packer, self.corpus, self.cfg.encoder.passage_max_length,
                      int(self.cfg.index.encode_batch_size), self.device, self.precision, positions=mine, out=out)
        if self.dist is not None:
            out = self.dist.gather_rows(out)
        seconds = time.perf_counter() - start
        self.load_vectors(out.astype(np.float16), step)
        self.refreshes += 1
        return {"step": step, "passages": self.size, "seconds": seconds,
                "passages_per_s": self.size / max(seconds, 1e-9)}

    def load_vectors(self, vectors: np.ndarray, step: int) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float16)
        self.index = DenseIndex.build(self.vectors, self.cfg.index)
        self.built_at = step
        self.generation += 1

    def search(self, query_vectors: np.ndarray) -> list[np.ndarray]:
        """Corpus positions of each query's nearest live passages, best first."""
        _, idx = self.index.search(query_vectors, self.depth)
        rows = [row[row >= 0] for row in idx]
        return rows if self.positions is None else [self.positions[row] for row in rows]


class LiveView:
    """The live index as one training context sees it (its questions, its answers)."""

    def __init__(self, ctx, index: LiveIndex):
        self.ctx, self.index = ctx, index
        self._batch_cands: dict[int, np.ndarray] = {}
        self._generation = -1
        self._matcher = AnswerMatcher(ctx.corpus)
        self._answers = {}
        self._contains: dict[tuple[int, int], bool] = {}

    def prefetch(self, questions: list[int]) -> None:
        """Search the candidates of this batch's questions with the current query encoder."""
        if self._generation != self.index.generation:
            self._batch_cands, self._contains, self._generation = {}, {}, self.index.generation
        todo = sorted({q for q in questions if q not in self._batch_cands})
        if not todo:
            return
        enc = self.ctx.cfg.encoder
        tokens = TokenizedTexts([self.ctx.question_tokens.ids[q] for q in todo])
        q_vec = encode_queries(self.index.model, self.ctx.packer, tokens, enc.query_max_length, 64,
                               self.index.device, self.index.precision)
        for q, row in zip(todo, self.index.search(q_vec), strict=True):
            self._batch_cands[q] = row

    def end_batch(self) -> None:
        self._batch_cands = {}

    def candidates(self, question: int) -> np.ndarray:
        """Corpus positions of the question's nearest live passages, best first."""
        if question not in self._batch_cands:
            self.prefetch([question])
        return self._batch_cands[question]

    def contains_answer(self, question: int, passage: int) -> bool:
        key = (question, int(passage))
        if key not in self._contains:
            if question not in self._answers:
                self._answers[question] = self._matcher.answer_keys(self.ctx.questions[question].answers)
            self._contains[key] = self._matcher.contains(int(passage), self._answers[question])
        return self._contains[key]
