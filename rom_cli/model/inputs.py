"""Tokenise once, pack many times.

Texts are tokenised without special tokens (passages with character offsets) once per data set;
batches are then packed from the cached ids: `[CLS] q [SEP]` for queries, `[CLS] title [SEP] text
[SEP]` for passages, `[CLS] q [SEP] window [SEP]` for the reader. Training, index encoding and
evaluation all go through these functions, so a passage looks the same to the encoder everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class TokenizedTexts:
    ids: list[list[int]]
    offsets: list[list[tuple[int, int]]] | None = None


class Packer:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cls = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        self.sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.mask_token = tokenizer.mask_token or "_"

    def tokenize(self, texts: list[str], with_offsets: bool = False) -> TokenizedTexts:
        if not texts:
            return TokenizedTexts([], [] if with_offsets else None)
        enc = self.tokenizer(
            list(texts), add_special_tokens=False, return_offsets_mapping=with_offsets,
            return_attention_mask=False, return_token_type_ids=False, verbose=False,
        )
        offsets = [[tuple(o) for o in offs] for offs in enc["offset_mapping"]] if with_offsets else None
        return TokenizedTexts([list(x) for x in enc["input_ids"]], offsets)

    def _batch(self, rows: list[list[int]], types: list[list[int]], extra: dict | None = None) -> dict:
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        token_types = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (r, t) in enumerate(zip(rows, types, strict=True)):
            input_ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            attention[i, : len(r)] = 1
            token_types[i, : len(t)] = torch.tensor(t, dtype=torch.long)
        batch = {"input_ids": input_ids, "attention_mask": attention, "token_type_ids": token_types}
        batch.update(extra or {})
        return batch

    def queries(self, seqs: list[list[int]], max_len: int) -> dict:
        rows = [[self.cls, *s[: max_len - 2], self.sep] for s in seqs]
        return self._batch(rows, [[0] * len(r) for r in rows])

    def passages(self, titles: list[list[int]], texts: list[list[int]], max_len: int) -> dict:
        rows, types = [], []
        for title, text in zip(titles, texts, strict=True):
            title = title[: max(0, min(len(title), max_len // 4))]
            head = [self.cls, *title, self.sep] if title else [self.cls]
            body = text[: max_len - len(head) - 1] + [self.sep]
            rows.append(head + body)
            types.append([0] * len(head) + [1] * len(body))
        return self._batch(rows, types)

    def reader_pairs(self, questions: list[list[int]], windows: list[list[int]], max_len: int,
                     question_max: int) -> dict:
        """`[CLS] q [SEP] window [SEP]`; `passage_mask` marks window tokens, `window_offset` where
        the window starts in the packed row (token i of the window sits at row position offset + i)."""
        rows, types, starts = [], [], []
        for q, w in zip(questions, windows, strict=True):
            q = q[:question_max]
            head = [self.cls, *q, self.sep]
            body = w[: max_len - len(head) - 1]
            rows.append(head + body + [self.sep])
            types.append([0] * len(head) + [1] * (len(body) + 1))
            starts.append((len(head), len(body)))
        batch = self._batch(rows, types)
        mask = torch.zeros_like(batch["input_ids"])
        for i, (lo, n) in enumerate(starts):
            mask[i, lo: lo + n] = 1
        batch["passage_mask"] = mask
        batch["window_offset"] = torch.tensor([lo for lo, _ in starts], dtype=torch.long)
        return batch


def window_budget(max_len: int, question_len: int) -> int:
    """How many passage tokens fit next to a question of this length."""
    return max(8, max_len - question_len - 3)


def windows(n_tokens: int, budget: int, stride: int) -> list[tuple[int, int]]:
    """Token ranges [start, end) covering n_tokens with `stride` tokens of overlap."""
    if n_tokens <= budget:
        return [(0, n_tokens)]
    step = max(1, budget - stride)
    out, start = [], 0
    while True:
        end = min(start + budget, n_tokens)
        out.append((start, end))
        if end == n_tokens:
            return out
        start += step


def char_span_to_tokens(offsets: list[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """First and last (inclusive) token covering characters [start, end); None if not covered."""
    first = last = None
    for i, (a, b) in enumerate(offsets):
        if b <= start or a >= end or a == b:
            continue
        if first is None:
            first = i
        last = i
    return None if first is None else (first, last)
