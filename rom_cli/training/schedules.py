"""Task samplers: which task(s) the batch of a given step comes from, one class per schedule.

Every draw is a pure function of (seed, step): step s uses `np.random.default_rng([seed, s])`.
A run resumed at step s therefore continues the identical task sequence without saving any
sampler state, and a sampler can be asked about any step in any order.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rom_cli.errors import ConfigError, RomError

log = logging.getLogger(__name__)


def _get(cfg: Any, key: str, default: Any = None) -> Any:
    if isinstance(cfg, Mapping):
        value = cfg.get(key, default)
    else:
        value = getattr(cfg, key, default)
    return getattr(value, "value", value)  # ScheduleName enum -> its string


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The generator for one step; negative seeds are folded into 64 bits."""
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return np.random.default_rng([int(seed) & (2**64 - 1), int(step)])


class Sampler:
    """Base: subclasses set `probabilities` and `tasks_for_step`; loss weights are 1 unless joint."""

    name = "base"

    def __init__(self, tasks: Sequence[str], seed: int):
        self.tasks = list(tasks)
        self.seed = int(seed)

    def tasks_for_step(self, step: int) -> list[str]:
        raise NotImplementedError

    def probabilities(self, step: int) -> dict[str, float]:
        raise NotImplementedError

    def loss_weight(self, task: str) -> float:
        return 1.0


class RoundRobinSampler(Sampler):
    """tasks[step % K]: one batch from each task in turn."""

    name = "round_robin"

    def tasks_for_step(self, step: int) -> list[str]:
        return [self.tasks[step % len(self.tasks)]]

    def probabilities(self, step: int) -> dict[str, float]:
        return {t: 1.0 / len(self.tasks) for t in self.tasks}


class CategoricalSampler(Sampler):
    """A fixed distribution p over tasks, drawn independently at every step."""

    def __init__(self, tasks: Sequence[str], seed: int, probs: Sequence[float], name: str):
        super().__init__(tasks, seed)
        p = np.asarray(probs, dtype=np.float64)
        self.p = p / p.sum()
        self._cum = np.cumsum(self.p)
        self.name = name

    def tasks_for_step(self, step: int) -> list[str]:
        u = step_rng(self.seed, step).random() * self._cum[-1]
        i = int(np.searchsorted(self._cum, u, side="right"))
        return [self.tasks[min(i, len(self.tasks) - 1)]]

    def probabilities(self, step: int) -> dict[str, float]:
        return {t: float(p) for t, p in zip(self.tasks, self.p, strict=True)}


class SequentialSampler(Sampler):
    """Phases of (tasks, steps), round robin inside a phase; the last phase runs to the end."""

    name = "sequential"

    def __init__(self, tasks: Sequence[str], seed: int, phases: list[tuple[list[str], int]]):
        super().__init__(tasks, seed)
        self.phases = phases
        self.starts = np.cumsum([0] + [s for _, s in phases[:-1]]).tolist()  # first step of each phase

    def phase_at(self, step: int) -> int:
        """Index of the phase active at `step`."""
        return int(np.searchsorted(self.starts, step, side="right")) - 1

    def tasks_for_step(self, step: int) -> list[str]:
        j = self.phase_at(step)
        active = self.phases[j][0]
        return [active[(step - self.starts[j]) % len(active)]]

    def probabilities(self, step: int) -> dict[str, float]:
        active = self.phases[self.phase_at(step)][0]
        return {t: (1.0 / len(active) if t in active else 0.0) for t in self.tasks}


class JointSampler(Sampler):
    """Every step uses one batch of every task with a non-zero weight; losses are weighted."""

    name = "joint"

    def __init__(self, tasks: Sequence[str], seed: int, weights: Mapping[str, float]):
        super().__init__(tasks, seed)
        self.weights = {t: float(weights[t]) for t in self.tasks}
        self._total = sum(self.weights.values())

    def tasks_for_step(self, step: int) -> list[str]:
        return [t for t in self.tasks if self.weights[t] > 0]

    def probabilities(self, step: int) -> dict[str, float]:
        return {t: w / self._total for t, w in self.weights.items()}

    def loss_weight(self, task: str) -> float:
        return self.weights[task]


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and bool(np.isfinite(x))


def _check_weights(
    weights: Mapping[str, float], tasks: list[str], key: str, strict: bool
) -> dict[str, float]:
    """Every task has a finite weight >= 0 and the sum is > 0; `strict`: no names beyond `tasks`
    (the mixture's own weights may name tasks the caller left out, e.g. for the supervision level)."""
    known = ", ".join(tasks)
    for name in weights:
        if strict and name not in tasks:
            raise ConfigError(f"{key}.{name}", weights[name], f"a task of the mixture ({known})")
    missing = [t for t in tasks if t not in weights]
    if missing:
        raise ConfigError(
            key,
            dict(weights),
            f"a weight for every mixture task ({known}); missing "
            f"{', '.join(missing)} (give 0 to skip a task)",
        )
    out = {}
    for t in tasks:
        w = weights[t]
        if not _is_number(w) or w < 0:
            raise ConfigError(f"{key}.{t}", w, "a finite number >= 0")
        out[t] = float(w)
    if sum(out.values()) <= 0:
        raise ConfigError(key, out, "weights with a positive sum")
    return out


