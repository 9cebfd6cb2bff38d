"""The live passage index of training (REALM): rebuilt with the current encoder every
`index.refresh_every` steps; it feeds mined hard negatives and weak-supervision candidates.

It covers the passages `live_corpus.live_positions` chose (the whole corpus, or a bounded sub-corpus
of a large one). Vectors are kept in float16 (half the memory; what is searched is exactly what a
checkpoint saves, so a resumed run searches the same index). Question candidates are searched per
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
    def __init__(self, ctx, model, device, precision, depth: int, positions: np.ndarray | None = None):
        """`positions`: sorted corpus positions covered (None: the whole corpus)."""
        self.ctx, self.model, self.device, self.precision = ctx, model, device, precision
        self.positions = positions
        self.size = len(ctx.corpus) if positions is None else len(positions)
        self.depth = max(1, min(depth, self.size))
        self.vectors: np.ndarray | None = None  # float16 [size, dim]
        self.index: DenseIndex | None = None
        self.built_at: int | None = None
        self.refreshes = 0
        self._batch_cands: dict[int, np.ndarray] = {}
        self._matcher = AnswerMatcher(ctx.corpus)
        self._answers = {}
        self._contains: dict[tuple[int, int], bool] = {}

    def refresh(self, step: int) -> dict:
        enc = self.ctx.cfg.encoder
        start = time.perf_counter()
        out = np.zeros((self.size, self.model.embedding_dim), dtype=np.float16)
        encode_corpus(self.model, self.ctx.packer, self.ctx.corpus, enc.passage_max_length,
                      int(self.ctx.cfg.index.encode_batch_size), self.device, self.precision,
                      positions=self.positions, out=out)
        seconds = time.perf_counter() - start
        self.load_vectors(out, step)
        self.refreshes += 1
        return {"step": step, "passages": self.size, "seconds": seconds,
                "passages_per_s": self.size / max(seconds, 1e-9)}

    def load_vectors(self, vectors: np.ndarray, step: int) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float16)
        self.index = DenseIndex.build(self.vectors, self.ctx.cfg.index)
        self.built_at = step
        self._batch_cands = {}
        self._contains = {}  # keyed by corpus position: bounded by what one index generation looked at

    def prefetch(self, questions: list[int]) -> None:
        """Search the candidates of this batch's questions with the current query encoder."""
        todo = sorted({q for q in questions if q not in self._batch_cands})
        if not todo:
            return
        enc = self.ctx.cfg.encoder
        tokens = TokenizedTexts([self.ctx.question_tokens.ids[q] for q in todo])
        q_vec = encode_queries(self.model, self.ctx.packer, tokens, enc.query_max_length, 64, self.device, self.precision)
        _, idx = self.index.search(q_vec, self.depth)
        for q, row in zip(todo, idx, strict=True):
            row = row[row >= 0]
            self._batch_cands[q] = row if self.positions is None else self.positions[row]

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
