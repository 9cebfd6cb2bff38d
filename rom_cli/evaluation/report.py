"""`rom report`: many runs side by side, one row each with the overrides that made it different.

A run is a folder Hydra wrote for `rom train` (finished when `metrics.json` exists) or `rom eval`
(`report.json`); a multirun folder is searched for them. Its overrides come from
`.hydra/overrides.yaml` (hydra.* keys left out), so the columns that vary between rows are exactly
the swept parameters. One configurable metric, a dotted path into metrics.json, picks the best run.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rom_cli.errors import RomError

SHORT = {  # the terminal table's columns: headline label -> (short name, path in metrics.json)
    "retrieval gold top-1": ("gold@1", "final.retrieval.gold.top1"),
    "retrieval gold top-20": ("gold@20", "final.retrieval.gold.top20"),
    "retrieval answer top-20": ("answer@20", "final.retrieval.answer.top20"),
    "reader EM (gold passage)": ("reader EM", "final.reader_gold.em"),
    "end-to-end EM (top-1)": ("e2e EM@1", "final.end_to_end.top1.em"),
    "end-to-end F1 (top-1)": ("e2e F1@1", "final.end_to_end.top1.f1"),
}


@dataclass
class RunRecord:
    path: Path
    name: str
    kind: str  # "train" | "eval" | "dataset" (one dataset, or the macro average, of a multi-dataset run)
    overrides: dict[str, str]
    metrics: dict  # a train run's metrics.json; an eval run's report as {"final": ..., "checkpoint": ...}
    values: dict[str, float | None] = field(default_factory=dict)  # label -> final value

    @property
    def log(self) -> Path | None:
        path = self.path / "metrics.jsonl"
        return path if path.is_file() else None

    @property
    def checkpoint(self) -> str | None:
        return self.metrics.get("checkpoint")


@dataclass
class Report:
    runs: list[RunRecord]
    unfinished: list[Path]
    metric: str
    mode: str
    override_keys: list[str]
    swept: list[str]
    best: RunRecord | None


def _natural(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def read_overrides(run_dir: Path) -> dict[str, str]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    try:
        items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as ex:
        raise RomError(f"{path}: not a YAML list of overrides ({ex})") from ex
    out = {}
    for item in items:
        key, _, value = str(item).partition("=")
        key = key.lstrip("+~")
        if key and not key.startswith("hydra.") and key != "hydra":
            out[key] = value
    return out


def _is_run_dir(path: Path) -> bool:
    return any((path / name).exists() for name in (".hydra", "metrics.json", "report.json", "metrics.jsonl"))


def _candidates(path: Path) -> list[Path]:
    if _is_run_dir(path):
        return [path]
    found = {p.parent for p in path.rglob("metrics.json")} | {p.parent for p in path.rglob("report.json")}
    found |= {p.parent for p in path.rglob(".hydra") if p.is_dir()}
    return sorted((p for p in found if "checkpoints" not in p.relative_to(path).parts), key=_natural)


def _load_run(run_dir: Path, name: str) -> RunRecord | None:
    """The run's record, or None when it has not finished."""
    for file, kind in (("metrics.json", "train"), ("report.json", "eval")):
        path = run_dir / file
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as ex:
            raise RomError(f"{path}: not valid JSON ({ex}); rerun or remove that run") from ex
        if kind == "eval":
            if "metrics" not in data:
                continue
            data = {"final": data["metrics"], "checkpoint": data.get("checkpoint"), "eval": data}
        return RunRecord(run_dir, name, kind, read_overrides(run_dir), data)
    return None


def lookup(metrics: dict, dotted: str) -> float | None:
    """A number at a dotted path (`final.` is implied when the path does not start at the top)."""

    def walk(parts):
        node = metrics
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        if isinstance(node, bool) or not isinstance(node, (int, float)):
            return None
        return None if isinstance(node, float) and math.isnan(node) else float(node)

    parts = dotted.split(".")
    value = walk(parts)
    return value if value is not None or parts[0] == "final" else walk(["final", *parts])


