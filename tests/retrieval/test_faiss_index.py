import json
import logging

import numpy as np
import pytest

from rom_cli.config.schema import IndexConfig, IndexType
from rom_cli.errors import RomError
from rom_cli.retrieval.faiss_index import DenseIndex


def unit_vectors(n, d=32, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def self_recall(index, x, k):
    _, idx = index.search(x, k)
    return (idx == np.arange(len(x))[:, None]).any(axis=1).mean()


def test_flat_is_exact():
    x = unit_vectors(500)
    index = DenseIndex.build(x, IndexConfig(type=IndexType.flat))
    scores, idx = index.search(x, 5)
    assert scores.dtype == np.float32 and idx.dtype == np.int64 and idx.shape == (500, 5)
    assert (idx[:, 0] == np.arange(500)).all()
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    expected = np.argsort(-(x[:3] @ x.T), axis=1)[:, :5]
    assert (idx[:3] == expected).all()


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_approximate_indexes_find_self(kind):
    x = unit_vectors(500)
    index = DenseIndex.build(x, IndexConfig(type=IndexType(kind)))
    assert self_recall(index, x, 10) >= 0.9


def test_ivfpq_small_corpus_falls_back_with_warning(caplog):
    with caplog.at_level(logging.WARNING):
        index = DenseIndex.build(
            unit_vectors(200), {"type": "ivfpq", "ivf_nlist": 64, "ivf_nprobe": 16, "pq_m": 16, "pq_bits": 8}
        )
    assert index.params["flat_fallback"] and index.params["nlist"] == 200 // 39
    assert "too few to train PQ" in caplog.text


def test_ivfpq_adapts_pq_to_corpus():
    x = unit_vectors(1500, d=24)
    index = DenseIndex.build(x, IndexConfig(type=IndexType.ivfpq, pq_m=16, pq_bits=8))
    assert index.params["pq_m"] == 12  # largest divisor of 24 <= 16
    assert index.params["pq_bits"] == 5  # 1500 >= 39 * 2**5 but < 39 * 2**6
    assert index.params["nlist"] == min(64, 1500 // 39)
    assert self_recall(index, x, 10) >= 0.9


def test_k_clipped_and_inputs_converted():
    x = unit_vectors(7).astype(np.float64)[:, ::1]
    index = DenseIndex.build(np.asfortranarray(x), IndexConfig())
    scores, idx = index.search(x[:2], 100)
    assert idx.shape == (2, 7) and scores.shape == (2, 7)


def test_empty_corpus_refused():
    with pytest.raises(RomError, match="0 passages"):
        DenseIndex.build(np.zeros((0, 8), np.float32), IndexConfig())


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_save_load_round_trip(tmp_path, kind):
    x = unit_vectors(300)
    index = DenseIndex.build(x, IndexConfig(type=IndexType(kind)))
    out = tmp_path / "idx"
    index.save(out, "abc123", {"task": "demo"})
    assert sorted(p.name for p in out.iterdir()) == ["index.faiss", "meta.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]  # no temp folder left behind
    loaded, meta = DenseIndex.load(out, expected_fingerprint="abc123", expected_count=300)
    assert len(loaded) == 300 and loaded.dim == 32 and loaded.kind == kind
    assert meta["fingerprint"] == "abc123" and meta["count"] == 300 and meta["extra"] == {"task": "demo"}
    assert meta["type"] == kind and meta["params"] == index.params
    np.testing.assert_array_equal(loaded.search(x[:20], 5)[1], index.search(x[:20], 5)[1])


def test_save_replaces_existing_index(tmp_path):
    out = tmp_path / "idx"
    DenseIndex.build(unit_vectors(10), IndexConfig()).save(out, "one", {})
    DenseIndex.build(unit_vectors(12), IndexConfig()).save(out, "two", {})
    _, meta = DenseIndex.load(out)
    assert meta["count"] == 12 and meta["fingerprint"] == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]


def test_save_refuses_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RomError, match="not a rom index"):
        DenseIndex.build(unit_vectors(5), IndexConfig()).save(tmp_path, "f", {})
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_load_refuses_fingerprint_mismatch(tmp_path):
    DenseIndex.build(unit_vectors(10), IndexConfig()).save(tmp_path / "i", "aaaa", {})
    with pytest.raises(RomError) as e:
        DenseIndex.load(tmp_path / "i", expected_fingerprint="bbbb", expected_count=10)
    msg = str(e.value)
    assert "fingerprint" in msg and "aaaa" in msg and "bbbb" in msg and str(tmp_path / "i") in msg
    assert "\n" not in msg


def test_load_refuses_count_mismatch(tmp_path):
    DenseIndex.build(unit_vectors(10), IndexConfig()).save(tmp_path / "i", "aaaa", {})
    with pytest.raises(RomError) as e:
        DenseIndex.load(tmp_path / "i", expected_fingerprint="aaaa", expected_count=11)
    msg = str(e.value)
    assert "passage count" in msg and "10" in msg and "11" in msg and "fingerprint" not in msg


def test_load_refuses_missing_and_foreign_folders(tmp_path):
    with pytest.raises(RomError, match="does not exist"):
        DenseIndex.load(tmp_path / "nope")
    (tmp_path / "meta.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(RomError, match="not a rom index"):
        DenseIndex.load(tmp_path)


def test_build_from_float16_chunks_equals_build_from_float32(tmp_path):
    """Adding a memory-mapped float16 matrix chunk by chunk gives the index of its float32 values."""
    x = unit_vectors(500).astype(np.float16)
    mm = np.lib.format.open_memmap(tmp_path / "v.npy", mode="w+", dtype=np.float16, shape=x.shape)
    mm[:] = x
    chunked = DenseIndex.build(np.load(tmp_path / "v.npy", mmap_mode="r"), IndexConfig(), chunk=64)
    whole = DenseIndex.build(x.astype(np.float32), IndexConfig())
    q = unit_vectors(20, seed=5)
    np.testing.assert_array_equal(chunked.search(q, 10)[1], whole.search(q, 10)[1])


def test_ivf_trains_on_a_bounded_sample():
    cfg = IndexConfig(type=IndexType.ivfpq, train_size=2000, ivf_nlist=16, pq_m=8, pq_bits=4)
    index = DenseIndex.build(unit_vectors(5000), cfg)
    assert len(index) == 5000 and index.params["nlist"] == 16


def test_an_old_index_format_is_refused_with_the_fix(tmp_path):
    out = tmp_path / "idx"
    DenseIndex.build(unit_vectors(10), IndexConfig()).save(out, "f", {})
    meta = json.loads((out / "meta.json").read_text())
    (out / "meta.json").write_text(json.dumps({**meta, "version": 1}))
    with pytest.raises(RomError, match="format version 1.*rebuild it with `rom index`"):
        DenseIndex.load(out)
