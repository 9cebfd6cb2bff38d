"""The one device and precision that flow through training, encoding and evaluation.

Precision is a property of the hardware, not of the experiment: bf16 autocast is ~2.5x faster than
fp32 on CPUs with AVX512-BF16 or AMX and on Ampere+ GPUs, but 17-95x *slower* on CPUs without
native bf16 (AVX2-only EPYCs), where PyTorch emulates it. `precision=auto` (the default) therefore
picks bf16 only where the hardware runs it natively and fp32 elsewhere; fp16 (with a gradient
scaler in training) is for CUDA GPUs without bf16 (V100, T4).
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass

import numpy as np
import torch

from rom_cli.config.schema import value_of
from rom_cli.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name) -> torch.device:
    name = value_of(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device", name, "auto or cpu: no CUDA device is visible")
    return torch.device(name)


def cpu_bf16_native() -> tuple[bool, str]:
    """(whether this CPU runs bf16 matmuls natively, the evidence as text).

    Native means AVX512-BF16 or AMX *and* PyTorch's kernels dispatched at AVX512 (an
    `ATEN_CPU_CAPABILITY=avx2` override or an AVX2-only build emulates bf16 as slowly as an AVX2 CPU).
    """
    capability = str(torch.backends.cpu.get_cpu_capability())
    amx = bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
    avx512_bf16 = bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
    features = [name for name, has in (("AMX", amx), ("AVX512-BF16", avx512_bf16)) if has]
    if not features:
        return False, f"CPU kernels {capability}, no AVX512-BF16 or AMX"
    if not capability.startswith("AVX512"):
        return False, f"CPU has {'/'.join(features)} but PyTorch dispatches {capability} kernels"
    return True, f"CPU kernels {capability} with {'/'.join(features)}"


@dataclass(frozen=True)
class PrecisionChoice:
    requested: str  # what the config asked for (auto, fp32, bf16, fp16)
    precision: str  # what runs (fp32, bf16, fp16)
    reason: str  # why, in words (printed at start and recorded in metrics.json)

    def describe(self) -> str:
        how = "chosen by precision=auto" if self.requested == "auto" else "as configured"
        return f"{self.precision} ({how}: {self.reason})"


def resolve_precision(requested, device: torch.device, key: str = "trainer.precision") -> PrecisionChoice:
    """The precision to run on `device`: `auto` picks bf16 where it is native, else fp32.

    An explicit choice is honoured where it can run at all: fp16 needs CUDA, bf16 on a CUDA device
    needs bf16 support (`torch.cuda.is_bf16_supported()`). bf16 on a CPU without native support runs,
    slowly, and the reason says so."""
    requested = value_of(requested if requested is not None else "auto")
    if requested not in PRECISIONS:
        raise ConfigError(key, requested, f"one of {', '.join(PRECISIONS)}")
    if device.type == "cuda":
        bf16_ok = bool(torch.cuda.is_bf16_supported())
        name = torch.cuda.get_device_name(device)
        if requested == "auto":
            return PrecisionChoice(requested, "bf16" if bf16_ok else "fp32",
                                   f"{name} {'supports' if bf16_ok else 'lacks'} bf16"
                                   + ("" if bf16_ok else "; fp16 with a gradient scaler is an option"))
        if requested == "bf16" and not bf16_ok:
            raise ConfigError(key, requested, f"fp16 or fp32: {name} has no bf16 support")
        return PrecisionChoice(requested, requested, name)
    if requested == "fp16":
        raise ConfigError(key, requested, "fp32, bf16 or auto on a CPU (fp16 autocast is for CUDA GPUs)")
    native, evidence = cpu_bf16_native()
    if requested == "auto":
        return PrecisionChoice(requested, "bf16" if native else "fp32", evidence)
    if requested == "bf16" and not native:
        return PrecisionChoice(requested, requested, f"{evidence}: bf16 is emulated and 17-95x slower than fp32 "
                               "here; precision=auto would pick fp32")
    return PrecisionChoice(requested, requested, evidence)


def autocast(device: torch.device, precision) -> contextlib.AbstractContextManager:
    """bf16 / fp16 autocast on CPU or CUDA; a no-op for fp32."""
    dtype = _DTYPES.get(value_of(precision))
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, precision) -> torch.amp.GradScaler:
    """A loss scaler for fp16 (its gradients underflow without one); disabled (a pass-through) otherwise."""
    return torch.amp.GradScaler(device.type, enabled=value_of(precision) == "fp16")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def machine() -> dict:
    """What a timing depends on: CPU model and kernels, threads, GPU, library versions."""
    import platform

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    import os

    native, evidence = cpu_bf16_native()
    out = {"cpu": cpu, "cpu_count": os.cpu_count(), "cpu_capability": str(torch.backends.cpu.get_cpu_capability()),
           "cpu_bf16_native": native, "cpu_bf16_evidence": evidence, "torch_threads": torch.get_num_threads(),
           "torch": torch.__version__, "gpu": None}
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out
