#!/usr/bin/env python
"""SQuAD benchmark: ROM (one shared encoder) against three towers, weaker supervision, BM25 and hybrid.

One run, one seed, the same data, steps, batch sizes and precision for every trained system:

    rom_full       one shared encoder, mixture `rom` (ict + retrieval + reader), full supervision
    three_towers   the DPR-style baseline: encoder.shared=false (query, passage and reader towers)
    rom_weak       supervision=weak (answers only; positives found in the live index)
    rom_none       supervision=none (corpus only: ICT + salient-span masking)

then BM25 (bm25s) and hybrid BM25 + rom_full retrieval on the same eval questions, both read by the
rom_full reader (the code `rom eval` runs: `rom_cli.evaluation.pipeline.evaluate`). Each trained
system runs `Trainer(cfg, run_dir).run()` in its own Python process, so its peak memory (CPU: the
process's max RSS; CUDA: max allocated) is its own. Run dirs: `<runs-dir>/<name>/<system>`.

Writes `<out-dir>/<name>.json` (atomically, after every system, `"complete": false` until the end),
then regenerates a markdown README from every `squad*.json` of the out dir (`scripts/bench_table.py`).

    python scripts/bench_squad.py --profile cpu_small --data-root ../shared/data
    python scripts/bench_squad.py --profile full --out-dir /tmp/out trainer.device=cuda trainer.precision=bf16

Profiles (trailing arguments are Hydra overrides of `conf/train.yaml`, applied to every system):

- `cpu_small`: 2,000 train questions (of 11,877), 300 dev questions (of 10,570) retrieving from
  all 2,067 dev paragraphs, 48 steps (16 batches per task), default batch sizes (ict 32,
  retrieval 16 + 1 hard negative each, reader 8 x 4 windows), passages cut at 192 tokens, bf16
  autocast; the live index (2,429 train paragraphs) is built once, at step 0. Measured on this
  project's 2-core CPU with nothing else running: 48 steps in 200-250 s (batches of ~3 s ict,
  ~2.6 s retrieval, ~7 s reader: 32 windows of up to 384 tokens), 13-16 s to build the live
  index, 30-47 s an evaluation (encode 2,067 paragraphs, read 300 gold + 1,500 top-5 windows),
  ~57 s for BM25 + hybrid: 19 minutes in all (1,142 s), so the run stays inside 45 minutes even
  when other work slows it down about twice. (The first version, 80 steps with a rebuild at step
  40, is about 30 minutes of work but took 95 minutes on a machine shared with test suites and
  another training run, whose steps slowed to 9-20 s: benchmarks/results/squad-cpu_small-80steps.json.)
  Only rom_full is also evaluated untrained (step 0): the untrained model is the same MiniLM for
  every system.
- `full`: all 11,877 train questions and all 10,570 dev questions, 1,200 steps with batches of 64
  (ict), 64 + 64 hard negatives (retrieval) and 32 x 4 windows (reader), bf16, for one H100
  (`scripts/gpu_bench.sh`). Estimate from this project's H100 numbers (MiniLM trains ~5,700
  examples/s and encodes ~29,600 passages/s at 256 tokens, bf16): a step is ~25-35 ms of GPU work
  plus ~10-20 ms of Python (batch packing, live-index search) -> ~1,200 x 0.045 s ~ 55 s per
  system (three towers a little more); an evaluation reads ~63k windows at 384 tokens (~17k/s
  forward only) plus Python ~ 10-15 s; process start, data loading and tokenising ~15-20 s per
  system. Four systems (~4 x 90 s) + one step-0 evaluation + BM25, hybrid and rom_full's dense row
  re-evaluated from its checkpoint (~60 s) ~ 7 minutes, inside the 9-minute limit; gpu_bench.sh
  stops the run at 9 minutes, keeping the JSON of the systems done by then. As on the CPU, only
  rom_full is evaluated untrained (every system starts from the same MiniLM).
- `smoke`: the tiny random encoder on the demo task, 3 steps (one per task): tests the whole script in seconds.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SYSTEMS = {
    "rom_full": {"label": "ROM: one shared encoder, full supervision", "overrides": []},
    "three_towers": {"label": "DPR-style: three towers (encoder.shared=false), full supervision",
                     "overrides": ["encoder.shared=false"]},
    "rom_weak": {"label": "ROM: one shared encoder, weak supervision (answers only)",
                 "overrides": ["supervision=weak"]},
    "rom_none": {"label": "ROM: one shared encoder, no supervision (corpus only)",
                 "overrides": ["supervision=none"]},
}
TRAINED = list(SYSTEMS)
COMPARED = {
    "bm25": "BM25 (bm25s, English stopwords) + rom_full reader",
    "hybrid": "hybrid: BM25 + rom_full dense (min-max fusion) + rom_full reader",
}
# The peer reader (scripts/hf_reader.py), trained on as many reader questions as rom_full's reader saw.
PEERS = {"separate_reader": "separate reader: the Hugging Face QA recipe on the same backbone (mean of its seeds)"}
REFERENCE_SYSTEM = "rom_full"  # its checkpoint reads for BM25 and hybrid

# Every system: the ROM mixture, MiniLM, one checkpoint at the end; the profiles start from
# `experiment=squad` (the settings scripts/tune_squad.py chose on a dev split held out of train).
COMMON = [
    "encoder=minilm",
    "mixture=rom",
    "trainer.resume=never",
    "trainer.checkpoint_every=1000000",
    "trainer.keep_last=1",
]

PROFILES = {
    "cpu_small": {
        "description": "subsampled for a 2-core CPU: 2,000 train questions, 300 dev questions over all 2,067 "
                       "dev paragraphs, 48 steps, precision auto (bf16 where the CPU runs it natively, else fp32)",
        "overrides": [
            "experiment=squad",
            "task.train_limit=2000",
            "task.eval_limit=300",
            "trainer.max_steps=48",
            "trainer.precision=auto",
            "encoder.passage_max_length=192",
            "index.refresh_every=null",
            "eval.top_k=[1,5,20,100]",
            "eval.read_top_k=[1,5]",
        ],
        "step0": "reference",  # only rom_full is evaluated untrained
        "verify_dense": False,  # skip re-evaluating rom_full's dense row from its checkpoint (~55 s here)
    },
    "cpu_long": {
        "description": "long enough on a 2-core CPU for the reader to learn: the whole train file (10,877 questions "
                       "once the 1,000 dev questions of task=squad_tune are held out), 600 steps (200 reader batches), "
                       "a learning curve on that dev split every 100 steps, 2,000 test questions (SQuAD dev) over all "
                       "2,067 dev paragraphs; hybrid reranked by the reader; the separate-reader peer (HF recipe, "
                       "3 seeds) on as many reader questions",
        "overrides": [
            "experiment=squad",
            "task=squad_tune",  # dev: 1,000 train questions held out by paragraph (the learning curve)
            "task.eval_split=test",  # the final evaluation: SQuAD v1.1 dev, never seen by selection
            "task.eval_limit=2000",
            "trainer.max_steps=600",
            "trainer.precision=auto",
            "trainer.eval_every=100",
            "trainer.select_limit=200",
            "encoder.passage_max_length=192",
            "encoder.attention_dropout=0.0",  # 3-4x faster CPU steps (SDPA's fused kernel); see EncoderConfig
            "index.refresh_every=200",
            "eval.top_k=[1,5,20,100]",
            "eval.read_top_k=[1,5]",
        ],
        "systems": ["rom_full", "three_towers", "bm25", "hybrid", "separate_reader"],
        "step0": "none",  # the untrained MiniLM's numbers are in squad-cpu_small.json
        "verify_dense": False,
        "rerank": {"hybrid": 10},  # first stage -> reranked top-K (the reader's relevance head)
        "separate_reader_seeds": [0, 1, 2],
    },
    "full": {
        "description": "all data: 11,877 train questions, 10,570 dev questions over 2,067 dev paragraphs, "
                       "1,200 steps, batches 64/64/32x4, bf16 (sized for one H100)",
        "overrides": [
            "experiment=squad",
            "trainer.max_steps=1200",
            "trainer.precision=bf16",
            "objectives.ict.batch_size=64",
            "objectives.retrieval.batch_size=64",
            "objectives.reader.batch_size=32",
            "index.refresh_every=200",
            "index.encode_batch_size=256",
            "eval.batch_size=128",
            "eval.top_k=[1,5,20,100]",
            "eval.read_top_k=[1,5]",
        ],
        "step0": "reference",
        "verify_dense": True,  # the `rom eval` path must reproduce training's final numbers
        "rerank": {"hybrid": 20, "dense": 20},
    },
    "smoke": {
        "description": "tiny random encoder on the demo task, 3 steps (tests the script)",
        "overrides": [
            "task=demo",
            "encoder=tiny",
            "trainer.max_steps=3",
            "trainer.threads=1",
            "trainer.precision=fp32",
            "trainer.log_every=1",
            "trainer.eval_every=3",  # one selection on dev: the learning curve
            "trainer.select_limit=4",
            "task.train_limit=32",
            "task.eval_limit=8",
            "objectives.ict.batch_size=4",
            "objectives.retrieval.batch_size=4",
            "objectives.reader.batch_size=2",
            "objectives.reader.passages_per_question=2",
            "index.refresh_every=1",
            "eval.top_k=[1,5,20,100]",
            "eval.read_top_k=[1,5]",
        ],
        "step0": "all",
        "verify_dense": True,
        "rerank": {"hybrid": 5},
        "separate_reader_seeds": [0, 1],
    },
}


# -- helpers ----------------------------------------------------------------------------------------
def compose(config_name: str, overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    from rom_cli.config.schema import register_configs

    register_configs()
    with initialize_config_module("rom_cli.conf", version_base="1.3"):
        return hydra_compose(config_name, overrides=list(overrides))


def write_json(path: Path, obj) -> None:
    """Atomic: a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(obj, indent=2, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_info() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "HEAD") or None
    return {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None}


