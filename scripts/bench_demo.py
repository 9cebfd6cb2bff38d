"""Time `make demo` (`rom train` with the defaults) end to end, per precision, as JSON.

The demo must end within 5 minutes on a 2-core CPU, also on CPUs without native bf16, where
`precision=auto` runs fp32. This runs the demo as a user does (a fresh process, model loading, step-0
and final evaluation included) once per precision and records wall time, training throughput and the
headline metrics beside the machine (CPU model, PyTorch kernels, native bf16 or not).

    python scripts/bench_demo.py                                  # fp32 and auto on this machine
    python scripts/bench_demo.py --precisions fp32 --out benchmarks/results/demo-cpu.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rom_cli.atomic import atomic_write_json  # noqa: E402
from rom_cli.evaluation.report import headline  # noqa: E402
from rom_cli.model.runtime import machine  # noqa: E402


def run_demo(precision: str, extra: list[str], workdir: Path) -> dict:
    run_dir = workdir / f"demo-{precision}"
    command = [sys.executable, "-m", "rom_cli", "train", f"trainer.precision={precision}", *extra,
               f"hydra.run.dir={run_dir}"]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"demo with precision={precision} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    tasks = metrics["train"]["tasks"]
    examples = sum(t["examples"] for t in tasks.values())
    seconds = sum(t["examples"] / t["examples_per_s"] for t in tasks.values() if t["examples_per_s"])
    return {
        "command": "rom train " + " ".join(command[4:-1]),
        "wall_s": round(wall, 1),
        "precision": metrics["config"]["precision"],
        "precision_reason": metrics["config"].get("precision_reason"),
        "steps": metrics["train"]["steps"],
        "train_examples_per_s": round(examples / max(seconds, 1e-9), 2),
        "eval_seconds": {"step0": metrics["step0"]["speed"]["eval_seconds"] if metrics.get("step0") else None,
                         "final": metrics["final"]["speed"]["eval_seconds"]},
        "eval_questions": metrics["final"]["retrieval"]["questions"],
        "corpus_passages": metrics["final"]["corpus_passages"],
        "peak_memory_mb": round(metrics["peak_memory_mb"]),
        "headline": {k: {"step0": a, "final": b} for k, (a, b) in headline(metrics).items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--precisions", default="fp32,auto", help="comma-separated trainer.precision values")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/demo-<cpu>.json)")
    ap.add_argument("overrides", nargs="*", help="extra `rom train` overrides (e.g. encoder=tiny for a smoke run)")
    args = ap.parse_args()
    info = machine()
    runs = {}
    with tempfile.TemporaryDirectory(prefix="rom-demo-") as tmp:
        for precision in [p.strip() for p in args.precisions.split(",") if p.strip()]:
            print(f"demo, precision={precision} ...", file=sys.stderr, flush=True)
            runs[precision] = run_demo(precision, list(args.overrides), Path(tmp))
            print(f"  {runs[precision]['wall_s']} s wall ({runs[precision]['precision']})", file=sys.stderr)
    cpu = "".join(c if c.isalnum() else "-" for c in info["cpu"].lower()).strip("-") or "cpu"
    out = args.out or REPO / "benchmarks" / "results" / f"demo-{cpu}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, {"machine": info, "target_s": 300, "runs": runs,
                            "date": time.strftime("%Y-%m-%d")})
    print(out)


if __name__ == "__main__":
    main()
