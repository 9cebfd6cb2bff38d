"""`rom index checkpoint=PATH [task=...] [index=hnsw]`: encode a corpus and save a self-contained index folder."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf


def run(cfg) -> Path:
    from rom_cli.config.validate import validate_eval_config
    from rom_cli.console import make_console
    from rom_cli.data.load import load_task
    from rom_cli.evaluation.session import (
        command_line_overrides,
        effective_config,
        open_checkpoint,
        peek_run_config,
        required,
    )
    from rom_cli.model.encode import encode_corpus
    from rom_cli.retrieval.faiss_index import DenseIndex
    from rom_cli.retrieval.index_store import check_index_target, save_index_folder
    from rom_cli.run_dir import save_job_config

    console, err = make_console(), make_console(stderr=True)
    path, run_cfg = peek_run_config(required(cfg, "checkpoint", "`rom index checkpoint=outputs/train/<date>/<time>`"))
    eff = effective_config(cfg, run_cfg, command_line_overrides(), sections=("task", "data", "index"))
    validate_eval_config(eff)
    out = Path(cfg.out) if cfg.out else Path(HydraConfig.get().runtime.output_dir) / "index"
    check_index_target(out)  # before the encoding, not after it
    session = open_checkpoint(path, eff.device, eff.precision, eff.threads)
    split = str(cfg.split or eff.task.eval_split)
    corpus = load_task(eff.task, eff.data).corpus(split)
    err.print(f"encoding {len(corpus)} passages ({eff.task.name}, {split} split) with {path}...")
    vectors, stats = encode_corpus(session.model, session.packer, corpus, session.enc_cfg.passage_max_length,
                                   int(eff.index.encode_batch_size), session.device, eff.precision, console=err)
    index = DenseIndex.build(vectors, eff.index)
    extra = {"checkpoint": str(path), "step": session.step, "encoder": session.enc_cfg.name,
             "task": str(eff.task.name), "split": split, "passages_per_s": stats["passages_per_s"],
             "encode_seconds": stats["seconds"], "device": str(session.device), "precision": str(eff.precision),
             "config": OmegaConf.to_container(eff.index, resolve=True)}
    save_job_config(cfg)
    save_index_folder(out, index, corpus, session.fingerprint(), extra)
    console.print(f"index {out}: {len(index)} passages, {index.kind}{' ' + str(index.params) if index.params else ''}, dim {index.dim}, "
                  f"fingerprint {session.fingerprint()}, {stats['passages_per_s']:.0f} passages/s")
    return out
