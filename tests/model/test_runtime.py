"""Precision follows the hardware: bf16 only where it is native, fp16 only on CUDA."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from rom_cli.errors import ConfigError
from rom_cli.model import runtime
from rom_cli.model.runtime import cpu_bf16_native, grad_scaler, resolve_precision

CPU = torch.device("cpu")


def fake_cpu(monkeypatch, capability: str, avx512_bf16: bool, amx: bool = False) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)


@pytest.mark.parametrize("capability,avx512_bf16,amx,expected", [
    ("AVX2", False, False, "fp32"),  # AMD EPYC with AVX2 only: bf16 is emulated, 17-95x slower
    ("AVX512", False, False, "fp32"),  # AVX512 without the bf16 extension
    ("AVX512", True, False, "bf16"),  # AVX512-BF16 (Zen 4/5, Cooper Lake)
    ("AVX512", False, True, "bf16"),  # AMX (Sapphire Rapids)
    ("AVX2", True, False, "fp32"),  # native bf16 hardware, but torch dispatches AVX2 kernels
])
def test_auto_picks_bf16_only_where_the_cpu_runs_it_natively(monkeypatch, capability, avx512_bf16, amx, expected):
    fake_cpu(monkeypatch, capability, avx512_bf16, amx)
    choice = resolve_precision("auto", CPU)
    assert choice.precision == expected and choice.requested == "auto"
    assert capability in choice.reason and expected in choice.describe()


def test_explicit_bf16_on_a_cpu_without_it_runs_and_says_it_is_slow(monkeypatch):
    fake_cpu(monkeypatch, "AVX2", False)
    choice = resolve_precision("bf16", CPU)
    assert choice.precision == "bf16" and "slower" in choice.reason and "fp32" in choice.reason
    assert resolve_precision("fp32", CPU).precision == "fp32"


def test_fp16_is_refused_on_cpu_naming_the_key():
    with pytest.raises(ConfigError, match=r"trainer.precision='fp16'.*CUDA"):
        resolve_precision("fp16", CPU)
    with pytest.raises(ConfigError, match="precision='half'"):
        resolve_precision("half", CPU, key="precision")


@pytest.mark.parametrize("bf16_ok,requested,expected", [
    (True, "auto", "bf16"), (False, "auto", "fp32"), (False, "fp16", "fp16"), (True, "fp32", "fp32"),
])
def test_cuda_choices(monkeypatch, bf16_ok, requested, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_ok)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "Tesla T4" if not bf16_ok else "H100")
    choice = resolve_precision(requested, torch.device("cuda"))
    assert choice.precision == expected
    if not bf16_ok and requested == "auto":
        assert "fp16" in choice.reason  # the way out is named


def test_bf16_on_a_cuda_device_without_it_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "Tesla V100")
    with pytest.raises(ConfigError, match="V100 has no bf16"):
        resolve_precision("bf16", torch.device("cuda"))


def test_grad_scaler_only_for_fp16():
    assert not grad_scaler(CPU, "fp32").is_enabled() and not grad_scaler(CPU, "bf16").is_enabled()
    assert grad_scaler(CPU, "fp16").is_enabled()


def test_an_avx2_kernel_override_really_resolves_to_fp32():
    """Not mocked: a process whose PyTorch dispatches AVX2 kernels (as on an AVX2-only EPYC) gets fp32."""
    code = ("import json, torch; from rom_cli.model.runtime import resolve_precision; "
            "c = resolve_precision('auto', torch.device('cpu')); print(json.dumps([c.precision, c.reason]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "ATEN_CPU_CAPABILITY": "avx2"})
    assert out.returncode == 0, out.stderr
    precision, reason = json.loads(out.stdout)
    assert precision == "fp32" and "AVX2" in reason


def test_machine_names_the_cpu_and_its_bf16_support():
    info = runtime.machine()
    assert info["cpu_capability"] == str(torch.backends.cpu.get_cpu_capability())
    assert info["cpu_bf16_native"] == cpu_bf16_native()[0] and info["torch"] == torch.__version__