def headline(metrics: dict) -> dict[str, float | None]:
    """The numbers a run is judged by, flat (for tables and comparisons)."""

    def get(m: dict | None, *path):
        for key in path:
            if not isinstance(m, dict) or key not in m:
                return None
            m = m[key]
        return m if isinstance(m, (int, float)) and not (isinstance(m, float) and math.isnan(m)) else None

    rows = {}
    for label, path in [("retrieval gold top-1", ("retrieval", "gold", "top1")),
                        ("retrieval gold top-5", ("retrieval", "gold", "top5")),
                        ("retrieval gold top-20", ("retrieval", "gold", "top20")),
                        ("retrieval answer top-1", ("retrieval", "answer", "top1")),
                        ("retrieval answer top-20", ("retrieval", "answer", "top20")),
                        ("reader EM (gold passage)", ("reader_gold", "em")),
                        ("reader F1 (gold passage)", ("reader_gold", "f1")),
                        ("end-to-end EM (top-1)", ("end_to_end", "top1", "em")),
                        ("end-to-end F1 (top-1)", ("end_to_end", "top1", "f1")),
                        ("end-to-end EM (top-5)", ("end_to_end", "top5", "em")),
                        ("end-to-end F1 (top-5)", ("end_to_end", "top5", "f1")),
                        ("reranked gold top-1", ("rerank", "gold", "top1")),
                        ("reranked end-to-end EM (top-1)", ("rerank", "end_to_end", "top1", "em")),
                        ("reranked end-to-end EM (top-5)", ("rerank", "end_to_end", "top5", "em"))]:
        rows[label] = (get(metrics.get("step0"), *path), get(metrics.get("final"), *path))
    return rows


def dataset_rows(record: RunRecord) -> list[RunRecord]:
    """A run over several datasets adds a row per dataset and one for their macro average (`run [name]`)."""
    final = record.metrics.get("final") or {}
    if not isinstance(final.get("datasets"), dict):
        return []
    step0 = record.metrics.get("step0") or {}
    rows = []
    for name, metrics in [*final["datasets"].items(), ("macro", final.get("macro") or {})]:
        before = (step0.get("datasets") or {}).get(name) if name != "macro" else step0.get("macro")
        rows.append(RunRecord(record.path, f"{record.name} [{name}]", "dataset", record.overrides,
                              {"final": metrics, "step0": before}))
    return rows


def collect(paths: list[str], metric: str, mode: str = "max", exclude=()) -> Report:
    """Every run under `paths` (`exclude`: folders that are not runs, e.g. this report's own)."""
    if not paths:
        raise RomError("no paths given: expected `rom report PATH...` (a multirun dir or run dirs)")
    runs, unfinished, seen = [], [], {Path(p).resolve() for p in exclude}
    for raw in paths:
        root = Path(raw)
        if not root.is_dir():
            raise RomError(f"{raw}: no such directory: expected a multirun dir or a run dir")
        for run_dir in _candidates(root):
            if run_dir.resolve() in seen:
                continue
            seen.add(run_dir.resolve())
            name = str(run_dir.relative_to(root)) if run_dir != root else run_dir.name
            name = name if len(paths) == 1 or run_dir == root else f"{root.name}/{name}"
            record = _load_run(run_dir, name)
            (runs.append(record) if record else unfinished.append(run_dir))
            if record is not None:
                runs += dataset_rows(record)
    if not runs:
        where = ", ".join(paths)
        extra = f" ({len(unfinished)} unfinished)" if unfinished else ""
        raise RomError(f"no finished runs under {where}{extra}: a finished run has metrics.json (rom train) "
                       "or report.json (rom eval)")
    for run in runs:
        run.values = {label: after for label, (_, after) in headline(run.metrics).items()}
        run.values[metric] = lookup(run.metrics, metric)
    scored = [r for r in runs if r.values[metric] is not None and r.kind != "dataset"]
    if not scored:
        raise RomError(f"metric={metric}: not a number in any run's metrics (e.g. final.end_to_end.top1.em, "
                       "final.retrieval.gold.top20, final.reader_gold.f1)")
    best = (max if mode == "max" else min)(scored, key=lambda r: r.values[metric])
    keys = list(dict.fromkeys(k for r in runs for k in r.overrides))
    swept = [k for k in keys if len({r.overrides.get(k) for r in runs}) > 1]
    return Report(runs, unfinished, metric, mode, keys, swept, best)


