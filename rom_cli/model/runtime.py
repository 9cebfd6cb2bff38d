"""The one device and precision that flow through training, encoding and evaluation."""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch

from rom_cli.config.schema import value_of
from rom_cli.errors import ConfigError


def resolve_device(name) -> torch.device:
    name = value_of(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device", name, "auto or cpu: no CUDA device is visible")
    return torch.device(name)


def autocast(device: torch.device, precision) -> contextlib.AbstractContextManager:
    """bf16 autocast on CPU or CUDA when precision is bf16; a no-op otherwise."""
    if value_of(precision) != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
