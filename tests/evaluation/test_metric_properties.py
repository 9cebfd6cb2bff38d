"""Property tests for the SQuAD normalisation behind EM / F1 (test_metrics.py has the bounds)."""

from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rom_cli.evaluation.metrics import dpr_tokens, exact_match, f1, has_answer, normalize_answer

words = st.lists(st.text(st.sampled_from(string.ascii_letters + string.digits), min_size=1, max_size=6),
                 min_size=1, max_size=6)
answers = st.text(max_size=30)


@settings(max_examples=200, deadline=None)
@given(words, st.data())
def test_em_ignores_case_punctuation_articles_and_spacing(tokens, data):
    answer = " ".join(tokens)
    noisy = []
    for t in tokens:
        if data.draw(st.booleans()):
            noisy.append(data.draw(st.sampled_from(["the", "A", "an"])))
        t = t.upper() if data.draw(st.booleans()) else t
        noisy.append(t + data.draw(st.sampled_from(["", ",", ".", "!", "'", "?"])))
    pred = data.draw(st.sampled_from([" ", "  ", "\t", "\n"])).join(noisy)
    assert normalize_answer(pred) == normalize_answer(answer)
    assert exact_match(pred, [answer]) == 1.0
    # SQuAD v1.1: F1 is 1 unless the answer normalises to nothing (only articles), where no token is shared
    assert f1(pred, [answer]) == (1.0 if normalize_answer(answer) else 0.0)


@settings(max_examples=200, deadline=None)
@given(answers, answers)
def test_f1_is_symmetric_for_one_gold(a, b):
    assert f1(a, [b]) == f1(b, [a])
    assert exact_match(a, [b]) == exact_match(b, [a])


@settings(max_examples=200, deadline=None)
@given(answers, st.lists(answers, min_size=1, max_size=4))
def test_scores_are_the_max_over_gold_answers(pred, golds):
    assert f1(pred, golds) == max(f1(pred, [g]) for g in golds)
    assert exact_match(pred, golds) == max(exact_match(pred, [g]) for g in golds)
    if normalize_answer(pred):  # else EM may be 1 with F1 0 (SQuAD v1.1: no common token)
        assert exact_match(pred, golds) <= f1(pred, golds)


@settings(max_examples=200, deadline=None)
@given(words, words, words)
def test_an_answer_inside_a_passage_is_found(before, answer, after):
    passage = " ".join(before + answer + after)
    assert has_answer(passage, [" ".join(answer).upper()])


# letters, digits, punctuation, symbols, accents (precomposed and combining), scripts with marks
# inside words, spaces of several kinds, control and format characters (all assigned in every
# Unicode version Python and `regex` ship, so the two agree on their categories)
ALPHABET = list(string.printable) + list("éÉñÑüßøŁłĄąçÇİıΣσςΟΔωЖжДж中文日本ー・") + [
    "\u0301", "\u0308", "\u0327", "\u093f", "\u093e", "\u0915", "\u0924", "\u00a0", "\u2009", "\u3000",
    "\u00ad", "\u200b", "\u200d", "\x00", "\x07", "\u2013", "\u2019", "\u00ab", "\u00bb", "€", "°", "½", "²", "Ⅻ",
]
texts = st.text(st.sampled_from(ALPHABET), max_size=40)


def dpr_reference():
    """DPR's SimpleTokenizer and has_answer (dpr/utils/tokenizers.py, dpr/data/qa_validation.py),
    written with the `regex` module it uses (installed with transformers). One deliberate change:
    an answer without tokens matches nothing (DPR's matches every passage)."""
    regex = pytest.importorskip("regex")
    pattern = regex.compile(r"([\p{L}\p{N}\p{M}]+)|([^\p{Z}\p{C}])",
                            flags=regex.IGNORECASE + regex.UNICODE + regex.MULTILINE)

    def tokens(text):
        return [m.group().lower() for m in pattern.finditer(unicodedata.normalize("NFD", text))]

    def has(answers, text):
        text = tokens(text)
        for a in answers:
            a = tokens(a)
            if a and any(a == text[i:i + len(a)] for i in range(len(text) - len(a) + 1)):
                return True
        return False

    return tokens, has


@settings(max_examples=300, deadline=None)
@given(texts, st.lists(texts, min_size=1, max_size=3), st.data())
def test_has_answer_agrees_with_dpr(passage, answers, data):
    tokens, has = dpr_reference()
    assert dpr_tokens(passage) == tokens(passage)
    if data.draw(st.booleans()) and passage:  # often an answer cut out of the passage itself
        a = data.draw(st.integers(0, len(passage) - 1))
        answers = [*answers, passage[a:data.draw(st.integers(a + 1, len(passage)))]]
    assert has_answer(passage, answers) == has(answers, passage)
