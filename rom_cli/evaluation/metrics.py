"""QA and retrieval metrics: SQuAD EM / token F1, DPR-style answer containment, top-k and MRR."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(s: str) -> str:
    """SQuAD v1.1 normalisation: lowercase, drop punctuation and articles, squeeze whitespace."""
    s = s.lower().translate(_PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def normalize_tokens(s: str) -> list[str]:
    return normalize_answer(s).split()


def exact_match(pred: str, golds: Iterable[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold answer (0.0 for no golds)."""
    p = normalize_answer(pred)
    return float(any(p == normalize_answer(g) for g in golds))


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)  # both empty: agree; one empty: 0
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1(pred: str, golds: Iterable[str]) -> float:
    """SQuAD token F1, max over gold answers (0.0 for no golds)."""
    p = normalize_tokens(pred)
    return max((_f1(p, normalize_tokens(g)) for g in golds), default=0.0)


def has_answer(text: str | Sequence[str], answers: Iterable[str]) -> bool:
    """DPR-style containment: some answer's normalised tokens occur contiguously in the passage.

    `text` may be a passage string or its already-normalised tokens (`normalize_tokens`), to
    avoid re-normalising one passage for many questions. Answers that normalise to nothing
    (e.g. "the") never match.
    """
    tokens = normalize_tokens(text) if isinstance(text, str) else list(text)
    haystack = f" {' '.join(tokens)} "
    for a in answers:
        needle = normalize_answer(a)  # tokens hold no spaces: substring on padded strings == subsequence
        if needle and f" {needle} " in haystack:
            return True
    return False


def topk_accuracy(hits: Sequence[Sequence[bool]], ks: Iterable[int]) -> dict[int, float]:
    """Percentage (0-100) of questions with a correct passage within the first k ranks, per k."""
    out = {}
    for k in ks:
        found = sum(any(h[:k]) for h in hits)
        out[int(k)] = 100.0 * found / len(hits) if hits else 0.0
    return out


def mrr_at(hits: Sequence[Sequence[bool]], k: int = 100) -> float:
    """Mean reciprocal rank of the first correct passage within the first k (0 if none); in [0, 1]."""
    if not hits:
        return 0.0
    total = 0.0
    for h in hits:
        rank = next((r for r, ok in enumerate(h[:k]) if ok), None)
        total += 0.0 if rank is None else 1.0 / (rank + 1)
    return total / len(hits)
