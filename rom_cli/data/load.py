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
- `task.dev_holdout=N` (task.dev unset) makes the dev split out of the train file: whole gold
  passages, drawn in a seeded order, until at least N questions are held out; those questions leave
  the train split and the dev split retrieves from the train corpus. So runs can select checkpoints
  and sweep settings on dev while the test file stays unseen (`task.eval_split=test`). The held-out
  set does not depend on `task.train_limit` (the limit is applied to what is left).
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


_UNREAD = object()


def detect_format(path: Path, obj=_UNREAD) -> str:
    """One of squad, dpr, webq, nq, qacsv for a file. A JSON file is told by its first bytes and its
    first record, streamed (`_sniff_json`), so a DPR file of several GB is not loaded to be named;
    `obj` is the file's parsed content when the caller already has it."""
    name = path.name.lower()
    if name.endswith(".jsonl"):
        return "nq"
    if name.endswith((".csv", ".tsv")):
        return "qacsv"
    if name.endswith(".json"):
        if obj is _UNREAD:
            kind = _sniff_json(path)
            if kind is not None:
                return kind
            obj = read_json(path)  # neither a list nor a map with "data": parsed whole, as before
        if isinstance(obj, dict) and "data" in obj:
            return "squad"
        if isinstance(obj, list):
            return _list_kind(path, next((x for x in obj if isinstance(x, dict)), None))
        raise _unrecognised(path)
    raise DataError(path, "cannot tell the format from the file name: expected .json, .jsonl or .csv "
                          "(or set task.format)")


def _unrecognised(path: Path) -> DataError:
    return DataError(path, "unrecognised JSON layout: expected SQuAD ({'data': [...]}), a DPR retriever "
                           "list (records with positive_ctxs) or WebQuestions (records with qText)")


def _list_kind(path: Path, first) -> str:
    """dpr or webq for a JSON list whose first object is `first` (None: no object)."""
    if first is None:
        return "dpr"  # an empty list: no questions (reported by the caller)
    if "positive_ctxs" in first or ("question" in first and "answers" in first):
        return "dpr"
    if "qText" in first:
        return "webq"
    raise _unrecognised(path)


def _sniff_json(path: Path) -> str | None:
    """squad / dpr / webq from the start of a JSON file, read with ijson: a list by its first object,
    a map by a top-level "data" key; None when the start does not tell (the caller parses the file).
    A list whose start is not valid JSON raises `read_json`'s error (see `dpr.iter_json_list`)."""
    import ijson

    from rom_cli.data.dpr import first_json_byte, iter_json_list

    with open(path, "rb") as fh:
        first = first_json_byte(fh)
        if first == b"{":
            try:
                for prefix, event, value in ijson.parse(fh):
                    if prefix == "" and event == "map_key" and value == "data":
                        return "squad"
            except (ijson.JSONError, ValueError):
                pass
            return None
    if first != b"[":
        return None
    items = iter_json_list(path)
    try:
        return _list_kind(path, next((x for x in items if isinstance(x, dict)), None))
    finally:
        items.close()


def load_file(
    path: Path, fmt: str, stats: LoadStats, keep_passages: bool = True
) -> tuple[list[Question], list[Passage]]:
    """Questions and passages (empty for answers-only formats) of one file. A DPR retriever JSON is
    streamed (`dpr.load_dpr_retriever`); SQuAD and WebQuestions files are parsed whole."""
    from rom_cli.data import dpr, nq, squad

    name = path.name.lower()
    if fmt == "nq" or (fmt == "auto" and name.endswith(".jsonl")):
        return nq.load_nq_open(path, stats), []
    if name.endswith((".csv", ".tsv")) and fmt in ("auto", "dpr"):
        return dpr.load_qa_csv(path, stats), []
    kind = {"squad": "squad", "dpr": "dpr"}.get(fmt) or detect_format(path)
    if kind == "dpr":
        return dpr.load_dpr_retriever(path, stats, keep_passages)
    obj = read_json(path)
    if kind == "squad":
        return squad.parse_squad(obj, path, stats)
    return nq.parse_webquestions(obj, path, stats), []


_OPEN_TSVS: dict[tuple, object] = {}


def open_passages_tsv(path: Path, cache_dir: str | None):
    """One TsvCorpus per passages file (and version) in a process: the datasets of a mixture that retrieve
    from one collection (NQ and TriviaQA over psgs_w100.tsv) share one corpus object, hence one token cache
    and one live index."""
    from rom_cli.data.dpr import TsvCorpus

    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _OPEN_TSVS:
        _OPEN_TSVS[key] = TsvCorpus(path, cache_dir)
    return _OPEN_TSVS[key]


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


