"""The run directory Hydra hands a command, written only once the command's checks have passed.

Hydra itself would write `.hydra/config.yaml`, `hydra.yaml` and `overrides.yaml` before the command
runs, so a refused command (`rom train hydra.run.dir=<a finished run of another encoder>`) would
overwrite the settings of the run it refused to touch, and `rom report` would show the wrong ones.
Every `conf/<command>.yaml` therefore sets `hydra.output_subdir: null`, and commands call
`save_job_config` at the point where they start to write results. A run directory that ends up
holding nothing but its command's log (a refused command, `rom ask`) is removed again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from omegaconf import OmegaConf

from rom_cli.atomic import atomic_write_text

HYDRA_SUBDIR = ".hydra"  # where Hydra would have written the job's config; `rom report` reads it there


def _hydra():
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def output_dir() -> Path | None:
    """The running Hydra job's output directory (None outside a Hydra job)."""
    hydra = _hydra()
    return None if hydra is None else Path(hydra.runtime.output_dir)


def save_job_config(cfg) -> Path | None:
    """Write `.hydra/{config,hydra,overrides}.yaml` of the running job, each atomically, and from now on
    copy the command's console output into `<run dir>/<command>.log`: the command has passed its checks."""
    from hydra.core.hydra_config import HydraConfig

    from rom_cli.console import attach_log

    hydra = _hydra()
    if hydra is None:
        return None
    run_dir = Path(hydra.runtime.output_dir)
    folder = run_dir / HYDRA_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "config.yaml", OmegaConf.to_yaml(cfg))
    atomic_write_text(folder / "hydra.yaml", OmegaConf.to_yaml(OmegaConf.create({"hydra": HydraConfig.instance().cfg.hydra})))
    atomic_write_text(folder / "overrides.yaml", OmegaConf.to_yaml(hydra.overrides.task))
    attach_log(run_dir / f"{hydra.job.name}.log")
    return folder


def holds_only_log(run_dir: Path, log_name: str) -> bool:
    """Whether `run_dir` holds nothing but the command's own log file."""
    try:
        entries = os.listdir(run_dir)
    except OSError:
        return False
    return set(entries) <= {log_name}


def discard_if_empty(run_dir: Path, log_name: str, command: str) -> bool:
    """Remove a run directory that holds nothing but its log, and the date folder above it when that
    is Hydra's default `outputs/<command>/<date>/` and now empty. Returns whether it was removed."""
    if not holds_only_log(run_dir, log_name):
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    parent = run_dir.parent
    if parent.parent.name == command:
        with contextlib.suppress(OSError):
            parent.rmdir()  # only when empty
    return not run_dir.exists()

