"""Property tests for the loaders: generated files round-trip, and no input, however broken, ends in
anything but a DataError (a one-line message naming the file) or a clean result."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rom_cli.data.dpr import TsvCorpus, load_qa_csv, parse_dpr_retriever
from rom_cli.data.load import detect_format, load_file
from rom_cli.data.nq import load_nq_open, parse_webquestions
from rom_cli.data.squad import load_squad, parse_squad
from rom_cli.data.types import LoadStats
from rom_cli.errors import DataError

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text that UTF-8 can encode (no lone surrogates)
chars = st.characters(blacklist_categories=("Cs",))
text = st.text(chars, max_size=40)
word = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd")), min_size=1, max_size=8)
line_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters='"\t'),
                    min_size=1, max_size=30).filter(lambda s: s.strip())


_FOLDER = tempfile.TemporaryDirectory(prefix="rom-loader-properties-")


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    _FOLDER.cleanup()


def write(data: bytes | str, name: str) -> Path:
    """Write one example's file (examples run one after another, so the name is reused)."""
    path = Path(_FOLDER.name) / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


@st.composite
def squad_files(draw):
    """(SQuAD object, {question id: (context, answer text)}) with answers at their true offsets."""
    expected, data, n = {}, [], 0
    for ai in range(draw(st.integers(1, 3))):
        paragraphs = []
        for _ in range(draw(st.integers(1, 3))):
            words = draw(st.lists(word, min_size=3, max_size=30))
            ctx = " ".join(words)
            qas = []
            for _ in range(draw(st.integers(0, 3))):
                i = draw(st.integers(0, len(words) - 1))
                j = draw(st.integers(i, min(len(words) - 1, i + 3)))
                answer = " ".join(words[i:j + 1])
                start = len(" ".join(words[:i])) + (1 if i else 0)
                qid = f"q{n}"
                n += 1
                qas.append({"id": qid, "question": draw(line_text), "answers": [{"text": answer, "answer_start": start}]})
                expected[qid] = (ctx, answer)
            paragraphs.append({"context": ctx, "qas": qas})
        data.append({"title": draw(st.sampled_from(["A", "B", f"T{ai}"])), "paragraphs": paragraphs})
    return {"version": "1.1", "data": data}, expected


@SETTINGS
@given(squad_files())
def test_squad_round_trip_keeps_every_answer_at_its_offset(generated):
    obj, expected = generated
    stats = LoadStats()
    questions, passages = load_squad(write(json.dumps(obj, ensure_ascii=False), "s.json"), stats)
    by_id = {p.id: p for p in passages}
    assert len(by_id) == len(passages) == len({p["context"] for a in obj["data"] for p in a["paragraphs"]})
    assert {q.id for q in questions} == set(expected)
    for q in questions:
        ctx, answer = expected[q.id]
        (span,) = q.spans
        assert by_id[span.passage_id].text == ctx and ctx[span.start:span.end] == answer
        assert q.answers == [answer] and q.gold_passage_ids == [span.passage_id]
    assert not stats.skipped


