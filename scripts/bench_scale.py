"""Memory and time of rom on DPR-format corpora of growing size, as JSON (the Wikipedia-scale target).

For each N, a synthetic DPR dataset (`scripts/make_corpus.py`: passages TSV, retriever JSON, QA CSV) is
written, then, each as a fresh process whose peak RSS is read from the kernel (getrusage of the child):
- `rom train task=dpr` with the tiny encoder: start-up (TSV offsets, DPR JSON streamed), a few steps with
  the live index on its bounded sub-corpus, a checkpoint; no evaluation;
- `rom index` in one process, and sharded in 4 (four encoding processes, then a merge);
- `rom eval` reusing that index (dense only) on the dev questions.
The fit over N gives bytes of RSS per extra passage beyond the index itself (target: <= ~150, so 21M
passages fit a 24 GB machine with an IVF-PQ index) and seconds per passage, extrapolated to 21M.

    python scripts/bench_scale.py --sizes 200000,1000000,2000000 --workdir /tmp/rom-scale
    python scripts/bench_scale.py --sizes 5000 --workdir /tmp/s --out /tmp/s.json     # a smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rom_cli.atomic import atomic_write_json  # noqa: E402
from rom_cli.model.runtime import machine  # noqa: E402

DPR_DEVICE_RATE = 29_600  # MiniLM passages/s on one H100 at 256 tokens, bf16 (REFERENCE.md section 4)
WIKIPEDIA = 21_015_324

# `rom` as a child of a small wrapper, so that the wrapper's RUSAGE_CHILDREN is exactly the command's peak RSS
WRAPPER = ("import json, resource, subprocess, sys, time; t = time.perf_counter(); "
           "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); "
           "print(json.dumps({'rc': p.returncode, 'wall_s': time.perf_counter() - t, "
           "'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 'stderr': p.stderr[-1500:]}))")


def measured(*rom_args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", WRAPPER, sys.executable, "-m", "rom_cli", *rom_args],
                         capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"rom {' '.join(rom_args[:1])} failed:\n{result['stderr']}")
    del result["stderr"]
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}


def run_size(n: int, root: Path, questions: int, threads: int, steps: int, live: int) -> dict:
    data = root / f"data-{n}"
    if not (data / "manifest.json").is_file():
        subprocess.run([sys.executable, str(REPO / "scripts" / "make_corpus.py"), "--out", str(data), "--passages",
                        str(n), "--questions", str(questions), "--dev", "200", "--seed", "0"], check=True,
                       stdout=subprocess.DEVNULL)
    task = ["task=dpr", f"data.root={data}", "task.train=train.json", "task.dev=dev.csv", "task.passages=psgs.tsv",
            "task.eval_split=dev", f"data.cache_dir={root / 'cache'}"]
    run = root / f"train-{n}"
    row: dict = {"passages": n, "tsv_bytes": (data / "psgs.tsv").stat().st_size,
                 "train_json_bytes": (data / "train.json").stat().st_size}
    row["train"] = measured("train", *task, "encoder=tiny", f"trainer.max_steps={steps}", f"trainer.threads={threads}",
                            "trainer.eval_at_start=false", "trainer.eval_at_end=false", "trainer.resume=never",
                            f"index.live_max_passages={live}", f"index.refresh_every={steps}",
                            f"hydra.run.dir={run}")
    metrics = json.loads((run / "metrics.json").read_text())
    row["train"]["live_index"] = metrics["train"]["live_index"]
    row["train"]["examples_per_s"] = {k: round(v["examples_per_s"], 1) for k, v in metrics["train"]["tasks"].items()}
    ckpt = run / "checkpoints"
    one = root / f"index-{n}-1"
    row["index_1"] = measured("index", f"checkpoint={ckpt}", f"out={one}", f"threads={threads}",
                              f"hydra.run.dir={root / 'runs' / f'index-{n}-1'}")
    meta = json.loads((one / "meta.json").read_text())
    row["index_1"].update(passages_per_s=round(meta["extra"]["passages_per_s"], 1),
                          build_seconds=round(meta["extra"]["build_seconds"], 1),
                          index_bytes=(one / "index.faiss").stat().st_size)
    four = root / f"index-{n}-4"
    shards = [measured("index", f"checkpoint={ckpt}", f"out={four}", "index.num_shards=4", f"index.shard={i}",
                       f"threads={threads}", f"hydra.run.dir={root / 'runs' / f'index-{n}-4-{i}'}") for i in range(4)]
    merge = measured("index", f"checkpoint={ckpt}", f"out={four}", "index.num_shards=4", "index.merge=true",
                     f"threads={threads}", f"hydra.run.dir={root / 'runs' / f'index-{n}-4-merge'}")
    row["index_4"] = {"shards": shards, "merge": merge,
                      "wall_s_sequential": round(sum(s["wall_s"] for s in shards) + merge["wall_s"], 1),
                      "wall_s_parallel_estimate": round(max(s["wall_s"] for s in shards) + merge["wall_s"], 1),
                      "peak_rss_mb": max([s["peak_rss_mb"] for s in shards] + [merge["peak_rss_mb"]])}
    row["eval"] = measured("eval", f"checkpoint={ckpt}", f"index_dir={one}", "compare=false", "predictions=false",
                           f"threads={threads}", f"hydra.run.dir={root / 'runs' / f'eval-{n}'}")
    report = json.loads((root / "runs" / f"eval-{n}" / "report.json").read_text())
    row["eval"]["questions"] = report["questions"]
    row["eval"]["answer_top20"] = report["metrics"]["retrieval"]["answer"].get("top20")
    return row


def fit(rows: list[dict], key: str, index_bytes: bool) -> dict | None:
    """Least-squares slope of peak RSS over N (bytes per passage), net of the index's own bytes per passage."""
    if len(rows) < 2:
        return None
    import numpy as np

    n = np.asarray([r["passages"] for r in rows], dtype=float)
    rss = np.asarray([r[key]["peak_rss_mb"] * 2**20 for r in rows])
    slope = float(np.polyfit(n, rss, 1)[0])
    per_index = float(np.polyfit(n, [r["index_1"]["index_bytes"] for r in rows], 1)[0]) if index_bytes else 0.0
    return {"rss_bytes_per_passage": round(slope, 1), "index_bytes_per_passage": round(per_index, 1),
            "beyond_index_bytes_per_passage": round(slope - per_index, 1),
            "extrapolated_rss_gb_at_21m": round(float(np.polyval(np.polyfit(n, rss, 1), WIKIPEDIA)) / 2**30, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="200000,1000000,2000000")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/rom-scale"))
    ap.add_argument("--questions", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--live", type=int, default=50_000, help="index.live_max_passages for the training runs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "scale-cpu-tiny.json")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "encoder": "tiny (random BERT, 32 wide, 2 layers)",
              "questions": args.questions, "steps": args.steps, "live_max_passages": args.live, "threads": args.threads,
              "rows": []}
    for n in [int(s) for s in args.sizes.split(",")]:
        print(f"N = {n:,} ...", file=sys.stderr, flush=True)
        result["rows"].append(run_size(n, args.workdir, args.questions, args.threads, args.steps, args.live))
        rows = result["rows"]
        result["fit"] = {"train": fit(rows, "train", False), "index_1": fit(rows, "index_1", True),
                         "eval": fit(rows, "eval", True)}
        last = rows[-1]
        rate = last["index_1"]["passages_per_s"]
        result["extrapolation_21m"] = {
            "encode_hours_this_cpu_tiny": round(WIKIPEDIA / rate / 3600, 2),
            "encode_hours_one_h100_minilm": round(WIKIPEDIA / DPR_DEVICE_RATE / 3600, 2),
            "note": "MiniLM on an H100 encodes ~29,600 passages/s (REFERENCE.md); tiny-encoder CPU rate measured here",
        }
        atomic_write_json(args.out, result)  # after every size: a long run keeps what it measured
        print(json.dumps(last, indent=1)[:2000], file=sys.stderr)
    print(args.out)


if __name__ == "__main__":
    main()
