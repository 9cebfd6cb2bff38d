"""Checkpoints: written whole or not at all, loadable by plain transformers.

Layout of `<run>/checkpoints/step-000100/`: `encoder/` (or `encoder-query/`, `encoder-passage/`,
`encoder-reader/` for three towers) written with `save_pretrained`, `tokenizer/`, `heads.pt`,
`trainer_state.pt` (optimizer, scheduler, task streams, RNG states, live index vectors),
`config.yaml` (the resolved run config) and `meta.json` last. The folder is assembled under a
temporary name, fsynced, then renamed, so a killed run never leaves a half checkpoint behind;
`checkpoints/LATEST` names the newest complete one. Pruning keeps the newest `keep_last` and the one
`checkpoints/BEST` names (written when the trainer selects checkpoints, `trainer.eval_every`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from omegaconf import OmegaConf

from rom_cli.atomic import atomic_write_text, fsync_dir, fsync_tree
from rom_cli.errors import RomError

LATEST = "LATEST"
BEST = "BEST"


def model_state(model) -> dict[str, dict]:
    heads = {k: v for k, v in model.state_dict().items() if not k.startswith("backbones.")}
    return {"heads": heads}


def checkpoint_name(step: int) -> str:
    return f"step-{step:07d}"


def save_checkpoint(ckpt_dir: Path, step: int, model, tokenizer, cfg, trainer_state: dict, meta: dict,
                    keep_last: int, best: str | None = None) -> Path:
    """Write `checkpoints/step-NNNNNNN/` whole or not at all, point LATEST at it, and prune: the newest
    `keep_last` checkpoints stay, and so does `best` (a checkpoint name), which BEST then names."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    name = checkpoint_name(step)
    final = ckpt_dir / name
    tmp = ckpt_dir / f".{name}.tmp"
    for stale in ckpt_dir.glob(".step-*.tmp"):  # left by a run killed while saving
        shutil.rmtree(stale, ignore_errors=True)
    tmp.mkdir()
    try:
        for key, backbone in model.backbones.items():
            folder = "encoder" if key == "shared" else f"encoder-{key}"
            backbone.save_pretrained(tmp / folder)
        tokenizer.save_pretrained(tmp / "tokenizer")
        torch.save(model_state(model)["heads"], tmp / "heads.pt")
        torch.save(trainer_state, tmp / "trainer_state.pt")
        (tmp / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps({"step": step, **meta}, indent=2, default=str), encoding="utf-8")
        fsync_tree(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(ckpt_dir)
    atomic_write_text(ckpt_dir / LATEST, name + "\n")
    if best is not None:
        atomic_write_text(ckpt_dir / BEST, best + "\n")
    steps = sorted(p for p in ckpt_dir.glob("step-*") if p.is_dir())
    for old in steps[: max(0, len(steps) - max(1, keep_last))]:
        if old.name != best:
            shutil.rmtree(old, ignore_errors=True)
    return final


def is_checkpoint(path: Path) -> bool:
    return (Path(path) / "meta.json").is_file() and (Path(path) / "config.yaml").is_file()


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    ckpt_dir = Path(ckpt_dir)
    pointer = ckpt_dir / LATEST
    if pointer.is_file():
        candidate = ckpt_dir / pointer.read_text().strip()
        if is_checkpoint(candidate):
            return candidate
    steps = sorted(p for p in ckpt_dir.glob("step-*") if is_checkpoint(p))
    return steps[-1] if steps else None


def best_checkpoint(ckpt_dir: Path) -> Path | None:
    """The checkpoint `checkpoints/BEST` names, if it is complete."""
    pointer = Path(ckpt_dir) / BEST
    if pointer.is_file():
        candidate = Path(ckpt_dir) / pointer.read_text().strip()
        if is_checkpoint(candidate):
            return candidate
    return None


def resolve_checkpoint(path: str) -> Path:
    """A checkpoint folder, or a run dir / checkpoints dir meaning its latest checkpoint."""
    p = Path(path)
    if not p.exists():
        raise RomError(f"checkpoint={path}: no such file or directory")
    if is_checkpoint(p):
        return p
    for candidate in (p / "checkpoints", p):
        found = latest_checkpoint(candidate) if candidate.is_dir() else None
        if found is not None:
            return found
    raise RomError(f"checkpoint={path}: not a rom checkpoint (expected a folder with meta.json and config.yaml, "
                   "or a run directory holding checkpoints/)")


def load_model(path: Path, device: torch.device):
    """(model, tokenizer, resolved run config) from a checkpoint folder."""
    from transformers import AutoModel, AutoTokenizer

    from rom_cli.model.rom_model import ROLES, RomModel

    path = Path(path)
    cfg = OmegaConf.load(path / "config.yaml")
    keys = ["shared"] if cfg.encoder.shared else list(ROLES)
    backbones = {}
    for key in keys:
        folder = path / ("encoder" if key == "shared" else f"encoder-{key}")
        if not folder.is_dir():
            raise RomError(f"checkpoint={path}: missing {folder.name}/ (encoder.shared={cfg.encoder.shared})")
        backbones[key] = AutoModel.from_pretrained(folder)
    model = RomModel(cfg.encoder, backbones=backbones)
    missing, unexpected = model.load_state_dict(torch.load(path / "heads.pt", map_location="cpu"), strict=False)
    missing = [k for k in missing if not k.startswith("backbones.")]
    if missing or unexpected:
        raise RomError(f"checkpoint={path}: heads.pt does not match the model (missing {missing}, unexpected {unexpected})")
    tokenizer = AutoTokenizer.from_pretrained(path / "tokenizer")
    return model.to(device), tokenizer, cfg