def runtime_info(device) -> dict:
    import torch

    return {"device": str(device), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}


def total_rate(tasks: dict) -> float | None:
    """Examples per second over all tasks: total examples / total seconds spent in training batches."""
    examples = sum(t.get("examples", 0) for t in tasks.values())
    seconds = sum(t["examples"] / t["examples_per_s"] for t in tasks.values() if t.get("examples_per_s"))
    return examples / seconds if seconds > 0 else None


# -- workers (each in its own process) -------------------------------------------------------------
def worker_train(spec: dict) -> None:
    from rom_cli.config.schema import value_of
    from rom_cli.training.trainer import Trainer

    run_dir = Path(spec["run_dir"])
    cfg = compose("train", spec["overrides"])
    start = time.perf_counter()
    trainer = Trainer(cfg, run_dir)
    setup_s = time.perf_counter() - start
    metrics = trainer.run()
    data = trainer.mixture.datasets[trainer.mixture.primary]
    eval_split = str(cfg.task.eval_split)
    write_json(run_dir / "bench_worker.json", {
        "trainer_wall_s": time.perf_counter() - start, "setup_s": setup_s,
        "runtime": runtime_info(trainer.device),
        "sizes": {"train_questions": len(data.splits.get("train") or []),
                  "train_passages": len(data.corpus("train")) if "train" in data.corpora else None,
                  "eval_split": eval_split, "eval_questions": len(data.split(eval_split)),
                  "corpus_passages": len(data.corpus(eval_split))},
        "settings": {"max_steps": int(cfg.trainer.max_steps), "precision": str(metrics["config"]["precision"]),
                     "lr": float(cfg.trainer.lr), "head_lr_scale": float(cfg.trainer.head_lr_scale),
                     "schedule": value_of(cfg.schedule.name), "temperature": float(cfg.encoder.temperature),
                     "device": metrics["config"]["device"], "seed": int(cfg.trainer.seed),
                     "batch_sizes": {"ict": int(cfg.objectives.ict.batch_size),
                                     "retrieval": int(cfg.objectives.retrieval.batch_size),
                                     "retrieval_hard_negatives": int(cfg.objectives.retrieval.hard_negatives),
                                     "reader": int(cfg.objectives.reader.batch_size),
                                     "reader_passages_per_question": int(cfg.objectives.reader.passages_per_question)},
                     "passage_max_length": int(cfg.encoder.passage_max_length),
                     "reader_max_length": int(cfg.encoder.reader_max_length),
                     "index_refresh_every": cfg.index.refresh_every,
                     "top_k": list(cfg.eval.top_k), "read_top_k": list(cfg.eval.read_top_k),
                     "hybrid_weight": float(cfg.eval.hybrid_weight)},
    })


