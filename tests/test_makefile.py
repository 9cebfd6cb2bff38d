"""`make install TORCH=...` (dry runs, nothing installed): cpu keeps PyPI's pinned torch, a CUDA variant comes from
the PyTorch index, and the choice is remembered for later `make test` / `make demo`."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(venv, *args: str) -> list[str]:
    out = subprocess.run(["make", "-n", "install", f"VENV={venv}", *args], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if "torch" in line]


def test_cpu_is_the_pinned_wheel_and_cuda_comes_from_the_pytorch_index(tmp_path):
    venv = tmp_path / "venv"
    assert dry_run(venv) == [f"{venv}/bin/python -m pip install --quiet torch==2.13.0", f"echo cpu > {venv}/.torch"]
    cuda = dry_run(venv, "TORCH=cu124")
    assert cuda[0] == (f"{venv}/bin/python -m pip install --quiet torch==2.13.0+cu124 "
                       "--index-url https://download.pytorch.org/whl/cu124")


def test_the_installed_variant_is_kept_and_another_reinstalls(tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".torch").write_text("cu126\n")
    (venv / ".installed-cu126").touch()  # newer than pyproject.toml: installed
    assert dry_run(venv) == []  # a later `make install` (or test, demo) keeps the CUDA build
    assert dry_run(venv, "TORCH=cpu")[0] == f"{venv}/bin/python -m pip install --quiet torch==2.13.0"
