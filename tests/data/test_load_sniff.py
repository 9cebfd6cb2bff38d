"""rom_cli.data.load: a JSON file's format is told from its first bytes and first record (streamed),
so `load_file` never parses a DPR retriever file whole (DPR's NQ train JSON is several GB)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rom_cli.data import dpr, load
from rom_cli.data.load import detect_format, load_file
from rom_cli.data.types import LoadStats
from rom_cli.errors import DataError

DPR_RECORD = {"question": "who?", "answers": ["Tarn"], "positive_ctxs": [{"text": "Tarn did", "passage_id": "1"}]}
BROKEN = b', {"question": oops ' + b"\xff" * 10  # what follows the first record: never read


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_detected_from_the_start_of_the_file(tmp_path):
    dpr_start = json.dumps([DPR_RECORD])[:-1].encode()
    assert detect_format(write(tmp_path / "a.json", b"\xef\xbb\xbf \n" + dpr_start + BROKEN)) == "dpr"
    assert detect_format(write(tmp_path / "b.json", b'[1, "x", {"qText": "q?", "answers": []}' + BROKEN)) == "webq"
    assert detect_format(write(tmp_path / "c.json", b'{"version": "1.1", "data": [' + BROKEN)) == "squad"
    assert detect_format(write(tmp_path / "d.json", "[]")) == "dpr"  # no questions: the caller says so
    assert detect_format(write(tmp_path / "e.json", "[1, 2]")) == "dpr"  # the DPR loader names record 0


def test_undecided_starts_are_parsed_whole_with_the_usual_errors(tmp_path):
    with pytest.raises(DataError, match=r"f.json: unrecognised JSON layout"):
        detect_format(write(tmp_path / "f.json", b'[{"foo": 1}]'))
    with pytest.raises(DataError, match=r"g.json: unrecognised JSON layout"):
        detect_format(write(tmp_path / "g.json", b'{"version": "1.1", "nodata": []}'))
    with pytest.raises(DataError, match=r"h.json:2: invalid JSON: Expecting value \(column 7\)"):
        detect_format(write(tmp_path / "h.json", b'{"version": "1.1",\n "x": oops, "data": []}'))
    with pytest.raises(DataError, match=r"i.json:1: invalid JSON: Expecting ':' delimiter"):
        detect_format(write(tmp_path / "i.json", b'[{"question" "x"}]'))
    with pytest.raises(DataError, match=r"j.json: empty file"):
        detect_format(write(tmp_path / "j.json", b" \n"))
    # a parsed object still decides by itself (None is a value, not "unread")
    assert detect_format(Path("x.json"), {"data": []}) == "squad"
    with pytest.raises(DataError, match="x.json: unrecognised"):
        detect_format(Path("x.json"), None)


def test_load_file_streams_dpr_and_parses_the_others(tmp_path, monkeypatch):
    calls = []
    real = load.read_json
    monkeypatch.setattr(load, "read_json", lambda path: calls.append(Path(path).name) or real(path))
    monkeypatch.setattr(dpr, "read_json", lambda path: calls.append(Path(path).name) or real(path))
    path = write(tmp_path / "train.json", json.dumps([DPR_RECORD] * 2))
    for fmt in ("auto", "dpr"):
        questions, passages = load_file(path, fmt, LoadStats(), keep_passages=False)
        assert len(questions) == 2 and passages == []
    assert calls == []
    squad = write(tmp_path / "squad.json", json.dumps({"data": []}))
    assert load_file(squad, "auto", LoadStats()) == ([], [])
    assert calls == ["squad.json"]