def columns(report: Report, compact: bool = False) -> list[str]:
    """Metric columns: the chosen metric first, then the headline numbers some run has."""
    labels = [report.metric]
    full = report.metric if report.metric.startswith("final.") else f"final.{report.metric}"
    pool = [lab for lab, (_, path) in SHORT.items() if path != full] if compact else list(report.runs[0].values)
    labels += [lab for lab in pool if lab != report.metric and any(r.values.get(lab) is not None for r in report.runs)]
    return labels


def rows(report: Report, compact: bool = False) -> tuple[list[str], list[list[str]]]:
    """Full: one column per override key, every headline metric, the final checkpoint. Compact (the
    terminal table): the swept overrides in one column and the main metrics."""
    metric_cols = columns(report, compact)
    keys = [] if compact else report.override_keys
    names = [SHORT[c][0] if compact and c in SHORT else c.removeprefix("final." if compact else "")
             for c in metric_cols]
    header = ["run", *(["overrides"] if compact else keys), *names]
    if not compact:
        header.append("final checkpoint")
    body = []
    for r in report.runs:
        cells = [r.name + (" *" if r is report.best else "")]
        if compact:
            cells.append(" ".join(f"{k}={r.overrides[k]}" for k in report.swept if k in r.overrides) or "-")
        else:
            cells += [r.overrides.get(k, "") for k in keys]
        cells += ["-" if r.values.get(c) is None else f"{r.values[c]:.{1 if compact else 2}f}" for c in metric_cols]
        if not compact:
            cells.append(r.checkpoint or "")
        body.append(cells)
    return header, body


def best_line(report: Report) -> str:
    b = report.best
    return (f"best run by {report.metric} ({report.mode}): {b.name} = {b.values[report.metric]:.2f}; "
            f"checkpoint: {b.checkpoint or '-'}")


def markdown(report: Report, plots: list[Path]) -> str:
    header, body = rows(report)
    lines = [f"# rom report: {len(report.runs)} runs", "", best_line(report), ""]
    if report.unfinished:
        lines += [f"Unfinished runs left out: {', '.join(str(p) for p in report.unfinished)}", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    if plots:
        lines += ["", *[f"![{p.stem}]({p.name})" for p in plots]]
    return "\n".join(lines) + "\n"


def csv_text(report: Report) -> str:
    header, _ = rows(report)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header[:1] + ["path"] + header[1:] + ["best"])
    metric_cols = columns(report)
    for r in report.runs:
        writer.writerow([r.name, str(r.path), *[r.overrides.get(k, "") for k in report.override_keys],
                         *["" if r.values.get(c) is None else r.values[c] for c in metric_cols],
                         r.checkpoint or "", int(r is report.best)])
    return buf.getvalue()


def write(report: Report, out_dir: Path) -> dict[str, Path]:
    """report.md, report.csv and the PNG plots into `out_dir`."""
    from rom_cli.atomic import atomic_write_text
    from rom_cli.evaluation.plots import plot_metric_vs_params, plot_training_curves

    out_dir.mkdir(parents=True, exist_ok=True)
    plots = plot_metric_vs_params(report, out_dir) + plot_training_curves(report.runs, out_dir)
    written = {"report.md": out_dir / "report.md", "report.csv": out_dir / "report.csv"}
    atomic_write_text(written["report.md"], markdown(report, plots))
    atomic_write_text(written["report.csv"], csv_text(report))
    written.update({p.name: p for p in plots})
    return written
