"""`rom eval` minus the printing: one checkpoint, one corpus, the model beside the sparse baselines.

The dense index is built once (or loaded from a `rom index` folder whose fingerprint and passage
ids match) and BM25 once, then `evaluate` runs per retriever on the same questions, so every report
puts BM25 and hybrid fusion next to the model. The dense row is computed exactly as training computes
its final evaluation, so for the final checkpoint of a run it must equal `metrics.json`'s `final`;
`compare_with_training` checks that.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from rom_cli.config.schema import value_of
from rom_cli.errors import RomError
from rom_cli.evaluation.pipeline import EvalSetup, evaluate
from rom_cli.evaluation.session import SECTIONS, CheckpointSession, section_from_run

RETRIEVERS = ("dense", "bm25", "hybrid")
TOLERANCE = 1e-6  # numbers are recomputed with the same code and batches: only float noise may differ


@dataclass
class EvalRun:
    primary: str
    results: dict[str, dict]  # retriever -> metrics (the structure of metrics.json's `final`)
    predictions: list[dict] = field(default_factory=list)
    index: dict = field(default_factory=dict)  # how the dense index was obtained


def open_reused_index(session: CheckpointSession, corpus, index_dir: str):
    """A `rom index` folder for this checkpoint and corpus, checked (one-line errors), before any work."""
    from rom_cli.retrieval.index_store import check_matches_corpus, load_index_folder

    folder = load_index_folder(index_dir, session.fingerprint(), len(corpus), with_passages=False)
    check_matches_corpus(folder, corpus, str(index_dir))
    return folder


def evaluate_checkpoint(session: CheckpointSession, eff, corpus, questions, index_dir: str | None = None,
                        compare: bool = True, with_predictions: bool = True, log=None, console=None,
                        index_folder=None) -> EvalRun:
    """Dense (and, with `compare`, BM25 and hybrid) metrics on the same questions; `log` takes status lines,
    `console` shows progress bars; `index_folder`: `index_dir` already opened by `open_reused_index`."""
    from rom_cli.retrieval.bm25 import sparse_retriever
    from rom_cli.retrieval.vector_shards import build_dense_index

    log = log or (lambda *_: None)
    setup = EvalSetup(session.model, session.packer, session.enc_cfg, eff.eval, eff.index, session.device,
                      eff.precision, console=console)
    primary = value_of(eff.eval.retriever)
    order = [primary] + ([r for r in RETRIEVERS if r != primary] if compare else [])
    dense_index, info = None, {}
    if {"dense", "hybrid"} & set(order):
        if index_dir:
            folder = index_folder or open_reused_index(session, corpus, index_dir)
            dense_index = folder.index
            info = {"reused": str(index_dir), "type": folder.index.kind, "params": folder.index.params}
            log(f"reusing index {index_dir} ({len(folder.index)} passages, {folder.index.kind})")
        else:
            log(f"encoding {len(corpus)} passages...")
            dense_index, stats = build_dense_index(session.model, session.packer, corpus,
                                                   session.enc_cfg.passage_max_length, int(eff.index.encode_batch_size),
                                                   session.device, eff.precision, eff.index, console=console,
                                                   scratch_dir=eff.index.get("scratch_dir"))
            info = {"reused": None, "type": dense_index.kind, "params": dense_index.params,
                    "passages_per_s": stats["passages_per_s"], "encode_seconds": stats["seconds"]}
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # its DEBUG lines would land in every eval log
    bm25 = None
    if {"bm25", "hybrid"} & set(order):
        bm25, why_not = sparse_retriever(corpus, index_folder)
        if bm25 is None:
            if primary in ("bm25", "hybrid"):
                raise RomError(f"eval.retriever={primary}: {why_not}")
            log(why_not + "; the BM25 and hybrid rows are left out")
            order = [r for r in order if r not in ("bm25", "hybrid")]
    results, predictions = {}, []
    for retriever in order:
        log(f"evaluating {retriever} retrieval on {len(questions)} questions...")
        metrics, preds = evaluate(setup, corpus, questions, retriever=retriever, bm25=bm25,
                                  with_predictions=with_predictions and retriever == primary, index=dense_index)
        if retriever != "bm25":
            metrics["speed"]["index_passages_per_s"] = info.get("passages_per_s")
        results[retriever] = metrics
        if retriever == primary:
            predictions = preds
    return EvalRun(primary, results, predictions, info)


def _leaves(d, prefix=""):
    """Flat {dotted key: number} of a metrics dict, without timings (and, at the top, without the other
    datasets and the macro average of a multi-dataset run: the evaluated task is compared)."""
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if k == "speed" or (not prefix and k in ("datasets", "macro")):
            continue
        if isinstance(v, dict):
            out.update(_leaves(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def compare_with_training(session: CheckpointSession, eff, metrics: dict) -> dict | None:
    """Compare with the training run's final evaluation when this checkpoint is that run's last one.

    Returns None when there is nothing to compare with; otherwise `same_settings` (task, eval, index,
    device and precision as trained), `reproduced` (every number equal; None if settings differ) and
    the differing keys.
    """
    run_dir = session.path.parent.parent
    path = run_dir / "metrics.json"
    if not path.is_file():
        return None
    try:
        trained = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    if (trained.get("train") or {}).get("steps") != session.step or not trained.get("final"):
        return None
    run_cfg = session.run_cfg
    same = all(OmegaConf.to_container(eff[s]) == OmegaConf.to_container(section_from_run(SECTIONS[s], run_cfg.get(s)))
               for s in ("task", "eval", "index"))
    trainer = run_cfg.get("trainer") or {}
    trained_precision = (trained.get("config") or {}).get("precision") or value_of(trainer.get("precision", "fp32"))
    same = same and value_of(eff.precision) == trained_precision
    a, b = _leaves(trained["final"]), _leaves(metrics)
    diffs = [f"{k}: training {a.get(k)}, eval {b.get(k)}" for k in sorted(set(a) | set(b))
             if k not in a or k not in b or not math.isclose(a[k], b[k], rel_tol=TOLERANCE, abs_tol=TOLERANCE)]
    return {"metrics_json": str(path), "same_settings": same, "reproduced": (not diffs) if same else None,
            "differences": diffs}


def metric_rows(metrics: dict) -> dict[str, float | None]:
    """Display label -> value (percent; MRR as a fraction) for one retriever's metrics."""
    rows: dict[str, float | None] = {}
    r = metrics.get("retrieval", {})
    for kind in ("gold", "answer"):
        if kind not in r:
            continue
        for key, value in r[kind].items():
            rows[f"retrieval {kind} {key.replace('top', 'top-')}"] = value
        rows[f"retrieval {kind} MRR@100"] = r.get(f"{kind}_mrr@100")
    if "reader_gold" in metrics:
        rows["reader EM (gold passage)"] = metrics["reader_gold"]["em"]
        rows["reader F1 (gold passage)"] = metrics["reader_gold"]["f1"]
    for key, value in metrics.get("end_to_end", {}).items():
        k = key.replace("top", "top-")
        rows[f"end-to-end EM ({k})"] = value["em"]
        rows[f"end-to-end F1 ({k})"] = value["f1"]
    rerank = metrics.get("rerank") or {}
    for kind in ("gold", "answer"):
        for key, value in (rerank.get(kind) or {}).items():
            rows[f"reranked top-{rerank['k']}: {kind} {key.replace('top', 'top-')}"] = value
    for key, value in (rerank.get("end_to_end") or {}).items():
        rows[f"reranked end-to-end EM ({key.replace('top', 'top-')})"] = value["em"]
        rows[f"reranked end-to-end F1 ({key.replace('top', 'top-')})"] = value["f1"]
    return rows


