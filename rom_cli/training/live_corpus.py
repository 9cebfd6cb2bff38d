"""Which passages the live index of training covers.

REALM re-encodes its whole corpus at every refresh; at DPR's 21M passages that is hours per refresh
and gigabytes of vectors. Hard-negative mining and weak supervision only need the neighbourhood of the
training questions, so over a large corpus the live index covers a bounded, stated sub-corpus: every
passage the training questions name (gold passages first, then hard negatives) plus a seeded uniform
sample of the rest, `index.live_max_passages` in all. `index.live_corpus=full` keeps the whole corpus;
`auto` (the default) is full up to `live_max_passages` passages and bounded above. The choice is a
pure function of the config, the data and the seed, so a resumed run rebuilds the same sub-corpus.
"""

from __future__ import annotations

import numpy as np

from rom_cli.config.schema import value_of
from rom_cli.errors import ConfigError


def live_positions(index_cfg, corpus, questions, seed: int) -> tuple[np.ndarray | None, dict]:
    """(sorted corpus positions the live index covers, or None for the whole corpus; a summary for metrics.json)."""
    mode = value_of(index_cfg.live_corpus)
    limit = int(index_cfg.live_max_passages)
    if limit < 1:
        raise ConfigError("index.live_max_passages", limit, "a positive number of passages")
    n = len(corpus)
    if mode == "full" or (mode == "auto" and n <= limit):
        return None, {"mode": "full", "passages": n, "corpus_passages": n}
    named: dict[int, None] = {}  # insertion-ordered: gold passages first, then hard negatives
    for attr in ("gold_passage_ids", "hard_negative_ids"):
        for q in questions:
            for pid in getattr(q, attr):
                try:
                    named.setdefault(corpus.index_of(pid), None)
                except KeyError:
                    continue
    chosen = np.fromiter(named, dtype=np.int64, count=len(named))[:limit]
    rng = np.random.default_rng([int(seed), 0x11FE])
    want = min(limit, n) - len(chosen)
    sampled = np.zeros(0, dtype=np.int64)
    taken = set(chosen.tolist()) if want > 0 else set()
    while want > 0 and len(sampled) < want:
        draw = np.unique(rng.integers(0, n, size=2 * (want - len(sampled)) + 16))
        fresh = np.asarray([p for p in rng.permutation(draw).tolist() if p not in taken], dtype=np.int64)
        fresh = fresh[: want - len(sampled)]
        taken.update(fresh.tolist())
        sampled = np.concatenate([sampled, fresh])
    positions = np.sort(np.concatenate([chosen, sampled]))
    return positions, {"mode": "bounded", "passages": int(len(positions)), "named": int(len(chosen)),
                       "named_total": len(named), "sampled": int(len(sampled)), "corpus_passages": n,
                       "limit": limit}
