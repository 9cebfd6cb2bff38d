"""`load_task`: a TaskConfig + DataConfig -> TaskData (questions per split, corpus per split).

- Paths (task.train / dev / test / passages) are resolved against data.root; absolute paths are kept.
  A configured file that does not exist is a RomError naming the key and the resolved path.
- `task.format=auto` picks a loader per file: `.jsonl` NQ-open; `.json` SQuAD when a dict with
  "data", DPR retriever when a list of records with "positive_ctxs" (or "question" + "answers"),
  WebQuestions when records have "qText"; `.csv` / `.qa.csv` / `.tsv` DPR QA CSV. `squad`, `dpr`
  and `nq` force the loader (dpr: retriever JSON, or QA CSV for .csv/.tsv). `demo` generates the
  fictional task, `hf` loads hub splits named by task.train / dev / test.
- Corpus: `task.passages` (a DPR passages TSV) is one shared corpus for every split; gold and
  hard-negative ids missing from it are dropped and counted. Otherwise each split retrieves from its
  own contexts (SQuAD paragraphs, DPR ctxs); an answers-only split (NQ-open, QA CSV, WebQuestions)
  retrieves from the union of the other splits' passages, and is an error when there are none.
- `task.train_limit` (train) and `task.eval_limit` (dev, test) keep a seeded random subset of the
  questions (`random.Random(0)`, same on every run), in file order. Corpora are not subsampled.
- `task.split_words > 0` splits in-memory passages into word windows (see `rom_cli.data.split`).
Every repair or skip is counted in `TaskData.stats` with the split name in front of the reason.
"""

from __future__ import annotations

import random
from pathlib import Path

from rom_cli.config.schema import value_of
from rom_cli.data.common import find_answer, prefixed, read_json
from rom_cli.data.types import AnswerSpan, Corpus, InMemoryCorpus, LoadStats, Passage, Question, TaskData
from rom_cli.errors import ConfigError, DataError, RomError

SPLIT_KEYS = ("train", "dev", "test")
LIMIT_SEED = 0


def resolve_path(value: str, key: str, data_cfg) -> Path:
    """`value` against data.root (absolute kept); RomError naming `key` when the file is missing."""
    raw = Path(str(value)).expanduser()
    root = str(getattr(data_cfg, "root", ".") or ".")
    path = raw if raw.is_absolute() else Path(root).expanduser() / raw
    if not path.is_file():
        where = "absolute path" if raw.is_absolute() else f"resolved against data.root={root}"
        if path.is_dir():
            raise RomError(f"{key}: {path} is a directory, expected a file ({where})")
        raise RomError(f"{key}: file not found: {path} ({where})")
    return path


def detect_format(path: Path, obj=None) -> str:
    """One of squad, dpr, webq, nq, qacsv for a file (JSON files need their parsed `obj`)."""
    name = path.name.lower()
    if name.endswith(".jsonl"):
        return "nq"
    if name.endswith((".csv", ".tsv")):
        return "qacsv"
    if name.endswith(".json"):
        if isinstance(obj, dict) and "data" in obj:
            return "squad"
        if isinstance(obj, list):
            first = next((x for x in obj if isinstance(x, dict)), None)
            if first is None:
                return "dpr"  # an empty list: no questions (reported by the caller)
            if "positive_ctxs" in first or ("question" in first and "answers" in first):
                return "dpr"
            if "qText" in first:
                return "webq"
        raise DataError(path, "unrecognised JSON layout: expected SQuAD ({'data': [...]}), a DPR retriever "
                              "list (records with positive_ctxs) or WebQuestions (records with qText)")
    raise DataError(path, "cannot tell the format from the file name: expected .json, .jsonl or .csv "
                          "(or set task.format)")


