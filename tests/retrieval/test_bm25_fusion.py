import numpy as np
import pytest

from rom_cli.data.types import Passage
from rom_cli.retrieval.bm25 import BM25Retriever, passage_text
from rom_cli.retrieval.fusion import hybrid_fuse

PASSAGES = [
    Passage("a", "The cat sat on the mat all afternoon.", "Cats"),
    Passage("b", "Paris is the capital and largest city of France.", "Paris"),
    Passage("c", "Dogs bark loudly at the postman.", "Dogs"),
    Passage("d", "Berlin is the capital of Germany.", "Berlin"),
]


def test_bm25_ranks_obvious_passage_first():
    bm = BM25Retriever.from_passages(PASSAGES)
    scores, idx = bm.search(["What is the capital of France?", "why do dogs bark"], k=2)
    assert idx.dtype == np.int64 and scores.dtype == np.float32 and idx.shape == (2, 2)
    assert idx[0, 0] == 1 and idx[1, 0] == 2
    assert scores[0, 0] > scores[0, 1]


def test_bm25_k_clipped_title_used_and_stopword_query():
    bm = BM25Retriever.build([passage_text(p) for p in PASSAGES])
    scores, idx = bm.search(["cats", "the of and"], k=50)
    assert idx.shape == (2, 4) and idx[0, 0] == 0  # "Cats" only appears in a title
    assert (scores[1] == 0).all()


def test_fusion_hand_computed():
    # dense: 10 -> 0.9, 11 -> 0.5, 12 -> 0.1  => normalised 1, 0.5, 0
    # sparse: 11 -> 8, 13 -> 4             => normalised 1, 0
    fused_s, fused_i = hybrid_fuse(
        np.array([[0.9, 0.5, 0.1]]),
        np.array([[10, 11, 12]]),
        np.array([[8.0, 4.0]]),
        np.array([[11, 13]]),
        weight=0.5,
        k=3,
    )
    # 10: .5*1 = .5; 11: .5*.5 + .5*1 = .75; 12: 0; 13: 0
    assert fused_i.tolist() == [[11, 10, 12]]
    np.testing.assert_allclose(fused_s, [[0.75, 0.5, 0.0]])


def test_fusion_weights_extremes_and_padding():
    d_s, d_i = np.array([[3.0, 2.0, 1.0]]), np.array([[0, 1, 2]])
    s_s, s_i = np.array([[5.0, 1.0, 0.5]]), np.array([[2, 1, -1]])
    _, only_dense = hybrid_fuse(d_s, d_i, s_s, s_i, weight=1.0, k=3)
    assert only_dense.tolist() == [[0, 1, 2]]
    _, only_sparse = hybrid_fuse(d_s, d_i, s_s, s_i, weight=0.0, k=1)
    assert only_sparse.tolist() == [[2]]
    scores, idx = hybrid_fuse(d_s, d_i, s_s, s_i, weight=0.5, k=5)
    assert idx[0, 3:].tolist() == [-1, -1] and np.isneginf(scores[0, 3:]).all()
    with pytest.raises(ValueError):
        hybrid_fuse(d_s, d_i, s_s, s_i, weight=1.5, k=1)


def test_fusion_all_equal_list_adds_nothing():
    # BM25 scores all 0 (a query of stopwords): its candidates must not tie the dense top-1
    # (ties go to the lower index, so 20 and 21 would win a tie with 30)
    d_s, d_i = np.array([[0.9, 0.5, 0.1]]), np.array([[30, 31, 32]])
    s_s, s_i = np.zeros((1, 3)), np.array([[20, 21, 32]])
    scores, idx = hybrid_fuse(d_s, d_i, s_s, s_i, weight=0.5, k=6)
    assert idx[0, :2].tolist() == [30, 31] and scores[0, :2].tolist() == [0.5, 0.25]
    assert (scores[0, 2:5] == 0).all()
    # a single candidate is an all-equal list too
    _, idx = hybrid_fuse(d_s, d_i, np.array([[7.0]]), np.array([[20]]), weight=0.5, k=1)
    assert idx.tolist() == [[30]]
