"""rom_cli.retrieval.bm25 at scale: `build` streams its texts (no list of strings, token ids in one
int32 array) and gives bm25s's own index; `save` / `load(mmap=True)` reuse it; `build_bytes`,
`max_passages` and `build_refusal` say beforehand whether a build fits in memory."""

from __future__ import annotations

import logging
import random
import tracemalloc

import bm25s
import numpy as np
import pytest
from bm25s.tokenization import Tokenizer

from rom_cli.errors import RomError
from rom_cli.retrieval import bm25 as bm25_module
from rom_cli.retrieval.bm25 import BM25Retriever, build_bytes, build_refusal, max_passages

logging.getLogger("bm25s").setLevel(logging.WARNING)


def corpus(n: int, seed: int = 0, words: int = 60) -> list[str]:
    """Passages of 60 words drawn from a Zipf-like vocabulary, stopwords among them, plus odd ones."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(3000)] + ["the", "of", "and", "a", "in"] * 40
    weights = [1 / (i + 1) for i in range(len(vocab))]
    texts = [" ".join(rng.choices(vocab, weights, k=words)) for _ in range(n)]
    return texts + ["", "the and of", "Zzzq unique"]


class OnePass:
    """An iterable that can be read once and has no length: what a corpus streamed from disk gives."""

    def __init__(self, texts):
        self.texts, self.used = texts, False

    def __iter__(self):
        assert not self.used, "build read its texts twice"
        self.used = True
        yield from self.texts


def test_streamed_build_is_bm25s_index_of_the_list():
    texts = corpus(800)
    tokenizer = Tokenizer(stopwords="en")
    reference = bm25s.BM25()
    reference.index(tokenizer.tokenize(texts, return_as="ids", show_progress=False), show_progress=False)
    built = BM25Retriever.build(OnePass(texts))
    assert len(built) == len(texts) and built.tokenizer.word_to_id == tokenizer.word_to_id
    assert built.model.vocab_dict == reference.vocab_dict
    for key in ("data", "indices", "indptr"):
        assert np.array_equal(built.model.scores[key], reference.scores[key]), key
    queries = [texts[i][:40] for i in range(0, 800, 37)] + ["the of", "nothing known here"]
    ids = tokenizer.tokenize(queries, update_vocab=False, return_as="ids", show_progress=False)
    docs, scores = reference.retrieve(ids, k=5, show_progress=False)
    got_scores, got_docs = built.search(queries, 5)
    assert np.array_equal(got_docs, docs) and np.array_equal(got_scores, scores)


def test_build_of_nothing_is_one_line():
    with pytest.raises(RomError, match="0 passages"):
        BM25Retriever.build(iter([]))


def traced_peak(build) -> int:
    tracemalloc.start()
    try:
        build()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_build_memory_stays_within_the_estimate():
    """Traced peak of a build over 10k passages is below `build_bytes` (per distinct word of each
    passage) and under 0.7 of the build before streaming (a list of the texts, a list of Python int
    lists, numpy's CSC), which was 1.8 times it."""
    texts = corpus(10_000, seed=1)
    distinct = np.mean([len({w for w in t.split() if w not in ("the", "of", "and", "a", "in")} or {""})
                        for t in texts])

    def before():
        listed = list(iter(texts))
        model = bm25s.BM25(csc_backend="numpy")
        model.index(Tokenizer(stopwords="en").tokenize(listed, return_as="ids", show_progress=False),
                    show_progress=False)

    peak = traced_peak(lambda: BM25Retriever.build(iter(texts)))
    assert peak < build_bytes(len(texts), distinct), (peak, build_bytes(len(texts), distinct))
    assert peak < 0.7 * traced_peak(before)


def test_save_and_load_mmap_give_the_same_search(tmp_path):
    texts = corpus(500, seed=2)
    built = BM25Retriever.build(texts)
    folder = built.save(tmp_path / "bm25")
    queries = [texts[i][:50] for i in range(0, 500, 23)] + ["the", "Zzzq"]
    expected = built.search(queries, 7)
    for mmap in (True, False):
        loaded = BM25Retriever.load(folder, mmap=mmap, expected_passages=len(texts))
        assert len(loaded) == len(texts)
        assert isinstance(loaded.model.scores["data"], np.memmap) == mmap
        got = loaded.search(queries, 7)
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    # saving again replaces the index, and leaves no temporary folder beside it
    BM25Retriever.build(texts[:100]).save(folder)
    assert len(BM25Retriever.load(folder)) == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bm25"]


def test_save_refuses_what_is_not_a_bm25_index(tmp_path):
    built = BM25Retriever.build(corpus(20))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RomError, match="refusing to overwrite a non-empty folder that is not a BM25 index"):
        built.save(tmp_path / "other")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RomError, match="exists and is not a folder"):
        built.save(tmp_path / "file")


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(RomError, match="does not exist"):
        BM25Retriever.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RomError, match="is not a BM25 index"):
        BM25Retriever.load(tmp_path / "empty")
    folder = BM25Retriever.build(corpus(50)).save(tmp_path / "bm25")
    with pytest.raises(RomError, match=r"passage count mismatch \(index 53, corpus 7\)"):
        BM25Retriever.load(folder, expected_passages=7)
    data = folder / "data.csc.index.npy"
    data.write_bytes(data.read_bytes()[:200])
    for mmap in (True, False):
        with pytest.raises(RomError, match="is unreadable") as err:
            BM25Retriever.load(folder, mmap=mmap)
        assert "\n" not in str(err.value)


def test_estimate_and_refusal(monkeypatch):
    assert bm25_module.available_memory() > 0
    per = bm25_module.BUILD_BYTES_PER_PAIR * bm25_module.DISTINCT_WORDS
    assert build_bytes(1000) == 1000 * per and build_bytes(10, distinct_words=128) == 20 * per
    assert max_passages(memory_bytes=10 * per) == 10 and max_passages(memory_bytes=0) == 0
    assert build_refusal(10, memory_bytes=10 * per) is None
    message = build_refusal(21_000_000, memory_bytes=16 << 30)
    assert message.startswith(f"BM25 not built: 21,000,000 passages exceed the {max_passages(16 << 30):,} "
                              "expected to fit in 16.0 GiB")
    assert "BM25Retriever.build(texts).save(DIR)" in message and "BM25Retriever.load(DIR)" in message
    monkeypatch.setattr(bm25_module, "available_memory", lambda: 100 * per)
    assert max_passages() == 80 and build_refusal(80) is None and build_refusal(81) is not None
