"""Joint multi-task training of one shared encoder.

Each optimizer step asks the sampler which task(s) the step belongs to, draws `grad_accum` batches
of each, and sums their weighted losses. Every source of randomness is a function of (seed, step)
or saved in the checkpoint (task streams, torch RNG, live index vectors), so a killed run resumed
from its last checkpoint continues exactly as the uninterrupted run would have.

Ctrl-C (SIGINT) finishes the current step, saves a checkpoint and exits (a second Ctrl-C stops at
once without saving). With `trainer.eval_every`, the model is evaluated on the dev split every N
steps and the best checkpoint by `trainer.best_metric` is kept beside the last `keep_last`.
"""

from __future__ import annotations

import json
import math
import random
import signal
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from rich.console import Console

from rom_cli.atomic import atomic_write_json, atomic_write_text
from rom_cli.checkpoints import (
    checkpoint_name,
    latest_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from rom_cli.config.schema import value_of
from rom_cli.config.validate import validate_train_config
from rom_cli.console import make_console, progress_bar
from rom_cli.data.load import subsample
from rom_cli.errors import ConfigError, RomError
from rom_cli.evaluation.metrics import dotted, macro_average, metric_paths
from rom_cli.evaluation.pipeline import EvalSetup, evaluate
from rom_cli.model.backbone import load_tokenizer
from rom_cli.model.inputs import Packer
from rom_cli.model.rom_model import RomModel
from rom_cli.model.runtime import (
    autocast,
    grad_scaler,
    machine,
    peak_memory_mb,
    resolve_device,
    resolve_precision,
    seed_everything,
)
from rom_cli.retrieval.fingerprint import fingerprint_state_dict
from rom_cli.training.distributed import DistContext
from rom_cli.training.loggers import RunLogger, build_logger
from rom_cli.training.mixture import Mixture
from rom_cli.training.schedules import build_sampler


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, after the checkpoint of the interrupted step was saved; the message says
    where and how to continue (the CLI prints it as one line and exits 130)."""


# What every selection (`trainer.eval_every`) records besides its metric: the run's learning curve.
CURVE_METRICS = ("retrieval.gold.top1", "retrieval.answer.top1", "retrieval.answer.top20", "reader_gold.em",
                 "reader_gold.f1", "end_to_end.top1.em", "end_to_end.top5.em")
# what an architecture is made of: a checkpoint can only be resumed by a run that agrees on these
ARCHITECTURE_KEYS = ("name_or_path", "shared", "config_overrides", "projection_dim")


def _architecture(enc) -> dict:
    out = {}
    for key in ARCHITECTURE_KEYS:
        value = enc.get(key) if hasattr(enc, "get") else getattr(enc, key, None)
        out[key] = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    out["config_overrides"] = dict(out["config_overrides"] or {})
    out["projection_dim"] = int(out["projection_dim"] or 0)
    return out


def build_optimizer(model, cfg, total_steps: int):
    """AdamW with four groups: (pretrained backbone | new heads) x (decayed | not decayed).

    The heads (span, relevance, projections) start random; at the backbone's small learning rate
    they barely move in a short run, so they learn at `lr * head_lr_scale`."""
    groups = {(head, decays): [] for head in (False, True) for decays in (True, False)}
    for name, param in model.named_parameters():
        decays = not (param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name)
        groups[(not name.startswith("backbones."), decays)].append(param)
    scale = float(getattr(cfg, "head_lr_scale", 1.0))
    optimizer = torch.optim.AdamW(
        [{"params": params, "weight_decay": cfg.weight_decay if decays else 0.0, "lr": cfg.lr * (scale if head else 1.0)}
         for (head, decays), params in groups.items()],
        lr=cfg.lr,
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
        t = cfg.trainer
        self.dist, self.device = DistContext.from_env(cfg.distributed, resolve_device(t.device))
        if self.dist.enabled:  # Hydra names run dirs by the clock of each rank: rank 0's is the run's
            self.run_dir = Path(self.dist.broadcast_object(str(self.run_dir)))
            self.ckpt_dir = self.run_dir / "checkpoints"
        # rank 0 alone speaks; the others train in silence
        self.console = (console or make_console(stderr=True)) if self.dist.is_main else Console(quiet=True)
        self.logger = build_logger(cfg, self.run_dir) if self.dist.is_main else RunLogger()  # opens on first write
        self.precision_choice = resolve_precision(t.precision, self.device)
        self.precision = self.precision_choice.precision
        if t.threads:
            torch.set_num_threads(int(t.threads))
        seed_everything(int(t.seed))

        self.tokenizer = load_tokenizer(cfg.encoder)
        self.packer = Packer(self.tokenizer)
        self.model = RomModel(cfg.encoder).to(self.device)
        if self.dist.enabled:  # the same initial weights everywhere (DDP also broadcasts rank 0's), own dropout
            torch.manual_seed(int(t.seed) + self.dist.rank)
        # the (objective, dataset) entries, their data and live indexes; registers external heads on the model
        self.mixture = Mixture(cfg, self.packer, self.model, self.device, self.precision, self.dist, int(t.seed))
        primary = self.mixture.datasets[self.mixture.primary]
        self.eval_split = str(self.mixture.task_configs[self.mixture.primary].eval_split)
        if not primary.splits.get(self.eval_split):  # found now, not after training
            have = [k for k, v in primary.splits.items() if v]
            raise ConfigError("task.eval_split", self.eval_split,
                              f"a split the task loads ({', '.join(have) or 'none'}), or set "
                              f"task.{self.eval_split}=PATH")
        self.ddp = self.dist.wrap(self.model)  # what the objectives' losses run through
        self.objectives = self.mixture.objectives
        self.without_gold = self._without_gold()
        if any(self.without_gold.values()):
            self.console.print("note: training questions without gold, skipped under full supervision: " +
                               ", ".join(f"{n} {k} of {len(self.objectives[n].ctx.questions)}"
                                         for n, k in self.without_gold.items()))
        self.sampler = build_sampler(
            cfg.schedule, list(self.objectives), {n: o.size() for n, o in self.objectives.items()},
            self.mixture.weights, int(t.seed), int(t.max_steps),
        )
        for name, info in self.mixture.live_info.items():
            if info["mode"] == "bounded":
                self.console.print(f"live index ({name}): {info['passages']:,} of {info['corpus_passages']:,} passages "
                                   f"({info['named']:,} named by the training questions, {info['sampled']:,} sampled; "
                                   "index.live_corpus=full to cover all)")
        self.optimizer, self.scheduler = build_optimizer(self.model, t, int(t.max_steps))
        self.scaler = grad_scaler(self.device, self.precision)
        self.step = 0
        self.stats = {n: {"examples": 0, "seconds": 0.0, "batches": 0} for n in self.objectives}
        self.index_events: list[dict] = []
        self.skipped = 0
        self.step0: dict | None = None
        self.step0_datasets: dict | None = None  # every evaluated dataset's step-0 metrics (mixtures)
        self.best: dict | None = None  # {step, metric, value, split, checkpoint} with trainer.eval_every
        self._select_questions: dict[str, list] | None = None
        self._interrupt_requested = False
        self._restored, self._resumed_from = False, None

    def _without_gold(self) -> dict[str, int]:
        """Training questions the supervised objectives skip for want of gold (full supervision)."""
        return {n: len(o.ctx.questions) - o.size() for n, o in self.objectives.items()
                if o.name in ("retrieval", "reader") and o.ctx.level == "full"}

    # -- state -----------------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "streams": {n: o.stream.consumed for n, o in self.objectives.items()},
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            # every rank's dropout stream (rank r resumes from entry r)
            "rank_rng": self.dist.gather_objects((torch.get_rng_state(),
                                                  torch.cuda.get_rng_state() if self.device.type == "cuda" else None)),
            "world_size": self.dist.world,
            "python_rng": random.getstate(),
            "numpy_rng": np.random.get_state(),
            "live": [{"vectors": live.vectors, "built_at": live.built_at} for live in self.mixture.live],
            "stats": self.stats, "index_events": self.index_events, "skipped": self.skipped, "step0": self.step0,
            "step0_datasets": self.step0_datasets,
            "best": self.best,
        }

    def save(self) -> Path:
        """Rank 0 writes the checkpoint (every rank holds the same weights); the others wait for it."""
        state = self.state()  # a collective: every rank takes part
        path = self.ckpt_dir / checkpoint_name(self.step)
        if self.dist.is_main:
            meta = {"fingerprint": fingerprint_state_dict(self.model.state_dict()),
                    "parameters": self.model.num_parameters(), "encoder": self.cfg.encoder.name,
                    "world_size": self.dist.world}
            best = None if self.best is None else checkpoint_name(int(self.best["step"]))
            path = save_checkpoint(self.ckpt_dir, self.step, self.model, self.tokenizer, self.cfg, state, meta,
                                   int(self.cfg.trainer.keep_last), best=best)
        self.dist.barrier()
        return path

    def resume(self) -> Path | None:
        how = str(self.cfg.trainer.resume)
        if how == "never":
            return None
        if how == "auto":
            path = latest_checkpoint(self.ckpt_dir)
        else:
            try:
                path = resolve_checkpoint(how)
            except RomError as ex:
                raise RomError(str(ex).replace("checkpoint=", "trainer.resume=", 1)) from None
        if path is None:
            return None
        from transformers import AutoModel

        saved = OmegaConf.load(path / "config.yaml")
        theirs, ours = _architecture(saved.encoder), _architecture(self.cfg.encoder)
        if theirs != ours:
            keys = ", ".join(f"encoder.{k}" for k in ARCHITECTURE_KEYS if theirs[k] != ours[k])
            fix = ("trainer.resume=never or another hydra.run.dir" if how == "auto"
                   else "a checkpoint of this encoder")
            raise RomError(
                f"trainer.resume={how}: checkpoint {path} is of another encoder ({saved.encoder.get('name')!r}, "
                f"this run {self.cfg.encoder.name!r}; they differ in {keys}): expected a checkpoint of the same "
                f"encoder; use {fix}")
        planned = (saved.get("trainer") or {}).get("max_steps")
        if planned is not None and int(planned) != int(self.cfg.trainer.max_steps):
            raise RomError(
                f"trainer.max_steps={self.cfg.trainer.max_steps}: checkpoint {path} belongs to a run planned for "
                f"trainer.max_steps={planned}, and its learning-rate schedule (warmup, linear decay to zero) is "
                f"fixed by that number: expected trainer.max_steps={planned} to continue it; to train longer, "
                "start a new run (another hydra.run.dir) with the longer schedule")
        try:
            for key, backbone in self.model.backbones.items():
                folder = path / ("encoder" if key == "shared" else f"encoder-{key}")
                backbone.load_state_dict(AutoModel.from_pretrained(folder).state_dict())
            self.model.load_state_dict(torch.load(path / "heads.pt", map_location="cpu"), strict=False)
        except (OSError, RuntimeError, ValueError) as ex:
            reason = " ".join(str(ex).split())[:160]
            raise RomError(f"trainer.resume={how}: checkpoint {path} does not fit this model "
                           f"({type(ex).__name__}: {reason}): expected a checkpoint of the same encoder") from None
        self.model.to(self.device)
        state = torch.load(path / "trainer_state.pt", map_location="cpu", weights_only=False)
        self.step = int(state["step"])
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except ValueError as ex:  # e.g. a checkpoint from before the backbone / heads parameter groups
            raise RomError(f"trainer.resume={how}: the optimizer state of checkpoint {path} does not fit this "
                           f"trainer ({' '.join(str(ex).split())[:120]}): expected a checkpoint written by this "
                           "version of rom; use trainer.resume=never or another hydra.run.dir") from None
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        for name, consumed in state["streams"].items():
            if name in self.objectives:
                self.objectives[name].stream.consumed = int(consumed)
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        ranks = state.get("rank_rng") or []
        if self.dist.enabled and len(ranks) == self.dist.world:
            cpu_rng, cuda_rng = ranks[self.dist.rank]
            torch.set_rng_state(cpu_rng)
            if cuda_rng is not None and self.device.type == "cuda":
                torch.cuda.set_rng_state(cuda_rng)
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_rng"])
        saved = state.get("live")
        if saved is None and state.get("live_vectors") is not None:  # a checkpoint of one live index (before mixtures)
            saved = [{"vectors": state["live_vectors"], "built_at": state["live_built_at"]}]
        for live, entry in zip(self.mixture.live, saved or [], strict=False):
            if entry["vectors"] is not None:
                live.load_vectors(entry["vectors"], entry["built_at"])
        self.stats, self.index_events = state["stats"], state["index_events"]
        self.skipped, self.step0 = state["skipped"], state["step0"]
        self.step0_datasets = state.get("step0_datasets")
        self.best = state.get("best")
        return path

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self) -> dict | None:
        """{dataset: metrics} over each dataset's evaluation split, computed by rank 0 (the others wait; None)."""
        if not self.dist.is_main:
            self.dist.barrier()
            return None
        metrics = self._evaluate()
        self.dist.barrier()
        return metrics

    def _evaluate(self, questions: dict[str, list] | None = None, splits: dict[str, str] | None = None,
                  console=True) -> dict:
        setup = EvalSetup(self.model, self.packer, self.cfg.encoder, self.cfg.eval, self.cfg.index,
                          self.device, self.precision, console=self.console if console else None)
        out = {}
        for name, split in (splits or self.mixture.eval_datasets()).items():
            data = self.mixture.datasets[name]
            out[name], _ = evaluate(setup, data.corpus(split), (questions or {}).get(name) or data.split(split),
                                    retriever=value_of(self.cfg.eval.retriever))
        return out

    def combined(self, per_dataset: dict | None) -> dict | None:
        """The primary dataset's metrics, plus (several datasets) `datasets` and their `macro` average."""
        if per_dataset is None:
            return None
        out = dict(per_dataset.get(self.mixture.primary) or {})
        if len(per_dataset) > 1:
            out["datasets"] = per_dataset
            out["macro"] = macro_average(list(per_dataset.values()))
        return out

    def select(self) -> dict | None:
        """Evaluate on the selection split (a fixed subset of `select_limit` questions) and remember the
        best step by `trainer.best_metric`; returns the log record (rank 0; the others wait and get None)."""
        if not self.dist.is_main:
            self.dist.barrier()
            return None
        record = self._select()
        self.dist.barrier()
        return record

    def _select(self) -> dict:
        t = self.cfg.trainer
        splits = {name: ("dev" if self.mixture.datasets[name].splits.get("dev") else split)
                  for name, split in self.mixture.eval_datasets().items()}
        if self._select_questions is None:
            self._select_questions = {name: subsample(self.mixture.datasets[name].split(split), int(t.select_limit))
                                      for name, split in splits.items()}
        metrics = self.combined(self._evaluate(self._select_questions, splits, console=False))
        value = dotted(metrics, t.best_metric)
        if value is None:
            raise ConfigError("trainer.best_metric", t.best_metric, "a dotted path to a number of the evaluation "
                              f"metrics, one of: {', '.join(metric_paths(metrics))}")
        split = splits[self.mixture.primary]
        best = None if self.best is None else self.best["value"]
        if best is None or (not math.isnan(value) and (math.isnan(best) or value > best)):
            self.best = {"step": self.step, "metric": str(t.best_metric), "value": value,
                         "split": split, "questions": len(self._select_questions[self.mixture.primary]),
                         "checkpoint": str(self.ckpt_dir / checkpoint_name(self.step))}
        record = {"step": self.step, "event": "select", "split": split, "metric": str(t.best_metric),
                  "value": value, "best_step": self.best["step"], "best_value": self.best["value"],
                  # the learning curve beyond the selection metric (scripts/bench_squad.py tabulates it)
                  "metrics": {path: dotted(metrics, path) for path in CURVE_METRICS if dotted(metrics, path) is not None}}
        self._log(record)
        return record

    def _on_sigint(self, signum, frame) -> None:
        if self._interrupt_requested:  # a second Ctrl-C: stop now, without saving
            raise KeyboardInterrupt
        self._interrupt_requested = True
        self.console.print(f"[yellow]Ctrl-C[/]: finishing step {self.step + 1}, then saving a checkpoint "
                           "(Ctrl-C again to stop without saving)")

    # -- training -------------------------------------------------------------------------------
    def _refresh_if_due(self) -> None:
        every = self.cfg.index.refresh_every
        for live in self.mixture.live:
            if live.index is None or (every and self.step % int(every) == 0 and live.built_at != self.step):
                event = live.refresh(self.step)
                self.index_events.append(event)
                self._log({"event": "index_refresh", **event})

    def _log(self, record: dict) -> None:
        if not self.dist.is_main:
            return
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        self.logger.log_event(record)

    def _truncate_log(self) -> None:
        """Drop log lines written after the checkpoint a resumed run restarts from."""
        path = self.run_dir / "metrics.jsonl"
        if not path.exists():
            return
        keep = [ln for ln in path.read_text(encoding="utf-8").splitlines()
                if ln.strip() and json.loads(ln).get("step", 0) <= self.step]
        atomic_write_text(path, "".join(ln + "\n" for ln in keep))

    def train_step(self) -> dict[str, float]:
        t, step = self.cfg.trainer, self.step
        self._refresh_if_due()
        self.model.train()
        losses: dict[str, float] = {}
        names = self.sampler.tasks_for_step(step)
        for name in names:
            objective = self.objectives[name]
            weight = self.sampler.loss_weight(name) * self.dist.gradient_multiplier(objective.gathers_across_ranks())
            start = time.perf_counter()
            total, examples = 0.0, 0
            for micro in range(int(t.grad_accum)):
                rng = np.random.default_rng([int(t.seed), step, micro, list(self.objectives).index(name)])
                batch = objective.next_batch(rng)
                with autocast(self.device, self.precision):
                    loss = objective.loss(self.ddp, batch, self.device)
                finite = all(self.dist.gather_objects(bool(torch.isfinite(loss))))  # every rank skips, or none
                if not finite:
                    if t.skip_nonfinite:
                        self.optimizer.zero_grad(set_to_none=True)
                        self.skipped += 1
                        return {"skipped": 1.0}
                    last = latest_checkpoint(self.ckpt_dir)
                    raise RomError(f"non-finite loss ({loss.item()}) at step {step}, task {name!r}, batch examples "
                                   f"{batch['indices'][:8]}{'...' if len(batch['indices']) > 8 else ''}; last good "
                                   f"checkpoint: {last or 'none'} (set trainer.skip_nonfinite=true to skip such batches)")
                last = name == names[-1] and micro == int(t.grad_accum) - 1  # gradients all-reduced once a step
                with self.dist.no_sync(self.ddp, skip=not last):
                    self.scaler.scale(loss * weight / int(t.grad_accum)).backward()
                objective.after_backward(batch, lambda final, last=last: self.dist.no_sync(self.ddp, not (last and final)),
                                         lambda: autocast(self.device, self.precision))
                total += float(loss.detach())
                examples += int(batch.get("examples", 0))
            stats = self.stats[name]
            stats["examples"] += examples
            stats["seconds"] += time.perf_counter() - start
            stats["batches"] += int(t.grad_accum)
            losses[name] = total / int(t.grad_accum)
        if t.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(t.grad_clip))
        self.scaler.step(self.optimizer)  # fp16: skipped when the scaled gradients overflowed
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return losses

    def restore(self) -> Path | None:
        """Resume from the run's checkpoint (per `trainer.resume`) once; every check that can refuse the
        run happens here, before anything is written into the run directory."""
        if not self._restored:
            self._resumed_from = self.resume()
            self._restored = True
        return self._resumed_from

    def run(self) -> dict:
        """Train and evaluate (`_run`); the experiment tracker is closed however the run ends."""
        try:
            metrics = self._run()
        except BaseException:
            self.logger.close(failed=True)
            raise
        self.logger.close()
        return metrics

    def _run(self) -> dict:
        t = self.cfg.trainer
        resumed = self.restore()
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._truncate_log()
        params = self.model.num_parameters()
        if resumed is not None:
            self.console.print(f"[bold]resumed[/] from {resumed} at step {self.step}")
        self.console.print(f"[bold]rom train[/]: encoder {self.cfg.encoder.name} (shared={self.cfg.encoder.shared}, "
                           f"{params / 1e6:.1f}M parameters), tasks {list(self.objectives)}, schedule "
                           f"{value_of(self.cfg.schedule.name)}, supervision {value_of(self.cfg.supervision.level)}, "
                           f"device {self.device}, precision {self.precision_choice.describe()}"
                           + (f", {self.dist.world} processes ({self.dist.backend})" if self.dist.enabled else ""))
        self.logger.log_text("config", OmegaConf.to_yaml(self.cfg, resolve=True), self.step)
        if self.step0 is None and t.eval_at_start:
            self.console.print("evaluating the untrained model (step 0)...")
            self.step0_datasets = self.evaluate()
            self.step0 = self.combined(self.step0_datasets)
        start_step, started = self.step, time.perf_counter()
        recent: dict[str, float] = {}
        window: dict[str, list[float]] = {}  # losses since the last log line, per task
        every = int(t.eval_every) if t.eval_every else 0
        self._interrupt_requested = False
        previous = None
        try:
            if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # e.g. a background job ignores it
                previous = signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:  # not the main thread: Ctrl-C stays a plain KeyboardInterrupt
            previous = None
        try:
            with progress_bar(self.console, "train") as progress:
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
                    last = self.step == int(t.max_steps)
                    selected = bool(every) and (self.step % every == 0 or last)
                    if selected:
                        record = self.select()
                        if record is not None:
                            progress.update(bar, info=info + f" | {record['metric']}={record['value']:.2f} "
                                                             f"(best: step {record['best_step']})")
                    if self.dist.enabled:  # Ctrl-C reaches every rank at its own moment: stop together
                        self._interrupt_requested = any(self.dist.gather_objects(self._interrupt_requested))
                    path = None
                    if selected or self.step % int(t.checkpoint_every) == 0 or last:
                        path = self.save()
                    if self._interrupt_requested:
                        path = path or self.save()
                        raise Interrupted(f"interrupted at step {self.step} of {int(t.max_steps)}: saved {path}; "
                                          f"to continue, run the same command with trainer.resume=auto and "
                                          f"hydra.run.dir={self.run_dir}")
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        self._warn_idle_tasks()
        final = self.combined(self.evaluate()) if t.eval_at_end else None
        metrics = self._summary(final, params)
        if self.dist.is_main:
            atomic_write_json(self.run_dir / "metrics.json", metrics)
        self.logger.log_metrics(0, {"eval": self.step0 or {}})  # the same tags at step 0 and the last step
        self.logger.log_metrics(self.step, {"eval": final or {}})
        self.dist.barrier()
        return metrics

    def close(self) -> None:
        """After a finished run, on every rank: leave the process group (the DDP wrapper goes first)."""
        self.ddp = self.model
        self.dist.shutdown()

    def _warn_idle_tasks(self) -> None:
        """A task whose every batch came out empty trained nothing (its loss was 0): say so, with the usual causes."""
        for name, s in self.stats.items():
            if s["batches"] and not s["examples"]:
                self.console.print(
                    f"[yellow]warning[/]: {name} trained on 0 examples in {s['batches']} batches (loss 0): no batch "
                    "found a usable example (under supervision=weak: no live-index candidate contained an answer; "
                    "try a larger supervision.top_k or a trained encoder; for the reader also check "
                    "objectives.reader.passages_per_question against the corpus)")

    def _summary(self, final: dict, params: int) -> dict:
        ranks = self.dist.gather_objects(self.stats)  # examples of every rank's slices: the global batches
        per_task = {n: {"examples": sum(r[n]["examples"] for r in ranks),
                        "examples_per_s": sum(r[n]["examples"] for r in ranks) / max(s["seconds"], 1e-9),
                        "batches": s["batches"]} for n, s in self.stats.items()}
        refresh_rates = [e["passages_per_s"] for e in self.index_events]
        # every rank's weights after the last step (a collective): identical, or DDP went wrong
        fingerprints = self.dist.gather_objects(fingerprint_state_dict(self.model.state_dict()))
        return {
            "run_dir": str(self.run_dir),
            "config": {"encoder": self.cfg.encoder.name, "shared": self.cfg.encoder.shared,
                       "task": self.mixture.primary, "mixture": self.mixture.describe(),
                       "datasets": sorted(self.mixture.datasets),
                       "schedule": value_of(self.cfg.schedule.name),
                       "supervision": value_of(self.cfg.supervision.level),
                       "precision": self.precision, "precision_requested": self.precision_choice.requested,
                       "precision_reason": self.precision_choice.reason, "device": str(self.device),
                       "max_steps": int(self.cfg.trainer.max_steps), "seed": int(self.cfg.trainer.seed)},
            "machine": machine(),
            "parameters": params,
            "parameter_breakdown": self.model.parameter_breakdown(),
            "peak_memory_mb": peak_memory_mb(self.device),
            "distributed": {"world_size": self.dist.world, "backend": self.dist.backend,
                            "cross_rank_negatives": bool(self.dist.cross_rank_negatives) if self.dist.enabled else None,
                            "global_batch": {n: int(o.batch_size) for n, o in self.objectives.items()},
                            "rank_fingerprints": fingerprints},
            "train": {"steps": self.step, "tasks": per_task, "skipped_batches": self.skipped,
                      "task_probabilities": self.sampler.probabilities(max(0, self.step - 1)),
                      "index_refreshes": len(self.index_events),
                      "live_index": (next(iter(self.mixture.live_info.values()), None)
                                     if len(self.mixture.live_info) <= 1 else self.mixture.live_info),
                      "questions_without_gold": self.without_gold,
                      "index_passages_per_s": float(np.mean(refresh_rates)) if refresh_rates else None},
            "step0": self.step0,
            "final": final,
            "checkpoint": str(latest_checkpoint(self.ckpt_dir)),
            "best": None if self.best is None else {k: self.best[k] for k in
                                                    ("step", "metric", "value", "checkpoint", "split", "questions")},
        }

