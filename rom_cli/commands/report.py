"""`rom report PATH...`: one row per finished run, report.md / report.csv, plots, and the best run."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from rich.table import Table


def run(cfg) -> dict:
    from rom_cli.config.schema import value_of
    from rom_cli.console import make_console
    from rom_cli.evaluation.report import best_line, collect, rows, write
    from rom_cli.run_dir import save_job_config

    own = Path(HydraConfig.get().runtime.output_dir)
    out = Path(cfg.out) if cfg.out else own
    report = collect([str(p) for p in cfg.paths], str(cfg.metric), value_of(cfg.mode), exclude=[own, out])
    save_job_config(cfg)
    written = write(report, out)
    header, body = rows(report, compact=True)
    table = Table(title=f"rom report: {len(report.runs)} runs (* best by {report.metric})")
    table.add_column(header[0], no_wrap=True)
    table.add_column(header[1], min_width=24, overflow="fold")
    for name in header[2:]:
        table.add_column(name, justify="right")
    for row in body:
        table.add_row(*row)
    console = make_console()
    console.print(table)
    if report.unfinished:
        console.print(f"[yellow]left out {len(report.unfinished)} unfinished runs[/]: "
                      + ", ".join(str(p) for p in report.unfinished))
    console.print(best_line(report))
    console.print(f"wrote {out}: " + ", ".join(written))
    return {"runs": len(report.runs), "best": str(report.best.path), "written": {k: str(v) for k, v in written.items()}}