@SETTINGS
@given(squad_files(), st.integers(-50, 50))
def test_squad_offsets_off_by_a_little_are_repaired_to_a_true_occurrence(generated, shift):
    obj, expected = generated
    for article in obj["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qa["answers"][0]["answer_start"] += shift
    stats = LoadStats()
    questions, passages = parse_squad(obj, "s.json", stats)
    by_id = {p.id: p for p in passages}
    for q in questions:  # a kept answer is always where its span says
        for s in q.spans:
            assert by_id[s.passage_id].text[s.start:s.end] == s.text == expected[q.id][1]
    dropped = len(expected) - len(questions)
    assert dropped == stats.skipped["question without a usable answer"]


answers = st.lists(text, max_size=4)


@SETTINGS
@given(st.lists(st.tuples(text, answers), max_size=12))
def test_nq_open_jsonl_round_trip(rows):
    lines = [json.dumps({"question": q, "answer": a}, ensure_ascii=False) for q, a in rows]
    stats = LoadStats()
    questions = load_nq_open(write("\n".join(lines) + "\n", "nq.jsonl"), stats)
    kept = [(q.strip(), list(dict.fromkeys(x.strip() for x in a if x.strip()))) for q, a in rows]
    kept = [(q, a) for q, a in kept if q and a]
    assert [(q.text, q.answers) for q in questions] == kept
    assert sum(stats.skipped.values()) == len(rows) - len(kept)
    assert len({q.id for q in questions}) == len(questions)


@SETTINGS
@given(st.lists(st.tuples(line_text, st.lists(line_text, min_size=1, max_size=3)), min_size=1, max_size=10),
       st.sampled_from(["\n", "\r\n"]))
def test_qa_csv_round_trip(rows, newline):
    body = newline.join(f"{q}\t{json.dumps(a, ensure_ascii=False)}" for q, a in rows) + newline
    questions = load_qa_csv(write(body, "dev.qa.csv"))
    expected = [(q.strip(), list(dict.fromkeys(x.strip() for x in a))) for q, a in rows]
    assert [(q.text, q.answers) for q in questions] == expected


@SETTINGS
@given(st.lists(st.tuples(line_text, line_text), min_size=1, max_size=10, unique_by=lambda r: r[0].strip()))
def test_tsv_corpus_round_trip(rows):
    body = "id\ttext\ttitle\n" + "".join(f"p{i}\t{t}\t{title}\n" for i, (t, title) in enumerate(rows))
    corpus = TsvCorpus(write(body, "psgs.tsv"))
    assert len(corpus) == len(rows)
    for i, (t, title) in enumerate(rows):
        p = corpus.get(f"p{i}")
        assert (p.text, p.title) == (t, title)


# -- no input ends in anything but a DataError ---------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["data", "title", "paragraphs", "context", "qas", "id", "question", "answers", "answer",
                         "text", "answer_start", "positive_ctxs", "hard_negative_ctxs", "negative_ctxs",
                         "passage_id", "qText", "qId", "x"]), inner, max_size=5),
    max_leaves=25,
)


@SETTINGS
@given(json_values)
def test_any_json_structure_loads_or_is_a_data_error(value):
    for parse in (lambda v: parse_squad(v, "x.json"), lambda v: parse_dpr_retriever(v, "x.json"),
                  lambda v: parse_webquestions(v, "x.json"), lambda v: detect_format(Path("x.json"), v)):
        try:
            parse(value)
        except DataError as ex:
            assert str(ex).startswith("x.json") and "\n" not in str(ex)


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from(["t.json", "t.jsonl", "t.qa.csv", "t.tsv"]))
def test_any_bytes_load_or_are_a_data_error(data, name):
    path = write(data, name)
    try:
        load_file(path, "auto", LoadStats())
    except DataError as ex:
        assert str(ex).startswith(str(path)) and "\n" not in str(ex)


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from([b"", b"id\ttext\ttitle\n"]))
def test_any_passages_tsv_loads_or_is_a_data_error(data, header):
    path = write(header + data, "psgs.tsv")
    try:
        corpus = TsvCorpus(path)
        for i in range(len(corpus)):
            corpus[i]
    except DataError as ex:
        assert str(ex).startswith(str(path)) and "\n" not in str(ex)


soup = st.lists(st.text(st.sampled_from(list('ab1 "\t\r[]\'\\{}:,')), max_size=20), max_size=8)


@SETTINGS
@given(soup, st.sampled_from(["psgs.tsv", "t.qa.csv", "t.jsonl"]))
def test_tab_and_quote_soup_loads_or_is_a_data_error(lines, name):
    """Lines made of the characters the formats treat specially: quotes, tabs, carriage returns."""
    path = write("\n".join(lines) + "\n", name)
    try:
        if name == "psgs.tsv":
            corpus = TsvCorpus(path)
            for i in range(len(corpus)):
                corpus[i]
        else:
            load_file(path, "auto", LoadStats())
    except DataError as ex:
        assert str(ex).startswith(str(path)) and "\n" not in str(ex)
