from rom_cli.tasks.reader import answer_char_spans


def test_weak_spans_are_word_bounded():
    text = "The man said he saw the other man. He left."
    spans = answer_char_spans(text, ["he"])
    assert [text[a:b] for a, b in spans] == ["he", "He"]  # not inside "The", "the", "other"
    assert spans == [(13, 15), (35, 37)]


def test_weak_spans_every_answer_and_case_and_punctuation():
    text = "In 2012, 12 U.S. states voted; u.s. law changed in 2012."
    spans = answer_char_spans(text, ["12", "U.S.", " ", "2012"])
    found = sorted(text[a:b] for a, b in spans)
    assert found == ["12", "2012", "2012", "U.S.", "u.s."]
