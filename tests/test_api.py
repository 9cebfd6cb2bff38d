"""The Python API (rom_cli/api.py): `rom_cli.load` opens what the CLI opens, and its vectors and answers are
the CLI's own (the encoder's roles, the reader on the gold passage, `rom ask` end to end)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

import rom_cli
from rom_cli.data.load import load_task
from rom_cli.data.types import Passage
from rom_cli.errors import RomError
from rom_cli.evaluation.metrics import exact_match
from tests.commands.conftest import index_dir, rom, trained_run  # noqa: F401  (session fixtures)
from tests.conftest import REPO


@pytest.fixture(scope="module")
def api(trained_run):  # noqa: F811
    return rom_cli.load(trained_run, device="cpu", precision="fp32", threads=1)


@pytest.fixture(scope="module")
def memorised(api):
    """(question, gold passage) of the training questions the tiny run memorised."""
    cfg = api.config
    task = load_task(cfg.task, cfg.data)
    corpus = task.corpus("train")
    return [(q, corpus.get(q.gold_passage_ids[0])) for q in task.split("train")]


def test_import_stays_light_and_load_needs_no_trainer(trained_run):  # noqa: F811
    code = textwrap.dedent(f"""
        import sys
        import rom_cli
        heavy = sorted(m for m in ("torch", "transformers", "omegaconf", "hydra") if m in sys.modules)
        rom = rom_cli.load({str(trained_run / "last")!r}, device="cpu", precision="fp32")
        print(heavy, rom.step, sorted(m for m in sys.modules if m.startswith("rom_cli.training")))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[] 120 []"


def test_checkpoint_names_resolve_like_the_cli(api, trained_run):  # noqa: F811
    assert rom_cli.load(trained_run / "last", device="cpu", precision="fp32").path == api.path
    with pytest.raises(RomError, match="no best checkpoint was selected; use last instead"):
        rom_cli.load(trained_run / "best")


def test_vectors_are_the_encoders_roles(api):
    """Queries are `[CLS] q [SEP]` through the query role, passages `[CLS] title [SEP] text [SEP]` through the
    passage role; the title counts."""
    s = api.session
    questions = ["Who founded the brewery?", "When was the mill built?"]
    tok = s.packer.tokenize(questions).ids
    with torch.no_grad():
        expected = s.model.embed("query", s.packer.queries(tok, 32)).numpy()
    assert np.abs(api.encode_queries(questions) - expected).max() < 1e-5
    titled = Passage("p", "The mill on the river was built in 1820.", "Old mill")
    titles, texts = s.packer.tokenize([titled.title]).ids, s.packer.tokenize([titled.text]).ids
    with torch.no_grad():
        expected = s.model.embed("passage", s.packer.passages(titles, texts, 96)).numpy()
    vectors = api.encode_passages([titled, titled.text, Passage("dup", titled.text)])
    assert vectors.shape == (3, s.model.embedding_dim)
    assert np.abs(vectors[0] - expected[0]).max() < 1e-5
    assert np.abs(vectors[1] - vectors[2]).max() < 1e-6 and np.abs(vectors[0] - vectors[1]).max() > 1e-3


def test_read_answers_the_memorised_questions_from_their_gold_passage(api, memorised):
    answers = [(q, api.read(q.text, [gold.text])) for q, gold in memorised]
    right = [a for q, a in answers if exact_match(a.text, q.answers)]
    assert len(right) >= len(answers) // 2, [(q.text, q.answers, a.text) for q, a in answers]
    q, gold = memorised[0]
    other = Passage("x", "An unrelated passage about a river and a bridge.", "River")
    answer = api.read(q.text, [other, gold])  # passages as Passage objects; the answer names its position
    assert answer.passage == 1 and gold.text[answer.start: answer.end] == answer.text


def test_ask_answers_as_rom_ask(api, memorised, index_dir, trained_run, tmp_path):  # noqa: F811
    q, _ = memorised[0]
    reply = api.ask(q.text, index_dir, top_k=3, retriever="bm25")
    assert len(reply.hits) == 3 and api.ask(q.text, index_dir, top_k=3, retriever="bm25").answer == reply.answer
    out = rom("ask", f"checkpoint={trained_run}", f"index={index_dir}", q.text, "retriever=bm25", "top_k=3",
              "precision=fp32", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"answer: {reply.answer.text}  (score {reply.answer.score:.3f}" in out.stdout


def test_bad_inputs_are_rom_errors(api):
    with pytest.raises(RomError, match="question is empty"):
        api.read("  ", ["text"])
    with pytest.raises(RomError, match="no passages given"):
        api.read("Who?", [])
    with pytest.raises(RomError, match=r"passages\[1\] is a int: expected a str or a rom_cli.data.types.Passage"):
        api.encode_passages(["text", 3])
    assert OmegaConf.is_config(api.config) and api.step == 120
