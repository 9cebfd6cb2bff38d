"""Property tests for the SQuAD normalisation behind EM / F1 (test_metrics.py has the bounds)."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from rom_cli.evaluation.metrics import exact_match, f1, has_answer, normalize_answer, normalize_tokens

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
    assert exact_match(pred, [answer]) == 1.0 and f1(pred, [answer]) == 1.0


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
    assert exact_match(pred, golds) <= f1(pred, golds)


@settings(max_examples=200, deadline=None)
@given(words, words, words)
def test_an_answer_inside_a_passage_is_found(before, answer, after):
    passage = " ".join(before + answer + after)
    assert has_answer(passage, [" ".join(answer).upper()]) or not normalize_tokens(" ".join(answer))
