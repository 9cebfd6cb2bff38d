"""`rom_cli.load(checkpoint)`: a trained checkpoint as a Python object that encodes, reads and answers.

Built on what `rom eval`, `rom index` and `rom ask` run (`open_checkpoint`, `rom_cli.model.encode`, the
reader of `rom_cli.evaluation.reading`, `Answerer`), so a vector or an answer here is the CLI's own:

    import rom_cli
    rom = rom_cli.load("outputs/train/2025-01-01/10-00-00/best")   # a run dir, .../last, .../best, a checkpoint
    vectors = rom.encode_passages(["Ada Vell founded Tarsk in 1820."])     # or Passage(id, text, title)
    print(rom.encode_queries(["Who founded Tarsk?"]) @ vectors.T)          # rom's similarity (x temperature)
    print(rom.read("Who founded Tarsk?", ["Ada Vell founded Tarsk in 1820."]).text)
    print(rom.ask("Who founded Tarsk?", "outputs/index/<date>/<time>/index").answer.text)

Device, precision and threads default to the checkpoint's own, resolved for this machine, as the CLI does.
Like the rest of evaluation, nothing here imports the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from rom_cli.data.types import InMemoryCorpus, Passage
from rom_cli.errors import RomError


def _passages(items) -> list[Passage]:
    """Strings become untitled passages; a `Passage` keeps its text and title (the title is encoded too, not read).
    Ids are the positions, so the caller's ids need not be unique."""
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Passage):
            out.append(Passage(str(i), item.text, item.title))
        elif isinstance(item, str):
            out.append(Passage(str(i), item))
        else:
            raise RomError(f"passages[{i}] is a {type(item).__name__}: expected a str or a rom_cli.data.types.Passage")
    return out


@dataclass
class Rom:
    """A loaded checkpoint (see the module docstring). `session` is the CLI's `CheckpointSession`."""

    session: object
    eval_cfg: object  # the checkpoint's eval settings (rank_with_retriever for `ask`)
    _answerers: dict = field(default_factory=dict, repr=False)

    @property
    def path(self) -> Path:
        return self.session.path

    @property
    def step(self) -> int | None:
        return self.session.step

    @property
    def config(self):
        """The resolved config the checkpoint was trained with."""
        return self.session.run_cfg

    def encode_queries(self, questions: list[str], batch_size: int = 32) -> np.ndarray:
        """[len(questions), dim] float32 query vectors (`[CLS] q [SEP]`, pooled, projected, normalised for cosine)."""
        from rom_cli.model.encode import encode_queries

        s = self.session
        tokens = s.packer.tokenize([str(q) for q in questions])
        return encode_queries(s.model, s.packer, tokens, int(s.enc_cfg.query_max_length), batch_size, s.device,
                              s.precision)

    def encode_passages(self, passages: list[str] | list[Passage], batch_size: int = 64) -> np.ndarray:
        """[len(passages), dim] float32 passage vectors (`[CLS] title [SEP] text [SEP]`, as the index holds them)."""
        from rom_cli.model.encode import encode_corpus

        s = self.session
        corpus = InMemoryCorpus(_passages(passages))
        vectors, _ = encode_corpus(s.model, s.packer, corpus, int(s.enc_cfg.passage_max_length), batch_size, s.device,
                                   s.precision)
        return vectors

    def read(self, question: str, passages: list[str] | list[Passage], batch_size: int = 32):
        """The reader's best answer (`rom_cli.evaluation.reading.Answer`: text, score, passage = its position in
        `passages`, character start / end in that passage's text) over the given passages, with no retriever
        prior: what `rom eval` scores as reader on the gold passage, and `rom ask` answers from one passage."""
        from rom_cli.evaluation.answering import check_question
        from rom_cli.evaluation.reading import read_candidates
        from rom_cli.model.passage_tokens import PassageTokens

        text = check_question(question)
        if not passages:
            raise RomError("read: no passages given: expected at least one passage to read")
        s = self.session
        corpus = InMemoryCorpus(_passages(passages))
        q_ids = s.packer.tokenize([text]).ids
        return read_candidates(s.model, s.packer, s.enc_cfg, q_ids, [list(range(len(corpus)))],
                               PassageTokens(s.packer, corpus), corpus, batch_size, s.device, s.precision)[0]

    def ask(self, question: str, index_dir: str | Path, top_k: int = 5, read_top_k: int = 1,
            retriever: str = "dense", rerank_top_k: int = 0):
        """`rom ask checkpoint=... index_dir=DIR "question"` (an `Answerer.Reply`: answer, hits, retriever); the
        index folder (written by `rom index` with this checkpoint) is loaded once and kept."""
        from rom_cli.evaluation.answering import Answerer
        from rom_cli.retrieval.index_store import load_index_folder

        key = (str(Path(index_dir).resolve()), int(top_k), int(read_top_k), str(retriever), int(rerank_top_k))
        if key not in self._answerers:
            folders = {k[0]: a.folder for k, a in self._answerers.items()}
            folder = folders.get(key[0]) or load_index_folder(index_dir, expected_fingerprint=self.session.fingerprint())
            self._answerers[key] = Answerer(self.session, folder, top_k, read_top_k, retriever,
                                            rank_with_retriever=bool(self.eval_cfg.rank_with_retriever),
                                            rerank_top_k=rerank_top_k,
                                            first_stage_prior=float(self.eval_cfg.first_stage_prior))
        return self._answerers[key].ask(question)


def load(checkpoint: str | Path, device: str | None = None, precision: str | None = None,
         threads: int | None = None) -> Rom:
    """Open a checkpoint: a checkpoint folder, a run directory (its latest checkpoint), or a run directory
    followed by `/last` or `/best`. `device` (auto, cpu, cuda), `precision` (auto, fp32, bf16, fp16) and
    `threads` default to the checkpoint's trainer settings, as for `rom eval`."""
    from rom_cli.evaluation.session import effective_config, open_checkpoint, peek_run_config

    path, run_cfg = peek_run_config(str(checkpoint))
    wanted = OmegaConf.create({"device": device, "precision": precision, "threads": threads})
    eff = effective_config(wanted, run_cfg, [], sections=("eval",))
    return Rom(open_checkpoint(path, eff.device, eff.precision, eff.threads), eff.eval)
