"""Values that compose but cannot work: caught before any model is loaded."""

from __future__ import annotations

from rom_cli.errors import ConfigError


def _positive(key: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise ConfigError(key, value, "a positive number" + (" or null" if allow_none else ""))


def validate_train_config(cfg) -> None:
    t = cfg.trainer
    _positive("trainer.max_steps", t.max_steps)
    _positive("trainer.lr", t.lr)
    _positive("trainer.grad_accum", t.grad_accum)
    _positive("trainer.log_every", t.log_every)
    _positive("trainer.checkpoint_every", t.checkpoint_every)
    _positive("trainer.keep_last", t.keep_last)
    if not 0 <= t.warmup_ratio < 1:
        raise ConfigError("trainer.warmup_ratio", t.warmup_ratio, "a fraction in [0, 1)")
    if t.grad_clip is not None and t.grad_clip < 0:
        raise ConfigError("trainer.grad_clip", t.grad_clip, "0 (off) or a positive norm")
    for name in ("ict", "retrieval", "reader"):
        _positive(f"objectives.{name}.batch_size", cfg.objectives[name].batch_size)
    if cfg.objectives.reader.passages_per_question < 1:
        raise ConfigError("objectives.reader.passages_per_question", cfg.objectives.reader.passages_per_question, ">= 1")
    if cfg.objectives.retrieval.hard_negatives < 0:
        raise ConfigError("objectives.retrieval.hard_negatives", cfg.objectives.retrieval.hard_negatives, ">= 0")
    if not 0 <= cfg.objectives.ict.keep_prob <= 1:
        raise ConfigError("objectives.ict.keep_prob", cfg.objectives.ict.keep_prob, "a probability in [0, 1]")
    _positive("index.refresh_every", cfg.index.refresh_every, allow_none=True)
    _positive("index.encode_batch_size", cfg.index.encode_batch_size)
    _positive("supervision.top_k", cfg.supervision.top_k)
    _positive("encoder.temperature", cfg.encoder.temperature)
    _positive("eval.batch_size", cfg.eval.batch_size)
    for k in list(cfg.eval.top_k) + list(cfg.eval.read_top_k):
        _positive("eval.top_k / eval.read_top_k", k)
    if not cfg.mixture.tasks:
        raise ConfigError("mixture.tasks", {}, "at least one of ict, retrieval, reader")
    for name, weight in cfg.mixture.tasks.items():
        if weight < 0:
            raise ConfigError(f"mixture.tasks.{name}", weight, "a weight >= 0")
