"""Checkpoint folders on disk: written whole or not at all, found by name, loadable by plain transformers.

Training writes them and evaluation, `rom index` and `rom ask` read them, so this module belongs to
neither (evaluation must not depend on the trainer).

Layout of `<run>/checkpoints/step-000100/`: `encoder/` (or `encoder-query/`, `encoder-passage/`,
`encoder-reader/` for three towers) written with `save_pretrained`, `tokenizer/`, `heads.pt`,
`trainer_state.pt` (optimizer, scheduler, task streams, RNG states, live index vectors),
`config.yaml` (the resolved run config) and `meta.json` last. The folder is assembled under a
temporary name, fsynced, then renamed, so a killed run never leaves a half checkpoint behind;
`checkpoints/LATEST` names the newest complete one. Pruning keeps the newest `keep_last` and the one
`checkpoints/BEST` names (written when the trainer selects checkpoints, `trainer.eval_every`).
A checkpoint damaged afterwards (a file deleted or truncated) fails to load with one line naming
the file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from omegaconf import OmegaConf

from rom_cli.atomic import atomic_write_text, staged_dir
from rom_cli.errors import RomError

LATEST = "LATEST"
BEST = "BEST"
# last path components of `resolve_checkpoint` that mean "the checkpoint this pointer names"
POINTER_NAMES = {"last": LATEST, "latest": LATEST, LATEST: LATEST, "best": BEST, BEST: BEST}


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
    with staged_dir(final, tmp):
        for key, backbone in model.backbones.items():
            folder = "encoder" if key == "shared" else f"encoder-{key}"
            backbone.save_pretrained(tmp / folder)
        tokenizer.save_pretrained(tmp / "tokenizer")
        torch.save(model_state(model)["heads"], tmp / "heads.pt")
        torch.save(trainer_state, tmp / "trainer_state.pt")
        (tmp / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps({"step": step, **meta}, indent=2, default=str), encoding="utf-8")
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


def _named_checkpoint(path: str, p: Path) -> Path:
    """`<run>/last`, `<run>/checkpoints/best`, ...: the checkpoint the LATEST / BEST pointer names."""
    pointer = POINTER_NAMES[p.name]
    parent = p.parent
    if not parent.is_dir():
        raise RomError(f"checkpoint={path}: {parent} is not a directory (expected a run directory or its checkpoints/)")
    ckpt_dir = parent / "checkpoints" if (parent / "checkpoints").is_dir() else parent
    found = latest_checkpoint(ckpt_dir)
    if found is None:
        raise RomError(f"checkpoint={path}: no complete checkpoint in {ckpt_dir} (expected step-NNNNNNN/ "
                       "folders with meta.json and config.yaml)")
    if pointer == LATEST:
        return found
    best = ckpt_dir / BEST
    if not best.is_file():
        raise RomError(f"checkpoint={path}: {best} does not exist: the run was trained without "
                       "trainer.eval_every, so no best checkpoint was selected; use last instead")
    found = best_checkpoint(ckpt_dir)
    if found is None:
        raise RomError(f"checkpoint={path}: {best} names {best.read_text().strip()!r}, which is not a complete "
                       f"checkpoint in {ckpt_dir} (expected a folder with meta.json and config.yaml)")
    return found


def resolve_checkpoint(path: str) -> Path:
    """A checkpoint folder; a run dir / checkpoints dir meaning its latest checkpoint; or one of those
    followed by `last`/`latest`/`LATEST` or `best`/`BEST`, meaning the checkpoint that the LATEST or
    BEST pointer names (e.g. `outputs/train/X/best`, `outputs/train/X/checkpoints/last`)."""
    p = Path(path)
    if p.name in POINTER_NAMES and not is_checkpoint(p):
        return _named_checkpoint(path, p)
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


def _unreadable(path: Path, file: Path, ex: BaseException, expected: str) -> RomError:
    """One line for a checkpoint file that exists but cannot be read (truncated, overwritten)."""
    reason = (str(ex).strip().splitlines() or [""])[0][:200]
    return RomError(f"checkpoint={path}: {file.relative_to(path)} is unreadable ({type(ex).__name__}: {reason}): "
                    f"expected {expected}; the checkpoint is damaged, use another one")


def _weights_file(folder: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    return folder / "model.safetensors"


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
        weights = _weights_file(folder)
        for needed in (folder / "config.json", weights):
            if not needed.is_file():
                raise RomError(f"checkpoint={path}: missing {needed.relative_to(path)}: expected the encoder "
                               "written by save_pretrained; the checkpoint is damaged, use another one")
        try:
            backbones[key] = AutoModel.from_pretrained(folder)
        except Exception as ex:  # truncated or overwritten weights: safetensors/torch raise many kinds
            raise _unreadable(path, weights, ex, "the encoder weights written by save_pretrained") from ex
    model = RomModel(cfg.encoder, backbones=backbones)
    heads_file = path / "heads.pt"
    if not heads_file.is_file():
        raise RomError(f"checkpoint={path}: missing heads.pt: expected the span, relevance and projection heads "
                       "saved with the encoder; the checkpoint is damaged, use another one")
    try:
        heads = torch.load(heads_file, map_location="cpu")
    except Exception as ex:
        raise _unreadable(path, heads_file, ex, "the heads' state dict written by torch.save") from ex
    missing, unexpected = model.load_state_dict(heads, strict=False)
    missing = [k for k in missing if not k.startswith("backbones.")]
    unexpected = [k for k in unexpected if not k.startswith("extra_heads.")]  # heads of external objectives
    if missing or unexpected:
        raise RomError(f"checkpoint={path}: heads.pt does not match the model (missing {missing}, unexpected {unexpected})")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path / "tokenizer")
    except Exception as ex:
        raise RomError(f"checkpoint={path}: tokenizer/ is unreadable ({type(ex).__name__}): expected the tokenizer "
                       "written by save_pretrained; the checkpoint is damaged, use another one") from ex
    return model.to(device), tokenizer, cfg
