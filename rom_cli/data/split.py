"""Split long passages into windows of N words, remapping answer spans.

A passage that fits one window is kept as is (same id). A longer one becomes windows with ids
`"{pid}@{k}"`; consecutive windows share `stride` words. A last window shorter than a quarter of
`words` (`tail_limit`; e.g. a lone "orchard." after 24-word windows) is merged into the window
before it, which then holds up to `words + tail_limit - 1` words: a passage of a few words gives
retrieval and the reader no context. So, without stride, a passage of up to
`words + tail_limit - 1` words stays whole. Each window's text is a slice of the original text (from its first word's first character to its last word's last character), so a
span inside a window maps by subtracting the window's character offset and
`window.text[span.start:span.end] == span.text` holds.

Window boundaries avoid cutting through known answer spans where possible: a boundary that would
fall inside a span moves back to the word where that span starts. So every answer shorter than a
window stays, at its remapped offset, in at least one window (always for one span per passage;
best effort when spans of different questions overlap). Spans still cut are counted.

The windows holding a question's answer become its gold passages; a gold passage without spans maps
to its windows that contain an answer string (all its windows when none does). Hard negatives map
to all windows of the passage.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import replace

from rom_cli.data.common import find_answer
from rom_cli.data.types import AnswerSpan, LoadStats, Passage, Question
from rom_cli.errors import ConfigError

_WORD = re.compile(r"\S+")


def _words(text: str) -> tuple[list[int], list[int]]:
    starts, ends = [], []
    for m in _WORD.finditer(text):
        starts.append(m.start())
        ends.append(m.end())
    return starts, ends


def tail_limit(words: int) -> int:
    """A last window with fewer words than this is merged into the one before it (0: never)."""
    return words // 4


def window_bounds(
    n_words: int, words: int, stride: int, spans_in_words: list[tuple[int, int]] = ()
) -> list[tuple[int, int]]:
    """Word ranges [start, end) of the windows; `spans_in_words` are inclusive (first, last) word
    indices of answer spans that boundaries should not cut. A short last window is merged into the
    previous one (see `tail_limit`); extending a window to the end never cuts a span."""
    bounds = []
    start = 0
    while True:
        end = min(start + words, n_words)
        if end < n_words:
            # the largest cut point c in (start, end] that does not split a span beginning in the window
            cut = end
            while cut > start and any(start <= a < cut <= b for a, b in spans_in_words):
                cut -= 1
            end = cut if cut > start else end
        bounds.append((start, end))
        if end >= n_words:
            if len(bounds) > 1 and end - start < tail_limit(words):
                bounds.pop()
                bounds[-1] = (bounds[-1][0], n_words)
            return bounds
        start = max(end - stride, start + 1)


def split_passage(
    passage: Passage, words: int, stride: int = 0, spans: list[AnswerSpan] = ()
) -> list[tuple[Passage, int]]:
    """The windows of one passage with each window's character offset in the original text."""
    starts, ends = _words(passage.text)
    if len(starts) <= words:
        return [(passage, 0)]
    span_words = []
    for s in spans:
        if s.end <= s.start:
            continue
        a = bisect.bisect_right(ends, s.start)
        b = bisect.bisect_left(starts, s.end) - 1
        if a <= b:
            span_words.append((a, b))
    bounds = window_bounds(len(starts), words, stride, span_words)
    if len(bounds) == 1:  # the short tail merged back: the passage is one window
        return [(passage, 0)]
    out = []
    for k, (lo, hi) in enumerate(bounds):
        c0, c1 = starts[lo], ends[hi - 1]
        out.append((Passage(f"{passage.id}@{k}", passage.text[c0:c1], passage.title), c0))
    return out


def split_passages(
    passages: list[Passage],
    questions: list[Question],
    words: int,
    stride: int = 0,
    stats: LoadStats | None = None,
) -> tuple[list[Passage], list[Question]]:
    """Split every passage longer than `words` words; returns new passages and remapped questions."""
    if words <= 0:
        return passages, questions
    if not 0 <= stride < words:
        raise ConfigError("task.split_stride", stride, f"0 <= split_stride < task.split_words ({words})")
    stats = stats if stats is not None else LoadStats()
    spans_by_pid: dict[str, list[AnswerSpan]] = {}
    for q in questions:
        for s in q.spans:
            spans_by_pid.setdefault(s.passage_id, []).append(s)
    new_passages: list[Passage] = []
    windows: dict[str, list[tuple[Passage, int]]] = {}
    for p in passages:
        wins = split_passage(p, words, stride, spans_by_pid.get(p.id, []))
        windows[p.id] = wins
        new_passages.extend(w for w, _ in wins)
    if len(new_passages) > len(passages):
        stats.repair("long passage split into windows", sum(1 for w in windows.values() if len(w) > 1))
    new_questions = []
    for q in questions:
        spans: list[AnswerSpan] = []
        for s in q.spans:
            hit = False
            for w, off in windows.get(s.passage_id, []):
                if off <= s.start and s.end <= off + len(w.text):
                    spans.append(AnswerSpan(w.id, s.start - off, s.text))
                    hit = True
            if not hit and s.passage_id in windows:
                stats.skip("answer span cut by passage split")
        gold: list[str] = []
        for pid in q.gold_passage_ids:
            wins = windows.get(pid)
            if wins is None:
                gold.append(pid)
                continue
            hold = [w.id for w, _ in wins if any(s.passage_id == w.id for s in spans)]
            hold = hold or [w.id for w, _ in wins if any(find_answer(w.text, a) for a in q.answers)]
            gold.extend(hold or [w.id for w, _ in wins])
        negatives = [w.id for pid in q.hard_negative_ids for w, _ in windows.get(pid, [(Passage(pid, ""), 0)])]
        new_questions.append(
            replace(q, spans=spans, gold_passage_ids=list(dict.fromkeys(gold)), hard_negative_ids=negatives)
        )
    return new_passages, new_questions
