"""Training objectives of the mixture: rom's own by name, and any `Objective` subclass by `_target_`."""

from __future__ import annotations

from rom_cli.errors import ConfigError
from rom_cli.tasks.base import Objective, TaskContext
from rom_cli.tasks.ict import IctObjective
from rom_cli.tasks.reader import ReaderObjective
from rom_cli.tasks.retrieval import RetrievalObjective

OBJECTIVES: dict[str, type[Objective]] = {
    "ict": IctObjective,
    "retrieval": RetrievalObjective,
    "reader": ReaderObjective,
}


def _external(entry: str, spec: dict, ctx: TaskContext, key: int) -> Objective:
    """`{_target_: my_pkg.MyObjective, **kwargs}` -> MyObjective(ctx, key, **kwargs), checked to be an Objective."""
    import importlib

    where = f"mixture.entries.{entry}.objective"
    target = spec.get("_target_")
    if not isinstance(target, str):
        raise ConfigError(where, spec, f"one of {', '.join(OBJECTIVES)} or {{_target_: module.Class, ...}}")
    try:
        module, _, attr = target.rpartition(".")
        cls = getattr(importlib.import_module(module), attr)
    except Exception as ex:  # an import error of the user's module, a misspelt name
        raise ConfigError(where, target, f"an importable class ({type(ex).__name__}: {' '.join(str(ex).split())[:120]})") from None
    if not (isinstance(cls, type) and issubclass(cls, Objective)):
        raise ConfigError(where, target, "a subclass of rom_cli.tasks.base.Objective")
    kwargs = {k: v for k, v in spec.items() if k != "_target_"}
    try:
        return cls(ctx, key, **kwargs)
    except TypeError as ex:
        raise ConfigError(where, spec, f"the keyword arguments {cls.__name__} takes ({ex})") from None


def build_objective(entry: str, spec, ctx: TaskContext, key: int) -> Objective:
    """The objective of one mixture entry; `key` seeds its example stream."""
    if isinstance(spec, dict):
        objective = _external(entry, spec, ctx, key)
    elif spec in OBJECTIVES:
        objective = OBJECTIVES[spec](ctx, key)
    else:
        where = f"mixture.tasks.{entry}" if entry == spec else f"mixture.entries.{entry}.objective"
        raise ConfigError(where, spec, f"one of {', '.join(OBJECTIVES)}")
    if objective.size() == 0:
        where = f"mixture.tasks.{entry}" if entry == spec else f"mixture.entries.{entry}"
        raise ConfigError(where, entry, f"a task with training examples at supervision level {ctx.level!r} (found none)")
    return objective


def build_objectives(ctx: TaskContext, names: list[str]) -> dict[str, Objective]:
    """rom's own objectives by name on one context (the one-dataset form)."""
    return {name: build_objective(name, name, ctx, key) for key, name in enumerate(names)}
