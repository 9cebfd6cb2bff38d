"""A short, stable hash of encoder weights, stored with each index so a stale index is refused."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

DIGEST_CHARS = 16  # 64 bits: ample to tell checkpoints apart, short enough to print


def _tensor_parts(value: Any) -> tuple[str, str, bytes]:
    """(shape, dtype, raw bytes) of a torch tensor, numpy array or plain value."""
    if type(value).__module__.startswith("torch"):
        import torch  # lazy: fingerprinting numpy state needs no torch

        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
            return str(tuple(t.shape)), str(t.dtype), raw
    if isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value)
        return str(a.shape), str(a.dtype), a.tobytes()
    return "()", type(value).__name__, repr(value).encode()


def fingerprint_state_dict(state_dict: Mapping[str, Any]) -> str:
    """Hex sha256 (first 16 chars) over sorted names, shapes, dtypes and bytes of every entry.

    Equal weights give equal fingerprints whatever the device or insertion order.
    """
    h = hashlib.sha256()
    for name in sorted(state_dict):
        shape, dtype, raw = _tensor_parts(state_dict[name])
        for part in (name.encode(), shape.encode(), dtype.encode(), len(raw).to_bytes(8, "little")):
            h.update(part)
            h.update(b"\0")
        h.update(raw)
    return h.hexdigest()[:DIGEST_CHARS]
