"""Batch encoding of passages and questions into numpy vectors for FAISS.

Rows are sorted by length before batching so that padding stays small; on a CPU that is the
difference between encoding near the bare forward-pass rate and far below it.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from rom_cli.model.inputs import Packer, TokenizedTexts
from rom_cli.model.runtime import autocast


class PassageTokens:
    """Title and text token ids (text with character offsets) of a whole corpus, tokenised once."""

    def __init__(self, packer: Packer, passages):
        passages = list(passages)
        self.ids = [p.id for p in passages]
        titles = packer.tokenize([p.title for p in passages])
        texts = packer.tokenize([p.text for p in passages], with_offsets=True)
        self.titles, self.texts, self.offsets = titles.ids, texts.ids, texts.offsets

    def __len__(self) -> int:
        return len(self.ids)


@torch.no_grad()
def _encode_sorted(model, role: str, lengths: list[int], make_batch, batch_size: int, device, precision,
                   advance=None) -> np.ndarray:
    order = np.argsort(-np.asarray(lengths), kind="stable")
    out = None
    was_training = model.training
    model.eval()
    try:
        for lo in range(0, len(order), batch_size):
            idx = order[lo: lo + batch_size]
            batch = {k: v.to(device) for k, v in make_batch(idx).items()}
            with autocast(device, precision):
                vecs = model.embed(role, batch)
            vecs = vecs.float().cpu().numpy()
            if out is None:
                out = np.zeros((len(order), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
            if advance is not None:
                advance(len(idx))
    finally:
        model.train(was_training)
    return out if out is not None else np.zeros((0, 1), dtype=np.float32)


def encode_passage_tokens(model, packer: Packer, tokens: PassageTokens, max_len: int, batch_size: int,
                          device, precision, advance=None) -> np.ndarray:
    lengths = [min(max_len, len(t) + len(x) + 3) for t, x in zip(tokens.titles, tokens.texts, strict=True)]
    return _encode_sorted(
        model, "passage", lengths,
        lambda idx: packer.passages([tokens.titles[i] for i in idx], [tokens.texts[i] for i in idx], max_len),
        batch_size, device, precision, advance,
    )


def encode_corpus(model, packer: Packer, corpus, max_len: int, batch_size: int, device, precision,
                  chunk: int = 8192, console=None) -> tuple[np.ndarray, dict]:
    """Encode any Corpus in chunks (a disk-backed corpus is never held in memory whole), with a progress
    bar on `console` when one is given.

    Returns the vectors and timing stats (passages/s)."""
    from rom_cli.console import tracked

    start = time.perf_counter()
    parts = []
    with tracked(console, "encode passages", len(corpus), "passages") as advance:
        for lo in range(0, len(corpus), chunk):
            passages = [corpus[i] for i in range(lo, min(lo + chunk, len(corpus)))]
            tokens = PassageTokens(packer, passages)
            parts.append(encode_passage_tokens(model, packer, tokens, max_len, batch_size, device, precision, advance))
    vectors = np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)
    seconds = time.perf_counter() - start
    return vectors, {"passages": len(corpus), "seconds": seconds, "passages_per_s": len(corpus) / max(seconds, 1e-9)}


def encode_queries(model, packer: Packer, tokenized: TokenizedTexts, max_len: int, batch_size: int,
                   device, precision) -> np.ndarray:
    lengths = [min(max_len, len(s) + 2) for s in tokenized.ids]
    return _encode_sorted(
        model, "query", lengths, lambda idx: packer.queries([tokenized.ids[i] for i in idx], max_len),
        batch_size, device, precision,
    )
