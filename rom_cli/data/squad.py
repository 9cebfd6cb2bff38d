"""SQuAD v1.1 JSON: `data[].title, paragraphs[].context, qas[].id/question/answers[]`.

Each paragraph becomes one Passage with id `"{title}#{paragraph_index}"` (article index added when
two articles share a title). Identical paragraphs are merged into the first one and the questions
point to it. Answer offsets that do not match their context are repaired when the text is found
within ±50 characters (or exactly once anywhere in the context); otherwise that answer is dropped.
A question left without any usable answer, and a repeated question id, are skipped. All of it is
counted in `LoadStats`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rom_cli.data.common import dedupe, read_json
from rom_cli.data.types import AnswerSpan, LoadStats, Passage, Question
from rom_cli.errors import DataError

REPAIR_WINDOW = 50  # characters either side of a wrong answer_start searched for the answer text


def locate_answer(context: str, text: str, start, stats: LoadStats) -> int | None:
    """Start offset of `text` in `context` near `start`, or None (counted) when not recoverable."""
    if isinstance(start, int) and not isinstance(start, bool) and context[start:start + len(text)] == text:
        return start
    hits = []
    pos = context.find(text)
    while pos != -1:
        hits.append(pos)
        pos = context.find(text, pos + 1)
    if isinstance(start, int) and not isinstance(start, bool):
        near = [h for h in hits if abs(h - start) <= REPAIR_WINDOW]
        if near:
            stats.repair("answer offset off")
            return min(near, key=lambda h: (abs(h - start), h))
    if len(hits) == 1:
        stats.repair("answer offset off")
        return hits[0]
    stats.skip("answer not found at its offset" if hits == [] else "answer offset off and text ambiguous")
    return None


def _field(obj, key: str, kind: type, path, where: str):
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(path, f"{where}: missing {key!r} (expected SQuAD v1.1 layout)")
    value = obj[key]
    if not isinstance(value, kind):
        raise DataError(path, f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def parse_squad(obj, path: str | Path, stats: LoadStats | None = None) -> tuple[list[Question], list[Passage]]:
    """Questions and passages from a parsed SQuAD v1.1 object (see the module docstring)."""
    stats = stats if stats is not None else LoadStats()
    articles = _field(obj, "data", list, path, "top level")
    passages: list[Passage] = []
    by_text: dict[str, str] = {}
    used_ids: set[str] = set()
    questions: list[Question] = []
    seen_qids: set[str] = set()
    titles = [str(a.get("title") or "") if isinstance(a, dict) else "" for a in articles]
    title_count = Counter(titles)
    for ai, article in enumerate(articles):
        title = titles[ai]
        paragraphs = _field(article, "paragraphs", list, path, f"data[{ai}]")
        shared_title = not title or title_count[title] > 1
        for pi, paragraph in enumerate(paragraphs):
            where = f"data[{ai}].paragraphs[{pi}]"
            context = _field(paragraph, "context", str, path, where)
            qas = _field(paragraph, "qas", list, path, where)
            pid = f"{title or 'article'}#{ai}.{pi}" if shared_title else f"{title}#{pi}"
            while pid in used_ids:  # a title that itself ends in "#n": keep ids unique
                pid += "'"
            if context in by_text:
                stats.repair("identical paragraph merged")
                pid = by_text[context]
            else:
                by_text[context] = pid
                used_ids.add(pid)
                passages.append(Passage(pid, context, title))
            for qi, qa in enumerate(qas):
                qwhere = f"{where}.qas[{qi}]"
                text = _field(qa, "question", str, path, qwhere).strip()
                qid = str(qa.get("id") or "").strip()
                if not qid:
                    qid = f"{pid}/q{qi}"
                    stats.repair("missing question id generated")
                if qid in seen_qids:
                    stats.skip("duplicate question id")
                    continue
                seen_qids.add(qid)
                if not text:
                    stats.skip("empty question text")
                    continue
                answers = qa.get("answers") or []
                if not isinstance(answers, list):
                    raise DataError(path, f"{qwhere}.answers: expected a list, got {type(answers).__name__}")
                spans: list[AnswerSpan] = []
                for answer in answers:
                    atext = answer.get("text") if isinstance(answer, dict) else None
                    if not isinstance(atext, str) or not atext.strip():
                        stats.skip("empty answer text")
                        continue
                    start = answer.get("answer_start")
                    stripped = atext.strip()
                    if stripped != atext and isinstance(start, int):
                        start += len(atext) - len(atext.lstrip())
                        stats.repair("answer whitespace trimmed")
                    found = locate_answer(context, stripped, start, stats)
                    if found is None:
                        continue
                    span = AnswerSpan(pid, found, stripped)
                    if span not in spans:
                        spans.append(span)
                if not spans:
                    stats.skip("question without a usable answer")
                    continue
                questions.append(Question(qid, text, dedupe(s.text for s in spans), spans, [pid]))
    return questions, passages


def load_squad(path: str | Path, stats: LoadStats | None = None) -> tuple[list[Question], list[Passage]]:
    """Read a SQuAD v1.1 JSON file (see `parse_squad`)."""
    return parse_squad(read_json(path), path, stats)
