"""The entries of a mixture as plain data: which objective on which dataset, with what weight and level.

Shared by training (`rom_cli.training.mixture` builds objectives from them) and evaluation (`rom eval` of
a multi-dataset checkpoint evaluates every dataset), so evaluation needs nothing of the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from rom_cli.config.schema import TaskConfig, value_of
from rom_cli.errors import ConfigError


@dataclass
class Entry:
    name: str
    objective: object  # "ict" | "retrieval" | "reader" | {_target_: ..., **kwargs}
    data: object  # None | preset name | YAML path | task keys
    weight: float
    supervision: str | None
    dataset: str = ""  # the loaded dataset's name (its task.name)


def entries_of(cfg) -> list[Entry]:
    tasks, entries = cfg.mixture.tasks or {}, cfg.mixture.entries or {}
    if tasks and entries:
        raise ConfigError("mixture.entries", list(entries), "either mixture.tasks (objectives on the run's task) or "
                          "mixture.entries (objective, dataset pairs), not both; set mixture.tasks={}")
    if not entries:
        return [Entry(str(n), str(n), None, float(w), None) for n, w in tasks.items()]
    out = []
    for name, e in entries.items():
        objective = OmegaConf.to_container(e.objective) if OmegaConf.is_config(e.objective) else e.objective
        data = OmegaConf.to_container(e.data) if OmegaConf.is_config(e.data) else e.data
        level = None if e.supervision is None else value_of(e.supervision)
        if float(e.weight) < 0:
            raise ConfigError(f"mixture.entries.{name}.weight", e.weight, "a weight >= 0")
        out.append(Entry(str(name), objective, data, float(e.weight), level))
    return out


def task_presets() -> list[str]:
    return sorted(p.name[:-5] for p in (files("rom_cli.conf") / "task").iterdir() if p.name.endswith(".yaml"))


def task_config(cfg, entry: Entry) -> DictConfig:
    """The TaskConfig an entry's `data` names, type-checked. Empty, or the name of the run's `task`: the run's
    `task` itself, with the command line's overrides (`task.train_limit=...` applies to that dataset)."""
    if entry.data is None or (isinstance(entry.data, str) and entry.data == str(cfg.task.name)):
        return cfg.task
    key = f"mixture.entries.{entry.name}.data"
    if isinstance(entry.data, str):
        path = Path(entry.data).expanduser()
        if entry.data.endswith((".yaml", ".yml")):
            if not path.is_file():
                raise ConfigError(key, entry.data, "an existing YAML file of task keys")
            source = OmegaConf.load(path)
        else:
            preset = files("rom_cli.conf") / "task" / f"{entry.data}.yaml"
            if not preset.is_file():
                raise ConfigError(key, entry.data, f"a task preset ({', '.join(task_presets())}), a YAML file or task keys")
            source = OmegaConf.load(str(preset))
    elif isinstance(entry.data, dict):
        source = OmegaConf.create(entry.data)
    else:
        raise ConfigError(key, entry.data, "a task preset name, a YAML file or task keys")
    try:
        return OmegaConf.merge(OmegaConf.structured(TaskConfig), source)
    except OmegaConfBaseException as ex:
        raise ConfigError(key, entry.data, f"task keys of TaskConfig ({' '.join(str(ex).split())[:160]})") from None


def dataset_configs(cfg) -> dict[str, DictConfig]:
    """Dataset name -> its TaskConfig, for every dataset the mixture's entries read (the run's task first)."""
    out: dict[str, DictConfig] = {}
    for entry in entries_of(cfg):
        tc = task_config(cfg, entry)
        out.setdefault(str(tc.name), tc)
    return out
