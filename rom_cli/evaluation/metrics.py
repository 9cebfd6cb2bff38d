"""QA and retrieval metrics: SQuAD EM / token F1, DPR's answer containment, top-k and MRR."""

from __future__ import annotations

import functools
import re
import string
import sys
import unicodedata
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
    # SQuAD v1.1's official script: no common token gives 0, also when both sides normalise to
    # nothing (v2.0 would give 1 there); EM still counts that case as a match.
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1(pred: str, golds: Iterable[str]) -> float:
    """SQuAD v1.1 token F1, max over gold answers (0.0 for no golds, and 0.0 when prediction and
    gold both normalise to nothing, as in the official v1.1 script)."""
    p = normalize_tokens(pred)
    return max((_f1(p, normalize_tokens(g)) for g in golds), default=0.0)


def _class_of(keep) -> str:
    """A regex character class of every code point whose Unicode category `keep` accepts."""
    ranges, start = [], None
    for cp in range(sys.maxunicode + 2):
        inside = cp <= sys.maxunicode and keep(unicodedata.category(chr(cp)))
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            ranges.append(f"\\U{start:08x}-\\U{cp - 1:08x}")
            start = None
    return "[" + "".join(ranges) + "]"


@functools.cache
def _dpr_regexp() -> re.Pattern[str]:
    """DPR's SimpleTokenizer pattern `([\\p{L}\\p{N}\\p{M}]+)|([^\\p{Z}\\p{C}])` in the standard `re`,
    which has no \\p classes: runs of letters, numbers and marks, or one character that is neither
    one of those nor a separator nor a control/format/unassigned character (so punctuation and
    symbols). `\\w` would split NFD accents (marks) off their letters and `\\S` would keep soft
    hyphens; the classes are built from `unicodedata` once per process (about 0.2 s)."""
    word = _class_of(lambda c: c[0] in "LNM")
    single = _class_of(lambda c: c[0] in "PS")
    return re.compile(f"{word}+|{single}")


def dpr_tokens(text: str) -> list[str]:
    """DPR's has_answer tokens: SimpleTokenizer tokens of the NFD-normalised text, lowercased.
    Punctuation and articles stay tokens (unlike SQuAD's `normalize_answer`)."""
    return [t.lower() for t in _dpr_regexp().findall(unicodedata.normalize("NFD", text))]


def answer_key(text: str) -> str:
    """`dpr_tokens(text)` joined by single spaces and padded with one on each side ("" when there
    are none). Tokens hold no separator, so a contiguous run of tokens is exactly a substring of
    these padded strings: `answer_key(answer) in answer_key(passage)` is DPR's has_answer for one
    answer, with each side tokenised once (see `pipeline.AnswerMatcher`)."""
    tokens = dpr_tokens(text)
    return f" {' '.join(tokens)} " if tokens else ""


def has_answer(text: str, answers: Iterable[str]) -> bool:
    """DPR's has_answer (match_type "string"): some answer's tokens (`dpr_tokens`) occur as a
    contiguous run of the passage's tokens. Case and accents are compared after NFD and lowercasing
    ("Café" finds "CAFÉ", not "cafe"); punctuation and articles must match too ("U.S." does not find
    "US"). An answer with no tokens never matches (DPR's would match every passage)."""
    haystack = answer_key(text)
    return any(needle and needle in haystack for needle in map(answer_key, answers))


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


# -- nested metric dicts (what evaluation returns) --------------------------------------------------


def dotted(metrics: dict, path: str):
    """The number at a dotted path of a metrics dict (None when absent or not a number)."""
    node = metrics
    for key in str(path).split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def metric_paths(metrics: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in metrics.items():
        if key == "speed":
            continue
        if isinstance(value, dict):
            out += metric_paths(value, f"{prefix}{key}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out.append(prefix + key)
    return out


def macro_average(per_dataset: list[dict]) -> dict:
    """The mean of every number the datasets' metrics share (same dotted path), as a nested dict."""
    paths = set(metric_paths(per_dataset[0]))
    for m in per_dataset[1:]:
        paths &= set(metric_paths(m))
    out: dict = {}
    for path in sorted(paths):
        values = [dotted(m, path) for m in per_dataset]
        node = out
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = sum(values) / len(values)
    return out
