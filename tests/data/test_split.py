import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rom_cli.data.split import split_passage, split_passages, tail_limit, window_bounds
from rom_cli.data.types import AnswerSpan, LoadStats, Passage, Question
from rom_cli.errors import ConfigError


def make(n_words: int) -> Passage:
    return Passage("p", "  ".join(f"w{i}" for i in range(n_words)) + " .", "T")


def test_short_passage_kept_as_is():
    p = Passage("p", "a b c")
    assert split_passage(p, 5) == [(p, 0)]


def test_windows_and_stride():
    assert window_bounds(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert window_bounds(10, 4, 0) == [(0, 4), (4, 8), (8, 10)]


def test_short_tail_merges_into_the_previous_window():
    assert tail_limit(24) == 6
    assert window_bounds(53, 24, 0) == [(0, 24), (24, 53)]  # a 5-word tail joins the second window
    assert window_bounds(54, 24, 0) == [(0, 24), (24, 48), (48, 54)]  # a 6-word tail stays
    assert window_bounds(12, 8, 0) == [(0, 8), (8, 12)]  # 4 words are not below 8 // 4
    assert window_bounds(9, 8, 0) == [(0, 9)]


def test_short_tail_keeps_spans_and_whole_passages():
    p = make(28)  # 28 words and a final "." : 24 + 5
    assert split_passage(p, 24) == [(p, 0)]  # the tail merged back: one window, the passage as is
    p = make(52)  # 53 words: 24 + 24 + 5 -> two windows, the last one of 29 words
    start = p.text.index("w50")
    q = Question("q", "?", ["w50"], [AnswerSpan("p", start, "w50")], ["p"])
    passages, (q2,) = split_passages([p], [q], words=24)
    assert [len(x.text.split()) for x in passages] == [24, 29]
    assert passages[-1].text.endswith("w51 .")
    (s,) = q2.spans
    assert s.passage_id == "p@1" and passages[1].text[s.start:s.end] == "w50"
    assert q2.gold_passage_ids == ["p@1"]


def test_boundary_moves_before_an_answer():
    assert window_bounds(10, 4, 0, [(3, 4)]) == [(0, 3), (3, 7), (7, 10)]


def test_remap_spans_and_gold():
    p = make(30)
    start = p.text.index("w12")
    q = Question("q", "?", ["w12  w13"], [AnswerSpan("p", start, "w12  w13")], ["p"], ["p"])
    stats = LoadStats()
    passages, (q2,) = split_passages([p], [q], words=10, stride=2, stats=stats)
    by_id = {x.id: x for x in passages}
    assert all(x.id.startswith("p@") for x in passages) and len(passages) > 1
    assert q2.spans and all(by_id[s.passage_id].text[s.start:s.end] == s.text for s in q2.spans)
    assert set(q2.gold_passage_ids) == {s.passage_id for s in q2.spans}
    assert q2.hard_negative_ids == [x.id for x in passages]
    assert stats.repaired["long passage split into windows"] == 1


def test_gold_without_spans_maps_to_windows_with_the_answer():
    p = make(30)
    q = Question("q", "?", ["w25"], [], ["p"])
    passages, (q2,) = split_passages([p], [q], words=10, stride=0)
    assert q2.gold_passage_ids and all("w25" in next(x for x in passages if x.id == g).text for g in q2.gold_passage_ids)


def test_bad_stride():
    with pytest.raises(ConfigError, match="task.split_stride"):
        split_passages([make(3)], [], words=4, stride=4)


@settings(max_examples=200, deadline=None)
@given(
    n_words=st.integers(1, 80),
    words=st.integers(1, 20),
    stride_frac=st.floats(0, 0.99),
    data=st.data(),
)
def test_every_answer_shorter_than_a_window_stays_findable(n_words, words, stride_frac, data):
    stride = int(stride_frac * words)
    tokens = [f"t{i}" + "x" * data.draw(st.integers(0, 3)) for i in range(n_words)]
    seps = [data.draw(st.sampled_from([" ", "  ", "\n", " \t "])) for _ in range(n_words)]
    text = "".join(t + s for t, s in zip(tokens, seps, strict=True))
    a = data.draw(st.integers(0, n_words - 1))
    length = data.draw(st.integers(1, min(words, n_words - a)))
    starts = [sum(len(t) + len(s) for t, s in zip(tokens[:i], seps[:i], strict=True)) for i in range(n_words)]
    s0 = starts[a] + data.draw(st.integers(0, 1))  # may start inside a word
    end = starts[a + length - 1] + len(tokens[a + length - 1])
    if s0 >= end:
        s0 = starts[a]
    answer = text[s0:end]
    p = Passage("p", text)
    q = Question("q", "?", [answer], [AnswerSpan("p", s0, answer)], ["p"])
    stats = LoadStats()
    passages, (q2,) = split_passages([p], [q], words=words, stride=stride, stats=stats)
    by_id = {x.id: x for x in passages}
    assert q2.spans, (text, answer, [x.text for x in passages])
    for s in q2.spans:
        assert by_id[s.passage_id].text[s.start:s.end] == answer
    assert not stats.skipped
    if len(passages) > 1:
        assert all(len(x.text.split()) <= words + max(tail_limit(words) - 1, 0) for x in passages)
        assert len(passages[-1].text.split()) >= tail_limit(words)  # no short tail left
