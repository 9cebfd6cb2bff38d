import json

import pytest

from rom_cli.data.squad import load_squad, parse_squad
from rom_cli.data.types import LoadStats
from rom_cli.errors import DataError

CTX = "The Velk river crosses Ormsby. Ormsby was founded in 1412 by Tarn Hollis."


def squad(paragraphs, title="Ormsby"):
    return {"version": "1.1", "data": [{"title": title, "paragraphs": paragraphs}]}


def qa(qid, question, *answers):
    return {"id": qid, "question": question, "answers": [{"text": t, "answer_start": s} for t, s in answers]}


def write(tmp_path, obj, name="s.json"):
    path = tmp_path / name
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def test_parses_passages_questions_and_spans(tmp_path):
    start = CTX.index("1412")
    path = write(tmp_path, squad([{"context": CTX, "qas": [qa("q1", "When?", ("1412", start), ("1412", start))]}]))
    stats = LoadStats()
    questions, passages = load_squad(path, stats)
    assert [p.id for p in passages] == ["Ormsby#0"] and passages[0].title == "Ormsby"
    (q,) = questions
    assert q.answers == ["1412"] and q.gold_passage_ids == ["Ormsby#0"]
    assert len(q.spans) == 1 and CTX[q.spans[0].start:q.spans[0].end] == "1412"
    assert not stats.repaired and not stats.skipped


def test_offset_off_by_a_few_is_repaired_and_counted():
    start = CTX.index("Tarn Hollis")
    stats = LoadStats()
    questions, _ = parse_squad(squad([{"context": CTX, "qas": [qa("q1", "Who?", ("Tarn Hollis", start + 3))]}]),
                               "x.json", stats)
    assert questions[0].spans[0].start == start
    assert stats.repaired["answer offset off"] == 1


def test_far_offset_of_a_repeated_text_is_skipped_and_question_dropped():
    ctx = "Ormsby " + "x " * 200 + "Ormsby"
    stats = LoadStats()
    questions, _ = parse_squad(squad([{"context": ctx, "qas": [qa("q1", "Where?", ("Ormsby", 100))]}]), "x.json", stats)
    assert questions == []
    assert stats.skipped["answer offset off and text ambiguous"] == 1
    assert stats.skipped["question without a usable answer"] == 1


def test_unfindable_answer_skipped_but_question_kept_with_other_answer():
    stats = LoadStats()
    obj = squad([{"context": CTX, "qas": [qa("q1", "Who?", ("Nobody", 5), ("Tarn Hollis", CTX.index("Tarn")))]}])
    (q,), _ = parse_squad(obj, "x.json", stats)
    assert q.answers == ["Tarn Hollis"]
    assert stats.skipped["answer not found at its offset"] == 1


def test_duplicate_question_ids_and_identical_paragraphs():
    start = CTX.index("1412")
    obj = squad([
        {"context": CTX, "qas": [qa("q1", "When?", ("1412", start))]},
        {"context": CTX, "qas": [qa("q1", "Again?", ("1412", start)), qa("q2", "Year?", ("1412", start))]},
    ])
    stats = LoadStats()
    questions, passages = parse_squad(obj, "x.json", stats)
    assert len(passages) == 1
    assert [q.id for q in questions] == ["q1", "q2"]
    assert questions[1].gold_passage_ids == ["Ormsby#0"]
    assert stats.skipped["duplicate question id"] == 1
    assert stats.repaired["identical paragraph merged"] == 1


def test_shared_titles_get_unique_ids():
    obj = {"data": [{"title": "A", "paragraphs": [{"context": "one", "qas": []}]},
                    {"title": "A", "paragraphs": [{"context": "two", "qas": []}]}]}
    _, passages = parse_squad(obj, "x.json")
    assert len({p.id for p in passages}) == 2


def test_bad_json_names_file_and_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"data": [\n  {"title": "x",\n  oops}\n]}', encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_squad(path)
    assert str(path) in str(err.value) and ":3:" in str(err.value) and "invalid JSON" in str(err.value)


def test_wrong_layout_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="missing 'paragraphs'"):
        parse_squad({"data": [{"title": "x"}]}, "x.json")
