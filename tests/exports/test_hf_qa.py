"""format=hf-qa: the exported *ForQuestionAnswering model gives rom's span logits, and decoded as transformers'
question-answering pipeline decodes (transformers 4; the pipeline left transformers 5.0) it answers the memorised
demo questions from their gold passage exactly as rom's reader (`rom ask` on that passage) does.

Where they may differ, and why it is not tested as equal: on a passage longer than one reader window, rom ranks
windows by its relevance head plus the span score; the QA model has no relevance head. The logits still agree.
With ROM_TEST_TRANSFORMERS4=<a folder holding transformers 4.x> the real pipeline runs too (else skipped)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import rom_cli
from rom_cli.checkpoints import resolve_checkpoint
from rom_cli.data.load import load_task
from rom_cli.evaluation.session import open_checkpoint
from rom_cli.exports.hf_qa import export, rom_logits
from rom_cli.model.inputs import window_budget
from tests.commands.conftest import trained_run  # noqa: F401  (session fixture)


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):  # noqa: F811
    session = open_checkpoint(resolve_checkpoint(str(trained_run)), "cpu", "fp32", threads=1)
    folder = tmp_path_factory.mktemp("hfqa") / "qa"
    meta = export(session, folder)
    return session, folder, meta


@pytest.fixture(scope="module")
def memorised(exported):
    session = exported[0]
    task = load_task(session.run_cfg.task, session.run_cfg.data)
    corpus = task.corpus("train")
    return [(q.text, corpus.get(q.gold_passage_ids[0]).text) for q in task.split("train")]


def pipeline_answer(model, tokenizer, question: str, context: str, max_seq_len: int, doc_stride: int,
                    max_answer_len: int) -> str:
    """transformers 4's QuestionAnsweringPipeline (top_k=1, align_to_words=False) in a few lines: the context's
    windows; per window a softmax of start and end logits over the context tokens and [CLS] (then zeroed); the
    best span by probability product with at most max_answer_len tokens; the best window by that score."""
    enc = tokenizer(question, context, truncation="only_second", max_length=max_seq_len, stride=doc_stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True, padding=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")
    enc.pop("overflow_to_sample_mapping", None)
    with torch.no_grad():
        out = model(**enc)
    best = None
    for w in range(enc["input_ids"].shape[0]):
        keep = np.array([s == 1 for s in enc.sequence_ids(w)])
        keep[0] = True  # [CLS] stays in the softmax, its probability is zeroed after
        probs = []
        for logits in (out.start_logits[w].numpy(), out.end_logits[w].numpy()):
            x = np.where(keep, logits, -10000.0)
            x = np.exp(x - x.max())
            x = x / x.sum()
            x[0] = 0.0
            probs.append(x)
        spans = np.tril(np.triu(np.outer(*probs)), max_answer_len - 1)
        s, e = np.unravel_index(int(spans.argmax()), spans.shape)
        if best is None or spans[s, e] > best[0]:
            best = (spans[s, e], int(offsets[w][s][0]), int(offsets[w][e][1]))
    return context[best[1]: best[2]]


def test_logits_are_rom_span_head(exported, memorised):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    session, folder, meta = exported
    qa = AutoModelForQuestionAnswering.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    assert meta["architecture"] == type(qa).__name__ == "BertForQuestionAnswering" and meta["max_abs_diff"] < 1e-5
    for question, context in memorised:
        ids, passage, start, end = rom_logits(session, question, context)
        inputs = tokenizer(question, context, truncation="only_second", max_length=128, return_tensors="pt")
        assert inputs["input_ids"][0].tolist() == ids.tolist()
        with torch.no_grad():
            out = qa(**inputs)
        assert torch.allclose(out.start_logits[0][passage], start[passage], atol=1e-5)
        assert torch.allclose(out.end_logits[0][passage], end[passage], atol=1e-5)


def test_decoded_like_the_pipeline_it_answers_as_rom_on_the_gold_passage(exported, memorised, trained_run):  # noqa: F811
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    session, folder, meta = exported
    qa = AutoModelForQuestionAnswering.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    api = rom_cli.load(trained_run, device="cpu", precision="fp32", threads=1)
    kw = meta["pipeline_kwargs"]
    enc = session.enc_cfg
    for question, context in memorised:
        q_len = len(session.packer.tokenize([question]).ids[0])
        assert len(session.packer.tokenize([context]).ids[0]) <= window_budget(enc.reader_max_length, q_len)
        ours = api.read(question, [context]).text
        theirs = pipeline_answer(qa, tokenizer, question, context, kw["max_seq_len"], kw["doc_stride"],
                                 kw["max_answer_len"])
        assert theirs == ours, (question, context)
    assert any(api.read(q, [c]).text for q, c in memorised)


def _transformers4_env() -> dict | None:
    extra = os.environ.get("ROM_TEST_TRANSFORMERS4")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (extra, os.environ.get("PYTHONPATH")) if p)}
    probe = "import transformers.pipelines as p; p.check_task('question-answering')"
    ok = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, timeout=120).returncode == 0
    return env if ok else None


def test_the_real_pipeline_answers_as_rom(exported, memorised, trained_run, tmp_path):  # noqa: F811
    env = _transformers4_env()
    if env is None:
        pytest.skip("transformers has no question-answering pipeline (removed in 5.0); set ROM_TEST_TRANSFORMERS4")
    session, folder, meta = exported
    (tmp_path / "pairs.json").write_text(json.dumps(memorised))
    code = ("import json, sys; from transformers import pipeline; "
            f"qa = pipeline('question-answering', model={str(folder)!r}, device='cpu'); "
            f"pairs = json.load(open({str(tmp_path / 'pairs.json')!r})); "
            f"print(json.dumps([qa(question=q, context=c, **{meta['pipeline_kwargs']!r})['answer'] for q, c in pairs]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    api = rom_cli.load(trained_run, device="cpu", precision="fp32", threads=1)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [api.read(q, [c]).text for q, c in memorised]