def _holdout(task_cfg) -> int:
    """task.dev_holdout, checked: how many train questions become the dev split (0: none)."""
    raw = getattr(task_cfg, "dev_holdout", 0) or 0
    n = int(raw)
    if n < 0:
        raise ConfigError("task.dev_holdout", raw, "a non-negative integer (0: no held-out dev split)")
    if n and getattr(task_cfg, "dev", None) not in (None, ""):
        raise ConfigError("task.dev_holdout", n, f"0 when task.dev is set (task.dev={task_cfg.dev}): "
                          "hold dev out of the train file or name a dev file, not both")
    if n and getattr(task_cfg, "train", None) in (None, ""):
        raise ConfigError("task.dev_holdout", n, "0 when task.train is not set: the dev split is held out of train")
    return n


def hold_out(questions: list[Question], n: int) -> tuple[list[Question], list[Question]]:
    """(kept, held_out): whole gold passages, in a seeded order, until >= n questions are held out.

    Grouping by passage keeps a held-out question's paragraph out of the train questions, so dev
    measures questions about passages never seen with a supervised question."""
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        key = q.gold_passage_ids[0] if q.gold_passage_ids else f"question:{q.id}"
        groups.setdefault(key, []).append(i)
    if n >= len(questions):
        raise ConfigError("task.dev_holdout", n, f"fewer than the {len(questions)} train questions "
                          "(some must be left to train on)")
    order = sorted(groups)
    random.Random(LIMIT_SEED + 1).shuffle(order)
    held: set[int] = set()
    for key in order:
        if len(held) >= n:
            break
        held.update(groups[key])
    if len(held) == len(questions):
        raise ConfigError("task.dev_holdout", n, "a smaller number: holding out whole passages took every train question")
    return ([q for i, q in enumerate(questions) if i not in held],
            [q for i, q in enumerate(questions) if i in held])


def _wanted(task_cfg, splits: list[str] | None) -> list[str]:
    from omegaconf import OmegaConf

    if OmegaConf.is_config(task_cfg):
        for k in SPLIT_KEYS:
            if OmegaConf.is_missing(task_cfg, k):
                raise RomError(f"task.{k} is required by task {task_cfg.name!r}: set task.{k}=PATH (relative to data.root)")
    configured = [k for k in SPLIT_KEYS if getattr(task_cfg, k, None) not in (None, "")
                  or (k == "dev" and _holdout(task_cfg))]
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

        if int(getattr(task_cfg, "dev_holdout", 0) or 0):
            raise ConfigError("task.dev_holdout", task_cfg.dev_holdout, "0 for the demo task (it has its own dev split)")
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
            if words:
                raise ConfigError("task.split_words", words, "0 when task.passages is set (the TSV is used as is)")
            path = resolve_path(task_cfg.passages, "task.passages", data_cfg)
            shared = open_passages_tsv(path, getattr(data_cfg, "cache_dir", None) or None)
            if len(shared) == 0:
                raise DataError(path, "no passages (task.passages): expected id<TAB>text<TAB>title rows")
        own: dict[str, list[Passage]] = {}
        holdout = _holdout(task_cfg)
        # the held-out dev split comes from train, so train is read first whenever dev is wanted
        from_train = bool(holdout) and ("train" in wanted or "dev" in wanted)
        order = (["train"] if from_train else []) + [s for s in wanted if not (from_train and s in ("train", "dev"))]
        for s in order:
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
            parts = [(s, questions)]
            if s == "train" and holdout:
                questions, held_out = hold_out(questions, holdout)
                parts = [("train", questions)] * ("train" in wanted) + [("dev", held_out)] * ("dev" in wanted)
            for name, qs in parts:
                limit = task_cfg.train_limit if name == "train" else task_cfg.eval_limit
                qs = subsample(qs, None if limit is None else int(limit),
                               "task.train_limit" if name == "train" else "task.eval_limit")
                if shared is not None:
                    qs = _check_against(shared, qs, stats)
                if not qs:
                    raise RomError(f"task.{s}: no usable questions in {source}" + _why(stats)
                                   + ": expected at least one question with an answer")
                task.splits[name] = qs
                own[name] = passages
            task.stats.merge(prefixed(stats, s))
        built: dict[int, Corpus] = {}  # the held-out dev split shares train's corpus object
        for s in wanted:
            if shared is not None:
                task.corpora[s] = shared
            elif own[s]:
                if id(own[s]) not in built:
                    built[id(own[s])] = InMemoryCorpus(own[s])
                task.corpora[s] = built[id(own[s])]
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
