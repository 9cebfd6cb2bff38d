import json
import os

import numpy as np
import pytest

from rom_cli.data.dpr import TsvCorpus, load_dpr_retriever, load_qa_csv
from rom_cli.data.types import LoadStats
from rom_cli.errors import DataError


def ctx(text, title="T", **ids):
    return {"title": title, "text": text, **ids}


def test_retriever_json(tmp_path):
    items = [
        {"question": "who built the ferry?", "answers": ["tarn hollis"],
         "positive_ctxs": [ctx("The ferry was built by Tarn Hollis in 1412.", passage_id="7")],
         "negative_ctxs": [ctx("Unrelated text.")],
         "hard_negative_ctxs": [ctx("Tarn Hollis also liked boats.", psg_id=9)]},
        {"question": "year?", "answers": ["12"],
         "positive_ctxs": [ctx("The ferry was built by Tarn Hollis in 1412.", passage_id="7")],
         "negative_ctxs": [], "hard_negative_ctxs": []},
    ]
    path = tmp_path / "train.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    questions, passages = load_dpr_retriever(path, LoadStats())
    q0, q1 = questions
    assert q0.gold_passage_ids == ["7"] and q0.hard_negative_ids == ["9"]
    (span,) = q0.spans
    assert span.text == "Tarn Hollis" and passages[0].text[span.start:span.end] == "Tarn Hollis"
    assert q1.spans == []  # "12" is not a word of "1412"
    ids = [p.id for p in passages]
    assert ids[:1] == ["7"] and "9" in ids and len(ids) == 3 and len(set(ids)) == 3
    hashed = next(p for p in passages if p.text == "Unrelated text.")
    again, _ = load_dpr_retriever(path)
    assert hashed.id.startswith("h") and hashed.id in [p.id for p in load_dpr_retriever(path)[1]]
    assert again[0].id == q0.id


def test_qa_csv(tmp_path):
    path = tmp_path / "dev.qa.csv"
    path.write_text("who built it?\t[\"Tarn Hollis\", \"Hollis\"]\nwhen?\t['1412']\n", encoding="utf-8")
    qs = load_qa_csv(path)
    assert [q.answers for q in qs] == [["Tarn Hollis", "Hollis"], ["1412"]]


def test_qa_csv_bad_line(tmp_path):
    path = tmp_path / "dev.csv"
    path.write_text("ok\t['a']\nmissing answers column\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev.csv:2: expected 2 tab-separated columns"):
        load_qa_csv(path)


def write_tsv(path, rows, header="id\ttext\ttitle"):
    lines = [header] if header else []
    lines += ["\t".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_tsv_corpus_random_access_and_int_ids(tmp_path):
    rows = [(str(i), f'"passage number {i} says ""hi"""', f"Title {i}") for i in (30, 10, 20, 5)]
    corpus = TsvCorpus(write_tsv(tmp_path / "psgs.tsv", rows))
    assert len(corpus) == 4
    assert corpus[1].id == "10" and corpus[1].text == 'passage number 10 says "hi"' and corpus[1].title == "Title 10"
    assert corpus[-1].id == "5"
    assert corpus.index_of("20") == 2 and corpus.get("30").title == "Title 30"
    assert "11" not in corpus and "abc" not in corpus and "10" in corpus
    # only offsets and ids are held, no parsed rows
    assert isinstance(corpus._offsets, np.ndarray) and corpus._offsets.dtype == np.int64
    assert corpus._int_sorted.tolist() == [5, 10, 20, 30]
    assert [p.id for b in corpus.batches(3) for p in b] == ["30", "10", "20", "5"]
    with pytest.raises(IndexError):
        corpus[4]


def test_tsv_corpus_string_ids_and_cache(tmp_path):
    path = write_tsv(tmp_path / "psgs.tsv", [("wiki:a", "alpha text", "A"), ("007", "bond", "B")])
    cache = tmp_path / "cache"
    corpus = TsvCorpus(path, cache_dir=cache)
    assert corpus.index_of("007") == 1 and "7" not in corpus and corpus.get("wiki:a").text == "alpha text"
    (cached,) = list(cache.glob("tsv-*.npz"))
    again = TsvCorpus(path, cache_dir=cache)  # from the cache
    assert again.get("007").title == "B" and len(again) == 2
    # a changed file gets a new cache key
    write_tsv(path, [("x", "y", "z")])
    os.utime(path, ns=(1, 1))
    assert TsvCorpus(path, cache_dir=cache)[0].id == "x"
    assert cached.exists()


def test_tsv_wrong_column_count_names_line(tmp_path):
    path = write_tsv(tmp_path / "psgs.tsv", [("1", "ok", "t"), ("2", "no title")])
    with pytest.raises(DataError) as err:
        TsvCorpus(path)
    assert f"{path}:3:" in str(err.value) and "found 2" in str(err.value)


def test_tsv_duplicate_ids(tmp_path):
    path = write_tsv(tmp_path / "psgs.tsv", [("1", "a", "t"), ("1", "b", "t")])
    with pytest.raises(DataError, match="duplicate passage id 1"):
        TsvCorpus(path)


def test_tsv_quoted_tab_blank_lines_and_no_final_newline(tmp_path):
    path = tmp_path / "psgs.tsv"
    path.write_text('id\ttext\ttitle\n1\t"a\ttabbed text"\tA\n\n2\tplain\tB', encoding="utf-8")
    corpus = TsvCorpus(path)
    assert len(corpus) == 2 and corpus.get("1").text == "a\ttabbed text" and corpus.get("2").title == "B"


def test_tsv_error_line_number_counts_blank_lines(tmp_path):
    path = tmp_path / "psgs.tsv"
    path.write_text("id\ttext\ttitle\n1\ta\tA\n\n2\tb\tB\n3\tc\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"psgs.tsv:5: expected 3"):
        TsvCorpus(path)


def test_tsv_without_header_and_other_column_order(tmp_path):
    plain = tmp_path / "plain.tsv"
    plain.write_text("5\tfive\tF\n", encoding="utf-8")
    assert TsvCorpus(plain).get("5").text == "five"
    reordered = tmp_path / "reordered.tsv"
    reordered.write_text("id\ttitle\ttext\nx1\tTitle\tBody\n", encoding="utf-8")
    assert TsvCorpus(reordered).get("x1").text == "Body"
