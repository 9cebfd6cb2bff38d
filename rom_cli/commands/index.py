"""`rom index checkpoint=PATH [task=...] [index=hnsw]`: encode a corpus and save a self-contained index folder.

One process: shard 0 of 1 is encoded into `<out>/shards/` and merged into the index at once. Sharded,
over processes, GPUs or cluster jobs (DPR's and Tevatron's recipe):

    rom index checkpoint=C out=D index.num_shards=4 index.shard=2     # one slice of the corpus
    rom index -m checkpoint=C out=D index.num_shards=4 index.shard=0,1,2,3 hydra/launcher=joblib
    rom index checkpoint=C out=D index.num_shards=4 index.merge=true  # build D from all four shards

Under `torchrun`, shard and shard count default to the rank and world size, and rank 0 merges once
every shard is on disk. A complete shard of the same checkpoint and corpus is not encoded again, so
a killed sharded job is rerun as is.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from rom_cli.errors import RomError

MERGE_WAIT_S = 7 * 24 * 3600  # rank 0 under torchrun waits this long at most for the other ranks' shards


def sharding(index_cfg) -> tuple[int, int | None, bool]:
    """(num_shards, the shard to encode or None, whether to merge) from the config and, under torchrun,
    the rank / world size."""
    from rom_cli.retrieval.vector_shards import check_shard_args

    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    num_shards = index_cfg.num_shards if index_cfg.num_shards is not None else world
    shard = index_cfg.shard if index_cfg.shard is not None else (rank if world > 1 else None)
    if num_shards == 1 and shard is None:
        shard = 0
    if shard is not None:
        check_shard_args(num_shards, shard)
    else:
        check_shard_args(num_shards, 0)
    merge = index_cfg.merge if index_cfg.merge is not None else (num_shards == 1 or (world > 1 and rank == 0))
    if shard is None and not merge:
        raise RomError(f"index.num_shards={num_shards}: name the shard to encode (index.shard=0..{num_shards - 1}) "
                       "or merge the encoded shards (index.merge=true)")
    return num_shards, shard, bool(merge)


def _wait_for_shards(out: Path, num_shards: int, err) -> None:
    """torchrun rank 0: the other ranks write their shards; wait until every meta.json is there."""
    from rom_cli.retrieval.vector_shards import META, SHARDS_DIR, shard_name

    deadline = time.monotonic() + MERGE_WAIT_S
    missing = list(range(num_shards))
    while missing and time.monotonic() < deadline:
        missing = [i for i in missing if not (out / SHARDS_DIR / shard_name(i, num_shards) / META).is_file()]
        if missing:
            time.sleep(2.0)
    if missing:
        err.print(f"rank 0: {len(missing)} shards still missing; merging anyway reports them")


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
    from rom_cli.retrieval.faiss_index import DenseIndex
    from rom_cli.retrieval.index_store import check_index_target, save_index_folder
    from rom_cli.retrieval.vector_shards import ShardSet, corpus_descriptor, write_shard
    from rom_cli.run_dir import save_job_config

    console, err = make_console(), make_console(stderr=True)
    path, run_cfg = peek_run_config(required(cfg, "checkpoint", "`rom index checkpoint=outputs/train/<date>/<time>`"))
    eff = effective_config(cfg, run_cfg, command_line_overrides(), sections=("task", "data", "index"))
    validate_eval_config(eff)
    num_shards, shard, merge = sharding(cfg.index)
    out = Path(cfg.out) if cfg.out else Path(HydraConfig.get().runtime.output_dir) / "index"
    check_index_target(out)  # before the encoding, not after it
    session = open_checkpoint(path, eff.device, eff.precision, eff.threads)
    split = str(cfg.split or eff.task.eval_split)
    corpus = load_task(eff.task, eff.data).corpus(split)
    corpus_info = corpus_descriptor(corpus)
    fingerprint = session.fingerprint()
    save_job_config(cfg)
    extra = {"checkpoint": str(path), "step": session.step, "encoder": session.enc_cfg.name,
             "task": str(eff.task.name), "split": split, "device": str(session.device),
             "precision": str(eff.precision)}
    if shard is not None:
        lo_hi = f"shard {shard + 1} of {num_shards}, " if num_shards > 1 else ""
        err.print(f"encoding {lo_hi}{len(corpus):,} passages in all ({eff.task.name}, {split} split) with {path}")
        folder, meta = write_shard(out, num_shards, shard, corpus, corpus_info, session.model, session.packer,
                                   session.enc_cfg.passage_max_length, int(eff.index.encode_batch_size),
                                   session.device, eff.precision, fingerprint, console=err, extra=extra)
        done = "already encoded (kept)" if meta["reused"] else f"{meta['passages_per_s']:.0f} passages/s"
        console.print(f"shard {folder}: rows {meta['rows'][0]:,}-{meta['rows'][1]:,}, {done}")
    if not merge:
        return out
    if num_shards > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        _wait_for_shards(out, num_shards, err)
    shards = ShardSet.open(out, expected_fingerprint=fingerprint, corpus_info=corpus_info, num_shards=num_shards)
    err.print(f"building a {OmegaConf.select(eff, 'index.type')} index from {len(shards.metas)} shard(s), "
              f"{len(shards):,} vectors...")
    start = time.perf_counter()
    index = DenseIndex.build(shards, eff.index)
    seconds = {"build_seconds": time.perf_counter() - start,
               "encode_seconds": sum(m["seconds"] for m in shards.metas),
               "passages_per_s": len(shards) / max(sum(m["seconds"] for m in shards.metas), 1e-9)}
    extra.update(seconds, shards=num_shards, config=OmegaConf.to_container(eff.index, resolve=True))
    del shards
    save_index_folder(out, index, corpus, fingerprint, extra)
    if cfg.index.bm25:
        from rom_cli.retrieval.bm25 import BM25Retriever, build_refusal, passage_text
        from rom_cli.retrieval.index_store import BM25_DIR

        refusal = build_refusal(len(corpus))
        if refusal is not None:
            raise RomError(f"index.bm25=true: {refusal}")
        err.print(f"building BM25 over {len(corpus):,} passages...")
        BM25Retriever.build(passage_text(p) for batch in corpus.batches(8192) for p in batch).save(out / BM25_DIR)
    console.print(f"index {out}: {len(index):,} passages, {index.kind}{' ' + str(index.params) if index.params else ''}, "
                  f"dim {index.dim}, fingerprint {fingerprint}, {seconds['passages_per_s']:.0f} passages/s encoding "
                  f"over {num_shards} shard(s), built in {seconds['build_seconds']:.1f} s")
    return out
