"""Experiment tracking: one interface over TensorBoard, Weights & Biases and MLflow (`logger=...`).

The trainer hands every record it appends to metrics.jsonl to `RunLogger.log_event` (losses per task,
learning rate, task probabilities, index refreshes, checkpoint selections), the resolved config to
`log_text` when it starts, and the step-0 and final evaluations to `log_metrics` when it ends, so a
tracker shows what the run directory holds and nothing else. Only rank 0 logs.

The trackers are optional packages: selecting one that is not installed fails before training with
one line naming the package. Nothing needs a network: W&B runs offline and MLflow writes a file store
inside the run directory unless told otherwise. A backend opens on its first write, so a run that is
refused (a resume that does not fit) leaves no tracker files behind.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from pathlib import Path

from omegaconf import OmegaConf

from rom_cli.config.schema import value_of
from rom_cli.errors import RomError

DEFAULT_DIRS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlruns"}
EXTRAS = {"tensorboard": ("tensorboard", "tracking"), "wandb": ("wandb", "wandb"), "mlflow": ("mlflow", "mlflow")}


def flatten(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested dicts as {"a/b/c": value}; strings, lists, None and booleans are left out."""
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten(value, name))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def event_metrics(record: dict) -> dict[str, float]:
    """The scalars of one metrics.jsonl record, named `<event>/<key>` (`train/...` for the step records); a
    selection's value is named by its metric (`select/end_to_end.top1.em`)."""
    event = str(record.get("event", "train"))
    body = {k: v for k, v in record.items() if k not in ("step", "event")}
    if event == "select" and "metric" in body and "value" in body:
        body[str(body.pop("metric"))] = body.pop("value")
    return flatten(body, event)


class RunLogger:
    """No tracking (`logger=none`, and every rank but 0); the interface the trackers implement."""

    def log_metrics(self, step: int, metrics: dict) -> None:
        """Scalars of a (nested) dict at `step`, named by their dotted path with '/'."""

    def log_event(self, record: dict) -> None:
        """One metrics.jsonl record (it carries its step)."""
        self.log_metrics(int(record.get("step", 0) or 0), event_metrics(record))

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """A text (the resolved config) under `name`."""

    def close(self, failed: bool = False) -> None:
        """Flush and end the run; `failed`: it ended with an exception. Calling it twice is harmless."""


class TensorBoardLogger(RunLogger):
    """Event files through torch.utils.tensorboard.SummaryWriter, flushed after every write (a killed run
    keeps what it logged). A resumed run hides the events after the step it resumes from (`purge_step`),
    as metrics.jsonl drops its lines after that step."""

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.writer = None

    def _open(self, step: int):
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.log_dir), purge_step=step + 1 if step > 0 else None)
        return self.writer

    def log_metrics(self, step: int, metrics: dict) -> None:
        writer = self._open(step)
        for tag, value in flatten(metrics).items():
            writer.add_scalar(tag, value, step)
        writer.flush()

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        writer = self._open(step)
        writer.add_text(name, "".join(f"    {line}\n" for line in text.splitlines()), step)  # preformatted
        writer.flush()

    def close(self, failed: bool = False) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class WandbLogger(RunLogger):
    """A W&B run (offline unless `logger.offline=false`) in `dir`, with the resolved config as its config;
    the run id is derived from the run directory, so a resumed run continues the same W&B run. W&B wants
    steps in increasing order: metrics of an earlier step (the step-0 evaluation, logged at the end) go to
    the run summary as `<name>@step<N>`."""

    def __init__(self, wandb, lcfg, config: dict, run_dir: Path, log_dir: Path):
        self.wandb, self.lcfg, self.config, self.run_dir, self.log_dir = wandb, lcfg, config, run_dir, log_dir
        self.run = None
        self.last_step = -1

    def _open(self):
        if self.run is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.run = self.wandb.init(
                project=str(self.lcfg.project), name=run_name(self.lcfg, self.run_dir), dir=str(self.log_dir),
                config=self.config, id=run_id(self.run_dir), resume="allow",
                mode="offline" if self.lcfg.offline else None,
            )
        return self.run

    def log_metrics(self, step: int, metrics: dict) -> None:
        run, flat = self._open(), flatten(metrics)
        if step < self.last_step:
            run.summary.update({f"{k}@step{step}": v for k, v in flat.items()})
            return
        self.last_step = step
        run.log(flat, step=step)

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        self._open().summary[name] = text

    def close(self, failed: bool = False) -> None:
        if self.run is not None:
            self.run.finish(exit_code=1 if failed else 0)
            self.run = None


