"""Training objectives of the mixture, by the names `mixture.tasks` uses."""

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


def build_objectives(ctx: TaskContext, names: list[str]) -> dict[str, Objective]:
    out = {}
    for key, name in enumerate(names):
        if name not in OBJECTIVES:
            raise ConfigError(f"mixture.tasks.{name}", name, f"one of {', '.join(OBJECTIVES)}")
        out[name] = OBJECTIVES[name](ctx, key)
        if out[name].size() == 0:
            raise ConfigError(f"mixture.tasks.{name}", name,
                              f"a task with training examples at supervision level {ctx.level!r} (found none)")
    return out
