"""`rom eval checkpoint=PATH`: report.json, report.md, predictions.jsonl and a table (dense, BM25, hybrid)."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from rich.table import Table


def other_datasets(run_cfg, eff, cfg, overrides: list[str]) -> dict:
    """The datasets of a multi-dataset checkpoint's mixture besides the evaluated task (none when the user
    named a task on the command line: then only that one is evaluated)."""
    from rom_cli.config.mixture import dataset_configs

    if not (run_cfg.get("mixture") or {}).get("entries") or any(o.split("=")[0].lstrip("+~").startswith("task")
                                                               for o in overrides):
        return {}
    return {name: tc for name, tc in dataset_configs(run_cfg).items() if name != str(eff.task.name)}


def run(cfg) -> dict:
    from rom_cli.console import make_console
    from rom_cli.data.load import load_task
    from rom_cli.evaluation.checkpoint_eval import (
        compare_with_training,
        evaluate_checkpoint,
        fmt,
        metric_rows,
        open_reused_index,
        reproduction_line,
        table_rows,
        write_outputs,
    )
    from rom_cli.evaluation.session import command_line_overrides, open_for_eval
    from rom_cli.run_dir import save_job_config

    console, err = make_console(), make_console(stderr=True)
    inputs = open_for_eval(cfg, "`rom eval checkpoint=outputs/train/<date>/<time>`")
    path, run_cfg, eff, session = inputs.path, inputs.run_cfg, inputs.eff, inputs.session
    split, questions, corpus = inputs.split, inputs.questions, inputs.corpus
    folder = open_reused_index(session, corpus, cfg.index_dir) if cfg.index_dir else None
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    save_job_config(cfg)
    err.print(f"run directory: {run_dir}; checkpoint {path} (step {session.step}), precision {eff.precision_reason}")
    result = evaluate_checkpoint(session, eff, corpus, questions, cfg.index_dir, bool(cfg.compare),
                                 bool(cfg.predictions), log=lambda m: err.print(m), console=err, index_folder=folder)
    training = compare_with_training(session, eff, result.results[result.primary])
    others = other_datasets(run_cfg, eff, cfg, command_line_overrides())
    per_dataset = {str(eff.task.name): result.results[result.primary]}
    for name, task_cfg in others.items():  # a multi-dataset checkpoint: every dataset of its mixture, then the macro
        other = load_task(task_cfg, eff.data)
        split_o = str(task_cfg.eval_split)
        err.print(f"dataset {name}: {split_o} split")
        sub = OmegaConf.merge(eff, {"task": task_cfg})
        per_dataset[name] = evaluate_checkpoint(session, sub, other.corpus(split_o), other.split(split_o), None,
                                                compare=False, with_predictions=False, log=lambda m: err.print(m),
                                                console=err).results[result.primary]
    if len(per_dataset) > 1:
        from rom_cli.evaluation.metrics import macro_average

        result.results[result.primary] = {**result.results[result.primary], "datasets": per_dataset,
                                          "macro": macro_average(list(per_dataset.values()))}
    index = result.index.get("reused") or (f"{result.index['type']} (built for this run)" if result.index else "-")
    context = {"checkpoint": str(path), "step": session.step, "fingerprint": session.meta.get("fingerprint"),
               "task": str(eff.task.name), "split": split, "questions": len(questions),
               "corpus_passages": len(corpus), "index": index, "device": str(session.device),
               "precision": str(eff.precision), "training": training,
               "settings": OmegaConf.to_container(eff, resolve=True)}
    written = write_outputs(run_dir, result, context)

    header, rows = table_rows(result)
    table = Table(title=f"rom eval: {eff.task.name}, {split} split, {len(questions)} questions, {len(corpus)} passages")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for name, metrics in (list(per_dataset.items())[1:] + [("macro", result.results[result.primary].get("macro"))]
                          if len(per_dataset) > 1 else []):
        sub = Table(title=f"{name} ({result.primary})")
        sub.add_column("metric")
        sub.add_column("value", justify="right")
        for label, value in metric_rows(metrics).items():
            sub.add_row(label, fmt(label, value))
        console.print(sub)
    if training is not None:
        console.print(f"training-time metrics: {reproduction_line(training)}")
    console.print(f"checkpoint {path} (step {session.step}); wrote " + ", ".join(str(p) for p in written.values()))
    return {"results": result.results, "training": training}
