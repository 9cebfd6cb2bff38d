"""`format=squad-predictions`: `{question id: answer}` JSON, the predictions file of the official SQuAD v1.1
evaluation script (`python evaluate-v1.1.py dev-v1.1.json predictions.json`).

The answers are the `prediction` field of a `rom eval` predictions.jsonl: end to end, reading the top
`eval.read_top_k[0]` passages of `eval.retriever` (dense by default). Given no predictions file, `rom export`
evaluates the checkpoint first, as `rom eval` would, and exports its predictions.
"""

from __future__ import annotations

import json
from pathlib import Path

from rom_cli.errors import DataError, RomError

PREDICTIONS = "predictions.jsonl"


def predictions_file(path) -> Path:
    """`path` itself, or the predictions.jsonl of a `rom eval` run directory."""
    p = Path(str(path))
    if p.is_dir():
        p = p / PREDICTIONS
    if not p.is_file():
        raise RomError(f"predictions={path}: no {PREDICTIONS} there: expected a `rom eval` run directory or its "
                       f"{PREDICTIONS} (rom eval writes it unless predictions=false)")
    return p


def read_predictions(path: Path) -> list[dict]:
    """The rows of a predictions.jsonl; a line that is not a JSON object with `id` and `prediction` is an error
    naming the file and line."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as ex:
                raise DataError(path, f"invalid JSON: {ex}", number) from None
            if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("prediction"), str):
                raise DataError(path, "expected a JSON object with `id` and a string `prediction` (rom eval's "
                                "predictions.jsonl)", number)
            rows.append(row)
    return rows


def squad_predictions(rows: list[dict], where: str = "predictions") -> dict[str, str]:
    """{id: answer text}; a question id twice with two different answers cannot be written in this form."""
    out: dict[str, str] = {}
    for row in rows:
        qid, answer = str(row["id"]), row["prediction"]
        if out.get(qid, answer) != answer:
            raise RomError(f"{where}: question id {qid!r} has two different predictions ({out[qid]!r}, {answer!r}): "
                           "expected one answer per id")
        out[qid] = answer
    return out