class MlflowLogger(RunLogger):
    """An MLflow run through `MlflowClient` (no global active run, so the jobs of a sweep in one process
    do not share one): the flattened config as parameters, the metrics, the config as an artifact. The
    store is `logger.tracking_uri`, by default a file store in `dir` (a file:// URI)."""

    BAD_CHARS = re.compile(r"[^\w\-. /]")  # MLflow names: alphanumerics, _ - . space /

    def __init__(self, mlflow, lcfg, config: dict, run_dir: Path, log_dir: Path):
        self.mlflow, self.lcfg, self.config, self.run_dir, self.log_dir = mlflow, lcfg, config, run_dir, log_dir
        self.client = self.run_id = None

    def _open(self):
        if self.client is None:
            from mlflow.entities import Param

            uri = self.lcfg.tracking_uri or self.log_dir.resolve().as_uri()
            if uri.startswith("file:"):
                self.log_dir.mkdir(parents=True, exist_ok=True)
                # MLflow 3 keeps its file store but refuses it unless asked: here it is the point (no server)
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            self.client = self.mlflow.tracking.MlflowClient(tracking_uri=uri)
            experiment = self.client.get_experiment_by_name(str(self.lcfg.project))
            experiment_id = (experiment.experiment_id if experiment is not None
                             else self.client.create_experiment(str(self.lcfg.project)))
            self.run_id = self.client.create_run(experiment_id, run_name=run_name(self.lcfg, self.run_dir)).info.run_id
            params = [Param(self._name(k), str(v)[:500]) for k, v in _flat_config(self.config).items()]
            for lo in range(0, len(params), 100):  # MLflow takes at most 100 parameters per batch
                self.client.log_batch(self.run_id, params=params[lo: lo + 100])
        return self.client

    def _name(self, key: str) -> str:
        return self.BAD_CHARS.sub("_", key)

    def log_metrics(self, step: int, metrics: dict) -> None:
        import time

        from mlflow.entities import Metric

        client, now = self._open(), int(time.time() * 1000)
        rows = [Metric(self._name(k), v, now, step) for k, v in flatten(metrics).items() if not math.isnan(v)]
        for lo in range(0, len(rows), 1000):
            client.log_batch(self.run_id, metrics=rows[lo: lo + 1000])

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        self._open().log_text(self.run_id, text, f"{self._name(name)}.yaml")

    def close(self, failed: bool = False) -> None:
        if self.client is not None:
            self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")
            self.client = None


def _flat_config(config: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(_flat_config(value, name))
        else:
            out[name] = value
    return out


def run_name(lcfg, run_dir: Path) -> str:
    return str(lcfg.run_name) if lcfg.run_name else "/".join(Path(run_dir).resolve().parts[-2:])


def run_id(run_dir: Path) -> str:
    """A stable id per run directory (a resumed run logs into the same tracker run)."""
    return hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:16]


def _import(name: str):
    """The tracker's package, or one line naming it and how to install it."""
    import importlib

    package, extra = EXTRAS[name]
    try:
        return importlib.import_module("torch.utils.tensorboard" if name == "tensorboard" else package)
    except ImportError as ex:
        raise RomError(f"logger={name}: the {package} package is not installed ({ex.__class__.__name__}: "
                       f"{' '.join(str(ex).split())[:100]}): expected `pip install 'rom-cli[{extra}]'` "
                       "(or logger=none)") from None


def build_logger(cfg, run_dir: Path) -> RunLogger:
    """The tracker `cfg.logger` selects for a training run in `run_dir` (`cfg`: the whole train config)."""
    lcfg = cfg.logger
    name = value_of(lcfg.name)
    if name == "none":
        return RunLogger()
    module = _import(name)
    log_dir = Path(lcfg.dir) if lcfg.dir else Path(run_dir) / DEFAULT_DIRS[name]
    if name == "tensorboard":
        return TensorBoardLogger(log_dir)
    config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    if name == "wandb":
        return WandbLogger(module, lcfg, config, Path(run_dir), log_dir)
    return MlflowLogger(module, lcfg, config, Path(run_dir), log_dir)
