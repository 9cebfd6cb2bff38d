"""Sparse BM25 baseline (bm25s, English stopwords, no stemming) with the same search contract
as the dense index, so dense / bm25 / hybrid retrieval are interchangeable."""

from __future__ import annotations

from collections.abc import Iterable

import bm25s
import numpy as np
from bm25s.tokenization import Tokenizer

from rom_cli.data.types import Passage
from rom_cli.errors import RomError


def passage_text(p: Passage) -> str:
    """What BM25 indexes for a passage: its title then its text."""
    return f"{p.title} {p.text}" if p.title else p.text


class BM25Retriever:
    def __init__(self, tokenizer: Tokenizer, model: bm25s.BM25, size: int):
        self.tokenizer = tokenizer
        self.model = model
        self.size = size

    def __len__(self) -> int:
        return self.size

    @classmethod
    def build(cls, texts: list[str]) -> BM25Retriever:
        """Index passage strings (use `passage_text` for title + text)."""
        texts = list(texts)
        if not texts:
            raise RomError("cannot build a BM25 index over 0 passages: expected a non-empty corpus")
        tokenizer = Tokenizer(stopwords="en")
        ids = tokenizer.tokenize(texts, return_as="ids", show_progress=False)
        model = bm25s.BM25()
        model.index(ids, show_progress=False)
        return cls(tokenizer, model, len(texts))

    @classmethod
    def from_passages(cls, passages: Iterable[Passage]) -> BM25Retriever:
        return cls.build([passage_text(p) for p in passages])

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k: (scores float32 [Q, k'], indices int64 [Q, k']) with k' = min(k, corpus size).

        A query with no indexed word (e.g. only stopwords) scores 0 everywhere.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        k = min(int(k), self.size)
        queries = list(queries)
        if not queries:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        q = self.tokenizer.tokenize(queries, update_vocab=False, return_as="ids", show_progress=False)
        idx, scores = self.model.retrieve(q, k=k, show_progress=False)
        return np.asarray(scores, dtype=np.float32), np.asarray(idx, dtype=np.int64)
