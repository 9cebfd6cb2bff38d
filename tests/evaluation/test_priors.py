"""The prior `pick_answers` adds over the passages read: the retriever's own logits for dense retrieval, the
weighted z-scores of the first stage for BM25 / hybrid (`eval.first_stage_prior`)."""

from __future__ import annotations

import numpy as np

from rom_cli.evaluation.reading import Priors, WindowScores, pick_answers, retriever_priors


def test_dense_priors_are_the_retrievers_logits_and_padding_is_dropped():
    scores = np.asarray([[0.8, 0.5, -np.inf]])
    priors = retriever_priors(scores, "dense", True, temperature=0.05)
    assert np.allclose(priors.logits(0, None), [16.0, 10.0])
    assert np.allclose(priors.logits(0, 1), [16.0])
    assert retriever_priors(scores, "dense", False, 0.05, first_stage_prior=2.0) is None


def test_first_stage_prior_is_a_weighted_z_score_over_the_k_read_whatever_the_scale():
    bm25 = np.asarray([[31.0, 17.0, 12.0, 9.0, -np.inf]])
    assert retriever_priors(bm25, "bm25", True, 0.05, first_stage_prior=0.0) is None  # the reader alone
    priors = retriever_priors(bm25, "bm25", True, 0.05, first_stage_prior=2.0)
    for k in (2, 4):
        z = priors.logits(0, k) / 2.0
        assert len(z) == k and abs(z.mean()) < 1e-9 and abs(z.std() - 1.0) < 1e-9
    rescaled = retriever_priors(bm25 * 7.0 + 3.0, "hybrid", True, 0.05, first_stage_prior=2.0)
    assert np.allclose(rescaled.logits(0, 4), priors.logits(0, 4))  # BM25's scale does not matter
    assert np.allclose(Priors([np.asarray([5.0])], 2.0, standardize=True).logits(0, 1), [0.0])  # one passage


def test_the_first_stage_prior_can_overrule_a_reader_that_cannot_tell_passages_apart():
    """The reader slightly prefers first-stage rank 2's span; a weight-2 prior keeps the first stage's top pick."""
    ws = WindowScores(question=np.zeros(3, dtype=np.int64), passage=np.asarray([10, 11, 12]), rank=np.arange(3),
                      relevance=np.zeros(3), span=np.asarray([-2.0, -2.5, -1.5]),
                      start=np.zeros(3, dtype=np.int64), end=np.ones(3, dtype=np.int64))

    class Corpus:
        def __getitem__(self, i):
            return type("P", (), {"text": f"passage {i}"})()

    hybrid = np.asarray([[0.9, 0.6, 0.5]])
    assert pick_answers(ws, Corpus(), 1, 3)[0].passage == 12
    assert pick_answers(ws, Corpus(), 1, 3, retriever_priors(hybrid, "hybrid", True, 0.05, 2.0))[0].passage == 10
    assert pick_answers(ws, Corpus(), 1, 1, retriever_priors(hybrid, "hybrid", True, 0.05, 2.0))[0].passage == 10


def test_a_negative_weight_is_refused_where_the_api_builds_an_answerer():
    import pytest

    from rom_cli.errors import RomError
    from rom_cli.evaluation.answering import Answerer

    with pytest.raises(RomError, match=r"config eval.first_stage_prior=-0.5: expected a weight >= 0"):
        Answerer(None, None, first_stage_prior=-0.5)  # refused before the session or folder is touched
