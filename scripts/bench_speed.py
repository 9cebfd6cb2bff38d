#!/usr/bin/env python
"""Trainer and index-rebuild overhead against the bare model, written as JSON.

1. Train step: the same retrieval batch, (a) bare: backbone forward + in-batch softmax loss +
   backward + AdamW step, (b) `Trainer.train_step()` with its batch source pinned to that batch
   (sampler, autocast, clipping, scheduler and bookkeeping included). Target: (b) within 15 % of (a).
2. Index rebuild: `encode_entries` (packing, length sorting, pooling, copy to numpy) against
   bare backbone forward passes over the same packed batches, same batch size and precision.
   Target: at least 80 % of the bare throughput.

3. `--processes 1,2`: instead, whole `rom train` runs of the same global batches in 1 process and under
   `torchrun` in 2 (gloo on CPU, NCCL on GPUs), each process with `--threads` threads; training examples/s
   of each (every rank's slice counted), from the runs' metrics.json.
4. `--attention-dropout null,0.0`: instead, whole `rom train` runs of the same batches under each
   `encoder.attention_dropout` (null: the backbone's 0.1): on a CPU, dropout inside attention takes SDPA
   off its fused kernel.

    python scripts/bench_speed.py --out benchmarks/results/speed-cpu.json [overrides...]
    python scripts/bench_speed.py --processes 1,2 --threads 1 --out benchmarks/results/dist-cpu.json [overrides...]
    python scripts/bench_speed.py --attention-dropout null,0.0 --threads 2 --steps 30 \
        --out benchmarks/results/speed-attention-dropout.json experiment=squad data.root=../shared/data
Overrides are Hydra overrides of `conf/train.yaml` (default: the demo task with MiniLM).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def compose(overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    from rom_cli.config.schema import register_configs

    register_configs()
    with initialize_config_module("rom_cli.conf", version_base="1.3"):
        return hydra_compose("train", overrides=list(overrides))


def timed(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def train_run(launch: list[str], overrides: list[str], run_dir: Path, threads: int) -> dict:
    """One whole `rom train` (no evaluation, no checkpoint): its training examples/s, overall and per task."""
    import subprocess

    start = time.perf_counter()
    proc = subprocess.run([*launch, "train", "trainer.eval_at_start=false", "trainer.eval_at_end=false",
                           f"trainer.threads={threads}", "trainer.checkpoint_every=1000000", "trainer.resume=never",
                           *overrides, f"hydra.run.dir={run_dir}"], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    if proc.returncode != 0:
        raise SystemExit(f"rom train {' '.join(overrides)} failed:\n{proc.stderr[-3000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    tasks = metrics["train"]["tasks"]
    examples = sum(t["examples"] for t in tasks.values())
    seconds = sum(t["examples"] / t["examples_per_s"] for t in tasks.values() if t["examples_per_s"])
    return {"wall_s": round(time.perf_counter() - start, 1),
            "train_examples_per_s": round(examples / max(seconds, 1e-9), 2),
            "per_task_examples_per_s": {k: round(v["examples_per_s"], 2) for k, v in tasks.items()},
            "precision": metrics["config"]["precision"], "metrics": metrics}


def write_runs(args, runs: dict, key: str, extra: dict) -> None:
    from rom_cli.atomic import atomic_write_json
    from rom_cli.model.runtime import machine

    base = runs[next(iter(runs))]["train_examples_per_s"]
    for r in runs.values():
        r["speedup"] = round(r["train_examples_per_s"] / base, 2)
    atomic_write_json(Path(args.out), {"machine": machine(), "compared": key, "threads_per_process": args.threads,
                                       "steps": args.steps, "overrides": args.overrides, "runs": runs,
                                       "date": time.strftime("%Y-%m-%d"), **extra})
    print(args.out)


def compare_processes(args) -> None:
    """Examples/s of the same `rom train` (same global batches, steps, seed) in 1 and in N processes."""
    import tempfile

    runs = {}
    with tempfile.TemporaryDirectory(prefix="rom-dist-") as tmp:
        for n in sorted(int(x) for x in args.processes.split(",")):
            launch = ([sys.executable, "-m", "rom_cli"] if n == 1 else
                      [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
                       "-m", "rom_cli"])
            run = train_run(launch, [f"trainer.max_steps={args.steps}", *args.overrides], Path(tmp) / f"p{n}",
                            args.threads)
            metrics = run.pop("metrics")
            runs[str(n)] = {"processes": n, **run, "world_size": metrics["distributed"]["world_size"],
                            "rank_fingerprints_agree": len(set(metrics["distributed"]["rank_fingerprints"])) == 1}
            print(f"{n} process(es): {runs[str(n)]['train_examples_per_s']} examples/s", file=sys.stderr)
    write_runs(args, runs, "processes", {})


def compare_attention_dropout(args) -> None:
    """Examples/s of the same `rom train` (same batches, steps, seed) under each `encoder.attention_dropout`."""
    import tempfile

    runs = {}
    with tempfile.TemporaryDirectory(prefix="rom-attn-") as tmp:
        for i, value in enumerate(v.strip() for v in args.attention_dropout.split(",")):
            run = train_run([sys.executable, "-m", "rom_cli"],
                            [f"trainer.max_steps={args.steps}", *args.overrides, f"encoder.attention_dropout={value}"],
                            Path(tmp) / f"a{i}", args.threads)
            run.pop("metrics")
            runs[value] = {"attention_dropout": value, **run}
            print(f"attention dropout {value}: {run['train_examples_per_s']} examples/s {run['per_task_examples_per_s']}",
                  file=sys.stderr)
    write_runs(args, runs, "encoder.attention_dropout", {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--passages", type=int, default=256, help="passages encoded for the index benchmark")
    parser.add_argument("--processes", default=None, help="e.g. 1,2: compare rom train in 1 and 2 processes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (--processes)")
    parser.add_argument("--steps", type=int, default=30, help="training steps per run (--processes)")
    parser.add_argument("--attention-dropout", default=None,
                        help="e.g. null,0.0: compare rom train under each encoder.attention_dropout")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    if args.processes:
        return compare_processes(args)
    if args.attention_dropout:
        return compare_attention_dropout(args)

    from rom_cli.model.encode import encode_entries
    from rom_cli.model.passage_tokens import tokenize_passages
    from rom_cli.model.runtime import autocast
    from rom_cli.tasks.base import multi_positive_nll
    from rom_cli.training.trainer import Trainer

    cfg = compose(["mixture=retrieval_only", "objectives.retrieval.hard_negatives=0", "trainer.eval_at_start=false",
                   *args.overrides])
    trainer = Trainer(cfg, Path("/tmp/rom-bench-speed"))
    model, device, precision = trainer.model, trainer.device, trainer.precision
    objective = trainer.objectives["retrieval"]
    batch = objective.next_batch(np.random.default_rng(0))
    on_device = {k: {kk: vv.to(device) for kk, vv in v.items()} if isinstance(v, dict) else v for k, v in batch.items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    backbone = model.backbone("query")

    def pooled(b):
        states = backbone(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                          token_type_ids=b["token_type_ids"]).last_hidden_state
        mask = b["attention_mask"].unsqueeze(-1).to(states.dtype)
        return torch.nn.functional.normalize(((states * mask).sum(1) / mask.sum(1)).float(), dim=-1)

    model.train()  # both sides train with dropout on (from_pretrained leaves a model in eval mode)

    def bare_step():
        with autocast(device, precision):
            q, p = pooled(on_device["queries"]), pooled(on_device["passages"])
            loss = multi_positive_nll(q @ p.T / cfg.encoder.temperature, on_device["positive"].to(device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    objective.next_batch = lambda rng: dict(batch)  # pin the trainer to the same batch

    def trainer_step():
        trainer.train_step()
        trainer.step += 1

    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    bare = timed(lambda: (bare_step(), sync()), args.repeats)
    full = timed(lambda: (trainer_step(), sync()), args.repeats)

    # index rebuild against bare forward passes over the same packed, length-sorted batches
    corpus = trainer.objectives["retrieval"].ctx.corpus
    passages = [corpus[i] for i in range(min(args.passages, len(corpus)))]
    entries = tokenize_passages(trainer.packer, passages)
    size, max_len = int(cfg.index.encode_batch_size), int(cfg.encoder.passage_max_length)
    lengths = [len(e.title) + len(e.text) for e in entries]
    order = np.argsort(-np.asarray(lengths), kind="stable")
    packed = [trainer.packer.passages([entries[i].title for i in order[lo:lo + size]],
                                      [entries[i].text for i in order[lo:lo + size]], max_len)
              for lo in range(0, len(order), size)]
    packed = [{k: v.to(device) for k, v in b.items()} for b in packed]
    model.eval()

    @torch.no_grad()
    def bare_encode():
        for b in packed:
            with autocast(device, precision):
                backbone(**b)
        sync()

    def rom_encode():
        out = np.zeros((len(entries), model.embedding_dim), dtype=np.float16)
        encode_entries(model, trainer.packer, entries, max_len, size, device, precision, out)
        sync()

    bare_enc = timed(bare_encode, max(2, args.repeats // 3), warmup=1)
    rom_enc = timed(rom_encode, max(2, args.repeats // 3), warmup=1)
    n = len(passages)
    result = {
        "hardware": {"device": str(device), "cpu": platform.processor() or platform.machine(),
                     "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                     "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None},
        "config": {"encoder": cfg.encoder.name, "precision": str(getattr(precision, "value", precision)),
                   "task": cfg.task.name, "retrieval_batch": int(cfg.objectives.retrieval.batch_size),
                   "encode_batch_size": size, "passage_max_length": max_len, "overrides": args.overrides},
        "train_step": {"bare_seconds": bare, "trainer_seconds": full, "overhead": full / bare - 1.0,
                       "target_overhead": 0.15, "examples": int(batch["examples"])},
        "index_encode": {"passages": n, "bare_passages_per_s": n / bare_enc, "rom_passages_per_s": n / rom_enc,
                         "ratio": bare_enc / rom_enc, "target_ratio": 0.8},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
