"""`rom export checkpoint=PATH format=FORMAT [out=DIR]`: a checkpoint as a sentence-transformers model, a
transformers question-answering model, or SQuAD v1.1 predictions (rom_cli/exports/)."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig

EXAMPLE = "`rom export checkpoint=outputs/train/<date>/<time> format=sentence-transformers`"


def run(cfg) -> dict:
    from rom_cli.console import make_console
    from rom_cli.evaluation.session import required
    from rom_cli.exports import check_format
    from rom_cli.run_dir import save_job_config

    fmt = check_format(required(cfg, "format", EXAMPLE))
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    console, err = make_console(), make_console(stderr=True)
    if fmt == "squad-predictions":
        out = Path(cfg.out) if cfg.out else run_dir / "predictions.json"
        return _squad(cfg, out, save_job_config, console, err)
    from rom_cli.evaluation.session import (
        command_line_overrides,
        effective_config,
        open_checkpoint,
        peek_run_config,
    )

    path, run_cfg = peek_run_config(required(cfg, "checkpoint", EXAMPLE))
    eff = effective_config(cfg, run_cfg, command_line_overrides(), sections=())
    session = open_checkpoint(path, eff.device, eff.precision, eff.threads)
    out = Path(cfg.out) if cfg.out else run_dir / fmt
    save_job_config(cfg)
    err.print(f"exporting checkpoint {path} (step {session.step}) as {fmt} to {out}...")
    if fmt == "sentence-transformers":
        from rom_cli.exports.st import export
    else:
        from rom_cli.exports.hf_qa import export
    meta = export(session, out)
    console.print(f"wrote {out} ({fmt}; largest difference to rom on probe inputs {meta['max_abs_diff']:.1e}); "
                  f"how to use it: {out / 'README.md'}")
    return {"out": str(out), **meta}


def _squad(cfg, out: Path, save_job_config, console, err) -> dict:
    from rom_cli.atomic import atomic_write_json
    from rom_cli.evaluation.metrics import exact_match
    from rom_cli.exports.squad import predictions_file, read_predictions, squad_predictions

    if cfg.predictions:
        source = predictions_file(cfg.predictions)
        rows = read_predictions(source)
    else:
        rows, source = _evaluate(cfg, err)
    answers = squad_predictions(rows, str(source))
    save_job_config(cfg)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, answers)
    graded = [r for r in rows if r.get("gold_answers")]
    em = 100.0 * sum(exact_match(r["prediction"], r["gold_answers"]) for r in graded) / max(1, len(graded))
    console.print(f"wrote {out}: {len(answers)} answers from {source} (exact match {em:.1f} on {len(graded)} "
                  "questions with answers); score with `python evaluate-v1.1.py dev-v1.1.json predictions.json`")
    return {"out": str(out), "answers": len(answers), "source": str(source), "em": em}


def _evaluate(cfg, err) -> tuple[list[dict], str]:
    """Predictions of the checkpoint on its eval split, as `rom eval` makes them (no BM25 / hybrid comparison)."""
    from rom_cli.evaluation.checkpoint_eval import evaluate_checkpoint
    from rom_cli.evaluation.session import open_for_eval

    inputs = open_for_eval(cfg, "`rom export format=squad-predictions checkpoint=RUN` (evaluates it) or "
                                "predictions=<rom eval run dir>")
    path, eff, session = inputs.path, inputs.eff, inputs.session
    split, questions, corpus = inputs.split, inputs.questions, inputs.corpus
    err.print(f"evaluating checkpoint {path} (step {session.step}) on {len(questions)} {eff.task.name} {split} "
              "questions for its predictions...")
    run = evaluate_checkpoint(session, eff, corpus, questions, None, compare=False, with_predictions=True,
                              log=lambda m: err.print(m), console=err)
    return run.predictions, f"checkpoint {path}, {eff.task.name} {split} split"
