"""Values that compose but cannot work: caught before any model is loaded."""

from __future__ import annotations

import dataclasses
import typing

from rom_cli.errors import ConfigError


def _positive(key: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise ConfigError(key, value, "a positive number" + (" or null" if allow_none else ""))


def check_known_keys(cfg, schema, prefix: str = "") -> None:
    """Every key of `cfg` is a field of the dataclass `schema` (recursively). Hydra's `+key=value` adds
    keys that no schema knows, which would otherwise be silently ignored."""
    hints = typing.get_type_hints(schema)
    names = {f.name for f in dataclasses.fields(schema)}
    for key in cfg:
        if key not in names:
            raise ConfigError(f"{prefix}{key}", cfg[key], f"one of the keys of {prefix.rstrip('.') or 'the config'}: "
                              + ", ".join(sorted(names)))
        sub = hints.get(key)
        if dataclasses.is_dataclass(sub) and hasattr(cfg[key], "keys"):
            check_known_keys(cfg[key], sub, f"{prefix}{key}.")


def validate_train_config(cfg) -> None:
    from rom_cli.config.schema import TrainConfig

    check_known_keys(cfg, TrainConfig)
    t = cfg.trainer
    _positive("trainer.max_steps", t.max_steps)
    _positive("trainer.lr", t.lr)
    _positive("trainer.head_lr_scale", t.head_lr_scale)
    _positive("trainer.grad_accum", t.grad_accum)
    _positive("trainer.log_every", t.log_every)
    _positive("trainer.checkpoint_every", t.checkpoint_every)
    _positive("trainer.keep_last", t.keep_last)
    _positive("trainer.eval_every", t.eval_every, allow_none=True)
    _positive("trainer.select_limit", t.select_limit)
    if not str(t.best_metric).strip():
        raise ConfigError("trainer.best_metric", t.best_metric, "a dotted path into the evaluation metrics, "
                          "e.g. end_to_end.top1.em")
    if t.threads is not None and t.threads < 0:
        raise ConfigError("trainer.threads", t.threads, "a positive number of threads (null or 0: torch's default)")
    if not 0 <= t.warmup_ratio < 1:
        raise ConfigError("trainer.warmup_ratio", t.warmup_ratio, "a fraction in [0, 1)")
    if t.grad_clip is not None and t.grad_clip < 0:
        raise ConfigError("trainer.grad_clip", t.grad_clip, "0 (off) or a positive norm")
    for name in ("ict", "retrieval", "reader"):
        _positive(f"objectives.{name}.batch_size", cfg.objectives[name].batch_size)
    for name in ("ict", "retrieval"):
        if cfg.objectives[name].grad_cache_chunk < 0:
            raise ConfigError(f"objectives.{name}.grad_cache_chunk", cfg.objectives[name].grad_cache_chunk,
                              "0 (off) or a positive number of rows encoded at a time")
    if str(cfg.distributed.backend) not in ("auto", "nccl", "gloo"):
        raise ConfigError("distributed.backend", cfg.distributed.backend, "one of auto, nccl, gloo")
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
    check_first_stage_prior(cfg.eval)
    if not cfg.mixture.tasks and not cfg.mixture.get("entries"):
        raise ConfigError("mixture.tasks", {}, "at least one of ict, retrieval, reader (or mixture.entries)")
    for name, weight in cfg.mixture.tasks.items():
        if weight < 0:
            raise ConfigError(f"mixture.tasks.{name}", weight, "a weight >= 0")


def check_first_stage_prior(eval_cfg) -> None:
    """A negative weight would push the reader away from the first stage's best passages (also `rom ask`, the API)."""
    if not eval_cfg.first_stage_prior >= 0:
        raise ConfigError("eval.first_stage_prior", eval_cfg.first_stage_prior,
                          "a weight >= 0 (0: the reader alone ranks BM25 / hybrid passages)")


def validate_eval_config(eff) -> None:
    """The settings `rom eval` / `rom index` run with (the checkpoint's, with the user's overrides)."""
    if "eval" in eff:
        _positive("eval.batch_size", eff.eval.batch_size)
        for k in list(eff.eval.top_k) + list(eff.eval.read_top_k):
            _positive("eval.top_k / eval.read_top_k", k)
        check_first_stage_prior(eff.eval)
    if "index" in eff:
        _positive("index.encode_batch_size", eff.index.encode_batch_size)
    if eff.get("threads") is not None and eff.threads < 0:
        raise ConfigError("threads", eff.threads, "a positive number of threads (null or 0: torch's default)")
