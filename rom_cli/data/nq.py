"""Answers-only question files: NQ-open JSONL and WebQuestions JSON.

- NQ-open JSONL: one `{"question": ..., "answer": [...]}` object per line (`answers` also accepted).
- WebQuestions JSON: a list of `{"qId", "qText", "answers"}`.
Both give questions with answer strings only (no spans, no gold passages: weak supervision).
"""

from __future__ import annotations

import json
from pathlib import Path

from rom_cli.data.common import answer_list, read_json, text_lines
from rom_cli.data.types import LoadStats, Question
from rom_cli.errors import DataError


def load_nq_open(path: str | Path, stats: LoadStats | None = None) -> list[Question]:
    """Read NQ-open JSONL; a malformed line is a DataError naming the file and line."""
    stats = stats if stats is not None else LoadStats()
    stem = Path(path).name.split(".")[0]
    questions: list[Question] = []
    seen: set[str] = set()
    for n, line in text_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as ex:
            raise DataError(path, f"invalid JSON: {ex.msg} (column {ex.colno})", line=n) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
            raise DataError(path, "expected an object with a 'question' string", line=n)
        raw = obj.get("answer", obj.get("answers"))
        if raw is None:
            raise DataError(path, "missing 'answer' (a list of answer strings)", line=n)
        answers = answer_list(raw, path, line=n, what="answer")
        qid = str(obj.get("id") or f"{stem}-{n}")
        if qid in seen:
            stats.skip("duplicate question id")
            continue
        seen.add(qid)
        text = obj["question"].strip()
        if not text or not answers:
            stats.skip("empty question text" if not text else "question without answers")
            continue
        questions.append(Question(qid, text, answers))
    return questions


def parse_webquestions(items, path: str | Path, stats: LoadStats | None = None) -> list[Question]:
    """Questions from a parsed WebQuestions list (`qId`, `qText`, `answers`)."""
    stats = stats if stats is not None else LoadStats()
    if not isinstance(items, list):
        raise DataError(path, "expected a JSON list of WebQuestions records")
    questions: list[Question] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("qText"), str):
            raise DataError(path, f"record {i}: expected an object with a 'qText' string")
        answers = answer_list(item.get("answers", []), path, what=f"record {i}: answers")
        qid = str(item.get("qId") or f"wq-{i}")
        if qid in seen:
            stats.skip("duplicate question id")
            continue
        seen.add(qid)
        text = item["qText"].strip()
        if not text or not answers:
            stats.skip("empty question text" if not text else "question without answers")
            continue
        questions.append(Question(qid, text, answers))
    return questions


def load_webquestions(path: str | Path, stats: LoadStats | None = None) -> list[Question]:
    return parse_webquestions(read_json(path), path, stats)
