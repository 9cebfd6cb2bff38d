"""PNG plots for `rom report`: the chosen metric against each swept parameter, and training curves.

matplotlib runs on the Agg backend (no display needed). Curves come from each run's
`metrics.jsonl` step lines: `losses` holds the loss of each task trained at that step and
`probabilities` the schedule's sampling probability of every task. Files are written beside their
final name and renamed, like every other output.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "param"


def _save(fig, path: Path) -> Path:
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _as_numbers(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def plot_metric_vs_params(report, out_dir: Path) -> list[Path]:
    """One figure per swept parameter; one line per combination of the other swept parameters."""
    written = []
    runs = [r for r in report.runs if r.values.get(report.metric) is not None]
    for param in report.swept:
        values = sorted({r.overrides.get(param, "") for r in runs})
        numeric = _as_numbers(values)
        order = sorted(values, key=lambda v: float(v)) if numeric is not None else values
        position = {v: (float(v) if numeric is not None else i) for i, v in enumerate(order)}
        others = [k for k in report.swept if k != param]
        lines = defaultdict(list)
        for r in runs:
            label = ", ".join(f"{k}={r.overrides.get(k, '')}" for k in others) or report.metric
            lines[label].append((position[r.overrides.get(param, "")], r.values[report.metric]))
        fig, ax = plt.subplots(figsize=(6, 4))
        for label, points in sorted(lines.items()):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        if numeric is None:
            ax.set_xticks(range(len(order)), order, rotation=20)
        ax.set_xlabel(param)
        ax.set_ylabel(report.metric)
        ax.set_title(f"{report.metric} vs {param}")
        ax.grid(alpha=0.3)
        if len(lines) > 1 or others:
            ax.legend(fontsize=7)
        written.append(_save(fig, out_dir / f"metric_vs_{_safe(param)}.png"))
    return written


def read_log(path: Path) -> list[dict]:
    """Step records of a metrics.jsonl (index-refresh events and broken lines are skipped)."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "step" in rec and "event" not in rec:
            records.append(rec)
    return records


def _curves(runs, field: str) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """task -> run name -> [(step, value)]."""
    out: dict = defaultdict(lambda: defaultdict(list))
    for r in runs:
        if r.log is None:
            continue
        for rec in read_log(r.log):
            for task, value in (rec.get(field) or {}).items():
                if isinstance(value, (int, float)):
                    out[task][r.name].append((int(rec["step"]), float(value)))
    return out


def _plot_per_task(curves, ylabel: str, title: str, path: Path) -> Path | None:
    if not curves:
        return None
    tasks = sorted(curves)
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for name, points in sorted(curves[task].items()):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 30 else None,
                    label=name)
        ax.set_title(task)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def plot_training_curves(runs, out_dir: Path) -> list[Path]:
    written = [
        _plot_per_task(_curves(runs, "losses"), "loss", "training loss per task", out_dir / "training_loss.png"),
        _plot_per_task(_curves(runs, "probabilities"), "probability", "task sampling probability",
                       out_dir / "task_probabilities.png"),
    ]
    return [p for p in written if p is not None]
