#!/usr/bin/env python
"""Benchmark FAISS indexes (flat, HNSW, IVF-Flat, IVF-PQ presets, rom's own IVF-PQ default) on N vectors.

    python scripts/bench_index.py --n 100000                       # synthetic clustered vectors, dim 384
    python scripts/bench_index.py --vectors passages.npy --n 2000000 [--queries-file questions.npy]
    python scripts/index_table.py benchmarks/results/index-100000.json   # the markdown table again

For every configuration: build seconds (training on a sample + adding in chunks), index bytes (the
serialised index), queries/s (one batched search of all queries, k=100) and recall against exact
flat search of the same queries: recall@1 (same top-1), recall@10 and recall@100 (share of the exact
top-10 / top-100 set found), and nn_in_100 (share of queries whose exact nearest neighbour is in the
approximate top-100). A row "meets the target" with recall@100 >= 0.95 at <= 1/8 of flat's bytes.

Vectors. By default synthetic, L2-normalised, with structure so that IVF behaves as on real
encoder output: a mixture of `--centres` gaussian clusters of unequal size (default N/50, at most
4,096) around a shared mean direction, with a decaying variance spectrum in a random rotation
(embeddings use few directions much more than others). Queries are noisy copies of held-out vectors
from the same distribution (not in the database). With `--vectors FILE.npy` (float16 or float32,
memory-mapped), the database is that file's rows less `--queries` held-out rows, whose noisy copies
are the queries (or `--queries-file` gives real query vectors).

IVF indexes of the same nlist share one coarse k-means (spherical, `--kmeans-iter` iterations, on
`--train-size` vectors); its seconds are counted in each one's build time. HNSW builds with
efConstruction `--hnsw-efc` (rom's config uses 200; the default here, 40, is FAISS's own).
Results are written (atomically, after every configuration) to `--out`, default
benchmarks/results/index-<N>.json, and printed as a markdown table.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import faiss
import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (str(REPO), str(Path(__file__).resolve().parent)):
    if p not in sys.path:
        sys.path.insert(0, p)

from index_table import render  # noqa: E402

from rom_cli.atomic import atomic_write_json  # noqa: E402

IP = faiss.METRIC_INNER_PRODUCT
MEMORY_TARGET = 1 / 8  # of flat's bytes
RECALL_TARGET = 0.95
CACHE_BYTES = 4 << 30  # synthetic vectors are kept in memory up to this size, else regenerated per build


# ----------------------------------------------------------------------------- vectors


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class Synthetic:
    """Clustered L2-normalised vectors; chunk j is a pure function of (seed, j)."""

    def __init__(self, n: int, dim: int, n_queries: int, centres: int, spread: float, query_noise: float,
                 decay: float, mean_norm: float, seed: int, chunk: int):
        self.n, self.dim, self.chunk, self.seed = n, dim, chunk, seed
        self.spread, self.query_noise = spread, query_noise
        rng = np.random.default_rng([seed, 0])
        rot, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        spectrum = np.arange(1, dim + 1, dtype=np.float64) ** -decay
        spectrum /= np.sqrt((spectrum ** 2).sum())  # E|z * spectrum|^2 = 1
        self.basis = (spectrum[:, None] * rot.T).astype(np.float32)  # z @ basis: decayed, rotated
        self.mean = (mean_norm * _normalise(rng.standard_normal((1, dim)))).astype(np.float32)
        self.centres = rng.standard_normal((centres, dim)).astype(np.float32) @ self.basis + self.mean
        weights = rng.lognormal(0.0, 0.75, centres)  # clusters of unequal size, as topics are
        self.weights = weights / weights.sum()
        self.description = (f"synthetic: {centres} gaussian clusters (lognormal sizes), spread {spread}, "
                            f"spectrum decay j^-{decay}, mean direction norm {mean_norm}, L2-normalised; "
                            f"queries: held-out vectors + isotropic noise {query_noise}, normalised")
        self._cache = None
        if n * dim * 4 <= CACHE_BYTES:
            self._cache = np.concatenate([self._chunk(j) for j in range(math.ceil(n / chunk))]) if n else None
        self._queries = self._make_queries(n_queries)

    def _draw(self, rng: np.random.Generator, m: int) -> np.ndarray:
        c = rng.choice(len(self.centres), size=m, p=self.weights)
        noise = rng.standard_normal((m, self.dim), dtype=np.float32) @ self.basis
        return _normalise(self.centres[c] + self.spread * noise).astype(np.float32)

    def _chunk(self, j: int) -> np.ndarray:
        m = min(self.chunk, self.n - j * self.chunk)
        return self._draw(np.random.default_rng([self.seed, 1, j]), m)

    def _make_queries(self, m: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 2])
        held_out = self._draw(rng, m)
        noise = rng.standard_normal((m, self.dim), dtype=np.float32) / math.sqrt(self.dim)
        return _normalise(held_out + self.query_noise * noise).astype(np.float32)

    def queries(self) -> np.ndarray:
        return self._queries

    def chunks(self):
        if self._cache is not None:
            for lo in range(0, self.n, self.chunk):
                yield self._cache[lo:lo + self.chunk]
            return
        for j in range(math.ceil(self.n / self.chunk)):
            yield self._chunk(j)

    def sample(self, m: int) -> np.ndarray:
        """The first m vectors (chunks are i.i.d., so this is a random sample)."""
        if self._cache is not None:
            return self._cache[:m]
        out, got = [], 0
        for x in self.chunks():
            out.append(x[:m - got])
            got += len(out[-1])
            if got >= m:
                break
        return np.concatenate(out)

    def all(self) -> np.ndarray | None:
        return self._cache


class FromFile:
    """Rows of a .npy file (memory-mapped); `n_queries` random rows are held out as query sources."""

    def __init__(self, path: Path, n: int | None, n_queries: int, query_noise: float, normalise: bool,
                 seed: int, chunk: int, queries_file: Path | None):
        self.path, self.chunk, self.normalise = path, chunk, normalise
        self.data = np.load(path, mmap_mode="r")
        if self.data.ndim != 2 or self.data.dtype not in (np.float16, np.float32):
            raise SystemExit(f"{path}: expected a 2-D float16/float32 array, got {self.data.dtype} {self.data.shape}")
        rows, self.dim = self.data.shape
        rng = np.random.default_rng([seed, 3])
        if queries_file is not None:
            held = np.zeros(0, dtype=np.int64)
            q = np.asarray(np.load(queries_file, mmap_mode="r")[:n_queries], dtype=np.float32)
            if q.shape[1] != self.dim:
                raise SystemExit(f"{queries_file}: dim {q.shape[1]}, vectors have dim {self.dim}")
            self._queries = _normalise(q) if normalise else q
            source = f"{len(q)} rows of {queries_file.name}"
        else:
            held = np.sort(rng.choice(rows, size=min(n_queries, rows - 1), replace=False))
            src = self._prep(np.asarray(self.data[held], dtype=np.float32))
            scale = np.linalg.norm(src, axis=1, keepdims=True) / math.sqrt(self.dim)
            q = src + query_noise * scale * rng.standard_normal(src.shape).astype(np.float32)
            self._queries = (_normalise(q) if normalise else q).astype(np.float32)
            source = f"{len(held)} held-out rows + isotropic noise {query_noise} (relative to each row's norm)"
        keep = np.ones(rows, dtype=bool)
        keep[held] = False
        self.rows = np.flatnonzero(keep)
        if n is not None:
            self.rows = self.rows[:n]
        self.n = len(self.rows)
        self.query_source = source
        self.description = (f"{path.name}: {rows:,} rows of {self.data.dtype}, dim {self.dim}"
                            + (", L2-normalised" if normalise else ""))
        self._rng = rng

    def _prep(self, x: np.ndarray) -> np.ndarray:
        return _normalise(x).astype(np.float32) if self.normalise else np.ascontiguousarray(x, dtype=np.float32)

    def queries(self) -> np.ndarray:
        return self._queries

    def chunks(self):
        for lo in range(0, self.n, self.chunk):
            rows = self.rows[lo:lo + self.chunk]
            yield self._prep(np.asarray(self.data[rows[0]:rows[-1] + 1], dtype=np.float32)[rows - rows[0]])

    def sample(self, m: int) -> np.ndarray:
        if m >= self.n:
            return np.concatenate(list(self.chunks()))
        idx = np.sort(self._rng.choice(self.rows, size=m, replace=False))
        return self._prep(np.asarray(self.data[idx], dtype=np.float32))

    def all(self) -> np.ndarray | None:
        if self.n * self.dim * 4 > CACHE_BYTES:
            return None
        return np.concatenate(list(self.chunks()))


# ----------------------------------------------------------------------------- measuring


def index_bytes(index: faiss.Index, tmp_dir: str | None) -> int:
    fd, path = tempfile.mkstemp(suffix=".faiss", dir=tmp_dir)
    os.close(fd)
    try:
        faiss.write_index(index, path)
        return os.path.getsize(path)
    finally:
        os.unlink(path)


def recalls(found: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """Approximate results `found` against the exact ones (both [Q, k] ids; -1 never matches)."""
    k = exact.shape[1]

    def overlap(kk: int) -> float:
        kk = min(kk, k)
        hits = sum(int(np.isin(f[:kk], e[:kk]).sum()) for f, e in zip(found, exact, strict=True))
        return hits / (kk * len(exact))

    return {"recall@1": float(np.mean(found[:, 0] == exact[:, 0])), "recall@10": overlap(10),
            "recall@100": overlap(100),
            "nn_in_100": float(np.mean([e[0] in f[:100] for f, e in zip(found, exact, strict=True)]))}


class Bench:
    def __init__(self, source, args, result: dict, out: Path):
        self.src, self.args, self.result, self.out = source, args, result, out
        self.q = source.queries()
        self.k = min(args.k, source.n)
        self.exact: np.ndarray | None = None
        self.flat_bytes: int | None = None
        self.ivf_cache: dict[int, tuple[np.ndarray, float]] = {}
        self._sample: np.ndarray | None = None

    # -- helpers -----------------------------------------------------------------------------
    def sample(self) -> np.ndarray:
        if self._sample is None:
            self._sample = np.ascontiguousarray(self.src.sample(self.args.train_size))
        return self._sample

    def add(self, index: faiss.Index) -> float:
        t = time.perf_counter()
        for x in self.src.chunks():
            index.add(np.ascontiguousarray(x))
        return time.perf_counter() - t

    def search(self, index: faiss.Index) -> tuple[np.ndarray, np.ndarray, float]:
        t = time.perf_counter()
        scores, ids = index.search(self.q, self.k)
        return scores, ids, time.perf_counter() - t

    def row(self, name: str, family: str, params: dict, search: dict, train_s: float | None, add_s: float,
            nbytes: int, ids: np.ndarray, search_s: float) -> dict:
        r = {"name": name, "family": family, "params": params, "search": search,
             "train_s": None if train_s is None else round(train_s, 3),
             "add_s": None if train_s is None else round(add_s, 3),
             "build_s": round((train_s or 0.0) + add_s, 3),
             "bytes": nbytes, "bytes_per_vector": round(nbytes / self.src.n, 2),
             "memory_vs_flat": round(nbytes / self.flat_bytes, 4) if self.flat_bytes else None,
             "search_s": round(search_s, 4), "qps": round(len(self.q) / max(search_s, 1e-9), 1)}
        r.update({key: round(v, 4) for key, v in recalls(ids, self.exact).items()})
        small = r["memory_vs_flat"] is not None and r["memory_vs_flat"] <= MEMORY_TARGET
        r["meets_target"] = bool(small and r["recall@100"] >= RECALL_TARGET)
        r["meets_nn_target"] = bool(small and r["nn_in_100"] >= RECALL_TARGET)
        self.result["rows"].append(r)
        print(f"  {name:<28} {' '.join(f'{k}={v}' for k, v in search.items()):<14} build {r['build_s']:8.1f}s "
              f"{nbytes / 1e6:9.1f} MB  {r['qps']:10,.0f} q/s  R@1 {r['recall@1']:.3f}  R@100 {r['recall@100']:.3f}  "
              f"NN@100 {r['nn_in_100']:.3f}", flush=True)
        return r

    def save(self) -> None:
        atomic_write_json(self.out, self.result)

    def coarse(self, nlist: int) -> tuple[np.ndarray, float]:
        """Spherical k-means centroids for nlist lists (shared by the IVF indexes) and its seconds."""
        if nlist not in self.ivf_cache:
            t = time.perf_counter()
            x = self.sample()
            cp = faiss.ClusteringParameters()
            cp.niter = self.args.kmeans_iter
            cp.spherical = True
            cp.seed = self.args.seed
            clus = faiss.Clustering(self.src.dim, nlist, cp)
            q = faiss.IndexFlatIP(self.src.dim)
            clus.train(x, q)
            self.ivf_cache[nlist] = (faiss.vector_to_array(clus.centroids).reshape(nlist, self.src.dim),
                                     time.perf_counter() - t)
        return self.ivf_cache[nlist]

    # -- configurations ----------------------------------------------------------------------
    def flat(self) -> None:
        index = faiss.IndexFlatIP(self.src.dim)
        add_s = self.add(index)
        self.flat_bytes = index_bytes(index, self.args.tmp)
        scores, ids, s = self.search(index)
        self.exact = ids
        self.result["stats"] = {
            "top1_score": round(float(scores[:, 0].mean()), 4),
            "top10_score": round(float(scores[:, min(9, self.k - 1)].mean()), 4),
            "top100_score": round(float(scores[:, self.k - 1].mean()), 4),
            "random_pair_score": round(float(self._random_pairs()), 4),
            "note": "inner products; cosines when the vectors are L2-normalised",
        }
        self.row("flat", "flat", {}, {}, 0.0, add_s, self.flat_bytes, ids, s)

    def _random_pairs(self) -> float:
        x = next(iter(self.src.chunks()))[:4000]
        if len(x) < 2:
            return float("nan")
        half = len(x) // 2
        return float(np.mean(np.sum(x[:half] * x[half:2 * half], axis=1)))

    def hnsw(self) -> None:
        index = faiss.IndexHNSWFlat(self.src.dim, self.args.hnsw_m, IP)
        index.hnsw.efConstruction = self.args.hnsw_efc
        add_s = self.add(index)
        nbytes = index_bytes(index, self.args.tmp)
        for ef in self.args.hnsw_ef:
            index.hnsw.efSearch = ef
            _, ids, s = self.search(index)
            self.row(f"hnsw M={self.args.hnsw_m}", "hnsw",
                     {"m": self.args.hnsw_m, "ef_construction": self.args.hnsw_efc}, {"efSearch": ef},
                     0.0, add_s, nbytes, ids, s)

    def ivf(self, nlist: int, pq_m: int | None) -> None:
        centroids, coarse_s = self.coarse(nlist)
        quantizer = faiss.IndexFlatIP(self.src.dim)
        quantizer.add(centroids)
        if pq_m is None:
            index = faiss.IndexIVFFlat(quantizer, self.src.dim, nlist, IP)
            name, family, params = f"IVF{nlist},Flat", "ivfflat", {"nlist": nlist}
        else:
            index = faiss.IndexIVFPQ(quantizer, self.src.dim, nlist, pq_m, self.args.pq_bits, IP)
            name, family = f"IVF{nlist},PQ{pq_m}x{self.args.pq_bits}", "ivfpq"
            params = {"nlist": nlist, "pq_m": pq_m, "pq_bits": self.args.pq_bits}
        index.own_fields = False
        if pq_m is not None:
            index.pq.cp.max_points_per_centroid = max(39, self.args.pq_train_points >> self.args.pq_bits)
            index.pq.cp.niter = self.args.pq_iter
        t = time.perf_counter()
        if not index.is_trained:
            index.train(self.sample())  # the quantizer is trained: only the PQ codebooks train here
        train_s = coarse_s + time.perf_counter() - t
        params["train_size"] = len(self.sample())
        add_s = self.add(index)
        nbytes = index_bytes(index, self.args.tmp)
        for nprobe in self.args.nprobe:
            if nprobe > nlist:
                continue
            index.nprobe = nprobe
            _, ids, s = self.search(index)
            self.row(name, family, params, {"nprobe": nprobe}, train_s, add_s, nbytes, ids, s)
        del index, quantizer

    def factory(self, spec: str) -> None:
        index = faiss.index_factory(self.src.dim, spec, IP)
        t = time.perf_counter()
        if not index.is_trained:
            index.train(self.sample())
        train_s = time.perf_counter() - t
        add_s = self.add(index)
        nbytes = index_bytes(index, self.args.tmp)
        try:
            ivf = faiss.extract_index_ivf(index)
        except RuntimeError:
            ivf = None
        settings = [p for p in self.args.nprobe if p <= ivf.nlist] if ivf is not None else [None]
        for nprobe in settings:
            if nprobe is not None:
                ivf.nprobe = nprobe
            _, ids, s = self.search(index)
            self.row(spec, "factory", {"factory": spec, "train_size": len(self.sample())},
                     {"nprobe": nprobe} if nprobe else {}, train_s, add_s, nbytes, ids, s)

    def rom_default(self) -> None:
        """rom's own DenseIndex.build with its ivfpq config (conf/index/ivfpq.yaml)."""
        from rom_cli.retrieval.faiss_index import DenseIndex, _set_search_params

        x = self.src.all()
        if x is None:
            raise RuntimeError("needs the vectors in memory (DenseIndex.build takes one array)")
        cfg = rom_ivfpq_config()
        t = time.perf_counter()
        built = DenseIndex.build(x, cfg)
        build_s = time.perf_counter() - t
        nbytes = index_bytes(built.index, self.args.tmp)
        params = {k: v for k, v in built.params.items() if k != "nprobe"}
        for nprobe in sorted({int(built.params.get("nprobe", 1)), *self.args.nprobe}):
            if nprobe > built.params["nlist"]:
                continue
            _set_search_params(built.index, {"nprobe": nprobe})
            _, ids, s = self.search(built.index)
            tag = " (as configured)" if nprobe == int(built.params.get("nprobe", -1)) else ""
            self.row(f"rom DenseIndex ivfpq{tag}", "rom", {**params, "config": cfg}, {"nprobe": nprobe},
                     None, build_s, nbytes, ids, s)  # one call: train and add are not separable


