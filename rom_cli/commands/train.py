"""`rom train`: joint multi-task training, then evaluation against the untrained model."""

from __future__ import annotations

from rich.table import Table

from rom_cli.console import make_console
from rom_cli.errors import ConfigError
from rom_cli.run_dir import output_dir, save_job_config


def check_sweep_metric(cfg) -> None:
    """A `trainer.sweep_metric` that cannot exist in this run's metrics.json fails before training."""
    key, t = cfg.trainer.sweep_metric, cfg.trainer
    if key is None:
        return
    if str(key).split(".")[0] == "best" and not t.eval_every:
        raise ConfigError("trainer.sweep_metric", key, "a metric this run writes: best.* exists only with "
                          "trainer.eval_every=N (checkpoint selection); or final.<metric>")
    if str(key).split(".")[0] == "final" and not t.eval_at_end:
        raise ConfigError("trainer.sweep_metric", key, "a metric this run writes: final.* needs trainer.eval_at_end=true")


def sweep_value(cfg, metrics: dict) -> float:
    """The number at `trainer.sweep_metric` in the run's metrics: what `rom train` returns to a sweeper (Optuna
    optimises the float a job returns)."""
    from rom_cli.evaluation.metrics import dotted, metric_paths

    value = dotted(metrics, str(cfg.trainer.sweep_metric))
    if value is None:
        paths = metric_paths({k: metrics.get(k) or {} for k in ("best", "final")})[:40]
        raise ConfigError("trainer.sweep_metric", cfg.trainer.sweep_metric,
                          f"a dotted path to a number of metrics.json, e.g. {', '.join(paths)}")
    return value


def run(cfg) -> dict | float:
    """The run's metrics, or with `trainer.sweep_metric` the number at that path (a sweep's objective)."""
    check_sweep_metric(cfg)
    metrics = _train(cfg)
    return metrics if cfg.trainer.sweep_metric is None else sweep_value(cfg, metrics)


def _train(cfg) -> dict:
    from rom_cli.evaluation.report import headline
    from rom_cli.training.trainer import Trainer

    run_dir = output_dir()
    trainer = Trainer(cfg, run_dir)  # config, data and model checks
    trainer.restore()  # checkpoint checks: a refused resume writes nothing into an existing run dir
    run_dir = trainer.run_dir  # under torchrun: rank 0's
    if not trainer.dist.is_main:
        metrics = trainer.run()  # the other ranks train in silence and write nothing of their own
        trainer.close()
        return metrics
    save_job_config(cfg)
    trainer.console.print(f"run directory: {run_dir}")
    metrics = trainer.run()
    trainer.close()  # only after a finished run: a rank that failed must not wait for its peers here
    table = Table(title=f"rom train: {cfg.task.name}, {cfg.task.eval_split} split ({run_dir})")
    table.add_column("metric")
    table.add_column("step 0", justify="right")
    table.add_column(f"step {metrics['train']['steps']}", justify="right")
    for label, (before, after) in headline(metrics).items():
        if before is None and after is None:
            continue
        fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        table.add_row(label, fmt(before), fmt(after))
    console = make_console()
    console.print(table)
    console.print(f"parameters {metrics['parameters'] / 1e6:.1f}M, peak memory {metrics['peak_memory_mb']:.0f} MB, "
                  f"precision {metrics['config']['precision']}, metrics: {run_dir / 'metrics.json'}, "
                  f"checkpoint: {metrics['checkpoint']}")
    return metrics
