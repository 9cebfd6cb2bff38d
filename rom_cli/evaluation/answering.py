"""One question against a checkpoint and an index folder: retrieve, read, and show where the answer is.

The retrieval, reading and answer ranking are the evaluation pipeline's own (`retrieve`,
`score_windows`, `pick_answers` with the same `retriever_priors`), so `rom ask` answers exactly as
`rom eval` scores: the same question, checkpoint and top-k pick the same answer. The index folder's
passage store means no data files are needed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from rich.console import Group
from rich.text import Text

from rom_cli.config.validate import check_first_stage_prior
from rom_cli.data.types import Passage, Question
from rom_cli.errors import RomError
from rom_cli.evaluation.pipeline import EvalSetup, retrieve
from rom_cli.evaluation.reading import (
    Answer,
    pick_answers,
    rerank_order,
    reranked,
    retriever_priors,
    score_windows,
)
from rom_cli.evaluation.session import CheckpointSession
from rom_cli.model.passage_tokens import PassageTokens
from rom_cli.retrieval.index_store import IndexFolder

ANSWER_STYLE = "bold black on yellow"
MENTION_STYLE = "bold"


@dataclass
class Hit:
    position: int  # row in the index / passage store
    passage: Passage
    score: float


@dataclass
class Reply:
    question: str
    answer: Answer | None
    hits: list[Hit]
    retriever: str


@dataclass
class _AskEval:  # the fields of EvalConfig that `retrieve` and the reader use
    batch_size: int = 32
    hybrid_weight: float = 0.5
    rank_with_retriever: bool = True
    first_stage_prior: float = 1.0


def check_question(question: str | None) -> str:
    text = (question or "").strip()
    if not text:
        raise RomError("question is empty: expected `rom ask checkpoint=PATH index_dir=DIR \"a question\"` "
                       "(or no question for an interactive prompt)")
    return text


class Answerer:
    def __init__(self, session: CheckpointSession, folder: IndexFolder, top_k: int = 5, read_top_k: int = 1,
                 retriever: str = "dense", hybrid_weight: float = 0.5, rank_with_retriever: bool = True,
                 rerank_top_k: int = 0, first_stage_prior: float = 1.0):
        """`rank_with_retriever`, `first_stage_prior`: the eval settings of that name (`rom ask` takes the
        checkpoint's); `rerank_top_k`: retrieve that many and reorder them with the reader's relevance head (as
        `eval.rerank_top_k`)."""
        if top_k < 1 or read_top_k < 1:
            raise RomError(f"top_k={top_k}, read_top_k={read_top_k}: expected integers >= 1")
        if rerank_top_k < 0:
            raise RomError(f"rerank_top_k={rerank_top_k}: expected 0 (no reranking) or the number of passages to rerank")
        self.rerank_top_k = int(rerank_top_k)
        self.session, self.folder = session, folder
        self.top_k, self.read_top_k, self.retriever = int(top_k), int(read_top_k), retriever
        self.eval_cfg = _AskEval(hybrid_weight=float(hybrid_weight), rank_with_retriever=bool(rank_with_retriever),
                                 first_stage_prior=float(first_stage_prior))
        check_first_stage_prior(self.eval_cfg)
        self.setup = EvalSetup(session.model, session.packer, session.enc_cfg, self.eval_cfg, None,
                               session.device, session.precision)
        self.tokens = PassageTokens(session.packer, folder.passages)
        self.bm25 = None
        if retriever in ("bm25", "hybrid"):
            from rom_cli.retrieval.bm25 import sparse_retriever

            logging.getLogger("bm25s").setLevel(logging.WARNING)
            self.bm25, why_not = sparse_retriever(folder.passages, folder)
            if self.bm25 is None:
                raise RomError(f"retriever={retriever}: {why_not}")

    def ask(self, question: str) -> Reply:
        text = check_question(question)
        corpus = self.folder.passages
        depth = max(self.top_k, self.rerank_top_k)
        scores, idx, _, _ = retrieve(self.setup, corpus, [Question("ask", text, [])], depth, bm25=self.bm25,
                                     retriever=self.retriever, hybrid_weight=self.eval_cfg.hybrid_weight,
                                     index=self.folder.index)
        hits = [Hit(int(p), corpus[int(p)], float(s)) for p, s in zip(idx[0], scores[0], strict=True) if p >= 0]
        q_ids = self.session.packer.tokenize([text]).ids
        if self.rerank_top_k:  # the reader's relevance head reorders the first stage's top-k, as `rom eval` does
            first = [[h.position for h in hits[: self.rerank_top_k]]]
            relevance = score_windows(self.session.model, self.session.packer, self.session.enc_cfg, q_ids, first,
                                      self.tokens, self.eval_cfg.batch_size, self.session.device,
                                      self.session.precision)
            order = rerank_order(relevance, first)
            by_position = {h.position: h for h in hits}
            hits = [by_position[p] for p in order[0]][: self.top_k]
            answer = pick_answers(reranked(relevance, order), corpus, 1, self.read_top_k)[0]
            return Reply(text, answer, hits, f"{self.retriever}, reranked")
        hits = hits[: self.top_k]
        cands = [[h.position for h in hits[: self.read_top_k]]]
        windows = score_windows(self.session.model, self.session.packer, self.session.enc_cfg, q_ids, cands,
                                self.tokens, self.eval_cfg.batch_size, self.session.device, self.session.precision)
        priors = retriever_priors(scores, self.retriever, self.eval_cfg.rank_with_retriever,
                                  float(self.session.enc_cfg.temperature), float(self.eval_cfg.first_stage_prior))
        answer = pick_answers(windows, corpus, 1, self.read_top_k, priors)[0]
        return Reply(text, answer, hits, self.retriever)


def highlighted(text: str, answer: Answer | None, is_source: bool) -> Text:
    """The passage text with the predicted span (in its source passage) and other mentions marked."""
    out = Text(text)
    if answer is None or not answer.text.strip():
        return out
    if is_source:
        out.stylize(ANSWER_STYLE, answer.start, answer.end)
    for m in re.finditer(re.escape(answer.text.strip()), text, flags=re.IGNORECASE):
        if not (is_source and m.start() == answer.start):
            out.stylize(MENTION_STYLE, m.start(), m.end())
    return out


def render(reply: Reply) -> Group:
    a = reply.answer
    parts: list = []
    if a is None or not a.text.strip():
        parts.append(Text("answer: (none found)", style="bold"))
    else:
        src = reply.hits[[h.position for h in reply.hits].index(a.passage)].passage if any(
            h.position == a.passage for h in reply.hits) else None
        head = Text("answer: ", style="bold")
        head.append(a.text, style=ANSWER_STYLE)
        head.append(f"  (score {a.score:.3f}" + (f", passage {src.id}" if src else "") + ")")
        parts.append(head)
    parts.append(Text(f"top {len(reply.hits)} passages ({reply.retriever}):", style="dim"))
    for rank, h in enumerate(reply.hits, 1):
        title = f" {h.passage.title}" if h.passage.title else ""
        parts.append(Text(f"{rank:>2}. [{h.score:.3f}] {h.passage.id}{title}", style="bold" if rank == 1 else ""))
        body = Text("    ")
        body.append_text(highlighted(h.passage.text, a, a is not None and h.position == a.passage))
        parts.append(body)
    return Group(*parts)