def rom_ivfpq_config() -> dict:
    """index.* of `index=ivfpq` as rom composes it (schema defaults + conf/index/ivfpq.yaml)."""
    from omegaconf import OmegaConf

    from rom_cli.config.schema import IndexConfig

    cfg = OmegaConf.structured(IndexConfig)
    yaml = REPO / "conf" / "index" / "ivfpq.yaml"
    if yaml.is_file():
        cfg = OmegaConf.merge(cfg, OmegaConf.load(yaml))
    out = OmegaConf.to_container(cfg, resolve=True)
    out["type"] = str(getattr(out["type"], "value", out["type"]))
    return {k: out[k] for k in ("type", "ivf_nlist", "ivf_nprobe", "pq_m", "pq_bits")}


# ----------------------------------------------------------------------------- main


def auto_nlist(n: int) -> int:
    """A power of two near 4 sqrt(N), between 1,024 and 4,096, and at most N/39 (k-means needs points)."""
    target = 4 * math.sqrt(max(n, 1))
    nlist = 2 ** round(math.log2(max(target, 1)))
    nlist = min(max(nlist, 1024), 4096)
    while nlist > 1 and nlist * 39 > n:
        nlist //= 2
    return max(nlist, 1)


def machine(threads: int) -> dict:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(pkg: str) -> str | None:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity") else os.cpu_count(), "threads": threads,
            "faiss": faiss.__version__, "numpy": np.__version__, "torch": version("torch"),
            "python": platform.python_version(), "git_commit": commit}