def worker_compare(spec: dict) -> None:
    """BM25 and hybrid retrieval (and, on request, rom_full's dense row again) from rom_full's checkpoint,
    on the eval questions and corpus it was evaluated on, with its eval / index / precision settings."""
    import logging

    from rom_cli.data.load import load_task
    from rom_cli.evaluation.checkpoint_eval import compare_with_training
    from rom_cli.evaluation.pipeline import EvalSetup, evaluate
    from rom_cli.evaluation.session import effective_config, open_checkpoint, peek_run_config
    from rom_cli.model.encode import encode_corpus
    from rom_cli.model.runtime import peak_memory_mb
    from rom_cli.retrieval.bm25 import BM25Retriever
    from rom_cli.retrieval.faiss_index import DenseIndex

    start = time.perf_counter()
    path, run_cfg = peek_run_config(spec["checkpoint"])
    eff = effective_config(compose("eval", [f"checkpoint={path}"]), run_cfg, [])  # as `rom eval checkpoint=...`
    session = open_checkpoint(path, eff.device, eff.precision, eff.threads)
    split = str(eff.task.eval_split)
    data = load_task(eff.task, eff.data)
    questions, corpus = data.split(split), data.corpus(split)
    setup = EvalSetup(session.model, session.packer, session.enc_cfg, eff.eval, eff.index, session.device,
                      eff.precision)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    bm25 = BM25Retriever.from_passages(corpus)
    bm25_s = time.perf_counter() - t0
    vectors, enc = encode_corpus(session.model, session.packer, corpus, session.enc_cfg.passage_max_length,
                                 int(eff.index.encode_batch_size), session.device, eff.precision)
    dense_index = DenseIndex.build(vectors, eff.index)
    results = {}
    rerank = dict(spec.get("rerank") or {})
    retrievers = ["bm25", "hybrid"] + (["dense"] if spec.get("verify_dense") or "dense" in rerank else [])
    for retriever in retrievers:
        print(f"bench: evaluating {retriever} retrieval on {len(questions)} questions...", file=sys.stderr, flush=True)
        eval_cfg = copy.deepcopy(eff.eval)
        eval_cfg.rerank_top_k = int(rerank.get(retriever, 0))  # the reader's relevance head reorders the top-K
        t0 = time.perf_counter()
        metrics, _ = evaluate(dataclasses.replace(setup, eval_cfg=eval_cfg), corpus, questions, retriever=retriever,
                              bm25=bm25, index=dense_index)
        metrics["speed"]["index_passages_per_s"] = (len(corpus) / max(bm25_s, 1e-9) if retriever == "bm25"
                                                    else enc["passages_per_s"])
        metrics["speed"]["wall_s"] = time.perf_counter() - t0
        results[retriever] = metrics
    out = {"checkpoint": str(path), "step": session.step, "results": results,
           "bm25_index_seconds": bm25_s, "dense_encode": enc, "parameters": session.model.num_parameters(),
           "peak_memory_mb": peak_memory_mb(session.device), "runtime": runtime_info(session.device),
           "wall_s": time.perf_counter() - start}
    if "dense" in results and spec.get("verify_dense"):
        out["dense_reproduces_training"] = compare_with_training(session, eff, results["dense"])
    write_json(Path(spec["out"]), out)


