"""The small interface every training objective implements, and what they share.

An objective draws example indices from its own epoch-shuffled stream, turns them into a batch of
CPU tensors (tokens come from caches built once per data set), and computes a loss with the model.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from rom_cli.config.schema import value_of
from rom_cli.data.types import Question
from rom_cli.model.inputs import Packer, TokenizedTexts
from rom_cli.model.passage_tokens import PassageTokens

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


class ExampleStream:
    """Epoch-shuffled indices 0..n-1; the permutation of epoch e depends on (seed, task, e) only,
    so `consumed` is all the state a resumed run needs."""

    def __init__(self, n: int, seed: int, key: int):
        self.n, self.seed, self.key, self.consumed = n, seed, key, 0
        self._epoch, self._perm = -1, None

    def take(self, k: int) -> list[int]:
        out = []
        for _ in range(k):
            epoch, pos = divmod(self.consumed, self.n)
            if epoch != self._epoch:
                # int32 when it fits: 4 bytes per example (21M passages: 84 MB), the same order as permutation(n)
                dtype = np.int32 if self.n < 2**31 else np.int64
                self._perm = np.random.default_rng([self.seed, self.key, epoch]).permutation(np.arange(self.n, dtype=dtype))
                self._epoch = epoch
            out.append(int(self._perm[pos]))
            self.consumed += 1
        return out


@dataclass
class TaskContext:
    """Everything an objective may read; built once by the trainer."""

    cfg: object  # the resolved TrainConfig (DictConfig)
    packer: Packer
    questions: list[Question]
    question_tokens: TokenizedTexts
    corpus: object  # rom_cli.data.types.Corpus of the training split
    passage_tokens: PassageTokens
    seed: int
    live: object | None = None  # LiveIndex, set by the trainer when an objective needs it
    dist: object | None = None  # rom_cli.training.distributed.DistContext (None: one process)
    level_override: str | None = None  # a mixture entry's own supervision level
    _sentences: OrderedDict = field(default_factory=OrderedDict, repr=False)

    @property
    def level(self) -> str:
        return self.level_override or value_of(self.cfg.supervision.level)

    def sentences(self, p: int) -> list[tuple[int, int]]:
        """Character spans of the sentences of passage p (computed lazily, the newest
        `passage_tokens.capacity` kept: nothing here grows with the corpus)."""
        found = self._sentences.get(p)
        if found is None:
            text = self.corpus[p].text
            spans, start = [], 0
            for m in _SENTENCE_END.finditer(text):
                spans.append((start, m.start()))
                start = m.end()
            spans.append((start, len(text)))
            found = self._sentences[p] = [(a, b) for a, b in spans if b > a]
            if len(self._sentences) > self.passage_tokens.capacity:
                self._sentences.popitem(last=False)
        return found

    def tokens_in(self, p: int, a: int, b: int) -> list[int]:
        """Token positions of passage p whose characters lie in [a, b)."""
        offsets = self.passage_tokens.offsets[p]
        start, end = offsets[:, 0], offsets[:, 1]
        return np.flatnonzero((start >= a) & (end <= b) & (end > start)).tolist()


SCAN_LIMIT = 200_000  # corpora up to this size are scanned for multi-sentence passages


def ict_pool(ctx: TaskContext):
    """Passages an ICT-style objective draws from: those with at least two sentences (so one can leave
    its passage), found by scanning a corpus of up to SCAN_LIMIT passages; a larger corpus is not scanned
    (reading every passage is what a Wikipedia-scale corpus cannot afford) and every passage is drawn,
    a single-sentence one keeping its sentence. A `range`, never a list, when nothing is filtered."""
    n = len(ctx.corpus)
    if n > SCAN_LIMIT:
        return range(n)
    multi = [p for p in range(n) if len(ctx.sentences(p)) >= 2]
    return multi or range(n)


class Objective(ABC):
    """One training task of the mixture; subclass it for an objective of your own.

    The contract (see `examples/claim_verification.py` for one written outside rom):
    - `__init__(ctx, key, **kwargs)`: read what the task needs from the `TaskContext` (questions, corpus,
      token caches, the live index), then call `super().__init__(ctx, key)`; `kwargs` are the other keys of
      the mixture entry's `objective: {_target_: ..., ...}`;
    - `size()`: examples in an epoch; `batch_size`: examples per batch;
    - `make_batch(indices, rng)`: CPU tensors for these examples (`rng` is seeded by seed, step and task);
    - `loss(model, batch, device)`: a scalar. Call the model through its one entry point, `model(kind, ...)`
      ("pair", "embed", "read", "classify": see RomModel.forward), which is what DistributedDataParallel
      syncs; `heads(hidden_size)` declares modules of your own, registered on the shared model as
      `extra_heads[<entry name>]` and reached with `model("classify", self.entry, head_name, role, batch)`.
    """

    name: str = ""
    entry: str = ""  # the mixture entry this objective trains (set when built)

    def __init__(self, ctx: TaskContext, key: int):
        self.ctx = ctx
        self.entry = self.entry or self.name
        self.stream = ExampleStream(max(1, self.size()), ctx.seed, key)

    def heads(self, hidden_size: int) -> dict | None:
        """Modules this objective adds to the shared model (name -> nn.Module), or None."""
        return None

    @property
    def batch_size(self) -> int:
        return int(self.objective_cfg.batch_size)

    @property
    def objective_cfg(self):
        return self.ctx.cfg.objectives[self.name]

    @abstractmethod
    def size(self) -> int:
        """Examples in one epoch (what proportional schedules weigh)."""

    def needs_index(self) -> bool:
        """Whether batches read the live index (weak supervision, mined hard negatives)."""
        return False

    def after_backward(self, batch: dict, sync, amp) -> None:
        """Finish a two-phase backward (gradient caching: `batch["replay"]`); `sync(last)` is the DDP context of
        each of its backward passes, `amp()` the autocast context of the step."""
        replay = batch.pop("replay", None)
        if replay is not None:
            replay(sync, amp)

    def gathers_across_ranks(self) -> bool:
        """Whether the loss is computed over every rank's vectors (then it is the global batch's loss)."""
        return False

    @abstractmethod
    def make_batch(self, indices: list[int], rng: np.random.Generator) -> dict:
        """CPU tensors for these example indices."""

    @abstractmethod
    def loss(self, model, batch: dict, device: torch.device) -> torch.Tensor:
        """Scalar loss; zero (with a graph) when the batch has nothing to learn from."""

    def next_batch(self, rng: np.random.Generator) -> dict:
        """The next batch: every rank draws the same `batch_size` examples (the global batch) and keeps its slice."""
        indices = self.stream.take(self.batch_size)
        if self.ctx.dist is not None:
            indices = self.ctx.dist.slice(indices)
        live = self.ctx.live if self.needs_index() else None
        if live is not None:
            live.end_batch()
        batch = self.make_batch(indices, rng)
        batch["indices"] = indices  # named in the error if this batch's loss is not finite
        return batch


def multi_positive_nll(scores: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """-log(sum of softmax mass on the positives), averaged over rows that have one (ORQA/DPR).

    One positive per row is DPR's NLL; several is the marginal likelihood of weak supervision.
    Computed in fp32 with autocast off, like `RomModel.scores`: a bf16 logsumexp would round the
    loss and its gradient."""
    has = positive.any(dim=1)
    with torch.autocast(device_type=scores.device.type, enabled=False):
        scores = scores.float()
        if not bool(has.any()):
            return scores.sum() * 0.0
        all_lse = torch.logsumexp(scores, dim=1)
        pos_lse = torch.logsumexp(scores.masked_fill(~positive, float("-inf")), dim=1)
        return (all_lse - pos_lse)[has].mean()


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