def load_file(
    path: Path, fmt: str, stats: LoadStats, keep_passages: bool = True
) -> tuple[list[Question], list[Passage]]:
    """Questions and passages (empty for answers-only formats) of one file."""
    from rom_cli.data import dpr, nq, squad

    name = path.name.lower()
    if fmt == "nq" or (fmt == "auto" and name.endswith(".jsonl")):
        return nq.load_nq_open(path, stats), []
    if name.endswith((".csv", ".tsv")) and fmt in ("auto", "dpr"):
        return dpr.load_qa_csv(path, stats), []
    obj = read_json(path)
    kind = {"squad": "squad", "dpr": "dpr"}.get(fmt) or detect_format(path, obj)
    if kind == "squad":
        return squad.parse_squad(obj, path, stats)
    if kind == "dpr":
        return dpr.parse_dpr_retriever(obj, path, stats, keep_passages)
    return nq.parse_webquestions(obj, path, stats), []


def subsample(questions: list[Question], limit: int | None, key: str = "task limit") -> list[Question]:
    """A seeded random subset of `limit` questions, kept in their original order."""
    if limit is not None and limit < 0:
        raise ConfigError(key, limit, "a non-negative integer or null")
    if limit is None or limit >= len(questions):
        return questions
    keep = sorted(random.Random(LIMIT_SEED).sample(range(len(questions)), limit))
    return [questions[i] for i in keep]


def _check_against(corpus: Corpus, questions: list[Question], stats: LoadStats) -> list[Question]:
    """Drop gold / hard-negative ids missing from a shared corpus and re-anchor spans to its text."""
    out = []
    for q in questions:
        gold = [pid for pid in q.gold_passage_ids if pid in corpus]
        if len(gold) < len(q.gold_passage_ids):
            stats.skip("gold passage id not in task.passages", len(q.gold_passage_ids) - len(gold))
        negs = [pid for pid in q.hard_negative_ids if pid in corpus]
        if len(negs) < len(q.hard_negative_ids):
            stats.skip("hard negative id not in task.passages", len(q.hard_negative_ids) - len(negs))
        spans = []
        for s in q.spans:
            if s.passage_id not in gold:
                continue
            text = corpus.get(s.passage_id).text
            if text[s.start:s.end] == s.text:
                spans.append(s)
                continue
            hit = find_answer(text, s.text)
            if hit is None:
                stats.skip("answer span not in the passages TSV text")
            else:
                stats.repair("answer span re-anchored to the passages TSV text")
                spans.append(AnswerSpan(s.passage_id, hit[0], hit[1]))
        q.gold_passage_ids, q.hard_negative_ids, q.spans = gold, negs, spans
        out.append(q)
    return out


def _wanted(task_cfg, splits: list[str] | None) -> list[str]:
    from omegaconf import OmegaConf

    if OmegaConf.is_config(task_cfg):
        for k in SPLIT_KEYS:
            if OmegaConf.is_missing(task_cfg, k):
                raise RomError(f"task.{k} is required by task {task_cfg.name!r}: set task.{k}=PATH (relative to data.root)")
    configured = [k for k in SPLIT_KEYS if getattr(task_cfg, k, None) not in (None, "")]
    if splits is None:
        if not configured:
            raise RomError(f"task {task_cfg.name!r} names no data: set task.train, task.dev or task.test")
        return configured
    for s in splits:
        if s not in SPLIT_KEYS:
            raise RomError(f"unknown split {s!r}: expected one of {', '.join(SPLIT_KEYS)}")
        if s not in configured:
            raise RomError(f"task.{s} is not set for task {task_cfg.name!r}: it names no file for the {s} split")
    return list(splits)


