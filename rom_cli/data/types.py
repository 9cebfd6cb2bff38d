"""The one normalised in-memory form every loader produces.

Passages live in a `Corpus` (random access by index or id, streamed batches for encoding);
questions carry answer strings, character spans into their gold passages where known, gold
passage ids and hard-negative ids. Loaders count what they repair or skip in `LoadStats`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class AnswerSpan:
    """A gold answer occurrence: `text == passage.text[start:start + len(text)]`."""

    passage_id: str
    start: int
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass
class Question:
    id: str
    text: str
    answers: list[str]  # every acceptable answer string (EM/F1 take the max over them)
    spans: list[AnswerSpan] = field(default_factory=list)  # empty: answers only (weak supervision)
    gold_passage_ids: list[str] = field(default_factory=list)  # empty: unknown
    hard_negative_ids: list[str] = field(default_factory=list)


class Corpus(Sequence[Passage]):
    """Passages addressable by position and by id. Subclasses may keep text on disk."""

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def __getitem__(self, i: int) -> Passage:  # pragma: no cover - interface
        raise NotImplementedError

    def index_of(self, passage_id: str) -> int:
        """Position of a passage id; KeyError when absent."""
        raise NotImplementedError  # pragma: no cover - interface

    def __contains__(self, passage_id: object) -> bool:
        try:
            self.index_of(passage_id)  # type: ignore[arg-type]
        except KeyError:
            return False
        return True

    def get(self, passage_id: str) -> Passage:
        return self[self.index_of(passage_id)]

    def batches(self, size: int, start: int = 0, stop: int | None = None) -> Iterator[list[Passage]]:
        """Consecutive passages in batches, for encoding without holding all texts at once."""
        stop = len(self) if stop is None else stop
        for lo in range(start, stop, size):
            yield [self[i] for i in range(lo, min(lo + size, stop))]


class InMemoryCorpus(Corpus):
    def __init__(self, passages: list[Passage]):
        self._passages = passages
        self._pos = {p.id: i for i, p in enumerate(passages)}
        if len(self._pos) != len(passages):
            dup = next(pid for pid, n in Counter(p.id for p in passages).items() if n > 1)
            raise ValueError(f"duplicate passage id {dup!r} in corpus")

    def __len__(self) -> int:
        return len(self._passages)

    def __getitem__(self, i: int) -> Passage:
        return self._passages[i]

    def index_of(self, passage_id: str) -> int:
        return self._pos[passage_id]


@dataclass
class LoadStats:
    """What a loader repaired or skipped, by reason (shown by `rom data`, never silent)."""

    repaired: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)

    def repair(self, reason: str, n: int = 1) -> None:
        self.repaired[reason] += n

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] += n

    def merge(self, other: LoadStats) -> None:
        self.repaired.update(other.repaired)
        self.skipped.update(other.skipped)


@dataclass
class TaskData:
    """A loaded task: questions per split, and the corpus each split retrieves from.

    SQuAD-style tasks have one closed corpus per split (its own paragraphs); DPR-style tasks share
    one passage collection (the same object) across splits.
    """

    name: str
    splits: dict[str, list[Question]]
    corpora: dict[str, Corpus]
    stats: LoadStats = field(default_factory=LoadStats)

    def corpus(self, split: str) -> Corpus:
        from rom_cli.errors import RomError

        if split not in self.corpora or len(self.corpora[split]) == 0:
            raise RomError(f"task {self.name!r} has no passages for split {split!r}: expected a non-empty corpus")
        return self.corpora[split]

    def split(self, name: str) -> list[Question]:
        from rom_cli.errors import RomError

        if name not in self.splits or not self.splits[name]:
            have = ", ".join(k for k, v in self.splits.items() if v) or "none"
            raise RomError(f"task {self.name!r} has no questions in split {name!r} (splits with questions: {have})")
        return self.splits[name]
