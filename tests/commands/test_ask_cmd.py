"""`rom ask`: after a short training the memorised demo questions get their answers back.

The tiny random encoder cannot generalise in a few seconds of training, so the questions asked are
training questions the reader has memorised; BM25 finds their passages (dense retrieval of this
model is too weak to rely on), the shared reader must then pick the exact span.
"""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from rom_cli.checkpoints import resolve_checkpoint
from rom_cli.data.load import load_task
from rom_cli.evaluation.answering import Answerer
from rom_cli.evaluation.metrics import exact_match
from rom_cli.evaluation.pipeline import EvalSetup, evaluate
from rom_cli.evaluation.session import open_checkpoint
from rom_cli.retrieval.index_store import load_index_folder
from tests.commands.conftest import one_line_error, rom


@pytest.fixture(scope="module")
def answered(trained_run, index_dir):
    """[(question, gold answers, predicted answer)] for the memorised training questions."""
    path = resolve_checkpoint(str(trained_run))
    session = open_checkpoint(path, "cpu", "fp32", threads=1)
    folder = load_index_folder(index_dir, expected_fingerprint=session.fingerprint())
    cfg = OmegaConf.load(path / "config.yaml")
    questions = load_task(cfg.task, cfg.data).split("train")
    answerer = Answerer(session, folder, top_k=3, read_top_k=1, retriever="bm25")
    return [(q.text, q.answers, answerer.ask(q.text).answer) for q in questions]


def test_ask_returns_the_memorised_answers(answered, trained_run, index_dir, tmp_path):
    right = [(q, gold, a.text) for q, gold, a in answered if a is not None and exact_match(a.text, gold)]
    assert len(right) >= len(answered) // 2, answered
    question, gold, text = right[0]
    out = rom("ask", f"checkpoint={trained_run}", f"index={index_dir}", question, "retriever=bm25", "top_k=3",
              f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"answer: {text}" in out.stdout and text in gold
    assert not tmp_path.exists()  # `rom ask` writes nothing of its own: its run folder does not stay
    assert "top 3 passages (bm25):" in out.stdout and " 3. [" in out.stdout


def test_ask_interactive_prompt_with_dense_retrieval(trained_run, index_dir, tmp_path):
    out = rom("ask", f"checkpoint={trained_run}", f"index={index_dir}", "top_k=2", f"hydra.run.dir={tmp_path}",
              stdin="Who founded a brewery?\nWhen was it built?\nexit\n")
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("answer: ") == 2 and out.stdout.count("top 2 passages (dense):") == 2
    assert out.stdout.count("question> ") == 3


def test_ask_bad_input_is_one_line(trained_run, index_dir, tmp_path):
    line = one_line_error(rom("ask", f"checkpoint={trained_run}", f"index={index_dir}", "   ",
                              f"hydra.run.dir={tmp_path / 'a'}"))
    assert "question is empty" in line and "index_dir=DIR" in line and " index=" not in line
    line = one_line_error(rom("ask", f"checkpoint={trained_run}", "Who?", f"hydra.run.dir={tmp_path / 'd'}"))
    assert "index_dir=... is required" in line
    assert not any((tmp_path / name).exists() for name in "abcd")  # refused: no run folders left behind
    line = one_line_error(rom("ask", f"checkpoint={trained_run}", f"index={tmp_path / 'none'}", "Who?",
                              f"hydra.run.dir={tmp_path / 'b'}"))
    assert "does not exist" in line
    line = one_line_error(rom("ask", f"checkpoint={tmp_path}", f"index={index_dir}", "Who?",
                              f"hydra.run.dir={tmp_path / 'c'}"))
    assert "not a rom checkpoint" in line


@pytest.mark.parametrize("rank_with_retriever", [True, False])
def test_ask_and_eval_pick_the_same_answer(trained_run, index_dir, rank_with_retriever):
    """Same checkpoint, question and top-k: `rom ask` picks the answer `rom eval` scores, retriever
    prior included (dense retrieval, reading the top 5, so the prior can change the pick)."""
    path = resolve_checkpoint(str(trained_run))
    session = open_checkpoint(path, "cpu", "fp32", threads=1)
    folder = load_index_folder(index_dir, expected_fingerprint=session.fingerprint())
    cfg = OmegaConf.load(path / "config.yaml")
    cfg.task.train_limit = cfg.task.eval_limit = None
    data = load_task(cfg.task, cfg.data)
    questions = [q for s in ("train", "dev", "test") for q in data.split(s)][:40]
    eval_cfg = OmegaConf.merge(cfg.eval, {"top_k": [1, 5], "read_top_k": [5],
                                          "rank_with_retriever": rank_with_retriever})
    setup = EvalSetup(session.model, session.packer, session.enc_cfg, eval_cfg, cfg.index, session.device,
                      session.precision)
    _, predictions = evaluate(setup, folder.passages, questions, with_predictions=True, index=folder.index)
    answerer = Answerer(session, folder, top_k=5, read_top_k=5, rank_with_retriever=rank_with_retriever)
    asked = [answerer.ask(q.text).answer for q in questions]
    assert [a.text if a else "" for a in asked] == [p["prediction"] for p in predictions]


def test_ask_reranks_with_the_reader_like_eval(trained_run, index_dir, tmp_path):
    out = rom("ask", f"checkpoint={trained_run}", f"index_dir={index_dir}", "rerank_top_k=5", "top_k=3",
              "Who founded a brewery?", f"hydra.run.dir={tmp_path / 'r'}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "top 3 passages (dense, reranked):" in out.stdout and "answer: " in out.stdout
