"""Parameters and peak training memory as the number of tasks grows: one shared encoder (rom) against one
encoder per task, as JSON.

Task i is an (objective, dataset) entry on its own synthetic knowledge base (the demo generator with seed
13 + i; retrieval and reading alternate). `shared`: one `rom train` process with all k entries in one
mixture. `separate`: k models, one per task, trained in one process (each its own encoder, heads and
optimizer), which is what a system with an encoder per task holds. With `--external`, every task is
instead a claim-verification objective from outside rom (examples/claim_verification.py) with a head of
its own, so the shared model grows by exactly those heads. Each configuration runs a few steps in a fresh
process whose peak RSS is read from the kernel.

    python scripts/bench_tasks.py --encoder minilm --tasks 1,2,4,8 --out benchmarks/results/tasks-cpu-minilm.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COMMON = ["trainer.eval_at_start=false", "trainer.eval_at_end=false", "trainer.resume=never", "trainer.precision=fp32",
          "trainer.checkpoint_every=1000000", "index.refresh_every=null", "objectives.retrieval.batch_size=8",
          "objectives.reader.batch_size=4", "objectives.reader.passages_per_question=2", "objectives.ict.batch_size=8"]


def entries_yaml(k: int, external: Path | None) -> str:
    lines = ["name: bench", "entries:"]
    for i in range(k):
        data = f"{{name: kb{i}, format: demo, demo_seed: {13 + i}, split_words: 24, eval_split: test, demo_passages: 120}}"
        if external is not None:
            objective = f"{{_target_: examples.claim_verification.ClaimVerification, claims: '{external / f'claims{i}.jsonl'}'}}"
        else:
            objective = "retrieval" if i % 2 == 0 else "reader"
        lines.append(f"  task{i}: {{objective: {objective}, data: {data}}}")
    return "\n".join(lines) + "\n"


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    from rom_cli.config.schema import register_configs

    register_configs()
    with initialize_config_module("rom_cli.conf", version_base="1.3"):
        return hydra_compose("train", overrides=overrides)


def write_claims(k: int, folder: Path) -> None:
    from examples.claim_verification import make_claims
    from rom_cli.data.load import load_task

    for i in range(k):
        cfg = compose([f"task.name=kb{i}", f"task.demo_seed={13 + i}", "task.demo_passages=120"])
        data = load_task(cfg.task, cfg.data)
        make_claims(data.splits["train"], data.corpus("train"), folder / f"claims{i}.jsonl", seed=i)


def worker(mode: str, k: int, encoder: str, steps: int, external: bool, tmp: Path) -> dict:
    """Runs in its own process: train, then report parameters (the peak RSS is read by the parent)."""
    from rom_cli.training.trainer import Trainer

    claims = tmp if external else None
    if external:
        write_claims(k, tmp)
    models = []
    groups = [list(range(k))] if mode == "shared" else [[i] for i in range(k)]
    for g, tasks in enumerate(groups):
        (tmp / f"m{g}" / "mixture").mkdir(parents=True)
        yaml = entries_yaml(k, claims).splitlines()
        keep = yaml[:2] + [yaml[2 + i] for i in tasks]
        (tmp / f"m{g}" / "mixture" / "bench.yaml").write_text("\n".join(keep) + "\n")
        cfg = compose([f"encoder={encoder}", f"hydra.searchpath=[file://{tmp / f'm{g}'}]", "mixture=bench",
                       f"trainer.max_steps={steps}", *COMMON])
        trainer = Trainer(cfg, tmp / f"run{g}")
        trainer.run()
        models.append(trainer)  # a system with an encoder per task holds every one of them
    params = sum(t.model.num_parameters() for t in models)
    encoder_params = sum(v for key, v in models[0].model.parameter_breakdown().items() if key.startswith("backbone"))
    return {"parameters": params, "encoder_parameters": encoder_params,
            "head_parameters": sum(t.model.parameter_breakdown()["heads"] for t in models),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def measure(mode: str, k: int, encoder: str, steps: int, external: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="rom-tasks-") as tmp:
        start = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--worker", mode, "--tasks", str(k), "--encoder", encoder,
                              "--steps", str(steps), "--tmp", tmp] + (["--external"] if external else []),
                             capture_output=True, text=True, cwd=REPO)
        if out.returncode != 0:
            raise SystemExit(f"{mode} x{k} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - start, 1)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="1,2,4,8")
    ap.add_argument("--encoder", default="tiny")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--external", action="store_true", help="claim-verification tasks with a head each")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--tmp", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, int(args.tasks), args.encoder, args.steps, args.external, args.tmp)))
        return
    from rom_cli.atomic import atomic_write_json
    from rom_cli.model.runtime import machine

    rows = []
    for k in [int(x) for x in args.tasks.split(",")]:
        shared = measure("shared", k, args.encoder, args.steps, args.external)
        separate = measure("separate", k, args.encoder, args.steps, args.external)
        rows.append({"tasks": k, "shared": shared, "separate": separate})
        print(f"{k} tasks: shared {shared['parameters']:,} params {shared['peak_rss_mb']} MB; separate "
              f"{separate['parameters']:,} params {separate['peak_rss_mb']} MB", file=sys.stderr)
    base = rows[0]["shared"]["parameters"]
    for r in rows:
        r["shared"]["growth_per_added_task_pct_of_encoder"] = (
            None if r["tasks"] == 1 else round(100 * (r["shared"]["parameters"] - base)
                                               / (r["tasks"] - 1) / r["shared"]["encoder_parameters"], 4))
    out = args.out or REPO / "benchmarks" / "results" / f"tasks-cpu-{args.encoder}{'-external' if args.external else ''}.json"
    atomic_write_json(out, {"machine": machine(), "encoder": args.encoder, "steps": args.steps,
                            "external": args.external, "rows": rows, "date": time.strftime("%Y-%m-%d")})
    print(out)


if __name__ == "__main__":
    main()
