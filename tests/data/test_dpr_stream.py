"""The streaming DPR retriever-JSON reader (`rom_cli.data.dpr.load_dpr_retriever`, `iter_json_list`).

DPR's NQ train file is several GB; the reader keeps one record at a time. It must give what the
whole-file loader it replaced gave (`reference_load`, a frozen copy of it: `read_json` then the old
record loop): the same questions, passages and LoadStats on every DPR fixture of the test suite and on
a make_corpus dataset, and the same one-line errors for malformed files."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rom_cli.data import dpr
from rom_cli.data.common import answer_list, find_spans, read_json
from rom_cli.data.dpr import ctx_passage, iter_json_list, load_dpr_retriever
from rom_cli.data.types import LoadStats, Question
from rom_cli.errors import DataError
from tests.data.test_load import dpr_file
from tests.test_bad_inputs import dpr as bad_inputs_records

REPO = Path(__file__).resolve().parents[2]


def reference_load(path, stats=None, keep_passages=True):
    """The loader before streaming (commit a11b939), frozen: the whole file parsed, then every record."""
    items = read_json(path)
    stats = stats if stats is not None else LoadStats()
    if not isinstance(items, list):
        raise DataError(path, f"expected a JSON list of DPR retriever records, got {type(items).__name__}")
    stem = Path(path).name.split(".")[0]
    passages, questions, seen_qids = {}, [], set()
    for i, item in enumerate(items):
        where = f"record {i}"
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise DataError(path, f"{where}: expected an object with a 'question' string")
        text = item["question"].strip()
        answers = answer_list(item.get("answers", []), path, what=f"{where}: answers")
        if not text:
            stats.skip("empty question text")
            continue
        if not answers:
            stats.skip("question without answers")
            continue
        ctx_ids, positives = {}, []
        for key in ("positive_ctxs", "negative_ctxs", "hard_negative_ctxs"):
            ctxs = item.get(key) or []
            if not isinstance(ctxs, list):
                raise DataError(path, f"{where}: {key} must be a list")
            ids = []
            for j, ctx in enumerate(ctxs):
                p = ctx_passage(ctx, path, f"{where}.{key}[{j}]")
                ids.append(p.id)
                if key == "positive_ctxs":
                    positives.append(p)
                if keep_passages:
                    old = passages.setdefault(p.id, p)
                    if old.text != p.text:
                        stats.skip("ctx id reused with another text (first kept)")
            ctx_ids[key] = list(dict.fromkeys(ids))
        spans = []
        for p in positives:
            for s in find_spans(p.id, p.text, answers):
                if s not in spans:
                    spans.append(s)
        qid = str(item.get("id") or item.get("qid") or f"{stem}-{i}")
        if qid in seen_qids:
            stats.skip("duplicate question id")
            continue
        seen_qids.add(qid)
        questions.append(Question(qid, text, answers, spans, ctx_ids["positive_ctxs"], ctx_ids["hard_negative_ctxs"]))
    return questions, list(passages.values())


def outcome(load, path, keep_passages):
    """(questions, passages, stats) or the error message: what a loader gives for a file."""
    stats = LoadStats()
    try:
        questions, passages = load(path, stats, keep_passages)
    except DataError as ex:
        return str(ex)
    return questions, passages, stats


def assert_same(path):
    """Both loaders agree with and without the ctxs kept; the outcome with them kept is returned."""
    for keep in (False, True):
        old, new = outcome(reference_load, path, keep), outcome(load_dpr_retriever, path, keep)
        assert new == old, (path.name, keep)
    return old


def ctx(text, title="T", **ids):
    return {"title": title, "text": text, **ids}


TEST_DPR = [  # tests/data/test_dpr.py's records
    {"question": "who built the ferry?", "answers": ["tarn hollis"],
     "positive_ctxs": [ctx("The ferry was built by Tarn Hollis in 1412.", passage_id="7")],
     "negative_ctxs": [ctx("Unrelated text.")],
     "hard_negative_ctxs": [ctx("Tarn Hollis also liked boats.", psg_id=9)]},
    {"question": "year?", "answers": ["12"],
     "positive_ctxs": [ctx("The ferry was built by Tarn Hollis in 1412.", passage_id="7")],
     "negative_ctxs": [], "hard_negative_ctxs": []},
]
EDGES = [  # what the record loop repairs, skips, hashes and converts
    {"question": "  spaced?  ", "answers": ["Ünïcödé", 2.25, 1234.5, 7, " ", "Ünïcödé"], "id": 12,
     "positive_ctxs": [ctx("Ünïcödé 2.25 and 1234.5 and 7 \"quoted\" \\ back", passage_id=3),
                       ctx("Ünïcödé again", passage_id=3), ctx("no id here: 7")],
     "negative_ctxs": [ctx("neg", passage_id="n1")], "hard_negative_ctxs": [ctx("h", id="x"), ctx("h", id="x")]},
    {"question": "", "answers": ["a"]},
    {"question": "no answers", "answers": []},
    {"question": "one string answer", "answers": "Velk", "qid": "12",
     "positive_ctxs": [ctx("The Velk and the velk.", title=None, passage_id="")], "negative_ctxs": None},
    {"question": "repeat of id 12", "answers": ["x"], "id": "12"},
    {"question": "big numbers", "answers": [123456789012345678901234567890, -0.0],
     "positive_ctxs": [ctx("-0.0 and 123456789012345678901234567890", passage_id=2**70)]},
]


def fixture_files(folder: Path) -> list[Path]:
    numbers = json.dumps(EDGES, indent=4, ensure_ascii=False).replace("2.25,", "2.250,").replace("1234.5,", "1.2345e3,")
    files = {
        "test_dpr.json": json.dumps(TEST_DPR),
        "bad_inputs.json": json.dumps(bad_inputs_records(4)),
        "bad_inputs_no_gold.json": json.dumps(bad_inputs_records(4) + [
            dict(x, question=x["question"] + " (no gold)") for x in bad_inputs_records(2, gold=False)]),
        "edges.json": numbers,  # 2.250 and 1.2345e3 as written: ijson must give floats, not Decimals
        "edges_ascii.json": "\ufeff" + json.dumps(EDGES, separators=(",", ":")),  # a byte order mark
        "empty.json": " [ \n ] ",
    }
    paths = [dpr_file(folder / "test_load.json")]
    for name, text in files.items():
        paths.append(folder / name)
        paths[-1].write_text(text, encoding="utf-8")
    return paths


def test_fixtures_load_exactly_as_before(tmp_path):
    for path in fixture_files(tmp_path):
        assert_same(path)
    questions, passages, stats = outcome(load_dpr_retriever, tmp_path / "edges.json", True)
    assert questions[0].answers == ["Ünïcödé", "2.25", "1234.5", "7"] and questions[0].id == "12"
    assert stats.skipped["duplicate question id"] == 2 and stats.skipped["ctx id reused with another text (first kept)"]
    assert str(2**70) in {p.id for p in passages}  # beyond 64 bits: loaded by the standard-library fallback


def test_make_corpus_dataset_loads_exactly_as_before(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "make_corpus.py"), "--out", str(tmp_path),
                           "--passages", "4000", "--questions", "3000", "--dev", "10", "--seed", "5"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    questions, passages, stats = assert_same(tmp_path / "train.json")
    assert len(questions) == 3000 and len(passages) > 3000 and all(q.spans for q in questions)


MALFORMED = {  # name -> (bytes of a 40-record pretty-printed file, what the message says)
    "missing comma": (lambda good: good.replace(b"},\n  {", b"}\n  {", 1), "invalid JSON: Expecting ',' delimiter"),
    "trailing comma": (lambda good: good[:-2] + b",\n]", "invalid JSON: Expecting value"),
    "truncated": (lambda good: good[:len(good) // 2], "invalid JSON"),
    "extra data": (lambda good: good + b" x", "invalid JSON: Extra data"),
    "bad escape": (lambda good: good.replace(b"q7 who?", b"q7 \\x who?"), "invalid JSON: Invalid \\escape"),
    "control char": (lambda good: good.replace(b"q3 who?", b"q3 \x01 who?"), "Invalid control character"),
    "not utf-8": (lambda good: good.replace(b"q29 who?", b"q29 \xff who?"), "not UTF-8 text"),
    "not utf-8, cut sequence": (lambda good: good.replace(b"q39 who?", b"q39 \xc3 who?"), "not UTF-8 text"),
    "a record is no object": (lambda good: good.replace(b"[\n  {", b"[\n  5, {", 1), "record 0: expected an object"),
    "answers not a list": (lambda good: good.replace(b'"answers": [', b'"answers": {"a": 1}, "_": [', 1),
                           "record 0: answers must be a list"),
    "ctx without text": (lambda good: good.replace(b'"text"', b'"txt"', 1), "positive_ctxs[0]: a ctx must be"),
    "not a list": (lambda good: b'{"data": []}', "expected a JSON list of DPR retriever records, got dict"),
    "empty": (lambda good: b"  \n", "empty file: expected a JSON document"),
}


def good_file() -> bytes:
    records = [{"question": f"q{i} who?", "answers": ["Tarn Hollis"],
                "positive_ctxs": [ctx("Tarn Hollis built it " + "x" * (i * 37 % 300), passage_id=str(i))],
                "negative_ctxs": [], "hard_negative_ctxs": []} for i in range(40)]
    return json.dumps(records, indent=2).encode()


@pytest.mark.parametrize("block", [1 << 20, 7])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files_get_the_same_one_line_error(case, block, tmp_path, monkeypatch):
    """A small block makes the standard-library fallback refill its buffer mid-element everywhere."""
    monkeypatch.setattr(dpr, "JSON_BLOCK", block)
    make, needle = MALFORMED[case]
    path = tmp_path / "train.json"
    path.write_bytes(make(good_file()))
    for keep in (True, False):
        message = outcome(load_dpr_retriever, path, keep)
        assert message == outcome(reference_load, path, keep), keep
        assert isinstance(message, str) and message.startswith(f"{path}") and needle in message
        assert "\n" not in message
    if case.startswith(("missing", "bad", "control", "not utf")):
        assert message.startswith(f"{path}:") and message.split(":")[1].isdigit()  # the line


def test_negative_ctxs_are_not_read_with_a_passages_tsv(tmp_path):
    """keep_passages=False: random negatives are skipped whole, even malformed ones (never used)."""
    path = tmp_path / "train.json"
    path.write_text(json.dumps([dict(TEST_DPR[0], negative_ctxs=5)]))
    (q,), passages = load_dpr_retriever(path, keep_passages=False)
    assert passages == [] and q.gold_passage_ids == ["7"] and q.hard_negative_ids == ["9"]
    with pytest.raises(DataError, match="record 0: negative_ctxs must be a list"):
        load_dpr_retriever(path, keep_passages=True)


def test_memory_holds_one_record_not_the_file(tmp_path):
    """Peak Python memory while loading a 10 MB file of big ctxs stays far below the file's size
    (the whole-file loader held the bytes, the text and every parsed object: several times the file)."""
    filler = " ".join(["word"] * 1000)
    records = [{"question": f"q{i}?", "answers": ["Tarn"], "positive_ctxs": [ctx(f"Tarn {filler}", passage_id=str(i))],
                "negative_ctxs": [ctx(filler, passage_id=f"n{i}-{j}") for j in range(10)],
                "hard_negative_ctxs": [ctx(filler, passage_id=f"h{i}-{j}") for j in range(10)]} for i in range(100)]
    path = tmp_path / "train.json"
    path.write_text(json.dumps(records))
    size = path.stat().st_size
    assert size > 10_000_000
    for load in (load_dpr_retriever, reference_load):
        tracemalloc.start()
        questions, _ = load(path, None, False)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(questions) == 100
        if load is load_dpr_retriever:
            assert peak < size / 10, (peak, size)
        else:
            assert peak > size  # what the test would see without streaming


def test_first_record_only_is_read_to_start(tmp_path, monkeypatch):
    """The reader does not parse the file whole: read_json is never called for a list."""
    monkeypatch.setattr(dpr, "read_json", lambda path: pytest.fail("read_json called"))
    path = tmp_path / "train.json"
    path.write_text(json.dumps(TEST_DPR))
    assert len(load_dpr_retriever(path)[0]) == 2
    items = iter_json_list(path)
    assert next(items)["question"] == "who built the ferry?"
    items.close()


def test_values_yajl_refuses_still_load(tmp_path):
    """NaN, Infinity and integers beyond 64 bits are valid for Python's json: ijson stops there and the
    standard library continues from that record, so the file loads as before."""
    path = tmp_path / "train.json"
    records = [dict(TEST_DPR[1], question=f"q{i}") for i in range(3)]
    text = json.dumps(records).replace('"passage_id": "7"', '"passage_id": "7", "score": NaN', 2)
    path.write_text(text.replace('"answers": ["12"]', '"answers": [12, 1e999, 99999999999999999999]'))
    assert outcome(load_dpr_retriever, path, True) == outcome(reference_load, path, True)
    assert load_dpr_retriever(path)[0][0].answers == ["12", "inf", "99999999999999999999"]


# a valid document mutated a few bytes at a time: any outcome must be the whole-file parser's
BASE = json.dumps([{"question": "wh\u00e9re? \\ \"q\"", "answers": ["a", 1.5, 2],
                    "positive_ctxs": [{"text": "t\u00e9xt", "passage_id": 3}], "x": [True, None, False, -0.5e3]}
                   for _ in range(4)], indent=1).encode()
ALPHABET = list(b'[]{},:"\\ \n\t0123456789.-+eEtrufalsnNIx\x01')
edits = st.lists(st.tuples(st.floats(0, 1), st.integers(0, len(BASE)), st.sampled_from(ALPHABET)), min_size=1,
                 max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits, st.sampled_from([1 << 20, 5, 64]), st.booleans())
def test_mutated_json_gives_read_json_outcome(tmp_path, monkeypatch, edit, block, cut):
    data = bytearray(BASE)
    for op, i, byte in edit:
        i = min(i, len(data))
        if op < 0.4:
            data[i:i] = bytes([byte])
        elif i < len(data):
            if op < 0.7:
                del data[i]
            else:
                data[i] = byte
    if cut:
        data = data[:random.Random(len(data)).randrange(len(data) + 1)]
    path = tmp_path / "t.json"
    path.write_bytes(bytes(data))
    monkeypatch.setattr(dpr, "JSON_BLOCK", block)
    try:
        expected = read_json(path)
    except DataError as ex:
        expected = str(ex)
    if not isinstance(expected, list | str):
        return
    try:
        got = list(iter_json_list(path))
    except DataError as ex:
        got = str(ex)
    assert repr(got) == repr(expected)
