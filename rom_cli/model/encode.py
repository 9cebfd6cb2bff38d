"""Batch encoding of passages and questions into vectors for FAISS.

Passages are encoded in chunks (tokenised per chunk, never the whole corpus at once) and written
into a caller's array: an in-memory matrix for a small corpus or the live index, a float16
memory-mapped shard on disk for a large one (`rom_cli.retrieval.vector_shards`). Within a chunk, rows
are sorted by length before batching so that padding stays small; on a CPU that is the difference
between encoding near the bare forward-pass rate and far below it.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from rom_cli.model.inputs import Packer, TokenizedTexts
from rom_cli.model.passage_tokens import PassageEntry, tokenize_passages
from rom_cli.model.runtime import autocast

CHUNK = 8192  # passages tokenised and encoded per step of a corpus encoding


@torch.no_grad()
def _encode_sorted(model, role: str, lengths: list[int], make_batch, batch_size: int, device, precision,
                   out: np.ndarray, row0: int = 0, advance=None) -> None:
    """Encode len(lengths) inputs into out[row0: row0 + len(lengths)] (any float dtype)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    was_training = model.training
    model.eval()
    try:
        for lo in range(0, len(order), batch_size):
            idx = order[lo: lo + batch_size]
            batch = {k: v.to(device) for k, v in make_batch(idx).items()}
            with autocast(device, precision):
                vecs = model.embed(role, batch)
            out[row0 + idx] = vecs.float().cpu().numpy()
            if advance is not None:
                advance(len(idx))
    finally:
        model.train(was_training)


def encode_entries(model, packer: Packer, entries: list[PassageEntry], max_len: int, batch_size: int, device,
                   precision, out: np.ndarray, row0: int = 0, advance=None) -> None:
    """Encode tokenised passages into out[row0:]."""
    lengths = [min(max_len, len(e.title) + len(e.text) + 3) for e in entries]
    _encode_sorted(model, "passage", lengths,
                   lambda idx: packer.passages([entries[i].title for i in idx], [entries[i].text for i in idx], max_len),
                   batch_size, device, precision, out, row0, advance)


def encode_corpus(model, packer: Packer, corpus, max_len: int, batch_size: int, device, precision,
                  positions=None, out: np.ndarray | None = None, console=None, label: str = "encode passages",
                  chunk: int = CHUNK) -> tuple[np.ndarray, dict]:
    """Encode corpus[positions] (all passages when None) chunk by chunk into `out` (float32 in memory when
    None; pass a float16 memmap to stream to disk). Peak memory: `out` plus one chunk.

    Returns (out, stats with passages and passages/s)."""
    from rom_cli.console import tracked

    positions = range(len(corpus)) if positions is None else positions
    n = len(positions)
    if out is None:
        out = np.zeros((n, model.embedding_dim), dtype=np.float32)
    start = time.perf_counter()
    with tracked(console, label, n, "passages") as advance:
        for lo in range(0, n, chunk):
            entries = tokenize_passages(packer, [corpus[int(p)] for p in positions[lo: lo + chunk]], with_offsets=False)
            encode_entries(model, packer, entries, max_len, batch_size, device, precision, out, lo, advance)
    seconds = time.perf_counter() - start
    return out, {"passages": n, "seconds": seconds, "passages_per_s": n / max(seconds, 1e-9)}


def encode_queries(model, packer: Packer, tokenized: TokenizedTexts, max_len: int, batch_size: int,
                   device, precision) -> np.ndarray:
    lengths = [min(max_len, len(s) + 2) for s in tokenized.ids]
    out = np.zeros((len(lengths), model.embedding_dim), dtype=np.float32)
    _encode_sorted(model, "query", lengths, lambda idx: packer.queries([tokenized.ids[i] for i in idx], max_len),
                   batch_size, device, precision, out)
    return out
