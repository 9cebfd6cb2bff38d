"""format=sentence-transformers: SentenceTransformer(folder).encode_query / encode_document reproduce rom's query
and passage vectors to 1e-5, for mean and cls pooling, with per-role projections, cosine and dot, shared and three
towers, titled and untitled passages, and passages longer than the encoder's limit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rom_cli.data.load import load_task
from rom_cli.data.types import InMemoryCorpus, Passage
from rom_cli.errors import RomError
from rom_cli.exports.st import export
from rom_cli.model.encode import encode_corpus, encode_queries

pytest.importorskip("sentence_transformers")

SHAPES = {
    "mean-projected-cosine": ["encoder.projection_dim=8"],
    "cls-dot-three-towers": ["encoder.pooling=cls", "encoder.similarity=dot", "encoder.shared=false"],
}


def _inputs(session):
    task = load_task(session.run_cfg.task, session.run_cfg.data)
    corpus = task.corpus("train")
    passages = [corpus[i] for i in range(0, 60, 3)]
    passages = [p if i % 2 else Passage(p.id, p.text) for i, p in enumerate(passages)]  # half of them untitled
    passages.append(Passage("long", " ".join(p.text for p in passages), "A title of several words"))  # truncated
    questions = [q.text for q in task.split("train")[:12]] + ["a question " * 40]  # the last one truncated
    return questions, passages


@pytest.mark.parametrize("shape", SHAPES)
def test_encodings_reproduce_rom_vectors(make_session, tmp_path, shape):
    from sentence_transformers import SentenceTransformer

    session = make_session(*SHAPES[shape])
    meta = export(session, tmp_path / "st")
    model = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    questions, passages = _inputs(session)
    enc = session.enc_cfg
    ours_q = encode_queries(session.model, session.packer, session.packer.tokenize(questions), enc.query_max_length,
                            8, session.device, "fp32")
    ours_p, _ = encode_corpus(session.model, session.packer, InMemoryCorpus(passages), enc.passage_max_length, 8,
                              session.device, "fp32")
    theirs_q = model.encode_query(questions, convert_to_numpy=True, show_progress_bar=False)
    theirs_p = model.encode_document([(p.title, p.text) if p.title else p.text for p in passages],
                                     convert_to_numpy=True, show_progress_bar=False)
    assert theirs_q.shape == ours_q.shape and theirs_p.shape == ours_p.shape
    assert np.abs(theirs_q - ours_q).max() < 1e-5
    assert np.abs(theirs_p - ours_p).max() < 1e-5
    # the routes differ: a question encoded as a passage is not its query vector
    assert np.abs(model.encode_document(questions[:3], convert_to_numpy=True, show_progress_bar=False)
                  - ours_q[:3]).max() > 1e-3
    saved = json.loads((tmp_path / "st" / "rom_export.json").read_text())
    assert saved["max_abs_diff"] == meta["max_abs_diff"] < 1e-5 and saved["step"] == 1
    readme = (tmp_path / "st" / "README.md").read_text()
    assert "encode_query" in readme and "(title, text)" in readme


def test_a_joined_title_changes_the_vector(make_session, tmp_path):
    """Why the README asks for (title, text) pairs: "title [SEP] text" as one string is another input."""
    from sentence_transformers import SentenceTransformer

    session = make_session()
    export(session, tmp_path / "st")
    model = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    pair = model.encode_document([("Old mill", "The mill was built in 1818.")], convert_to_numpy=True)
    joined = model.encode_document(["Old mill [SEP] The mill was built in 1818."], convert_to_numpy=True)
    assert np.abs(pair - joined).max() > 1e-3


def test_an_existing_folder_that_is_no_export_is_left_alone(make_session, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(RomError, match="exists and is not an earlier rom export"):
        export(make_session(), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_without_sentence_transformers_it_is_one_line_naming_the_package(make_session, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(RomError, match=r"the sentence-transformers package is not installed.*rom-cli\[export\]"):
        export(make_session(), tmp_path / "st")
    assert not (tmp_path / "st").exists()