def load_task(task_cfg, data_cfg, splits: list[str] | None = None) -> TaskData:
    """Load the splits of a task (all configured ones when `splits` is None); see the module docstring."""
    fmt = value_of(task_cfg.format)
    name = str(task_cfg.name)
    words = int(task_cfg.split_words or 0)
    stride = int(task_cfg.split_stride or 0)
    if words < 0:
        raise ConfigError("task.split_words", words, "an integer >= 0")
    if words and not 0 <= stride < words:
        raise ConfigError("task.split_stride", stride, f"0 <= split_stride < task.split_words ({words})")

    if fmt == "demo":
        from rom_cli.data.demo import load_demo

        task = load_demo(task_cfg)
        wanted = list(splits) if splits is not None else list(SPLIT_KEYS)
        for s in wanted:
            if s not in task.splits:
                raise RomError(f"unknown split {s!r}: expected one of {', '.join(SPLIT_KEYS)}")
        task.splits = {s: task.splits[s] for s in wanted}
        task.corpora = {s: task.corpora[s] for s in wanted}
    else:
        wanted = _wanted(task_cfg, splits)
        task = TaskData(name, {}, {}, LoadStats())
        shared: Corpus | None = None
        if task_cfg.passages:
            from rom_cli.data.dpr import TsvCorpus

            if words:
                raise ConfigError("task.split_words", words, "0 when task.passages is set (the TSV is used as is)")
            path = resolve_path(task_cfg.passages, "task.passages", data_cfg)
            shared = TsvCorpus(path, getattr(data_cfg, "cache_dir", None) or None)
            if len(shared) == 0:
                raise DataError(path, "no passages (task.passages): expected id<TAB>text<TAB>title rows")
        own: dict[str, list[Passage]] = {}
        for s in wanted:
            value = str(getattr(task_cfg, s))
            stats = LoadStats()
            source = value
            if fmt == "hf":
                from rom_cli.data.hf import load_hf

                questions, passages = load_hf(task_cfg.hf_name, task_cfg.hf_config, value, stats)
            else:
                path = resolve_path(value, f"task.{s}", data_cfg)
                source = str(path)
                questions, passages = load_file(path, fmt, stats, keep_passages=shared is None)
            if shared is None and words:
                from rom_cli.data.split import split_passages

                passages, questions = split_passages(passages, questions, words, stride, stats)
            limit = task_cfg.train_limit if s == "train" else task_cfg.eval_limit
            questions = subsample(questions, None if limit is None else int(limit),
                                  "task.train_limit" if s == "train" else "task.eval_limit")
            if shared is not None:
                questions = _check_against(shared, questions, stats)
            task.stats.merge(prefixed(stats, s))
            if not questions:
                raise RomError(f"task.{s}: no usable questions in {source}" + _why(stats)
                               + ": expected at least one question with an answer")
            task.splits[s] = questions
            own[s] = passages
        for s in wanted:
            if shared is not None:
                task.corpora[s] = shared
            elif own[s]:
                task.corpora[s] = InMemoryCorpus(own[s])
        missing = [s for s in wanted if s not in task.corpora]
        if missing:
            union: dict[str, Passage] = {}
            for s in wanted:
                for p in own[s]:
                    union.setdefault(p.id, p)
            if not union:
                s = missing[0]
                raise RomError(
                    f"task.{s}: {getattr(task_cfg, s)} has answers only and there are no passages to retrieve "
                    "from: set task.passages to a DPR passages TSV (id, text, title)"
                )
            corpus = InMemoryCorpus(list(union.values()))
            for s in missing:
                task.corpora[s] = corpus
    for s in wanted:
        if len(task.corpora[s]) == 0:
            raise RomError(f"task {name!r}: the corpus of split {s!r} is empty")
    if fmt == "demo":
        limits = {s: task_cfg.train_limit if s == "train" else task_cfg.eval_limit for s in wanted}
        task.splits = {s: subsample(task.splits[s], None if limits[s] is None else int(limits[s]),
                                    "task.train_limit" if s == "train" else "task.eval_limit") for s in wanted}
        if words:
            from rom_cli.data.split import split_passages

            corpus = task.corpora[wanted[0]]
            stats = LoadStats()
            allq = [q for s in wanted for q in task.splits[s]]
            passages, remapped = split_passages(list(corpus), allq, words, stride, stats)
            it = iter(remapped)
            task.splits = {s: [next(it) for _ in task.splits[s]] for s in wanted}
            shared_corpus = InMemoryCorpus(passages)
            task.corpora = {s: shared_corpus for s in wanted}
            task.stats.merge(stats)
    return task


def _why(stats: LoadStats) -> str:
    reasons = [f"{r} x{n}" for r, n in (stats.skipped + stats.repaired).most_common(3)]
    return f" (skipped: {', '.join(reasons)})" if reasons else ""
