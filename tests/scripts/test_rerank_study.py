"""scripts/rerank_study.py: every ordering is scored on the same reader windows, and each is the ordering it names."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from rom_cli.evaluation.reading import WindowScores
from tests.scripts.test_bench_table import load_script


def windows() -> WindowScores:
    """One question, three candidates (first-stage ranks 0, 1, 2); candidate 1 has two windows."""
    arr = lambda *v: np.asarray(v)  # noqa: E731
    return WindowScores(question=arr(0, 0, 0, 0), passage=arr(10, 11, 11, 12), rank=arr(0, 1, 1, 2),
                        relevance=arr(0.0, 3.0, -1.0, 1.0), span=arr(-1.0, -9.0, -0.5, -2.0),
                        start=arr(0, 0, 0, 0), end=arr(5, 5, 5, 5))


def test_passage_table_takes_each_score_at_the_passages_best_window():
    study = load_script("rerank_study")
    table = study.passage_table(windows(), [[10, 11, 12]])
    assert table["relevance"].tolist() == [[0.0, 3.0, 1.0]]
    assert table["span"].tolist() == [[-1.0, -0.5, -2.0]]
    assert table["relevance_span"].tolist() == [[-1.0, -1.5, -1.0]]  # max of (3 - 9, -1 - 0.5) for candidate 1


def test_each_variant_orders_by_what_it_names():
    study = load_script("rerank_study")
    table = study.passage_table(windows(), [[10, 11, 12]])
    first = np.asarray([[5.0, 4.0, 1.0]])
    perms = study.orders(table, first, weight=0.0)
    assert perms["first_stage"].tolist() == [[0, 1, 2]]
    assert perms["relevance"].tolist() == [[1, 2, 0]]
    assert perms["span"].tolist() == [[1, 0, 2]]
    assert perms["relevance_span"].tolist() == [[0, 2, 1]]  # ties keep the first-stage order
    assert perms["interpolated"].tolist() == [[0, 1, 2]]  # weight 0: the first stage alone
    assert study.orders(table, first, weight=100.0)["interpolated"].tolist() == [[1, 2, 0]]  # relevance dominates
    # rrf: candidate 1 is first-stage 2nd and relevance 1st, candidate 0 is 1st and 3rd: 1 wins
    assert perms["rrf"].tolist()[0][0] == 1


def test_measure_reads_the_reordered_list():
    study = load_script("rerank_study")
    corpus = {10: SimpleNamespace(text="wrong"), 11: SimpleNamespace(text="Paris"), 12: SimpleNamespace(text="other")}
    data = {"cands": [[10, 11, 12]], "hits": [[False, True, False]], "gold": [{11}], "windows": windows(),
            "questions": [SimpleNamespace(answers=["Paris"])], "corpus": corpus}
    first = study.measure(data, np.asarray([[0, 1, 2]]))
    by_relevance = study.measure(data, np.asarray([[1, 2, 0]]))
    assert first["answer"] == {"top1": 0.0, "top5": 100.0} and first["gold"]["top1"] == 0.0
    assert by_relevance["answer"]["top1"] == 100.0 and by_relevance["gold"]["top1"] == 100.0
    assert first["end_to_end"]["top1"]["em"] == 0.0  # reads "wrong"
    assert by_relevance["end_to_end"]["top1"]["em"] == 100.0  # reads "Paris"


def test_the_first_stage_prior_moves_the_answer_to_the_first_stages_favourite():
    study = load_script("rerank_study")
    corpus = {10: SimpleNamespace(text="wrong"), 11: SimpleNamespace(text="Paris"), 12: SimpleNamespace(text="other")}
    data = {"windows": windows(), "first": np.asarray([[1.0, 5.0, 0.0]]),
            "questions": [SimpleNamespace(answers=["Paris"])], "corpus": corpus}
    assert study.prior_e2e(data, 0.0)["top5"]["em"] == 0.0  # the reader alone prefers passage 10
    assert study.prior_e2e(data, 16.0)["top5"]["em"] == 100.0  # the first stage's score decides


def test_a_bad_checkpoint_is_one_line(tmp_path):
    import subprocess
    import sys

    from tests.scripts.test_bench_table import REPO

    out = subprocess.run([sys.executable, str(REPO / "scripts" / "rerank_study.py"), "--checkpoint",
                          str(tmp_path / "none"), "--out", str(tmp_path / "o.json")], capture_output=True, text=True)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [f"rerank_study: checkpoint={tmp_path / 'none'}: no such file or directory"]
    assert not (tmp_path / "o.json").exists()
