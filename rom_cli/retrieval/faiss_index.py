"""Dense inner-product index over passage vectors, saved as a self-describing folder.

A saved index carries the fingerprint of the encoder that produced the vectors (and its folder,
`rom_cli.retrieval.index_store`, the corpus it covers), so a stale index (other weights, other
corpus) is refused instead of silently giving wrong neighbours. Row i of the index is corpus
position i. Scores are inner products: pass L2-normalised vectors for cosine similarity.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rom_cli.atomic import staged_dir
from rom_cli.errors import RomError

log = logging.getLogger(__name__)

FORMAT = "rom-index"
VERSION = 2  # 1 stored passage_ids.json and passages.jsonl (in memory); 2 a passages TSV read by offset
INDEX_FILE = "index.faiss"
META_FILE = "meta.json"
TRAIN_FACTOR = 39  # FAISS k-means wants >= 39 training points per centroid
MIN_PQ_BITS = 4  # below this PQ codes are too coarse to be worth it: use IVF-Flat instead


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(x), dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [n, dim], got shape {x.shape}")
    return x


def _cfg_get(cfg: Any, key: str) -> Any:
    value = cfg[key] if isinstance(cfg, dict) else getattr(cfg, key)
    return getattr(value, "value", value)  # IndexType enum -> "flat"


def _largest_divisor_at_most(d: int, m: int) -> int:
    return next(c for c in range(max(1, min(m, d)), 0, -1) if d % c == 0)


def auto_nlist(n: int) -> int:
    """IVF lists for n vectors when `index.ivf_nlist=0`: about 4 sqrt(n) (1,024 at 65k, 18,000 at 21M)."""
    return max(1, int(4 * np.sqrt(n)))


def _ivfpq_params(n: int, d: int, cfg: Any) -> dict[str, Any]:
    """Adapt nlist / pq_m / pq_bits to the corpus so that small corpora still train."""
    wanted = int(_cfg_get(cfg, "ivf_nlist")) or auto_nlist(n)
    nlist = max(1, min(wanted, n // TRAIN_FACTOR))
    nprobe = max(1, min(int(_cfg_get(cfg, "ivf_nprobe")), nlist))
    pq_m = _largest_divisor_at_most(d, int(_cfg_get(cfg, "pq_m")))
    bits = int(_cfg_get(cfg, "pq_bits"))
    while bits >= MIN_PQ_BITS and n < TRAIN_FACTOR * 2**bits:
        bits -= 1
    params = {"nlist": nlist, "nprobe": nprobe, "pq_m": pq_m, "pq_bits": bits}
    if bits < MIN_PQ_BITS:
        log.warning(
            "ivfpq: %d vectors are too few to train PQ codes (need >= %d for %d-bit codes); "
            "using IVF-Flat (nlist=%d) instead",
            n,
            TRAIN_FACTOR * 2**MIN_PQ_BITS,
            MIN_PQ_BITS,
            nlist,
        )
        return {"nlist": nlist, "nprobe": nprobe, "flat_fallback": True}
    if (pq_m, bits) != (_cfg_get(cfg, "pq_m"), _cfg_get(cfg, "pq_bits")):
        log.info(
            "ivfpq adapted to %d vectors of dim %d: pq_m=%d pq_bits=%d nlist=%d", n, d, pq_m, bits, nlist
        )
    return params


def _training_sample(vectors, cfg: Any, seed: int) -> np.ndarray:
    """At most `train_size` rows, seeded and in row order (a memory-mapped shard is read sequentially)."""
    n = vectors.shape[0]
    size = int(_cfg_get(cfg, "train_size") or n) if _has(cfg, "train_size") else n
    if size >= n:
        return _as_matrix(vectors[:], "vectors")
    rows = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
    return _as_matrix(vectors[rows], "vectors")


def _has(cfg: Any, key: str) -> bool:
    return key in cfg if isinstance(cfg, dict) else hasattr(cfg, key)


def _set_search_params(index: faiss.Index, params: dict[str, Any]) -> None:
    if "nprobe" in params:
        faiss.extract_index_ivf(index).nprobe = int(params["nprobe"])
    if "ef_search" in params:
        faiss.downcast_index(index).hnsw.efSearch = int(params["ef_search"])


class DenseIndex:
    """A FAISS inner-product index plus the (effective) parameters it was built with."""

    def __init__(self, index: faiss.Index, kind: str, params: dict[str, Any]):
        self.index = index
        self.kind = kind  # "flat" | "hnsw" | "ivfpq"
        self.params = params  # effective build/search parameters (after small-corpus adaptation)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(cls, vectors, cfg: Any, chunk: int = 65_536, seed: int = 0) -> DenseIndex:
        """Build from vectors [N, d] (an array or a memory-mapped float16 shard) and an IndexConfig
        (dataclass, DictConfig or dict). Vectors are added `chunk` rows at a time, converted to float32 per
        chunk, so peak memory is the index plus one chunk; IVF indexes train on a seeded sample of at most
        `index.train_size` rows."""
        if getattr(vectors, "ndim", 0) != 2:
            raise ValueError(f"vectors must be a 2-D array [n, dim], got shape {getattr(vectors, 'shape', None)}")
        n, d = vectors.shape
        if n == 0:
            raise RomError("cannot build an index over 0 passages: expected a non-empty corpus")
        kind = str(_cfg_get(cfg, "type"))
        ip = faiss.METRIC_INNER_PRODUCT
        if kind == "flat":
            params: dict[str, Any] = {}
            index = faiss.IndexFlatIP(d)
        elif kind == "hnsw":
            params = {
                "m": int(_cfg_get(cfg, "hnsw_m")),
                "ef_construction": int(_cfg_get(cfg, "hnsw_ef_construction")),
                "ef_search": int(_cfg_get(cfg, "hnsw_ef_search")),
            }
            index = faiss.IndexHNSWFlat(d, params["m"], ip)
            index.hnsw.efConstruction = params["ef_construction"]
        elif kind == "ivfpq":
            params = _ivfpq_params(n, d, cfg)
            quantizer = faiss.IndexFlatIP(d)
            if params.get("flat_fallback"):
                index = faiss.IndexIVFFlat(quantizer, d, params["nlist"], ip)
            else:
                index = faiss.IndexIVFPQ(quantizer, d, params["nlist"], params["pq_m"], params["pq_bits"], ip)
            index.train(_training_sample(vectors, cfg, seed))
        else:
            raise RomError(f"config index.type={kind!r}: expected one of flat, hnsw, ivfpq")
        for lo in range(0, n, chunk):
            index.add(_as_matrix(vectors[lo: lo + chunk], "vectors"))
        _set_search_params(index, params)
        return cls(index, kind, params)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product: (scores float32 [Q, k'], indices int64 [Q, k']), k' = min(k, N).

        Approximate indexes may return fewer than k' hits for a query: those slots hold index -1
        and score -inf.
        """
        q = _as_matrix(queries, "queries")
        if q.shape[1] != self.dim:
            raise ValueError(f"queries have dim {q.shape[1]}, index has dim {self.dim}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        k = min(int(k), len(self))
        scores, idx = self.index.search(q, k)
        idx = idx.astype(np.int64, copy=False)
        scores = np.where(idx < 0, -np.inf, scores).astype(np.float32, copy=False)
        return scores, idx

    def save(self, directory: str | os.PathLike, fingerprint: str, meta: dict | None = None) -> Path:
        """Write `index.faiss` and `meta.json` atomically into `directory`.

        Everything goes to a temp folder beside `directory`, is fsynced, then renamed into place,
        so a crash never leaves a half-written index. An existing rom index there is replaced; any
        other non-empty folder is refused.
        """
        target = Path(directory)
        if target.exists() and not target.is_dir():
            raise RomError(f"{target}: exists and is not a folder: expected a folder path for the index")
        if target.exists() and not (target / META_FILE).is_file() and any(target.iterdir()):
            raise RomError(f"{target}: refusing to overwrite a non-empty folder that is not a rom index")
        target.parent.mkdir(parents=True, exist_ok=True)
        info = {
            "format": FORMAT,
            "version": VERSION,
            "type": self.kind,
            "params": self.params,
            "dim": self.dim,
            "count": len(self),
            "fingerprint": fingerprint,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "extra": dict(meta or {}),
        }
        with staged_dir(target, target.parent / f".{target.name}.tmp-{os.getpid()}") as tmp:
            faiss.write_index(self.index, str(tmp / INDEX_FILE))
            (tmp / META_FILE).write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
        return target

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike,
        expected_fingerprint: str | None = None,
        expected_count: int | None = None,
    ) -> tuple[DenseIndex, dict]:
        """Load a saved index; returns (index, meta.json contents).

        Refuses (RomError) a missing folder, a folder that is not a rom index, or one whose
        encoder fingerprint / passage count differs from the expected values.
        """
        path = Path(directory)
        if not path.is_dir():
            raise RomError(f"index folder {path} does not exist: expected a folder written by `rom index`")
        try:
            info = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = None
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise RomError(
                f"{path} is not a rom index (no valid {META_FILE}): expected a folder written by `rom index`"
            )
        if info.get("version") != VERSION:
            raise RomError(f"index {path} is of format version {info.get('version')} (an older rom): expected "
                           f"version {VERSION}; rebuild it with `rom index`")
        if expected_fingerprint is not None and info.get("fingerprint") != expected_fingerprint:
            raise RomError(
                f"index {path}: encoder fingerprint mismatch (index {info.get('fingerprint')}, "
                f"model {expected_fingerprint}): rebuild it with `rom index`"
            )
        if expected_count is not None and info.get("count") != expected_count:
            raise RomError(
                f"index {path}: passage count mismatch (index {info.get('count')}, corpus {expected_count}): "
                "rebuild it with `rom index`"
            )
        try:
            index = faiss.read_index(str(path / INDEX_FILE))
        except (OSError, RuntimeError, ValueError) as e:
            raise RomError(
                f"index {path} is unreadable ({type(e).__name__}): rebuild it with `rom index`"
            ) from e
        if index.ntotal != info.get("count"):
            raise RomError(
                f"index {path} is corrupt ({index.ntotal} vectors, meta count {info.get('count')}): "
                "rebuild it with `rom index`"
            )
        params = dict(info.get("params") or {})
        _set_search_params(index, params)
        return cls(index, str(info.get("type")), params), info
