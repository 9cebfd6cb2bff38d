import pytest
from hypothesis import given
from hypothesis import strategies as st

from rom_cli.evaluation.metrics import (
    dpr_tokens,
    exact_match,
    f1,
    has_answer,
    mrr_at,
    normalize_answer,
    topk_accuracy,
)


def test_normalize_answer():
    assert normalize_answer("  The  Eiffel-Tower!! ") == "eiffeltower"
    assert normalize_answer("A cat, an owl and THE dog.") == "cat owl and dog"
    assert normalize_answer("theatre") == "theatre"  # articles only as whole words


def test_exact_match_squad_style():
    assert exact_match("the Denver Broncos", ["Denver Broncos"]) == 1.0
    assert exact_match("Denver Broncos.", ["Carolina Panthers", "denver broncos"]) == 1.0
    assert exact_match("Broncos", ["Denver Broncos"]) == 0.0
    assert exact_match("anything", []) == 0.0


def test_f1_squad_style():
    assert f1("Denver Broncos", ["The Denver Broncos!"]) == 1.0
    # pred {denver, broncos, team} vs gold {denver, broncos}: P=2/3 R=1 -> F1 = 0.8
    assert f1("Denver Broncos team", ["Denver Broncos"]) == pytest.approx(0.8)
    assert f1("Denver Broncos team", ["Carolina", "Denver Broncos"]) == pytest.approx(0.8)
    assert f1("Carolina", ["Denver Broncos"]) == 0.0
    # both normalise to nothing: EM matches, F1 is 0 (SQuAD v1.1's script; v2.0 would give 1)
    assert f1("the", ["a"]) == 0.0 and f1("", ["."]) == 0.0 and exact_match("the", ["a"]) == 1.0
    assert f1("the", ["a", "the cat"]) == 0.0
    assert f1("x", []) == 0.0


def test_has_answer():
    text = "Super Bowl 50 was won by the Denver Broncos, who beat Carolina."
    assert has_answer(text, ["denver broncos"])
    assert has_answer(text, ["nope", "Broncos"])
    assert not has_answer(text, ["Bronco"])  # whole tokens only
    assert not has_answer(text, ["Broncos Denver"])  # contiguous and in order
    assert has_answer(text, ["Super Bowl 50"]) and has_answer(text, ["Broncos,"])
    assert not has_answer(text, ["", "  "])  # an answer without tokens never matches


def test_has_answer_is_dprs_token_rule():
    # articles and punctuation are tokens: they must be in the passage (SQuAD normalisation drops them)
    text = "He moved to the U.S. in 1990; the Beatles' song."
    assert has_answer(text, ["the U.S."]) and has_answer(text, ["U.S"]) and has_answer(text, ["the"])
    assert not has_answer(text, ["US"]) and not has_answer(text, ["a U.S."])
    assert not has_answer("Beatles song", ["The Beatles"])  # was found when articles were dropped
    assert not has_answer("in 1990, he left", ["1990 he"])  # the comma is a token in between
    assert has_answer("Denver-based", ["Denver"]) and has_answer("x_y", ["y"])  # "-" and "_" split
    # case and accents: NFD and lowercase on both sides; an accent is part of its word
    assert has_answer("CAFÉ DE FLORE", ["café de flore"])
    assert has_answer("cafe\u0301", ["caf\u00e9"])  # decomposed vs precomposed é
    assert not has_answer("the café", ["cafe"]) and not has_answer("the cafe", ["café"])
    assert has_answer("Ur\u00adanus", ["ur anus"])  # a soft hyphen (format char) is no token
    assert has_answer("Σ ΟΔΟΣ", ["οδος"])
    assert has_answer("Gdańsk (Danzig)", ["Gdańsk"]) and has_answer("Gdańsk", ["GDAŃSK"])


def test_dpr_tokens():
    assert dpr_tokens("The U.S.-born, 3.5%!") == ["the", "u", ".", "s", ".", "-", "born", ",", "3", ".", "5", "%", "!"]
    assert dpr_tokens("naïve\tcafé\u00a0x\x00y") == ["nai\u0308ve", "cafe\u0301", "x", "y"]
    assert dpr_tokens("\u0915\u093f\u0924\u093e\u092c") == ["\u0915\u093f\u0924\u093e\u092c"]  # marks inside a word


def test_topk_and_mrr_hand_computed():
    hits = [
        [True, False, False],  # rank 1
        [False, False, True],  # rank 3
        [False, False, False],  # none
        [False, True, False],  # rank 2
    ]
    assert topk_accuracy(hits, [1, 2, 3, 20]) == {1: 25.0, 2: 50.0, 3: 75.0, 20: 75.0}
    assert mrr_at(hits) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    assert mrr_at(hits, k=2) == pytest.approx((1 + 0 + 0 + 1 / 2) / 4)
    assert topk_accuracy([], [1]) == {1: 0.0} and mrr_at([]) == 0.0


@given(st.text())
def test_normalize_idempotent(s):
    assert normalize_answer(normalize_answer(s)) == normalize_answer(s)


@given(st.text(), st.lists(st.text(), min_size=1, max_size=3))
def test_f1_bounds(pred, golds):
    score = f1(pred, golds)
    assert 0.0 <= score <= 1.0
    assert f1(pred, [pred]) == float(bool(normalize_answer(pred)))  # nothing left: F1 0 (v1.1)
    assert exact_match(pred, [pred]) == 1.0
    if exact_match(pred, golds) == 1.0 and normalize_answer(pred):
        assert score == 1.0
