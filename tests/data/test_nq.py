import json

import pytest

from rom_cli.data.nq import load_nq_open, load_webquestions
from rom_cli.data.types import LoadStats
from rom_cli.errors import DataError


def test_nq_open_jsonl(tmp_path):
    path = tmp_path / "nq.dev.jsonl"
    path.write_text(
        '{"question": "who built the ferry", "answer": ["Tarn Hollis", "Hollis"]}\n\n'
        '{"question": "no answer", "answer": []}\n'
        '{"question": "when", "answer": "1412"}\n',
        encoding="utf-8",
    )
    stats = LoadStats()
    qs = load_nq_open(path, stats)
    assert [q.answers for q in qs] == [["Tarn Hollis", "Hollis"], ["1412"]]
    assert all(not q.spans and not q.gold_passage_ids for q in qs)
    assert len({q.id for q in qs}) == 2
    assert stats.skipped["question without answers"] == 1


def test_nq_open_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "nq.jsonl"
    path.write_text('{"question": "a", "answer": ["b"]}\n{"question": "c", "answer": [\n', encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_nq_open(path)
    assert f"{path}:2:" in str(err.value) and "invalid JSON" in str(err.value)


def test_nq_open_missing_answer_field(tmp_path):
    path = tmp_path / "nq.jsonl"
    path.write_text('{"question": "a"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r":1: missing 'answer'"):
        load_nq_open(path)


def test_webquestions(tmp_path):
    path = tmp_path / "wq.json"
    items = [{"qId": "w1", "qText": "what river?", "answers": ["Velk"]},
             {"qId": "w1", "qText": "dup", "answers": ["x"]}]
    path.write_text(json.dumps(items), encoding="utf-8")
    stats = LoadStats()
    qs = load_webquestions(path, stats)
    assert [(q.id, q.answers) for q in qs] == [("w1", ["Velk"])]
    assert stats.skipped["duplicate question id"] == 1
