"""Sparse BM25 baseline (bm25s, English stopwords, no stemming) with the same search contract
as the dense index, so dense / bm25 / hybrid retrieval are interchangeable.

At scale (DPR's 21M passages):
- `build` takes any iterable of texts and tokenises it as a stream: no list of passage strings, and
  the token ids sit in one int32 array (4 bytes a token) instead of a list of Python int lists
  (~36 bytes a token). bm25s itself still needs every document's token ids while it scores (it walks
  them three times) and holds ~30 bytes per (passage, distinct word) pair at its peak (its COO
  arrays, then the CSC matrix, built by scipy when installed: numpy's way takes ~46). That bounds
  what fits; `max_passages` / `build_refusal` tell a caller before it starts.
- `save(folder)` / `load(folder, mmap=True)`: a built index is reused; memory-mapped, its score
  matrix (8 bytes a pair) stays on disk and is paged in by searches.
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import bm25s
import numpy as np
from bm25s.tokenization import Tokenizer

from rom_cli.atomic import staged_dir
from rom_cli.data.types import Passage
from rom_cli.errors import DataError, RomError

FORMAT = "rom-bm25"
VERSION = 1
META_FILE = "rom-bm25.json"  # written last: a folder without it is no (complete) index

# Peak RSS growth of `build` per (passage, distinct indexed word) pair, measured on make_corpus
# passages (~100 words, 64 distinct non-stopwords each) at 30k-300k passages, one core: 28-31
# bytes with scipy's CSC construction, 44-47 with numpy's (bm25s uses scipy when installed).
BUILD_BYTES_PER_PAIR = 32 if getattr(bm25s, "SCIPY_AVAILABLE", False) else 48
DISTINCT_WORDS = 64  # per passage of ~100 words (DPR's psgs_w100 has fewer: more stopwords)
MEMORY_SHARE = 0.8  # of the memory available now that a build may take


def passage_text(p: Passage) -> str:
    """What BM25 indexes for a passage: its title then its text."""
    return f"{p.title} {p.text}" if p.title else p.text


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (MemAvailable; total RAM where unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 8 << 30


def build_bytes(n_passages: int, distinct_words: float = DISTINCT_WORDS) -> int:
    """Expected peak memory growth of `build` over `n_passages` with `distinct_words` distinct
    non-stopwords each (the vocabulary, small beside it, is left out)."""
    return int(n_passages * max(distinct_words, 1) * BUILD_BYTES_PER_PAIR)


def max_passages(memory_bytes: int | None = None, distinct_words: float = DISTINCT_WORDS) -> int:
    """The most passages `build` is expected to index within `memory_bytes` (default: `MEMORY_SHARE`
    of the memory available now)."""
    budget = available_memory() * MEMORY_SHARE if memory_bytes is None else memory_bytes
    return max(int(budget // build_bytes(1, distinct_words)), 0)


def build_refusal(n_passages: int, memory_bytes: int | None = None,
                  distinct_words: float = DISTINCT_WORDS) -> str | None:
    """None when building BM25 over `n_passages` is expected to fit in `memory_bytes` (default:
    `MEMORY_SHARE` of the memory available now), else the one line a caller prints when it skips
    BM25 (better than a build killed for memory after its tokenising)."""
    budget = int(available_memory() * MEMORY_SHARE if memory_bytes is None else memory_bytes)
    limit = max_passages(budget, distinct_words)
    if n_passages <= limit:
        return None
    return (f"BM25 not built: {n_passages:,} passages exceed the {limit:,} expected to fit in "
            f"{budget / 2**30:.1f} GiB (about {build_bytes(n_passages, distinct_words) / 2**30:.1f} GiB "
            "needed); build it where it fits with BM25Retriever.build(texts).save(DIR), then use "
            "BM25Retriever.load(DIR)")


class _TokenIds(Sequence):
    """Every document's token ids in one int32 array; bm25s gets one document's list at a time."""

    def __init__(self, flat: np.ndarray, ends: np.ndarray):
        self.flat, self.ends = flat, ends

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i):
        start = int(self.ends[i - 1]) if i > 0 else 0
        return self.flat[start:int(self.ends[i])].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        start = 0
        for end in self.ends.tolist():
            yield self.flat[start:end].tolist()
            start = end


class _Tokenized:
    """What `bm25s.BM25.index` accepts as an already tokenised corpus: `.ids` and `.vocab`."""

    def __init__(self, ids, vocab):
        self.ids, self.vocab = ids, vocab


class BM25Retriever:
    def __init__(self, tokenizer: Tokenizer, model: bm25s.BM25, size: int):
        self.tokenizer = tokenizer
        self.model = model
        self.size = size

    def __len__(self) -> int:
        return self.size

    @classmethod
    def build(cls, texts: Iterable[str]) -> BM25Retriever:
        """Index passage strings (use `passage_text` for title + text), read from any iterable once.

        The index is the one `bm25s.BM25().index(Tokenizer(stopwords="en").tokenize(list(texts)))`
        builds, without the list of texts or of token-id lists: see the module docstring."""
        tokenizer = Tokenizer(stopwords="en")
        flat, ends = array("i"), array("q")
        for doc in tokenizer.streaming_tokenize(texts, update_vocab=True):
            flat.extend(doc)
            ends.append(len(flat))
        if not ends:
            raise RomError("cannot build a BM25 index over 0 passages: expected a non-empty corpus")
        ids = _TokenIds(np.frombuffer(flat, dtype=np.int32), np.frombuffer(ends, dtype=np.int64))
        # the vocabulary bm25s makes for token-id lists (index() with create_empty_token=True)
        unique = set(np.unique(ids.flat).tolist())
        unique.add(0 if 0 not in unique else max(unique) + 1)
        vocab = {token_id: i for i, token_id in enumerate(unique)}
        model = _new_model()
        model.index(_Tokenized(ids, vocab), create_empty_token=False, show_progress=False)
        return cls(tokenizer, model, len(ids))

    @classmethod
    def from_passages(cls, passages: Iterable[Passage]) -> BM25Retriever:
        return cls.build(passage_text(p) for p in passages)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the index into `folder` (bm25s's files, the tokenizer vocabulary, `rom-bm25.json`):
        everything goes to a temporary folder beside it, then is renamed into place, so a crash never
        leaves half an index. An existing BM25 index there is replaced; another non-empty folder is refused."""
        target = Path(folder)
        if target.exists() and not target.is_dir():
            raise RomError(f"{target}: exists and is not a folder: expected a folder path for the BM25 index")
        if target.exists() and not (target / META_FILE).is_file() and any(target.iterdir()):
            raise RomError(f"{target}: refusing to overwrite a non-empty folder that is not a BM25 index")
        target.parent.mkdir(parents=True, exist_ok=True)
        with staged_dir(target, target.parent / f".{target.name}.tmp-{os.getpid()}") as tmp:
            self.model.save(tmp, show_progress=False)
            self.tokenizer.save_vocab(tmp)
            meta = {"format": FORMAT, "version": VERSION, "passages": self.size, "bm25s": bm25s.__version__}
            (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return target

    @classmethod
    def load(cls, folder: str | os.PathLike, mmap: bool = True, expected_passages: int | None = None) -> BM25Retriever:
        """An index written by `save`. With `mmap` its score matrix (the bulk: ~8 bytes per passage and
        distinct word) stays on disk and is paged in by searches. A folder that is not such an index,
        a damaged one, or one over another number of passages than `expected_passages` is a RomError."""
        path = Path(folder)
        if not path.is_dir():
            raise RomError(f"BM25 index folder {path} does not exist: expected a folder written by "
                           "BM25Retriever.save")
        try:
            meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise RomError(f"{path} is not a BM25 index (no valid {META_FILE}): expected a folder written by "
                           "BM25Retriever.save")
        if meta.get("version") != VERSION:
            raise DataError(path / META_FILE, f"BM25 index format version {meta.get('version')}: expected "
                                              f"{VERSION}; rebuild it")
        size = meta.get("passages")
        if expected_passages is not None and size != expected_passages:
            raise RomError(f"BM25 index {path}: passage count mismatch (index {size}, corpus {expected_passages}): "
                           "rebuild it")
        try:
            model = bm25s.BM25.load(path, mmap=mmap, show_progress=False)
            tokenizer = Tokenizer(stopwords="en")
            tokenizer.load_vocab(path)
        except (OSError, ValueError, KeyError, TypeError, EOFError) as ex:
            raise RomError(f"BM25 index {path} is unreadable ({type(ex).__name__}: {ex}): rebuild it") from None
        if model.scores.get("num_docs") != size:
            raise RomError(f"BM25 index {path} is corrupt ({model.scores.get('num_docs')} documents, "
                           f"{META_FILE} says {size}): rebuild it")
        return cls(tokenizer, model, int(size))

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


def _new_model() -> bm25s.BM25:
    """bm25s building its CSC matrix with scipy when installed: the same matrix as its numpy way,
    with a third less peak memory (see BUILD_BYTES_PER_PAIR)."""
    try:
        return bm25s.BM25(csc_backend="scipy" if getattr(bm25s, "SCIPY_AVAILABLE", False) else "numpy")
    except TypeError:  # a bm25s without csc_backend (pyproject allows >= 0.2)
        return bm25s.BM25()


def sparse_retriever(corpus, index_folder=None):
    """(BM25 over `corpus`, None) or (None, why not): a `rom index ... index.bm25=true` folder's saved index
    (memory-mapped), else one built now when it is expected to fit in memory."""
    if index_folder is not None and index_folder.bm25_dir is not None:
        return BM25Retriever.load(index_folder.bm25_dir, expected_passages=len(corpus)), None
    refusal = build_refusal(len(corpus))
    if refusal is not None:
        return None, refusal + " (or `rom index ... index.bm25=true` saves one beside the dense index)"
    return BM25Retriever.from_passages(corpus), None