def _ints(text: str) -> list[int]:
    return [int(v) for v in str(text).split(",") if v.strip()]


def parse_args(argv: list[str] | None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--n", type=int, default=None, help="database vectors (default 100,000; with --vectors: all rows)")
    ap.add_argument("--dim", type=int, default=384, help="synthetic dimension (default 384)")
    ap.add_argument("--vectors", type=Path, help="a .npy file [rows, dim] of float16/float32 encoder vectors")
    ap.add_argument("--queries-file", type=Path, help="a .npy file of real query vectors (with --vectors)")
    ap.add_argument("--normalize", action="store_true", help="L2-normalise --vectors rows and queries")
    ap.add_argument("--queries", type=int, default=1000, help="number of queries (default 1000)")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--centres", type=int, default=0, help="synthetic clusters (default N/50, 16..4096)")
    ap.add_argument("--spread", type=float, default=0.7, help="synthetic within-cluster spread (default 0.7)")
    ap.add_argument("--decay", type=float, default=0.5, help="synthetic spectrum decay exponent (default 0.5)")
    ap.add_argument("--mean-norm", type=float, default=0.4, help="synthetic shared mean direction (default 0.4)")
    ap.add_argument("--query-noise", type=float, default=0.6, help="query noise, relative (default 0.6)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None,
                    help="FAISS threads (default: OMP_NUM_THREADS, else all cores)")
    ap.add_argument("--configs", default="flat,hnsw,ivfflat,ivfpq,rom",
                    help="which of flat,hnsw,ivfflat,ivfpq,rom to run (flat always runs: it is the reference)")
    ap.add_argument("--nlist", default="auto", help="comma list of nlist values (default: ~4 sqrt(N), 1024-4096)")
    ap.add_argument("--nprobe", default="16,32,64,128", help="nprobe sweep (default 16,32,64,128)")
    ap.add_argument("--pq-m", default="48,96", help="PQ sub-quantizers for dim 384 (default 48,96)")
    ap.add_argument("--pq-bits", type=int, default=8)
    ap.add_argument("--hnsw-m", type=int, default=32)
    ap.add_argument("--hnsw-efc", type=int, default=40, help="HNSW efConstruction (default 40)")
    ap.add_argument("--hnsw-ef", default="64,128,256", help="HNSW efSearch sweep (default 64,128,256)")
    ap.add_argument("--factory", action="append", default=[],
                    help="also benchmark a faiss.index_factory string, e.g. OPQ96,IVF4096,PQ96 (repeatable)")
    ap.add_argument("--train-size", type=int, default=0,
                    help="training sample for IVF/PQ (default min(N, max(100k, 64 nlist), 256k))")
    ap.add_argument("--kmeans-iter", type=int, default=10, help="coarse k-means iterations (default 10)")
    ap.add_argument("--pq-train-points", type=int, default=32768,
                    help="points each PQ codebook trains on (default 32,768 = 128 per centroid at 8 bits)")
    ap.add_argument("--pq-iter", type=int, default=20, help="PQ k-means iterations (default 20)")
    ap.add_argument("--chunk", type=int, default=32768, help="vectors added per call (default 32,768)")
    ap.add_argument("--tmp", default=None, help="folder for the serialised indexes while measuring bytes")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/index-<N>.json)")
    args = ap.parse_args(argv)
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    bad = set(args.configs) - {"flat", "hnsw", "ivfflat", "ivfpq", "rom"}
    if bad:
        ap.error(f"unknown --configs {sorted(bad)}: expected flat, hnsw, ivfflat, ivfpq, rom")
    args.nprobe, args.pq_m, args.hnsw_ef = _ints(args.nprobe), _ints(args.pq_m), _ints(args.hnsw_ef)
    if args.queries_file and not args.vectors:
        ap.error("--queries-file needs --vectors")
    if args.n is not None and args.n < 1:
        ap.error("--n must be >= 1")
    return args, ap


