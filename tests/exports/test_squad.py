"""format=squad-predictions: rom eval's predictions.jsonl becomes {id: answer}; bad lines name file and line."""

from __future__ import annotations

import json

import pytest

from rom_cli.errors import DataError, RomError
from rom_cli.exports.squad import predictions_file, read_predictions, squad_predictions


def test_rows_become_id_to_answer(tmp_path):
    rows = [{"id": "q1", "prediction": "Ada Vell", "em": 1.0}, {"id": 7, "prediction": ""}]
    (tmp_path / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    assert predictions_file(tmp_path) == tmp_path / "predictions.jsonl"
    assert squad_predictions(read_predictions(predictions_file(tmp_path))) == {"q1": "Ada Vell", "7": ""}


def test_bad_inputs_name_file_and_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "q1", "prediction": "a"}\n{"id": "q2"}\n')
    with pytest.raises(DataError, match=r"p\.jsonl:2: expected a JSON object with `id` and a string `prediction`"):
        read_predictions(path)
    path.write_text('{"id": "q1", "prediction": "a"}\n{oops\n')
    with pytest.raises(DataError, match=r"p\.jsonl:2: invalid JSON"):
        read_predictions(path)
    with pytest.raises(RomError, match="no predictions.jsonl there"):
        predictions_file(tmp_path / "nowhere")
    with pytest.raises(RomError, match="question id 'q1' has two different predictions"):
        squad_predictions([{"id": "q1", "prediction": "a"}, {"id": "q1", "prediction": "b"}])
