"""`rom ask checkpoint=PATH index_dir=DIR "question"`: the answer, its score and the top passages; no question: a prompt."""

from __future__ import annotations

from rom_cli.console import make_console


def run(cfg) -> list:
    from rom_cli.config.schema import value_of
    from rom_cli.evaluation.answering import Answerer, check_question, render
    from rom_cli.evaluation.session import (
        command_line_overrides,
        effective_config,
        open_checkpoint,
        peek_run_config,
        required,
    )
    from rom_cli.retrieval.index_store import load_index_folder

    if cfg.question is not None:
        check_question(cfg.question)  # fail before loading anything
    required(cfg, "index_dir", "`rom ask checkpoint=PATH index_dir=DIR \"a question\"` (DIR written by `rom index`)")
    console = make_console()
    path, run_cfg = peek_run_config(required(cfg, "checkpoint", "`rom ask checkpoint=outputs/train/<date>/<time>`"))
    eff = effective_config(cfg, run_cfg, command_line_overrides(), sections=("eval",))
    session = open_checkpoint(path, eff.device, eff.precision, eff.threads)
    folder = load_index_folder(cfg.index_dir, expected_fingerprint=session.fingerprint())
    # ranked like `rom eval` of this checkpoint: its eval.rank_with_retriever / first_stage_prior add the prior
    answerer = Answerer(session, folder, int(cfg.top_k), int(cfg.read_top_k), value_of(cfg.retriever),
                        float(cfg.hybrid_weight), bool(eff.eval.rank_with_retriever), int(cfg.rerank_top_k),
                        float(eff.eval.first_stage_prior))
    if cfg.question is not None:
        reply = answerer.ask(cfg.question)
        console.print(render(reply))
        return [reply]
    console.print(f"rom ask: {len(folder.passages)} passages, checkpoint {path}; an empty line, `exit` or "
                  "Ctrl-D ends")
    replies = []
    while True:
        try:
            question = input("question> ")
        except EOFError:
            break
        if not question.strip() or question.strip().lower() in ("exit", "quit"):
            break
        reply = answerer.ask(question)
        console.print(render(reply))
        replies.append(reply)
    return replies
