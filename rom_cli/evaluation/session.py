"""What `rom eval`, `rom index` and `rom ask` start with: a checkpoint, its model and effective settings.

A checkpoint carries its resolved run config, so these commands need no encoder flags: the task,
data, eval and index sections, the device and the precision are the checkpoint's own, and only what
the user typed on the command line replaces them. Hydra composes the command's config from schema
defaults, so the composed values alone cannot tell "left alone" from "set to the default"; the
override strings Hydra records can, and they decide which values win.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from rom_cli.config.schema import DataConfig, EvalConfig, IndexConfig, TaskConfig, value_of
from rom_cli.errors import RomError

SECTIONS = {"task": TaskConfig, "data": DataConfig, "eval": EvalConfig, "index": IndexConfig}


def command_line_overrides() -> list[str]:
    """The overrides of the running Hydra job (empty outside one)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)


def section_from_run(schema, saved) -> DictConfig:
    """The checkpoint's section on top of the schema; keys this version does not know are dropped."""
    known = {f.name for f in fields(schema)}
    plain = OmegaConf.to_container(saved, resolve=True) if saved is not None else {}
    return OmegaConf.merge(OmegaConf.structured(schema), {k: v for k, v in (plain or {}).items() if k in known})


def effective_config(cmd_cfg, run_cfg, overrides: list[str], sections=tuple(SECTIONS)) -> DictConfig:
    """`sections` of the checkpoint's run config, with the user's overrides applied, plus device/precision.

    A group selection or whole-section override (`task=squad`) takes the composed section as is; a
    key (`task.eval_limit=100`) takes that one composed value. Device and precision left null in the
    command config fall back to the checkpoint's `trainer.device` / `trainer.precision`; the precision is
    then resolved for this machine (`auto`: bf16 where native, else fp32).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from rom_cli.model.runtime import resolve_device, resolve_precision

    out = OmegaConf.create({name: section_from_run(SECTIONS[name], run_cfg.get(name)) for name in sections})
    parsed = OverridesParser.create().parse_overrides(overrides) if overrides else []
    replaced = set()
    for ov in parsed:
        key = ov.key_or_group
        head = key.split(".", 1)[0]
        if head not in sections or ov.is_delete():
            continue
        if key == head:
            out[head] = cmd_cfg[head]
            replaced.add(head)
        elif head not in replaced:
            OmegaConf.update(out, key, OmegaConf.select(cmd_cfg, key), merge=False)
    trainer = run_cfg.get("trainer") or {}
    out.device = value_of(cmd_cfg.device if cmd_cfg.get("device") is not None else trainer.get("device", "auto"))
    requested = value_of(cmd_cfg.precision if cmd_cfg.get("precision") is not None
                         else trainer.get("precision", "auto"))
    choice = resolve_precision(requested, resolve_device(out.device), key="precision")
    out.precision, out.precision_reason = choice.precision, choice.describe()
    out.threads = cmd_cfg.threads if cmd_cfg.get("threads") is not None else trainer.get("threads")
    return out


@dataclass
class CheckpointSession:
    """A loaded checkpoint: model and packer on the chosen device, its run config and fingerprint."""

    path: Path
    model: object
    packer: object
    run_cfg: DictConfig  # the resolved config the checkpoint was trained with
    meta: dict
    device: object
    precision: str

    @property
    def enc_cfg(self):
        return self.run_cfg.encoder

    @property
    def step(self) -> int | None:
        return self.meta.get("step")

    def fingerprint(self) -> str:
        """Fingerprint of the loaded weights (the function training stores in meta.json)."""
        from rom_cli.retrieval.fingerprint import fingerprint_state_dict

        return fingerprint_state_dict(self.model.state_dict())


def required(cfg, key: str, example: str, name: str | None = None) -> str:
    """A mandatory command-line value, or a one-line error saying how to give it."""
    if OmegaConf.is_missing(cfg, key) or cfg.get(key) in (None, ""):
        raise RomError(f"{name or key}=... is required: e.g. {example}")
    return str(cfg[key])


def peek_run_config(checkpoint: str) -> tuple[Path, DictConfig]:
    """(checkpoint folder, its run config) without loading weights: RomError for a bad path."""
    from rom_cli.checkpoints import resolve_checkpoint

    path = resolve_checkpoint(str(checkpoint))
    try:
        return path, OmegaConf.load(path / "config.yaml")
    except Exception as ex:  # a broken YAML file is the user's to fix
        raise RomError(f"checkpoint={checkpoint}: unreadable config.yaml ({type(ex).__name__}: {ex})") from ex


@dataclass
class EvalInputs:
    """What evaluating a checkpoint starts from: its folder and run config, the effective config, the loaded
    model, and the eval split's questions and corpus."""

    path: Path
    run_cfg: DictConfig
    eff: DictConfig
    session: CheckpointSession
    split: str
    questions: list
    corpus: object


def open_for_eval(cfg, example: str) -> EvalInputs:
    """`checkpoint=` (required: `example` says how), its config under this command's overrides (checked), the
    model, and the eval split's data: the opening `rom eval` and `rom export format=squad-predictions` share."""
    from rom_cli.config.validate import validate_eval_config
    from rom_cli.data.load import load_task

    path, run_cfg = peek_run_config(required(cfg, "checkpoint", example))
    eff = effective_config(cfg, run_cfg, command_line_overrides())
    validate_eval_config(eff)
    session = open_checkpoint(path, eff.device, eff.precision, eff.threads)
    split = str(eff.task.eval_split)
    data = load_task(eff.task, eff.data)
    return EvalInputs(path, run_cfg, eff, session, split, data.split(split), data.corpus(split))


def open_checkpoint(path: Path, device: str, precision: str, threads: int | None = None) -> CheckpointSession:
    import json

    import torch

    from rom_cli.checkpoints import load_model
    from rom_cli.model.inputs import Packer
    from rom_cli.model.runtime import resolve_device

    dev = resolve_device(device)
    if threads:
        torch.set_num_threads(int(threads))
    model, tokenizer, run_cfg = load_model(path, dev)
    model.eval()
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except ValueError as ex:
        raise RomError(f"checkpoint={path}: unreadable meta.json ({ex})") from ex
    return CheckpointSession(Path(path), model, Packer(tokenizer), run_cfg, meta, dev, precision)
