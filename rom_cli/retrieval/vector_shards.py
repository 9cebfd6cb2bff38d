"""Passage vectors on disk: float16 shards, memory-mapped, one per contiguous slice of the corpus.

A Wikipedia-scale corpus is encoded the way DPR's `generate_dense_embeddings` and Tevatron do it:
shard i of N covers corpus rows [N_rows * i // N, N_rows * (i + 1) // N), so N processes, GPUs or
cluster jobs each encode one slice (`rom index index.num_shards=N index.shard=i`). A shard folder
`shards/shard-0000i-of-0000N/` holds `vectors.npy` (float16 [rows, dim], filled chunk by chunk
through a memory map, so memory stays at one chunk) and `meta.json`, written last. It is assembled
under a temporary name and renamed, so a killed job leaves no half shard, and a shard already
complete for the same encoder and corpus is not encoded again.

`ShardSet.open` gathers the shards of a folder and refuses, in one line, a missing, duplicate or
foreign (other encoder, other corpus, other shard count) one; it then reads like one [N, dim] matrix,
from which `DenseIndex.build` adds vectors chunk by chunk (peak memory: the index plus one chunk).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from rom_cli.atomic import staged_dir
from rom_cli.errors import RomError

SHARDS_DIR = "shards"
VECTORS = "vectors.npy"
META = "meta.json"
FORMAT = "rom-vector-shard"


def shard_name(shard: int, num_shards: int) -> str:
    return f"shard-{shard:05d}-of-{num_shards:05d}"


def shard_range(n: int, num_shards: int, shard: int) -> tuple[int, int]:
    """Rows [lo, hi) of shard `shard` of `num_shards` over n rows (contiguous, sizes differ by at most 1)."""
    return n * shard // num_shards, n * (shard + 1) // num_shards


def check_shard_args(num_shards, shard, key: str = "index") -> tuple[int, int]:
    from rom_cli.errors import ConfigError

    if not isinstance(num_shards, int) or num_shards < 1:
        raise ConfigError(f"{key}.num_shards", num_shards, "a positive number of shards")
    if not isinstance(shard, int) or not 0 <= shard < num_shards:
        raise ConfigError(f"{key}.shard", shard, f"a shard number from 0 to {num_shards - 1} (index.num_shards={num_shards})")
    return num_shards, shard


def corpus_descriptor(corpus) -> dict:
    """What identifies a corpus (an index or a shard must be of the same one): a passages TSV by its
    resolved path, size and modification time (hashing 13 GB is not an option); an in-memory corpus by a
    hash of its passage ids in order."""
    from rom_cli.data.dpr import TsvCorpus

    if isinstance(corpus, TsvCorpus):
        stat = corpus.path.stat()
        key = f"{corpus.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        return {"kind": "tsv", "path": str(corpus.path.resolve()), "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns, "passages": len(corpus),
                "fingerprint": hashlib.sha1(key.encode()).hexdigest()[:16]}
    digest = hashlib.sha1()
    for batch in corpus.batches(8192):
        digest.update("\n".join(p.id for p in batch).encode("utf-8"))
        digest.update(b"\n")
    return {"kind": "memory", "passages": len(corpus), "fingerprint": digest.hexdigest()[:16]}


def write_shard(out_dir: str | Path, num_shards: int, shard: int, corpus, corpus_info: dict, model, packer,
                max_len: int, batch_size: int, device, precision, fingerprint: str, console=None,
                extra: dict | None = None) -> tuple[Path, dict]:
    """Encode this shard's slice into `<out_dir>/shards/<name>/`; returns (folder, its meta). A complete
    shard of the same encoder and corpus is kept as is (meta["reused"] = True)."""
    from rom_cli.model.encode import encode_corpus

    check_shard_args(num_shards, shard)
    root = Path(out_dir) / SHARDS_DIR
    final = root / shard_name(shard, num_shards)
    existing = _read_meta(final)
    if (existing is not None and existing.get("fingerprint") == fingerprint
            and existing.get("corpus", {}).get("fingerprint") == corpus_info["fingerprint"]):
        return final, {**existing, "reused": True}
    lo, hi = shard_range(len(corpus), num_shards, shard)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".{final.name}.tmp-*"):  # left by a job killed while encoding this shard
        shutil.rmtree(stale, ignore_errors=True)
    with staged_dir(final, root / f".{final.name}.tmp-{os.getpid()}") as tmp:
        vectors = np.lib.format.open_memmap(tmp / VECTORS, mode="w+", dtype=np.float16,
                                            shape=(hi - lo, model.embedding_dim))
        _, stats = encode_corpus(model, packer, corpus, max_len, batch_size, device, precision,
                                 positions=range(lo, hi), out=vectors, console=console,
                                 label=f"encode shard {shard + 1}/{num_shards}")
        vectors.flush()
        del vectors
        meta = {"format": FORMAT, "shard": shard, "num_shards": num_shards, "rows": [lo, hi],
                "dim": int(model.embedding_dim), "dtype": "float16", "fingerprint": fingerprint,
                "corpus": corpus_info, "passages_per_s": stats["passages_per_s"], "seconds": stats["seconds"],
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **(extra or {})}
        (tmp / META).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return final, {**meta, "reused": False}


def _read_meta(folder: Path) -> dict | None:
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


class ShardSet:
    """All shards of an index folder, checked, read as one [N, dim] float16 matrix (memory-mapped)."""

    def __init__(self, metas: list[dict], arrays: list[np.ndarray]):
        self.metas, self.arrays = metas, arrays
        self.starts = np.asarray([m["rows"][0] for m in metas] + [metas[-1]["rows"][1]], dtype=np.int64)
        self.shape = (int(self.starts[-1]), int(metas[0]["dim"]))
        self.ndim = 2

    @property
    def fingerprint(self) -> str:
        return str(self.metas[0]["fingerprint"])

    @property
    def corpus(self) -> dict:
        return dict(self.metas[0]["corpus"])

    def __len__(self) -> int:
        return self.shape[0]

    @classmethod
    def open(cls, out_dir: str | Path, expected_fingerprint: str | None = None,
             corpus_info: dict | None = None, num_shards: int | None = None) -> ShardSet:
        root = Path(out_dir) / SHARDS_DIR
        where = f"index.merge in {Path(out_dir)}"
        folders = sorted(p for p in root.glob("shard-*") if p.is_dir()) if root.is_dir() else []
        metas = []
        for folder in folders:
            meta = _read_meta(folder)
            if meta is None or not (folder / VECTORS).is_file():
                raise RomError(f"{where}: {folder} is not a complete shard (no valid {META} or {VECTORS}): "
                               "expected shard folders written by `rom index index.num_shards=N index.shard=i`; "
                               "encode that shard again")
            if folder.name != shard_name(meta["shard"], meta["num_shards"]):
                raise RomError(f"{where}: {folder} holds shard {meta['shard']} of {meta['num_shards']}: expected "
                               f"the folder {shard_name(meta['shard'], meta['num_shards'])}")
            metas.append(meta)
        if not metas:
            raise RomError(f"{where}: no shards under {root}: expected the output of "
                           "`rom index ... index.num_shards=N index.shard=i` for every i first")
        counts = sorted({m["num_shards"] for m in metas})
        if len(counts) > 1 or (num_shards is not None and counts != [num_shards]):
            raise RomError(f"{where}: shards of different shard counts ({', '.join(map(str, counts))}"
                           + (f"; index.num_shards={num_shards}" if num_shards is not None else "")
                           + f") under {root}: expected one sharding; remove the other shard folders")
        total = counts[0]
        have = {m["shard"] for m in metas}
        missing = [i for i in range(total) if i not in have]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            raise RomError(f"{where}: missing {len(missing)} of {total} shards ({shown}): expected every shard; "
                           f"run `rom index ... index.num_shards={total} index.shard=i` for them")
        metas.sort(key=lambda m: m["shard"])
        ref = metas[0]
        for m in metas:
            for key, label in (("fingerprint", "encoder fingerprint"), ("dim", "vector width")):
                if m[key] != ref[key]:
                    raise RomError(f"{where}: shard {m['shard']} has another {label} ({m[key]}, shard 0: "
                                   f"{ref[key]}): expected shards of one checkpoint; encode it again")
            if m["corpus"].get("fingerprint") != ref["corpus"].get("fingerprint"):
                raise RomError(f"{where}: shard {m['shard']} was encoded from another corpus than shard 0: "
                               "expected shards of one corpus; encode it again")
        if expected_fingerprint is not None and ref["fingerprint"] != expected_fingerprint:
            raise RomError(f"{where}: the shards were encoded by another checkpoint (fingerprint "
                           f"{ref['fingerprint']}, this checkpoint {expected_fingerprint}): expected shards of "
                           "this checkpoint; encode them again")
        if corpus_info is not None and ref["corpus"].get("fingerprint") != corpus_info["fingerprint"]:
            raise RomError(f"{where}: the shards were encoded from another corpus ({ref['corpus'].get('passages')} "
                           f"passages) than this task's ({corpus_info['passages']} passages, or the file changed): "
                           "expected shards of this corpus; encode them again")
        n = int(ref["corpus"]["passages"])
        expected = [list(shard_range(n, total, i)) for i in range(total)]
        if [list(m["rows"]) for m in metas] != expected:
            raise RomError(f"{where}: the shards' row ranges do not tile the {n} passages: encode them again")
        arrays = [np.load(Path(root) / shard_name(m["shard"], total) / VECTORS, mmap_mode="r") for m in metas]
        for m, a in zip(metas, arrays, strict=True):
            if a.shape != (m["rows"][1] - m["rows"][0], ref["dim"]):
                raise RomError(f"{where}: shard {m['shard']} holds {a.shape} vectors, its meta says "
                               f"{m['rows']}: expected a complete shard; encode it again")
        return cls(metas, arrays)

    def __getitem__(self, key) -> np.ndarray:
        """Rows as a new float16 array: a slice (contiguous rows) or an ascending array of row numbers."""
        if isinstance(key, slice):
            lo, hi, step = key.indices(self.shape[0])
            if step != 1:
                raise ValueError("ShardSet slices must be contiguous")
            rows = np.arange(lo, hi)
        else:
            rows = np.asarray(key, dtype=np.int64)
        out = np.empty((len(rows), self.shape[1]), dtype=np.float16)
        which = np.searchsorted(self.starts, rows, side="right") - 1
        for s in np.unique(which):
            sel = which == s
            local = rows[sel] - self.starts[s]
            if len(local) and local[-1] - local[0] + 1 == len(local):  # contiguous: one slice read
                out[sel] = self.arrays[s][local[0]: local[-1] + 1]
            else:
                out[sel] = self.arrays[s][local]
        return out


def build_dense_index(model, packer, corpus, max_len: int, batch_size: int, device, precision, index_cfg,
                      console=None, scratch_dir: str | None = None):
    """Encode a corpus into a float16 memory-mapped scratch file and build the configured index from it:
    what evaluation does, in memory bounded by the index plus one chunk. Returns (DenseIndex, encode stats)."""
    from rom_cli.model.encode import encode_corpus
    from rom_cli.retrieval.faiss_index import DenseIndex

    if scratch_dir:
        Path(scratch_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rom-vectors-", dir=scratch_dir or None) as tmp:
        vectors = np.lib.format.open_memmap(Path(tmp) / VECTORS, mode="w+", dtype=np.float16,
                                            shape=(len(corpus), model.embedding_dim))
        _, stats = encode_corpus(model, packer, corpus, max_len, batch_size, device, precision, out=vectors,
                                 console=console)
        index = DenseIndex.build(vectors, index_cfg)
        del vectors
    return index, stats
