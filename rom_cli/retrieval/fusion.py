"""Hybrid retrieval: min-max fusion of dense and BM25 candidate lists (the strongest baseline in
REFERENCE.md section 4)."""

from __future__ import annotations

import numpy as np


def _minmax(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] over one list. A list whose scores are all equal (BM25 all zero for a query of
    stopwords, or a single candidate) says nothing about which candidate is better, so it becomes
    all 0, like its minimum and like absence: all 1 would let any of its candidates tie the other
    list's top-1."""
    if scores.size == 0:
        return scores
    lo, hi = scores.min(), scores.max()
    if hi <= lo:
        return np.zeros_like(scores)
    return (scores - lo) / (hi - lo)


def hybrid_fuse(
    dense_scores: np.ndarray,
    dense_idx: np.ndarray,
    sparse_scores: np.ndarray,
    sparse_idx: np.ndarray,
    weight: float,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse per query: weight * minmax(dense) + (1 - weight) * minmax(sparse) over the union.

    A candidate absent from one list gets 0 from it, and so does every candidate of a list whose
    scores are all equal; index -1 (padding) is ignored. Returns
    (scores float32 [Q, k], indices int64 [Q, k]) best first, ties broken by lower index;
    slots beyond the union's size hold index -1 and score -inf.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"hybrid weight must be in [0, 1], got {weight}")
    ds, di = np.asarray(dense_scores, np.float64), np.asarray(dense_idx, np.int64)
    ss, si = np.asarray(sparse_scores, np.float64), np.asarray(sparse_idx, np.int64)
    nq = di.shape[0]
    out_s = np.full((nq, k), -np.inf, np.float32)
    out_i = np.full((nq, k), -1, np.int64)
    for q in range(nq):
        fused: dict[int, float] = {}
        for scores, idx, w in ((ds[q], di[q], weight), (ss[q], si[q], 1.0 - weight)):
            keep = (idx >= 0) & np.isfinite(scores)
            for i, s in zip(idx[keep].tolist(), _minmax(scores[keep]).tolist(), strict=True):
                fused[i] = fused.get(i, 0.0) + w * s
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        for r, (i, s) in enumerate(best):
            out_i[q, r], out_s[q, r] = i, s
    return out_s, out_i
