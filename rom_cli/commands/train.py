"""`rom train`: joint multi-task training, then evaluation against the untrained model."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from rich.console import Console
from rich.table import Table


def run(cfg) -> dict:
    from rom_cli.training.trainer import Trainer, headline

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    metrics = Trainer(cfg, run_dir).run()
    table = Table(title=f"rom train: {cfg.task.name}, {cfg.task.eval_split} split ({run_dir})")
    table.add_column("metric")
    table.add_column("step 0", justify="right")
    table.add_column(f"step {metrics['train']['steps']}", justify="right")
    for label, (before, after) in headline(metrics).items():
        if before is None and after is None:
            continue
        fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        table.add_row(label, fmt(before), fmt(after))
    console = Console()
    console.print(table)
    console.print(f"parameters {metrics['parameters'] / 1e6:.1f}M, peak memory {metrics['peak_memory_mb']:.0f} MB, "
                  f"metrics: {run_dir / 'metrics.json'}, checkpoint: {metrics['checkpoint']}")
    return metrics
