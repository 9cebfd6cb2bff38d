"""scripts/make_corpus.py: a 2,000-passage synthetic DPR dataset loads with rom's own loaders, every
ctx is a TSV passage (same id, title, text), answers are spans of the positive passage and absent
from the negatives, and passage i is regenerated identically on demand."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rom_cli.data.common import find_answer
from rom_cli.data.dpr import TsvCorpus, load_dpr_retriever, load_qa_csv
from rom_cli.data.types import LoadStats

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "make_corpus.py"


def load_script():
    spec = importlib.util.spec_from_file_location("make_corpus", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--passages", "2000",
                           "--questions", "400", "--dev", "100", "--seed", "3"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_files_load_with_rom_loaders(dataset):
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert (manifest["passages"], manifest["questions"], manifest["dev"], manifest["seed"]) == (2000, 400, 100, 3)
    for name in ("psgs.tsv", "train.json", "dev.csv"):
        assert manifest["files"][name]["bytes"] == (dataset / name).stat().st_size > 0
    assert manifest["seconds"]["total"] > 0 and manifest["passages_per_s"] > 0
    assert not list(dataset.glob(".*tmp*"))  # no temporary file left behind

    assert (dataset / "psgs.tsv").read_text(encoding="utf-8").startswith("id\ttext\ttitle\n")
    corpus = TsvCorpus(dataset / "psgs.tsv")
    assert len(corpus) == 2000
    assert [corpus[i].id for i in (0, 1999)] == ["1", "2000"]
    words = [len(corpus[i].text.split()) for i in range(0, 2000, 7)]
    assert 90 <= sum(words) / len(words) <= 110
    quoted = [p for p in (corpus[i] for i in range(2000)) if '"' in p.text or '"' in p.title]
    assert quoted, "DPR's TSV has quoted fields; the synthetic one should too"

    stats = LoadStats()
    questions, ctx_passages = load_dpr_retriever(dataset / "train.json", stats)
    assert len(questions) == 400 and not stats.skipped
    records = json.loads((dataset / "train.json").read_text(encoding="utf-8"))
    for q, rec in zip(questions, records, strict=True):
        assert q.text == rec["question"] and q.answers == rec["answers"]
        assert len(q.gold_passage_ids) == 1 and len(rec["negative_ctxs"]) == 1
        assert 1 <= len(rec["hard_negative_ctxs"]) <= 2
        assert q.spans, f"answer {q.answers} not found in the positive passage of {q.text!r}"
        gold = corpus.get(q.gold_passage_ids[0])
        for span in q.spans:
            assert gold.text[span.start:span.end] == span.text
        for key in ("positive_ctxs", "negative_ctxs", "hard_negative_ctxs"):
            for c in rec[key]:
                p = corpus.get(c["passage_id"])
                assert (p.title, p.text) == (c["title"], c["text"])
                if key != "positive_ctxs":
                    assert find_answer(c["text"], rec["answers"][0]) is None
                    assert c["passage_id"] != rec["positive_ctxs"][0]["passage_id"]
    assert len({p.id for p in ctx_passages}) == len(ctx_passages)

    dev = load_qa_csv(dataset / "dev.csv")
    assert len(dev) == 100
    train_texts = {q.text for q in questions}
    found = 0
    for q in dev:
        assert q.text not in train_texts  # dev questions ask about held-out articles
        hit = any(find_answer(corpus[i].text, q.answers[0]) is not None for i in range(len(corpus)))
        found += hit
    assert found == len(dev)


def test_passages_are_a_function_of_seed_and_id():
    mc = load_script()
    gen = mc.Generator(seed=5, passages=500)
    block = gen.passages(range(1, 501))
    assert gen.passages([417, 3, 3]) == [block[416], block[2], block[2]]
    again = mc.Generator(seed=5, passages=500)
    assert again.passages([1, 250]) == [block[0], block[249]]
    assert mc.Generator(seed=6, passages=500).passages([1]) != [block[0]]
    # the questions stage regenerates the passages it needs identically
    rec = gen.questions(range(0, 20), dev=False)
    for r in rec:
        pid = int(r["positive_ctxs"][0]["passage_id"])
        assert (r["positive_ctxs"][0]["title"], r["positive_ctxs"][0]["text"]) == block[pid - 1]


def test_bad_arguments():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", "x", "--passages", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--passages must be >= 1" in proc.stderr
