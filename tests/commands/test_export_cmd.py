"""`rom export` end to end: each format from a trained tiny checkpoint through the CLI, SQuAD predictions that
score as rom eval scored them, one-line errors, and no dependency on the trainer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import rom_cli
from rom_cli.evaluation.metrics import exact_match
from tests.commands.conftest import one_line_error, rom

REPO = Path(__file__).resolve().parents[2]


def test_sentence_transformers_folder_encodes_as_the_checkpoint(trained_run, tmp_path):
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    out = rom("export", f"checkpoint={trained_run}/last", "format=sentence-transformers", f"out={tmp_path / 'st'}",
              f"hydra.run.dir={tmp_path / 'run'}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"wrote {tmp_path / 'st'} (sentence-transformers" in out.stdout
    api = rom_cli.load(trained_run, device="cpu", precision="fp32", threads=1)
    model = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    questions = ["Who founded a brewery?", "When was it built?"]
    assert np.abs(model.encode_query(questions) - api.encode_queries(questions)).max() < 1e-5
    assert (tmp_path / "run" / ".hydra" / "config.yaml").is_file()


def test_hf_qa_folder_by_default_in_the_run_directory(trained_run, tmp_path):
    out = rom("export", f"checkpoint={trained_run}", "format=hf_qa", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    meta = json.loads((tmp_path / "hf-qa" / "rom_export.json").read_text())
    assert meta["format"] == "hf-qa" and meta["step"] == 120 and meta["pipeline_kwargs"]["align_to_words"] is False


def test_squad_predictions_from_rom_eval_and_by_evaluating(trained_run, tmp_path):
    ev = rom("eval", f"checkpoint={trained_run}", "compare=false", "precision=fp32", "threads=1",
             f"hydra.run.dir={tmp_path / 'eval'}")
    assert ev.returncode == 0, ev.stderr[-3000:]
    rows = [json.loads(x) for x in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    out = rom("export", "format=squad-predictions", f"predictions={tmp_path / 'eval'}", f"hydra.run.dir={tmp_path / 'a'}")
    assert out.returncode == 0, out.stderr[-3000:]
    answers = json.loads((tmp_path / "a" / "predictions.json").read_text())
    assert answers == {r["id"]: r["prediction"] for r in rows} and all(isinstance(v, str) for v in answers.values())
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    em = 100.0 * np.mean([exact_match(answers[r["id"]], r["gold_answers"]) for r in rows])
    assert em == pytest.approx(report["results"]["dense"]["end_to_end"]["top1"]["em"])
    fresh = rom("export", "format=squad-predictions", f"checkpoint={trained_run}", "precision=fp32", "threads=1",
                f"out={tmp_path / 'b.json'}", f"hydra.run.dir={tmp_path / 'b'}")
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert json.loads((tmp_path / "b.json").read_text()) == answers


def test_mistakes_are_one_line(trained_run, tmp_path):
    line = one_line_error(rom("export", f"checkpoint={trained_run}", "format=onnx", f"hydra.run.dir={tmp_path / 'a'}"))
    assert "format='onnx': expected one of sentence-transformers, hf-qa, squad-predictions" in line
    line = one_line_error(rom("export", "format=hf-qa", f"hydra.run.dir={tmp_path / 'b'}"))
    assert "checkpoint=... is required" in line
    line = one_line_error(rom("export", f"checkpoint={trained_run}", f"hydra.run.dir={tmp_path / 'c'}"))
    assert "format=... is required" in line
    line = one_line_error(rom("export", "format=squad-predictions", f"predictions={tmp_path}",
                              f"hydra.run.dir={tmp_path / 'd'}"))
    assert "no predictions.jsonl there" in line
    assert not any((tmp_path / x).exists() for x in "abcd")  # a refused export leaves no run folder


def test_exports_and_the_api_do_not_import_the_trainer():
    sources = sorted((REPO / "rom_cli" / "exports").glob("*.py")) + [REPO / "rom_cli" / "commands" / "export.py",
                                                                      REPO / "rom_cli" / "api.py"]
    assert [str(p) for p in sources if "rom_cli.training" in p.read_text(encoding="utf-8")] == []
