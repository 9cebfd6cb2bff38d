"""Joint multi-task training of one shared encoder.

Each optimizer step asks the sampler which task(s) the step belongs to, draws `grad_accum` batches
of each, and sums their weighted losses. Every source of randomness is a function of (seed, step)
or saved in the checkpoint (task streams, torch RNG, live index vectors), so a killed run resumed
from its last checkpoint continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rom_cli.config.schema import value_of
from rom_cli.data.load import load_task
from rom_cli.errors import RomError
from rom_cli.evaluation.pipeline import EvalSetup, evaluate
from rom_cli.model.backbone import load_tokenizer
from rom_cli.model.encode import PassageTokens
from rom_cli.model.inputs import Packer
from rom_cli.model.rom_model import RomModel
from rom_cli.model.runtime import autocast, peak_memory_mb, resolve_device, seed_everything
from rom_cli.retrieval.fingerprint import fingerprint_state_dict
from rom_cli.tasks import build_objectives
from rom_cli.tasks.base import TaskContext
from rom_cli.training.checkpoint import (
    atomic_write_json,
    latest_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from rom_cli.training.live_index import LiveIndex
from rom_cli.training.schedules import build_sampler
from rom_cli.training.validate import validate_train_config


def build_optimizer(model, cfg, total_steps: int):
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    warmup = int(cfg.warmup_ratio * total_steps)

    def schedule(step: int) -> float:  # linear warmup, then linear decay to zero
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


class Trainer:
    def __init__(self, cfg, run_dir: Path, console: Console | None = None):
        validate_train_config(cfg)
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.console = console or Console(stderr=True)
        t = cfg.trainer
        self.device = resolve_device(t.device)
        self.precision = t.precision
        if t.threads:
            torch.set_num_threads(int(t.threads))
        seed_everything(int(t.seed))

        data = load_task(cfg.task, cfg.data)
        self.data = data
        self.eval_split = cfg.task.eval_split
        self.tokenizer = load_tokenizer(cfg.encoder)
        self.packer = Packer(self.tokenizer)
        self.model = RomModel(cfg.encoder).to(self.device)
        train_questions = data.splits.get("train") or []
        train_corpus = data.corpus("train")
        self.ctx = TaskContext(
            cfg=cfg, packer=self.packer, questions=train_questions,
            question_tokens=self.packer.tokenize([q.text for q in train_questions]),
            corpus=train_corpus, passage_tokens=PassageTokens(self.packer, train_corpus), seed=int(t.seed),
        )
        self.objectives = build_objectives(self.ctx, list(cfg.mixture.tasks))
        self.sampler = build_sampler(
            cfg.schedule, list(self.objectives), {n: o.size() for n, o in self.objectives.items()},
            {n: float(w) for n, w in cfg.mixture.tasks.items()}, int(t.seed), int(t.max_steps),
        )
        self.live = None
        if any(o.needs_index() for o in self.objectives.values()):
            depth = max(int(cfg.objectives.retrieval.mine_top_k), int(cfg.supervision.top_k),
                        int(cfg.objectives.reader.passages_per_question) * 4)
            self.live = LiveIndex(self.ctx, self.model, self.device, self.precision, depth)
            self.ctx.live = self.live
        self.optimizer, self.scheduler = build_optimizer(self.model, t, int(t.max_steps))
        self.step = 0
        self.stats = {n: {"examples": 0, "seconds": 0.0, "batches": 0} for n in self.objectives}
        self.index_events: list[dict] = []
        self.skipped = 0
        self.step0: dict | None = None

    # -- state -----------------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "streams": {n: o.stream.consumed for n, o in self.objectives.items()},
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            "python_rng": random.getstate(),
            "numpy_rng": np.random.get_state(),
            "live_vectors": None if self.live is None or self.live.vectors is None else self.live.vectors,
            "live_built_at": None if self.live is None else self.live.built_at,
            "stats": self.stats, "index_events": self.index_events, "skipped": self.skipped, "step0": self.step0,
        }

    def save(self) -> Path:
        meta = {"fingerprint": fingerprint_state_dict(self.model.state_dict()),
                "parameters": self.model.num_parameters(), "encoder": self.cfg.encoder.name}
        return save_checkpoint(self.ckpt_dir, self.step, self.model, self.tokenizer, self.cfg, self.state(), meta,
                               int(self.cfg.trainer.keep_last))

    def resume(self) -> Path | None:
        how = str(self.cfg.trainer.resume)
        if how == "never":
            return None
        path = latest_checkpoint(self.ckpt_dir) if how == "auto" else resolve_checkpoint(how)
        if path is None:
            return None
        from transformers import AutoModel

        saved = OmegaConf.load(path / "config.yaml")
        if saved.encoder.name_or_path != self.cfg.encoder.name_or_path or saved.encoder.shared != self.cfg.encoder.shared:
            raise RomError(f"trainer.resume: checkpoint {path} was trained with encoder {saved.encoder.name_or_path!r} "
                           f"(shared={saved.encoder.shared}); this run uses {self.cfg.encoder.name_or_path!r} "
                           f"(shared={self.cfg.encoder.shared})")
        for key, backbone in self.model.backbones.items():
            folder = path / ("encoder" if key == "shared" else f"encoder-{key}")
            backbone.load_state_dict(AutoModel.from_pretrained(folder).state_dict())
        self.model.load_state_dict(torch.load(path / "heads.pt", map_location="cpu"), strict=False)
        self.model.to(self.device)
        state = torch.load(path / "trainer_state.pt", map_location="cpu", weights_only=False)
        self.step = int(state["step"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        for name, consumed in state["streams"].items():
            if name in self.objectives:
                self.objectives[name].stream.consumed = int(consumed)
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_rng"])
        if self.live is not None and state.get("live_vectors") is not None:
            self.live.load_vectors(state["live_vectors"], state["live_built_at"])
        self.stats, self.index_events = state["stats"], state["index_events"]
        self.skipped, self.step0 = state["skipped"], state["step0"]
        return path

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self) -> dict:
        setup = EvalSetup(self.model, self.packer, self.cfg.encoder, self.cfg.eval, self.cfg.index,
                          self.device, self.precision)
        metrics, _ = evaluate(setup, self.data.corpus(self.eval_split), self.data.split(self.eval_split),
                              retriever=value_of(self.cfg.eval.retriever))
        return metrics

    # -- training -------------------------------------------------------------------------------
    def _refresh_if_due(self) -> None:
        if self.live is None:
            return
        every = self.cfg.index.refresh_every
        if self.live.index is None or (every and self.step % int(every) == 0 and self.live.built_at != self.step):
            event = self.live.refresh(self.step)
            self.index_events.append(event)
            self._log({"event": "index_refresh", **event})

    def _log(self, record: dict) -> None:
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def _truncate_log(self) -> None:
        """Drop log lines written after the checkpoint a resumed run restarts from."""
        path = self.run_dir / "metrics.jsonl"
        if not path.exists():
            return
        keep = [ln for ln in path.read_text(encoding="utf-8").splitlines()
                if ln.strip() and json.loads(ln).get("step", 0) <= self.step]
        from rom_cli.training.checkpoint import atomic_write_text

        atomic_write_text(path, "".join(ln + "\n" for ln in keep))

    def train_step(self) -> dict[str, float]:
        t, step = self.cfg.trainer, self.step
        self._refresh_if_due()
        self.model.train()
        losses: dict[str, float] = {}
        for name in self.sampler.tasks_for_step(step):
            objective = self.objectives[name]
            weight = self.sampler.loss_weight(name)
            start = time.perf_counter()
            total, examples = 0.0, 0
            for micro in range(int(t.grad_accum)):
                rng = np.random.default_rng([int(t.seed), step, micro, list(self.objectives).index(name)])
                batch = objective.next_batch(rng)
                with autocast(self.device, self.precision):
                    loss = objective.loss(self.model, batch, self.device)
                if not torch.isfinite(loss):
                    if t.skip_nonfinite:
                        self.optimizer.zero_grad(set_to_none=True)
                        self.skipped += 1
                        return {"skipped": 1.0}
                    last = latest_checkpoint(self.ckpt_dir)
                    raise RomError(f"non-finite loss ({loss.item()}) at step {step}, task {name!r}, batch examples "
                                   f"{batch['indices'][:8]}{'...' if len(batch['indices']) > 8 else ''}; last good "
                                   f"checkpoint: {last or 'none'} (set trainer.skip_nonfinite=true to skip such batches)")
                (loss * weight / int(t.grad_accum)).backward()
                total += float(loss.detach())
                examples += int(batch.get("examples", 0))
            stats = self.stats[name]
            stats["examples"] += examples
            stats["seconds"] += time.perf_counter() - start
            stats["batches"] += int(t.grad_accum)
            losses[name] = total / int(t.grad_accum)
        if t.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(t.grad_clip))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return losses

    def run(self) -> dict:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        t = self.cfg.trainer
        resumed = self.resume()
        self._truncate_log()
        params = self.model.num_parameters()
        if resumed is not None:
            self.console.print(f"[bold]resumed[/] from {resumed} at step {self.step}")
        self.console.print(f"[bold]rom train[/]: encoder {self.cfg.encoder.name} (shared={self.cfg.encoder.shared}, "
                           f"{params / 1e6:.1f}M parameters), tasks {list(self.objectives)}, schedule "
                           f"{value_of(self.cfg.schedule.name)}, supervision {value_of(self.cfg.supervision.level)}, "
                           f"device {self.device}, {value_of(self.precision)}")
        if self.step0 is None and t.eval_at_start:
            self.console.print("evaluating the untrained model (step 0)...")
            self.step0 = self.evaluate()
        start_step, started = self.step, time.perf_counter()
        recent: dict[str, float] = {}
        window: dict[str, list[float]] = {}  # losses since the last log line, per task
        try:
            with Progress(TextColumn("[bold blue]train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          TextColumn("{task.fields[info]}"), console=self.console, transient=False) as progress:
                bar = progress.add_task("train", total=int(t.max_steps), completed=self.step, info="")
                while self.step < int(t.max_steps):
                    refreshes = len(self.index_events)
                    losses = self.train_step()
                    self.step += 1
                    recent.update(losses)
                    for name, value in losses.items():
                        window.setdefault(name, []).append(value)
                    done = self.step - start_step
                    rate = sum(s["examples"] for s in self.stats.values()) / max(
                        1e-9, sum(s["seconds"] for s in self.stats.values()))
                    info = " ".join(f"{k}={v:.3f}" for k, v in recent.items()) + f" | {rate:.1f} ex/s"
                    if len(self.index_events) > refreshes:
                        info += f" | index rebuilt ({self.index_events[-1]['passages_per_s']:.0f} p/s)"
                    progress.update(bar, completed=self.step, info=info)
                    if self.step % int(t.log_every) == 0 or self.step == int(t.max_steps):
                        self._log({"step": self.step, "losses": {k: float(np.mean(v)) for k, v in window.items()},
                                   "lr": self.scheduler.get_last_lr()[0],
                                   "probabilities": self.sampler.probabilities(self.step - 1),
                                   "examples_per_s": rate, "elapsed_s": time.perf_counter() - started,
                                   "steps_this_session": done})
                        window = {}
                    if self.step % int(t.checkpoint_every) == 0 or self.step == int(t.max_steps):
                        self.save()
        except KeyboardInterrupt:
            path = self.save()
            self.console.print(f"[yellow]interrupted[/]: saved {path}; rerun with trainer.resume=auto to continue")
            raise
        final = self.evaluate()
        metrics = self._summary(final, params)
        atomic_write_json(self.run_dir / "metrics.json", metrics)
        return metrics

    def _summary(self, final: dict, params: int) -> dict:
        per_task = {n: {"examples": s["examples"], "examples_per_s": s["examples"] / max(s["seconds"], 1e-9),
                        "batches": s["batches"]} for n, s in self.stats.items()}
        refresh_rates = [e["passages_per_s"] for e in self.index_events]
        return {
            "run_dir": str(self.run_dir),
            "config": {"encoder": self.cfg.encoder.name, "shared": self.cfg.encoder.shared,
                       "task": self.cfg.task.name, "mixture": dict(self.cfg.mixture.tasks),
                       "schedule": value_of(self.cfg.schedule.name),
                       "supervision": value_of(self.cfg.supervision.level),
                       "precision": value_of(self.precision), "device": str(self.device),
                       "max_steps": int(self.cfg.trainer.max_steps), "seed": int(self.cfg.trainer.seed)},
            "parameters": params,
            "parameter_breakdown": self.model.parameter_breakdown(),
            "peak_memory_mb": peak_memory_mb(self.device),
            "train": {"steps": self.step, "tasks": per_task, "skipped_batches": self.skipped,
                      "task_probabilities": self.sampler.probabilities(max(0, self.step - 1)),
                      "index_refreshes": len(self.index_events),
                      "index_passages_per_s": float(np.mean(refresh_rates)) if refresh_rates else None},
            "step0": self.step0,
            "final": final,
            "checkpoint": str(latest_checkpoint(self.ckpt_dir)),
        }


def headline(metrics: dict) -> dict[str, float | None]:
    """The numbers a run is judged by, flat (for tables and comparisons)."""

    def get(m: dict | None, *path):
        for key in path:
            if not isinstance(m, dict) or key not in m:
                return None
            m = m[key]
        return m if isinstance(m, (int, float)) and not (isinstance(m, float) and math.isnan(m)) else None

    rows = {}
    for label, path in [("retrieval gold top-1", ("retrieval", "gold", "top1")),
                        ("retrieval gold top-5", ("retrieval", "gold", "top5")),
                        ("retrieval gold top-20", ("retrieval", "gold", "top20")),
                        ("retrieval answer top-1", ("retrieval", "answer", "top1")),
                        ("retrieval answer top-20", ("retrieval", "answer", "top20")),
                        ("reader EM (gold passage)", ("reader_gold", "em")),
                        ("reader F1 (gold passage)", ("reader_gold", "f1")),
                        ("end-to-end EM (top-1)", ("end_to_end", "top1", "em")),
                        ("end-to-end F1 (top-1)", ("end_to_end", "top1", "f1")),
                        ("end-to-end EM (top-5)", ("end_to_end", "top5", "em")),
                        ("end-to-end F1 (top-5)", ("end_to_end", "top5", "f1"))]:
        rows[label] = (get(metrics.get("step0"), *path), get(metrics.get("final"), *path))
    return rows
