"""Token ids of corpus passages, tokenised when a batch first needs them and kept in a bounded cache.

Training, reading and `rom ask` all look passages up by corpus position. Tokenising a whole corpus
up front (what this replaces) holds Python lists for every passage: 13.5 GB for 300k passages, and
impossible for DPR's 21M. Here a passage is read from its `Corpus` (a TSV row parsed by byte
offset) and tokenised on first use; the newest `capacity` passages stay cached (least recently used
go first), so memory is bounded whatever the corpus size. Tokenising is deterministic, so what
the cache holds never changes a result, and a resumed run sees exactly the tokens it saw before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from rom_cli.model.inputs import Packer

DEFAULT_CAPACITY = 100_000  # passages (~2 KB each for 100-word passages)
TOKENIZE_BATCH = 512


@dataclass(frozen=True)
class PassageEntry:
    title: list[int]  # title token ids (no special tokens)
    text: list[int]  # text token ids
    offsets: np.ndarray | None  # [len(text), 2] int32 character offsets of the text tokens (None: not asked)


class _Column:
    """`tokens.texts[p]`-style read access to one field (the interface objectives index by position)."""

    def __init__(self, store: PassageTokens, field: str):
        self._store, self._field = store, field

    def __getitem__(self, p: int):
        return getattr(self._store.get(int(p)), self._field)

    def __len__(self) -> int:
        return len(self._store)


class PassageTokens:
    """Bounded, lazily filled token cache over a corpus (see the module docstring)."""

    def __init__(self, packer: Packer, corpus, capacity: int = DEFAULT_CAPACITY):
        self.packer, self.corpus = packer, corpus
        self.capacity = max(1, int(capacity))
        self._cache: OrderedDict[int, PassageEntry] = OrderedDict()
        self.tokenized = 0  # passages tokenised so far (a cache miss each)
        self.titles, self.texts, self.offsets = _Column(self, "title"), _Column(self, "text"), _Column(self, "offsets")

    def __len__(self) -> int:
        return len(self.corpus)

    def get(self, p: int) -> PassageEntry:
        entry = self._cache.get(p)
        if entry is None:
            self._fill([p])
            entry = self._cache[p]
        else:
            self._cache.move_to_end(p)
        return entry

    def prefetch(self, positions: Iterable[int]) -> None:
        """Tokenise the missing ones of `positions` in batches (one tokenizer call per batch, not per passage)."""
        todo = list(dict.fromkeys(int(p) for p in positions if int(p) not in self._cache))
        for lo in range(0, len(todo), TOKENIZE_BATCH):
            self._fill(todo[lo: lo + TOKENIZE_BATCH])

    def _fill(self, positions: list[int]) -> None:
        for p, entry in zip(positions, tokenize_passages(self.packer, [self.corpus[p] for p in positions]), strict=True):
            self._cache[p] = entry
            self._cache.move_to_end(p)
            self.tokenized += 1
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)


def tokenize_passages(packer: Packer, passages, with_offsets: bool = True) -> list[PassageEntry]:
    """Title ids, text ids and (when asked: reading needs them, encoding does not) text offsets of each
    passage, TOKENIZE_BATCH passages per tokenizer call (its per-text encodings are large while they live)."""
    passages = list(passages)
    out: list[PassageEntry] = []
    for lo in range(0, len(passages), TOKENIZE_BATCH):
        part = passages[lo: lo + TOKENIZE_BATCH]
        titles = packer.tokenize([p.title for p in part]).ids
        texts = packer.tokenize([p.text for p in part], with_offsets=with_offsets)
        offsets = texts.offsets if with_offsets else [None] * len(part)
        out += [PassageEntry(title, text, None if offs is None else np.asarray(offs, dtype=np.int32).reshape(-1, 2))
                for title, text, offs in zip(titles, texts.ids, offsets, strict=True)]
    return out
