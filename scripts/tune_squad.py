#!/usr/bin/env python
"""Tune ROM on SQuAD through Hydra sweeps, selecting on held-out train questions, never on the test set.

Every sweep is one `rom train -m` call: a shared base (`experiment=squad task=squad_tune`: dev = 1,004
train questions held out by whole paragraph, retrieving from the 2,429 train paragraphs; SQuAD v1.1
dev, the benchmark's test set, is never evaluated) plus the axes of that sweep, one factor at a time
against the base. Then `rom eval -m` sweeps the evaluation-only settings on the base checkpoint.
Results go to `<out>/tuning-<profile>.json` (each run's overrides and dev metrics) and a table in
`benchmarks/TUNING.md` generated from it.

    python scripts/tune_squad.py --data-root ../shared/data            # all sweeps, profile cpu_small
    python scripts/tune_squad.py --only lr temperature                  # some sweeps (others kept)

Profile `cpu_small` (this project's 2-core CPU): 2,000 train questions, 500 dev questions, 48 steps
(16 batches per task), bf16, passages cut at 192 tokens, the live index built once: ~4-5 minutes a
run. `smoke`: the tiny random encoder on the demo task, 2 steps (tests the script).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rom_cli.atomic import atomic_write_json as write_json  # noqa: E402

PROFILES = {
    "cpu_small": {
        "base": ["experiment=squad", "task=squad_tune", "task.train_limit=2000", "task.eval_limit=500",
                 "trainer.max_steps=48", "encoder.passage_max_length=192", "index.refresh_every=null",
                 "eval.top_k=[1,5,20,100]", "eval.read_top_k=[1,5]"],
        "data_root": True,
    },
    "smoke": {
        "base": ["encoder=tiny", "task.demo_passages=20", "task.train_limit=8", "task.eval_limit=4",
                 "trainer.max_steps=2", "trainer.threads=1", "trainer.precision=fp32", "eval.top_k=[1,5]",
                 "eval.read_top_k=[1]", "objectives.ict.batch_size=4", "objectives.retrieval.batch_size=4",
                 "objectives.reader.batch_size=2"],
        "data_root": False,
    },
}
# every run: fresh, no intermediate checkpoints, no step-0 evaluation (the base run has the numbers)
COMMON = ["trainer.resume=never", "trainer.checkpoint_every=1000000", "trainer.keep_last=1",
          "trainer.eval_at_start=false"]

# one factor at a time against the base; each value list is one Hydra sweep axis
TRAIN_SWEEPS = {
    "base": [],
    "lr": ["trainer.lr=5e-5,2e-4,4e-4"],
    "temperature": ["encoder.temperature=0.02,0.1"],
    "hard_negatives": ["objectives.retrieval.hard_negatives=0,3"],
    "reader_windows": ["objectives.reader.passages_per_question=2,6"],
    "no_ict": ["~mixture.tasks.ict"],
    "head_lr": ["trainer.head_lr_scale=10,100"],
    # the base again under other seeds: how far apart identical settings land (the noise floor)
    "seed": ["trainer.seed=43,44"],
}
SMOKE_SWEEPS = {"base": [], "lr": ["trainer.lr=5e-5,2e-4"]}
# evaluation-only settings, swept with `rom eval -m` on the base run's checkpoint
EVAL_SWEEPS = {"rank_with_retriever": ["eval.rank_with_retriever=true,false"]}

METRICS = [("top-1", ("retrieval", "gold", "top1")), ("top-5", ("retrieval", "gold", "top5")),
           ("top-20", ("retrieval", "gold", "top20")), ("reader EM", ("reader_gold", "em")),
           ("reader F1", ("reader_gold", "f1")), ("e2e EM @1", ("end_to_end", "top1", "em")),
           ("e2e F1 @1", ("end_to_end", "top1", "f1")), ("e2e EM @5", ("end_to_end", "top5", "em"))]


def dig(d, path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def rom(*args: str) -> list[str]:
    return [sys.executable, "-m", "rom_cli", *args]


def read_overrides(run_dir: Path) -> list[str]:
    import yaml

    path = run_dir / ".hydra" / "overrides.yaml"
    return [str(o) for o in (yaml.safe_load(path.read_text(encoding="utf-8")) or [])] if path.is_file() else []


def axis_key(override: str) -> str:
    return override.lstrip("~+").split("=", 1)[0]


def collect(sweep_dir: Path, axes: list[str], kind: str) -> list[dict]:
    """One record per finished job of a multirun folder: its values of the swept keys, and the dev metrics."""
    keys = {axis_key(a) for a in axes}
    rows = []
    for job in sorted((p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)):
        source = job / ("metrics.json" if kind == "train" else "report.json")
        if not source.is_file():
            rows.append({"job": job.name, "error": f"no {source.name}: the job failed (see its log)"})
            continue
        data = json.loads(source.read_text(encoding="utf-8"))
        final = data.get("final") if kind == "train" else data.get("metrics")
        own = [o for o in read_overrides(job) if axis_key(o) in keys]
        rows.append({"job": job.name, "overrides": own, "run_dir": str(job),
                     "metrics": {name: dig(final, path) for name, path in METRICS},
                     "peak_memory_mb": data.get("peak_memory_mb")})
    return rows


def run_sweep(cmd: list[str], log: Path) -> tuple[int, float]:
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO,
                              env={**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")})
    return proc.returncode, time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=sorted(PROFILES), default="cpu_small")
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="where tuning-<profile>.json goes")
    ap.add_argument("--runs", default=str(REPO / "benchmarks" / "runs" / "tuning"), help="where the sweeps' run folders go")
    ap.add_argument("--only", nargs="*", help="run these sweeps; the others keep their earlier results")
    ap.add_argument("--table", default=str(REPO / "benchmarks" / "TUNING.md"), help="markdown table ('' for none)")
    args = ap.parse_args(argv)

    profile = PROFILES[args.profile]
    base = [*profile["base"], *COMMON] + ([f"data.root={args.data_root}"] if profile["data_root"] else [])
    sweeps = TRAIN_SWEEPS if args.profile != "smoke" else SMOKE_SWEEPS
    unknown = [s for s in args.only or [] if s not in sweeps and s not in EVAL_SWEEPS]
    if unknown:
        print(f"tune: unknown sweep {unknown[0]!r}: expected one of {', '.join([*sweeps, *EVAL_SWEEPS])}", file=sys.stderr)
        return 2
    out = Path(args.out) / f"tuning-{args.profile}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = Path(args.runs) / args.profile
    runs.mkdir(parents=True, exist_ok=True)
    result = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    result.update({"profile": args.profile, "base_overrides": base, "selection_split": "dev (held out of train)",
                   "command": f"python scripts/tune_squad.py --profile {args.profile} --data-root {args.data_root}"
                              " (`make tune`; `--only NAME` reruns one sweep and keeps the others)"})
    result.setdefault("sweeps", {})
    failures = 0
    wanted = args.only or [*sweeps, *EVAL_SWEEPS]

    def run_one(name: str, kind: str, command: list[str], axes: list[str]) -> None:
        """One `rom train -m` / `rom eval -m` sweep into a fresh folder; its rows saved at once."""
        nonlocal failures
        sweep_dir = runs / name
        shutil.rmtree(sweep_dir, ignore_errors=True)
        sweep_dir.mkdir(parents=True)
        cmd = rom(*command, *axes, f"hydra.sweep.dir={sweep_dir}")
        print(f"tune [{name}]: rom {command[0]} {' '.join(axes) or '(base settings)'}", file=sys.stderr, flush=True)
        rc, wall = run_sweep(cmd, runs / f"{name}.log")
        rows = collect(sweep_dir, axes, kind)
        failures += rc != 0 or any("error" in r for r in rows)
        result["sweeps"][name] = {"kind": kind, "axes": axes, "exit_code": rc, "wall_s": wall, "runs": rows,
                                  "rom_command": " ".join(["rom", *cmd[3:]])}
        write_json(out, result)

    for name in [s for s in sweeps if s in wanted]:
        run_one(name, "train", ["train", "-m", *base], sweeps[name])
    base_ckpt = runs / "base" / "0"
    for name in [s for s in EVAL_SWEEPS if s in wanted and args.profile != "smoke"]:
        if not (base_ckpt / "metrics.json").is_file():
            print(f"tune [{name}]: skipped, the base run has no checkpoint ({base_ckpt})", file=sys.stderr)
            failures += 1
            continue
        run_one(name, "eval", ["eval", "-m", f"checkpoint={base_ckpt}"], EVAL_SWEEPS[name])
    write_json(out, result)
    print(f"tune: wrote {out}", file=sys.stderr)
    if args.table:
        from tune_table import render  # scripts/ is on sys.path when this file runs as a script

        Path(args.table).write_text(render(result), encoding="utf-8")
        print(f"tune: wrote {args.table}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
