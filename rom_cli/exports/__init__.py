"""`rom export`: a checkpoint in formats other tools read.

- `sentence-transformers` (sentence_transformers.py): one folder whose `SentenceTransformer(folder)`
  encodes queries (`encode_query`) and passages (`encode_document`) exactly as rom does;
- `hf-qa` (hf_qa.py): a `*ForQuestionAnswering` folder whose `qa_outputs` is rom's span head;
- `squad-predictions` (squad.py): `{question id: answer}` JSON, the official SQuAD v1.1 form.

Folders are assembled under a temporary name and renamed when complete; each holds `rom_export.json`
(what was exported from which checkpoint, and the measured difference to rom on probe inputs) and a
README.md saying how to use it. Like evaluation, nothing here imports the trainer.
"""

from __future__ import annotations

from rom_cli.errors import RomError

FORMATS = {
    "sentence-transformers": "a SentenceTransformer folder: encode_query / encode_document give rom's vectors",
    "hf-qa": "a transformers *ForQuestionAnswering folder: qa_outputs is rom's span head",
    "squad-predictions": "{question id: answer} JSON (SQuAD v1.1), from a rom eval predictions.jsonl or a new evaluation",
}


def check_format(name) -> str:
    """The export format `name` (underscores accepted for hyphens), or one line listing the formats."""
    fmt = str(name or "").strip().replace("_", "-")
    if fmt not in FORMATS:
        raise RomError(f"format={name!r}: expected one of {', '.join(FORMATS)} "
                       "(e.g. `rom export checkpoint=RUN format=sentence-transformers`)")
    return fmt