def main(argv: list[str] | None = None) -> int:
    args, ap = parse_args(argv)
    threads = args.threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    t_all = time.perf_counter()
    if args.vectors:
        src = FromFile(args.vectors, args.n, args.queries, args.query_noise, args.normalize, args.seed,
                       args.chunk, args.queries_file)
        query_source = src.query_source
    else:
        n = args.n or 100_000
        centres = args.centres or min(4096, max(16, n // 50))
        src = Synthetic(n, args.dim, args.queries, centres, args.spread, args.query_noise, args.decay,
                        args.mean_norm, args.seed, args.chunk)
        query_source = "noisy copies of held-out vectors"
    gen_s = time.perf_counter() - t_all
    nlists = [auto_nlist(src.n)] if args.nlist == "auto" else _ints(args.nlist)
    nlists = [min(nl, max(1, src.n)) for nl in nlists]
    if not args.train_size:
        args.train_size = min(src.n, min(max(100_000, 64 * max(nlists)), 256_000))
    args.train_size = min(args.train_size, src.n)
    out = args.out or REPO / "benchmarks" / "results" / f"index-{src.n}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "name": f"index-{src.n}", "complete": False, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["python", "scripts/bench_index.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(threads), "n": src.n, "dim": src.dim, "k": min(args.k, src.n),
        "queries": len(src.queries()), "query_source": query_source,
        "vectors": {"source": str(args.vectors) if args.vectors else "synthetic", "description": src.description,
                    "generate_s": round(gen_s, 3)},
        "settings": {"nlist": nlists, "nprobe": args.nprobe, "pq_m": args.pq_m, "pq_bits": args.pq_bits,
                     "train_size": args.train_size, "kmeans_iter": args.kmeans_iter,
                     "pq_train_points": args.pq_train_points, "pq_iter": args.pq_iter, "hnsw_m": args.hnsw_m,
                     "hnsw_ef_construction": args.hnsw_efc, "hnsw_ef_search": args.hnsw_ef, "seed": args.seed,
                     "targets": {"memory_vs_flat_at_most": MEMORY_TARGET, "recall@100_at_least": RECALL_TARGET}},
        "rows": [],
    }
    bench = Bench(src, args, result, out)
    print(f"{src.n:,} vectors of dim {src.dim}, {len(src.queries()):,} queries, k={bench.k}, "
          f"{threads} thread(s); nlist {nlists}, training on {args.train_size:,}", flush=True)
    bench.flat()
    bench.save()
    jobs = []
    if "hnsw" in args.configs:
        jobs.append(("hnsw", bench.hnsw))
    for nlist in nlists:
        if "ivfflat" in args.configs:
            jobs.append((f"IVF{nlist},Flat", lambda nl=nlist: bench.ivf(nl, None)))
        if "ivfpq" in args.configs:
            for m in args.pq_m:
                if src.dim % m:
                    print(f"  skipping PQ{m}: dim {src.dim} is not a multiple of it", file=sys.stderr)
                    continue
                jobs.append((f"IVF{nlist},PQ{m}", lambda nl=nlist, m=m: bench.ivf(nl, m)))
    if "rom" in args.configs:
        jobs.append(("rom DenseIndex ivfpq", bench.rom_default))
    jobs += [(spec, lambda s=spec: bench.factory(s)) for spec in args.factory]
    for name, job in jobs:
        try:
            job()
        except (RuntimeError, MemoryError, ValueError) as ex:
            print(f"  {name}: failed: {ex}", file=sys.stderr, flush=True)
            result["rows"].append({"name": name, "error": f"{type(ex).__name__}: {str(ex)[:300]}"})
        bench.save()
    ok = [r for r in result["rows"] if not r.get("error")]
    for key in ("meets_target", "meets_nn_target"):
        best = max((r for r in ok if r.get(key)), key=lambda r: r["qps"], default=None)
        result[f"fastest_{key}"] = (None if best is None else
                                    {"name": best["name"], "search": best["search"], "qps": best["qps"],
                                     "memory_vs_flat": best["memory_vs_flat"], "recall@100": best["recall@100"],
                                     "nn_in_100": best["nn_in_100"]})
    result["total_s"] = round(time.perf_counter() - t_all, 1)
    result["complete"] = True
    bench.save()
    print()
    print(render(result))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
