"""Gradient caching (GradCache, Gao et al. 2021; Tevatron's `--grad_cache`): a contrastive batch larger than
the GPU holds, with the same loss and gradients as the plain computation.

1. Queries and passages are encoded in chunks of `grad_cache_chunk` rows *without* a graph; the vectors
   become leaves that require grad, and the contrastive loss is computed (and back-propagated) on them
   alone: that gives d loss / d vector for every row at the memory cost of the vectors.
2. `replay` encodes each chunk again, this time with a graph, and back-propagates the cached vector
   gradients through it, one chunk at a time; dropout sees the same random state as in step 1, so the
   vectors are the same ones the loss saw.
Peak activation memory is one chunk's, whatever the batch size.
"""

from __future__ import annotations

import torch


def _rng_state(device: torch.device):
    return torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def _set_rng_state(state, device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def _rows(batch: dict, lo: int, hi: int) -> dict:
    return {k: v[lo:hi] for k, v in batch.items()}


def encode_pair(model, queries: dict, passages: dict, chunk: int, device: torch.device):
    """(query vectors, passage vectors) as leaves requiring grad, and `replay(sync, amp)` for step 2:
    `sync(last)` is the DDP context of one chunk's backward (all-reduce on the last only), `amp()` the
    autocast context the vectors were computed under."""
    plan = []  # (role, lo, hi, random state before the chunk)
    parts = {"query": [], "passage": []}
    with torch.no_grad():
        for role, batch in (("query", queries), ("passage", passages)):
            n = batch["input_ids"].shape[0]
            for lo in range(0, n, chunk):
                plan.append((role, lo, min(lo + chunk, n), _rng_state(device)))
                parts[role].append(model("embed", role, _rows(batch, lo, min(lo + chunk, n))))
    q = torch.cat(parts["query"]).detach().requires_grad_()
    p = torch.cat(parts["passage"]).detach().requires_grad_()
    inputs = {"query": queries, "passage": passages}
    leaves = {"query": q, "passage": p}

    def replay(sync, amp) -> None:
        after = _rng_state(device)
        try:
            for k, (role, lo, hi, state) in enumerate(plan):
                grad = leaves[role].grad
                if grad is None:
                    continue
                _set_rng_state(state, device)
                with sync(k == len(plan) - 1):
                    with amp():
                        reps = model("embed", role, _rows(inputs[role], lo, hi))
                    reps.float().backward(grad[lo:hi])
        finally:
            _set_rng_state(after, device)

    return q, p, replay
