import numpy as np
import torch

from rom_cli.retrieval.fingerprint import fingerprint_state_dict


def test_same_weights_same_fingerprint_any_order():
    torch.manual_seed(0)
    m = torch.nn.Linear(4, 3)
    sd = m.state_dict()
    fp = fingerprint_state_dict(sd)
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert fingerprint_state_dict(dict(reversed(list(sd.items())))) == fp
    assert fingerprint_state_dict({k: v.clone() for k, v in sd.items()}) == fp


def test_different_weights_differ():
    torch.manual_seed(0)
    a = torch.nn.Linear(4, 3).state_dict()
    b = {k: v.clone() for k, v in a.items()}
    b["bias"][0] += 1e-3
    assert fingerprint_state_dict(a) != fingerprint_state_dict(b)
    assert fingerprint_state_dict(a) != fingerprint_state_dict({"renamed": a["weight"], "bias": a["bias"]})
    assert fingerprint_state_dict({"w": a["weight"]}) != fingerprint_state_dict(
        {"w": a["weight"].reshape(3, 4).T}
    )


def test_dtypes_and_numpy():
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    assert fingerprint_state_dict({"w": w}) != fingerprint_state_dict({"w": w.to(torch.bfloat16)})
    assert fingerprint_state_dict({"w": w.t()}) == fingerprint_state_dict({"w": w.t().contiguous()})
    fingerprint_state_dict({"x": torch.tensor(True), "e": torch.empty(0), "n": np.ones(3)})