def worker_separate_reader(spec: dict) -> None:
    import hf_reader

    write_json(Path(spec["out"]), hf_reader.run(spec["overrides"], int(spec["steps"]), list(spec["seeds"])))


# -- the driver -------------------------------------------------------------------------------------
def loadavg() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def run_worker(kind: str, spec: dict, spec_path: Path) -> tuple[int, float, dict]:
    """(exit code, wall seconds, CPU use): the worker's CPU seconds and the machine's 1-minute load
    average before and after, so a reader can tell a slow machine from a shared one."""
    import resource

    write_json(spec_path, spec)
    before, load0 = resource.getrusage(resource.RUSAGE_CHILDREN), loadavg()
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", kind, str(spec_path)],
                          env={**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, wall, {"cpu_s": cpu, "cpu_per_wall_s": cpu / max(wall, 1e-9),
                                   "loadavg_1min_start": load0, "loadavg_1min_end": loadavg()}


def system_entry(name: str, overrides: list[str], wall_s: float, run_dir: Path, rc: int) -> dict:
    entry = {"label": SYSTEMS[name]["label"], "kind": "trained", "overrides": SYSTEMS[name]["overrides"],
             "run_dir": str(run_dir), "wall_s": wall_s, "exit_code": rc}
    metrics_path, worker_path = run_dir / "metrics.json", run_dir / "bench_worker.json"
    if rc != 0 or not metrics_path.is_file():
        entry["error"] = f"training exited with code {rc}; see the log and {run_dir}"
        return entry
    m = json.loads(metrics_path.read_text(encoding="utf-8"))
    w = json.loads(worker_path.read_text(encoding="utf-8")) if worker_path.is_file() else {}
    tasks = m["train"]["tasks"]
    entry.update({
        "parameters": m["parameters"], "parameter_breakdown": m.get("parameter_breakdown"),
        "peak_memory_mb": m["peak_memory_mb"],
        "train_examples_per_s": total_rate(tasks),
        "train_tasks": {t: {"examples": s["examples"], "batches": s["batches"], "examples_per_s": s["examples_per_s"]}
                        for t, s in tasks.items()},
        "train_steps": m["train"]["steps"], "index_refreshes": m["train"]["index_refreshes"],
        "index_passages_per_s": m["train"]["index_passages_per_s"],  # live index rebuilds during training
        "eval_index_passages_per_s": ((m.get("final") or {}).get("speed") or {}).get("index_passages_per_s"),
        "trainer_wall_s": w.get("trainer_wall_s"), "config": m.get("config"),
        "step0": m.get("step0"), "final": m.get("final"), "best": m.get("best"),
        "learning_curve": learning_curve(run_dir / "metrics.jsonl"),
    })
    return entry


def learning_curve(jsonl: Path) -> list[dict]:
    """The selections of `trainer.eval_every` (dev split, never the test split): step -> headline metrics."""
    curve = []
    if jsonl.is_file():
        for line in jsonl.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == "select":
                curve.append({"step": record["step"], "split": record.get("split"), "metric": record.get("metric"),
                              "value": record.get("value"), **(record.get("metrics") or {})})
    return curve


def compared_entries(out: dict, wall_s: float) -> dict:
    entries = {}
    for name, metrics in out["results"].items():
        if name == "dense":
            continue
        entries[name] = {
            "label": COMPARED[name], "kind": "retriever", "reader": REFERENCE_SYSTEM,
            "parameters": 0 if name == "bm25" else out["parameters"],
            "reader_parameters": out["parameters"],
            "peak_memory_mb": out["peak_memory_mb"],  # the process that built BM25 and the dense index and read
            "train_examples_per_s": None,
            "index_passages_per_s": metrics["speed"]["index_passages_per_s"],
            "wall_s": metrics["speed"]["wall_s"], "compare_process_wall_s": wall_s,
            "step0": None, "final": metrics,
        }
    return entries


def separate_reader_entry(out: dict, wall_s: float, usage: dict) -> dict:
    g = out["reader_gold"]
    per_seed = out["per_seed"]
    return {"label": PEERS["separate_reader"], "kind": "peer", "wall_s": wall_s, "usage": usage,
            "parameters": per_seed[0]["parameters"] if per_seed else None,
            "peak_memory_mb": max((r["peak_memory_mb"] for r in per_seed), default=None),
            "train_examples_per_s": (sum(r["train_features"] for r in per_seed)
                                     / max(sum(r["train_s"] for r in per_seed), 1e-9)) if per_seed else None,
            "recipe": out["recipe"], "steps": out["steps"], "seeds": out["seeds"],
            "reader_questions": [r["questions_used"] for r in per_seed],
            "spread": {"em": g["em"], "f1": g["f1"]}, "per_seed": per_seed,
            "final": {"reader_gold": {"em": g["em"]["mean"], "f1": g["f1"]["mean"], "questions": g["questions"]}}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu_small")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--out-dir", default="benchmarks/results")
    parser.add_argument("--name", default=None, help="result file name (default: squad-<profile>; smoke: smoke)")
    parser.add_argument("--runs-dir", default=None, help="run dirs go to <runs-dir>/<name>/<system> "
                                                         "(default: <out-dir>/../runs)")
    parser.add_argument("--readme", default=None, help="README regenerated from <out-dir>/squad*.json (default: "
                                                       "benchmarks/README.md for benchmarks/results, else <out-dir>/README.md)")
    parser.add_argument("--systems", default=None,
                        help="comma-separated subset of " + ", ".join(TRAINED + list(COMPARED) + list(PEERS))
                             + " (default: the profile's)")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides applied to every system")
    args = parser.parse_args(argv)

    if args.worker:
        kind, spec_path = args.worker
        spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
        {"train": worker_train, "compare": worker_compare, "separate_reader": worker_separate_reader}[kind](spec)
        return 0

    import bench_table
    import hf_reader

    started, t_start = dt.datetime.now(dt.UTC), time.perf_counter()
    profile = PROFILES[args.profile]
    name = args.name or ("smoke" if args.profile == "smoke" else f"squad-{args.profile}")
    out_dir = Path(args.out_dir)
    runs_dir = Path(args.runs_dir) if args.runs_dir else out_dir.resolve().parent / "runs"
    bench_runs = runs_dir / name
    default = TRAINED + list(COMPARED) + (list(PEERS) if profile.get("separate_reader_seeds") else [])
    systems_arg = args.systems or ",".join(profile.get("systems") or default)
    wanted = [s.strip() for s in systems_arg.split(",") if s.strip()]
    known = TRAINED + list(COMPARED) + list(PEERS)
    unknown = [s for s in wanted if s not in known]
    if unknown:
        parser.error(f"unknown systems {unknown}: expected some of {known}")
    if set(wanted) & (set(COMPARED) | set(PEERS)) and REFERENCE_SYSTEM not in wanted:
        parser.error(f"bm25, hybrid and separate_reader are measured against {REFERENCE_SYSTEM}: include it")
    if "separate_reader" in wanted and not profile.get("separate_reader_seeds"):
        parser.error(f"profile {args.profile} names no seeds for separate_reader")
    base = [*COMMON, f"data.root={args.data_root}", *profile["overrides"]]
    argv_shown = ["python", "scripts/bench_squad.py", *(sys.argv[1:] if argv is None else argv)]
    result = {
        "name": name, "profile": args.profile, "profile_description": profile["description"], "complete": False,
        "command": " ".join(shlex.quote(a) for a in argv_shown),
        "date": started.isoformat(timespec="seconds"), "git": git_info(),
        "hardware": {"cpu": cpu_model(), "cpu_cores": os.cpu_count(), "platform": platform.platform(),
                     "python": platform.python_version()},
        "data": {"root": args.data_root},
        "settings": {"common_overrides": base, "extra_overrides": list(args.overrides),
                     "system_overrides": {s: SYSTEMS[s]["overrides"] for s in TRAINED},
                     "step0": profile["step0"], "rerank": profile.get("rerank") or {},
                     "separate_reader_seeds": profile.get("separate_reader_seeds")},
        "systems": {},
    }
    if args.profile != "smoke":
        result["data"].update({"train_file": "squad/train-v1.1-subset-du2017test.json",
                               "eval_file": "squad/dev-v1.1.json"})
    out_path = out_dir / f"{name}.json"
    readme = Path(args.readme) if args.readme else (
        REPO / "benchmarks" / "README.md" if out_dir.resolve() == (REPO / "benchmarks" / "results").resolve()
        else out_dir / "README.md")

    def save():
        result["total_wall_s"] = time.perf_counter() - t_start
        write_json(out_path, result)

    failures = 0
    order = [s for s in TRAINED if s in wanted]
    if set(wanted) & set(COMPARED):  # BM25 / hybrid right after rom_full: a cut-short run still has them
        order.insert(order.index(REFERENCE_SYSTEM) + 1, "compare")
    if "separate_reader" in wanted:  # then the peer reader, on as many reader questions as rom_full's saw
        order.insert(order.index(REFERENCE_SYSTEM) + 1 + ("compare" in order), "separate_reader")
    for system in order:
        if system == "separate_reader":
            ref = result["systems"].get(REFERENCE_SYSTEM, {})
            reader = (ref.get("train_tasks") or {}).get("reader")
            if "error" in ref or not reader:
                continue
            batch = hf_reader.RECIPE["batch_size"]
            steps = max(1, round(reader["examples"] / batch))
            seeds = list(profile["separate_reader_seeds"])
            print(f"bench [{name}]: separate reader (HF recipe), {steps} steps of {batch} features "
                  f"(rom_full's reader saw {reader['examples']} questions), seeds {seeds}", file=sys.stderr, flush=True)
            spec = {"overrides": [*base, *args.overrides], "steps": steps, "seeds": seeds,
                    "out": str(bench_runs / "separate_reader.json")}
            rc, wall, usage = run_worker("separate_reader", spec, bench_runs / "separate_reader.spec.json")
            if rc == 0:
                out = json.loads((bench_runs / "separate_reader.json").read_text(encoding="utf-8"))
                result["systems"]["separate_reader"] = separate_reader_entry(out, wall, usage)
            else:
                failures += 1
                result["systems"]["separate_reader"] = {"label": PEERS["separate_reader"], "kind": "peer",
                                                        "error": f"separate reader exited with code {rc}",
                                                        "exit_code": rc}
            save()
            continue
        if system == "compare":
            ref_dir = bench_runs / REFERENCE_SYSTEM
            if "error" in result["systems"].get(REFERENCE_SYSTEM, {"error": 1}):
                continue
            print(f"bench [{name}]: bm25 + hybrid with {REFERENCE_SYSTEM}'s checkpoint", file=sys.stderr, flush=True)
            spec = {"checkpoint": str(ref_dir), "verify_dense": bool(profile["verify_dense"]),
                    "rerank": profile.get("rerank") or {}, "out": str(bench_runs / "compare.json")}
            rc, wall, usage = run_worker("compare", spec, bench_runs / "compare.spec.json")
            result["compare_usage"] = usage
            if rc == 0:
                out = json.loads((bench_runs / "compare.json").read_text(encoding="utf-8"))
                entries = compared_entries(out, wall)
                result["systems"].update({k: v for k, v in entries.items() if k in wanted})
                if "dense" in out["results"]:  # rom_full's dense row again (its rerank rows, where asked)
                    result["rom_full_dense_compare"] = out["results"]["dense"]
                if "dense_reproduces_training" in out:
                    result["dense_reproduces_training"] = out["dense_reproduces_training"]
            else:
                failures += 1
                for k in COMPARED:
                    if k in wanted:
                        result["systems"][k] = {"label": COMPARED[k], "kind": "retriever",
                                                "error": f"compare exited with code {rc}", "exit_code": rc}
            save()
            continue
        run_dir = bench_runs / system
        shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run: never resume an older benchmark
        step0 = profile["step0"] == "all" or (profile["step0"] == "reference" and system == REFERENCE_SYSTEM)
        overrides = [*base, *SYSTEMS[system]["overrides"], f"trainer.eval_at_start={str(step0).lower()}",
                     *args.overrides]
        print(f"bench [{name}]: training {system} ({' '.join(SYSTEMS[system]['overrides']) or 'defaults'})",
              file=sys.stderr, flush=True)
        rc, wall, usage = run_worker("train", {"run_dir": str(run_dir), "overrides": overrides},
                                     bench_runs / f"{system}.spec.json")
        entry = system_entry(system, overrides, wall, run_dir, rc)
        entry["usage"] = usage
        failures += rc != 0
        result["systems"][system] = entry
        worker = run_dir / "bench_worker.json"
        if worker.is_file() and "sample" not in result:
            w = json.loads(worker.read_text(encoding="utf-8"))
            result["sample"] = w["sizes"]
            result["settings"].update(w["settings"])
            result["hardware"].update(w["runtime"])
        print(f"bench [{name}]: {system} done in {wall:.0f} s (exit {rc})", file=sys.stderr, flush=True)
        save()
    result["complete"] = failures == 0
    result["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    save()
    bench_table.write_readme(out_dir, readme)
    print(f"bench [{name}]: wrote {out_path} and {readme} in {result['total_wall_s']:.0f} s", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