def _check_sizes(sizes: Mapping[str, int], tasks: list[str], schedule: str) -> list[int]:
    out = []
    for t in tasks:
        if t not in sizes:
            raise RomError(f"schedule {schedule}: no training-example count for task {t!r}")
        if sizes[t] <= 0:
            raise RomError(
                f"schedule {schedule}: task {t!r} has {sizes[t]} training examples: "
                "expected > 0 (drop it from the mixture or use another schedule)"
            )
        out.append(int(sizes[t]))
    return out


def _phases(cfg: Any, tasks: list[str], max_steps: int) -> list[tuple[list[str], int]]:
    raw = list(_get(cfg, "phases") or [])
    if not raw:  # one phase per task, max_steps split evenly, remainder to the last
        base = max_steps // len(tasks)
        steps = [base] * (len(tasks) - 1) + [max_steps - base * (len(tasks) - 1)]
        return [([t], s) for t, s in zip(tasks, steps, strict=True) if s > 0] or [([tasks[-1]], 1)]
    phases = []
    for j, ph in enumerate(raw):
        names = [str(t) for t in (_get(ph, "tasks") or [])]
        steps = _get(ph, "steps", 0)
        if not names:
            raise ConfigError(
                f"schedule.phases[{j}].tasks",
                names,
                f"a non-empty list of mixture tasks ({', '.join(tasks)})",
            )
        for t in names:
            if t not in tasks:
                raise ConfigError(
                    f"schedule.phases[{j}].tasks", t, f"a task of the mixture ({', '.join(tasks)})"
                )
        last = j == len(raw) - 1
        if (
            isinstance(steps, bool)
            or not isinstance(steps, numbers.Integral)
            or steps < 0
            or (steps == 0 and not last)
        ):
            raise ConfigError(
                f"schedule.phases[{j}].steps",
                steps,
                "an integer > 0 (0 is allowed only for the last phase, which runs to the end)",
            )
        phases.append((names, max(int(steps), 1)))
    planned = sum(s for _, s in phases[:-1])
    if planned >= max_steps:
        log.warning(
            "schedule.phases: the phases before the last take %d steps >= trainer.max_steps=%d; "
            "later phases never run",
            planned,
            max_steps,
        )
    return phases


def build_sampler(
    cfg: Any,
    tasks: Sequence[str],
    sizes: Mapping[str, int],
    weights: Mapping[str, float],
    seed: int,
    max_steps: int,
) -> Sampler:
    """Build the sampler named by `cfg.name` (ScheduleConfig dataclass, DictConfig or dict).

    `tasks` is the mixture's task order, `sizes` its training-example counts (proportional /
    temperature only), `weights` the mixture weights (joint loss weights; specified fallback).
    """
    tasks = [str(t) for t in tasks]
    if not tasks:
        raise ConfigError("mixture.tasks", {}, "at least one task")
    if len(set(tasks)) != len(tasks):
        raise ConfigError("mixture.tasks", tasks, "distinct task names")
    name = str(_get(cfg, "name"))
    if name == "round_robin":
        return RoundRobinSampler(tasks, seed)
    if name == "uniform":
        return CategoricalSampler(tasks, seed, [1.0] * len(tasks), name)
    if name == "proportional":
        return CategoricalSampler(tasks, seed, _check_sizes(sizes, tasks, name), name)
    if name == "temperature":
        temp, cap = _get(cfg, "temperature"), _get(cfg, "cap")
        if not _is_number(temp) or temp <= 0:
            raise ConfigError("schedule.temperature", temp, "a finite number > 0")
        if cap is not None and (not isinstance(cap, numbers.Integral) or isinstance(cap, bool) or cap <= 0):
            raise ConfigError("schedule.cap", cap, "null (no cap) or an integer > 0")
        n = np.asarray(_check_sizes(sizes, tasks, name), dtype=np.float64)
        if cap is not None:
            n = np.minimum(n, cap)
        # in log space so that huge sizes with tiny T do not overflow
        logits = np.log(n) / float(temp)
        return CategoricalSampler(tasks, seed, np.exp(logits - logits.max()), name)
    if name == "specified":
        own = dict(_get(cfg, "weights") or {})
        w = (
            _check_weights(own, tasks, "schedule.weights", strict=True)
            if own
            else _check_weights(dict(weights), tasks, "mixture.tasks", strict=False)
        )
        return CategoricalSampler(tasks, seed, [w[t] for t in tasks], name)
    if name == "sequential":
        return SequentialSampler(tasks, seed, _phases(cfg, tasks, max_steps))
    if name == "joint":
        return JointSampler(tasks, seed, _check_weights(dict(weights), tasks, "mixture.tasks", strict=False))
    raise ConfigError(
        "schedule.name",
        name,
        "one of round_robin, proportional, temperature, uniform, specified, sequential, joint",
    )
