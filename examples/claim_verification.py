"""An objective written outside rom: FEVER-style claim verification on the shared encoder.

A claim and a passage go through the shared encoder as `[CLS] claim [SEP] passage [SEP]` (the reader's
input form); a head of this objective's own, a linear layer on [CLS], says SUPPORTS or REFUTES. Train it
in a mixture beside rom's objectives, without touching rom:

    # conf: mixture.entries
    demo_retrieval: {objective: retrieval, data: demo}
    claims: {objective: {_target_: examples.claim_verification.ClaimVerification, claims: claims.jsonl}, data: demo}

`claims.jsonl` holds one `{"claim": ..., "passage_id": ..., "label": "SUPPORTS" | "REFUTES"}` per line,
the passage id naming a passage of the entry's corpus. `make_claims` writes such a file from a task's
questions (a supported claim is the gold sentence; a refuted one swaps its answer for another question's).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rom_cli.errors import DataError
from rom_cli.model.inputs import window_budget
from rom_cli.tasks.base import Objective, TaskContext, to_device

LABELS = ("REFUTES", "SUPPORTS")


class ClaimVerification(Objective):
    name = "claim_verification"

    def __init__(self, ctx: TaskContext, key: int, claims: str, batch_size: int = 8):
        path = Path(claims)
        self.claims = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("label") not in LABELS or row.get("passage_id") not in ctx.corpus:
                raise DataError(path, f"expected a label in {LABELS} and a passage id of the corpus", line=n)
            self.claims.append((row["claim"], ctx.corpus.index_of(row["passage_id"]), LABELS.index(row["label"])))
        self._batch_size = int(batch_size)
        self._claim_ids = ctx.packer.tokenize([c for c, _, _ in self.claims]).ids
        super().__init__(ctx, key)

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def size(self) -> int:
        return len(self.claims)

    def heads(self, hidden_size: int) -> dict:
        return {"classifier": nn.Linear(hidden_size, len(LABELS))}

    def make_batch(self, indices, rng):
        enc = self.ctx.cfg.encoder
        claims = [self._claim_ids[i][: enc.query_max_length] for i in indices]
        passages = []
        for i, claim in zip(indices, claims, strict=True):
            text = self.ctx.passage_tokens.texts[self.claims[i][1]]
            passages.append(text[: window_budget(enc.reader_max_length, len(claim))])
        pairs = self.ctx.packer.reader_pairs(claims, passages, enc.reader_max_length, enc.query_max_length)
        pairs.pop("window_offset")
        return {"pairs": pairs, "labels": torch.tensor([self.claims[i][2] for i in indices]), "examples": len(indices)}

    def loss(self, model, batch, device):
        logits = model("classify", self.entry, "classifier", "reader", to_device(batch["pairs"], device))
        return F.cross_entropy(logits, batch["labels"].to(device))


def make_claims(questions, corpus, path: str | Path, seed: int = 0) -> Path:
    """Claims from questions with gold spans: the gold sentence (SUPPORTS), and the same sentence with the
    answer replaced by another question's answer (REFUTES)."""
    rng = random.Random(seed)
    with_spans = [q for q in questions if q.spans and q.spans[0].passage_id in corpus]
    answers = [q.spans[0].text for q in with_spans]
    rows = []
    for q in with_spans:
        span = q.spans[0]
        text = corpus.get(span.passage_id).text
        lo = max(text.rfind(". ", 0, span.start) + 2, 0) if text.rfind(". ", 0, span.start) >= 0 else 0
        hi = text.find(". ", span.end)
        hi = len(text) if hi < 0 else hi + 1
        sentence = text[lo:hi]
        other = rng.choice([a for a in answers if a != span.text] or [span.text + " Jr"])
        rows.append({"claim": sentence, "passage_id": span.passage_id, "label": "SUPPORTS"})
        rows.append({"claim": sentence.replace(span.text, other, 1), "passage_id": span.passage_id, "label": "REFUTES"})
    path = Path(path)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
