"""Small helpers shared by the loaders: stable ids, answer search, JSON reading."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from rom_cli.data.types import AnswerSpan, LoadStats
from rom_cli.errors import DataError


def stable_id(*parts: str, prefix: str = "h") -> str:
    """An id that is the same on every machine and run (sha1, never Python's salted `hash`)."""
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"{prefix}{digest[:16]}"


def dedupe(items: Iterable[str]) -> list[str]:
    """Drop repeats, keeping the first occurrence's position."""
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _pattern(answer: str, ignore_case: bool) -> re.Pattern[str]:
    # Word-bounded where the answer starts/ends with a word character, so "12" does not match "2012".
    left = r"(?<!\w)" if answer[:1].isalnum() else ""
    right = r"(?!\w)" if answer[-1:].isalnum() else ""
    return re.compile(left + re.escape(answer) + right, re.IGNORECASE if ignore_case else 0)


def find_answer(text: str, answer: str) -> tuple[int, str] | None:
    """First occurrence of `answer` in `text` as (start, surface text): case-sensitive first, then
    case-insensitive; word-bounded. The surface text is `text[start:start + len(surface)]`."""
    answer = answer.strip()
    if not answer:
        return None
    for ignore_case in (False, True):
        m = _pattern(answer, ignore_case).search(text)
        if m:
            return m.start(), m.group(0)
    return None


def find_all_answers(text: str, answers: Iterable[str]) -> list[tuple[int, int]]:
    """Every case-insensitive, word-bounded occurrence of each answer as (start, end) character
    offsets (weak supervision: every mention may be the answer); "he" is not found inside "the"."""
    out: list[tuple[int, int]] = []
    for answer in answers:
        answer = answer.strip()
        if answer:
            out.extend(m.span() for m in _pattern(answer, True).finditer(text))
    return out


def find_spans(passage_id: str, text: str, answers: Iterable[str]) -> list[AnswerSpan]:
    """One span per answer string found in `text` (see `find_answer`)."""
    spans = []
    for answer in answers:
        hit = find_answer(text, answer)
        if hit is not None:
            span = AnswerSpan(passage_id, hit[0], hit[1])
            if span not in spans:
                spans.append(span)
    return spans


def not_utf8(path, data: bytes, ex: UnicodeDecodeError, line: int | None = None) -> DataError:
    """A DataError for bytes that are not UTF-8: the file, the line (from the byte offset when not
    given) and the offending byte."""
    if line is None:
        line = data.count(b"\n", 0, ex.start) + 1
    bad = data[ex.start:ex.start + 1]
    return DataError(path, f"not UTF-8 text ({ex.reason}, byte {bad!r}): expected a UTF-8 encoded file", line=line)


def read_json(path: str | Path):
    """Parse a JSON file; a syntax error, an empty file or non-UTF-8 bytes become a DataError naming
    the file and line."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")  # a byte order mark is tolerated
    except UnicodeDecodeError as ex:
        raise not_utf8(path, data, ex) from None
    if not text.strip():
        raise DataError(path, "empty file: expected a JSON document")
    try:
        return json.loads(text)
    except json.JSONDecodeError as ex:
        raise DataError(path, f"invalid JSON: {ex.msg} (column {ex.colno})", line=ex.lineno) from None


def text_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of a UTF-8 text file (line endings kept); bytes that are not
    UTF-8 are a DataError naming the file and line."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                yield n, raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as ex:
                raise not_utf8(path, raw, ex, line=n) from None


def answer_list(value, path, line: int | None = None, what: str = "answers") -> list[str]:
    """Normalise an answers field (a list of strings, or one string) or raise a DataError."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(a, str | int | float) for a in value):
        raise DataError(path, f"{what} must be a list of strings, got {type(value).__name__}", line=line)
    return dedupe(str(a).strip() for a in value if str(a).strip())


def prefixed(stats: LoadStats, prefix: str) -> LoadStats:
    """A copy of `stats` whose reasons start with `prefix: ` (e.g. the split name)."""
    out = LoadStats()
    for reason, n in stats.repaired.items():
        out.repair(f"{prefix}: {reason}", n)
    for reason, n in stats.skipped.items():
        out.skip(f"{prefix}: {reason}", n)
    return out