def fmt(label: str, value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if "MRR" in label else f"{value:.1f}"


def table_rows(run: EvalRun) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per metric, one column per retriever (the primary first)."""
    per = {name: metric_rows(m) for name, m in run.results.items()}
    labels = list(dict.fromkeys(label for rows in per.values() for label in rows))
    header = ["metric", *[f"{n} (model)" if n == "dense" else n for n in run.results]]
    return header, [[label, *[fmt(label, per[n].get(label)) for n in run.results]] for label in labels]


def markdown(run: EvalRun, context: dict) -> str:
    header, rows = table_rows(run)
    lines = [f"# rom eval: {context['task']} ({context['split']} split)", ""]
    for key in ("checkpoint", "step", "fingerprint", "questions", "corpus_passages", "index"):
        lines.append(f"- {key.replace('_', ' ')}: {context.get(key)}")
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    training = context.get("training")
    if training:
        lines += ["", f"Training-time metrics ({training['metrics_json']}): " + reproduction_line(training)]
    return "\n".join(lines) + "\n"


def reproduction_line(training: dict) -> str:
    if not training["same_settings"]:
        return "not compared (task, eval, index or precision settings differ from training)"
    if training["reproduced"]:
        return "reproduced exactly"
    return f"DIFFER in {len(training['differences'])} values: " + "; ".join(training["differences"][:5])


def write_outputs(out_dir: Path, run: EvalRun, context: dict) -> dict[str, Path]:
    from rom_cli.atomic import atomic_write_json, atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    report = {**context, "retriever": run.primary, "metrics": run.results[run.primary], "results": run.results,
              "index_build": run.index}
    paths = {"report.json": out_dir / "report.json", "report.md": out_dir / "report.md"}
    atomic_write_json(paths["report.json"], report)
    atomic_write_text(paths["report.md"], markdown(run, context))
    if run.predictions:
        paths["predictions.jsonl"] = out_dir / "predictions.jsonl"
        atomic_write_text(paths["predictions.jsonl"], "".join(json.dumps(p, ensure_ascii=False) + "\n"
                                                             for p in run.predictions))
    return paths
