"""Training on several processes with torch.distributed (launched by `torchrun`), as DPR and Tevatron do.

`DistContext.from_env` reads torchrun's variables (WORLD_SIZE, RANK, LOCAL_RANK): with one process it is
a no-op context, with several it joins the process group (NCCL on CUDA, gloo on CPU) and binds each
rank to its GPU. The trainer asks it, and only it, about ranks:
- `wrap` puts the model into DistributedDataParallel (gradients averaged over ranks);
- `slice` gives each rank its contiguous part of the global batch every rank drew (the schedule and the
  example streams are functions of seed and step, so every rank draws the same task and indices);
- `gather_with_grad` all-gathers query / passage vectors for cross-rank negatives: the local slice keeps
  its gradient, the others are constants, so on every rank the contrastive loss is the loss of the whole
  global batch; multiplied by the world size it makes DDP's gradient average the exact gradient of the
  single-process loss over the global batch (Tevatron's `negatives_x_device`);
- `gather_rows` assembles the live index from the slices each rank encoded (1/N of the work each);
- `is_main` (rank 0) alone logs, evaluates and writes checkpoints; `barrier` keeps the others in step.
"""

from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

from rom_cli.config.schema import value_of
from rom_cli.errors import ConfigError


@dataclass
class DistContext:
    world: int = 1
    rank: int = 0
    local_rank: int = 0
    cross_rank_negatives: bool = True
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, cfg, device: torch.device) -> tuple[DistContext, torch.device]:
        """(context, this rank's device). Several processes only under torchrun (WORLD_SIZE > 1)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        cross = bool(getattr(cfg, "cross_rank_negatives", True)) if cfg is not None else True
        if world <= 1:
            return cls(cross_rank_negatives=cross), device
        rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
        backend = value_of(getattr(cfg, "backend", "auto")) if cfg is not None else "auto"
        if backend == "auto":
            backend = "nccl" if device.type == "cuda" else "gloo"
        if backend == "nccl" and device.type != "cuda":
            raise ConfigError("distributed.backend", backend, "gloo (or auto) on CPU: NCCL needs CUDA devices")
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
            device = torch.device("cuda", local_rank)
        if not dist.is_initialized():
            timeout = timedelta(seconds=int(getattr(cfg, "timeout_s", 1800) if cfg is not None else 1800))
            dist.init_process_group(backend=backend, timeout=timeout)
        return cls(world, rank, local_rank, cross, backend), device

    # -- model ------------------------------------------------------------------------------------
    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """DDP around the model (every head and tower; a step that uses only some of them is fine)."""
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.local_rank] if next(model.parameters()).device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)

    def no_sync(self, model, skip: bool):
        """Within gradient accumulation, only the last backward of a step all-reduces."""
        if self.enabled and skip and hasattr(model, "no_sync"):
            return model.no_sync()
        return contextlib.nullcontext()

    # -- data -------------------------------------------------------------------------------------
    def slice(self, items: list) -> list:
        """This rank's contiguous part of a global batch (sizes differ by at most one)."""
        if not self.enabled:
            return items
        n = len(items)
        return items[n * self.rank // self.world: n * (self.rank + 1) // self.world]

    def gradient_multiplier(self, gathered: bool) -> float:
        """A loss over gathered vectors is the whole global batch's: DDP divides gradients by the world size."""
        return float(self.world) if self.enabled and gathered else 1.0

    # -- collectives ------------------------------------------------------------------------------
    def _sizes(self, n: int, device) -> list[int]:
        size = torch.tensor([n], dtype=torch.long, device=device)
        sizes = [torch.zeros_like(size) for _ in range(self.world)]
        dist.all_gather(sizes, size)
        return [int(s.item()) for s in sizes]

    def gather_with_grad(self, x: torch.Tensor) -> torch.Tensor:
        """All ranks' rows of x in rank order; this rank's rows are x itself (with its gradient)."""
        if not self.enabled:
            return x
        sizes = self._sizes(x.shape[0], x.device)
        pad = max(sizes) - x.shape[0]
        padded = torch.cat([x.detach(), x.new_zeros((pad, *x.shape[1:]))]) if pad else x.detach().contiguous()
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded)
        parts = [p[:n] for p, n in zip(parts, sizes, strict=True)]
        parts[self.rank] = x
        return torch.cat(parts)

    def gather_rows(self, rows: np.ndarray) -> np.ndarray:
        """All ranks' rows of a numpy array, in rank order (for the live index each rank encoded a slice of)."""
        if not self.enabled:
            return rows
        device = torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")
        x = torch.from_numpy(np.ascontiguousarray(rows)).to(device)
        return self.gather_with_grad(x).cpu().numpy()

    def gather_objects(self, obj) -> list:
        if not self.enabled:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj):
        """rank 0's obj on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def shutdown(self) -> None:
        """Leave the process group once every rank is done with it; the caller drops its DDP wrapper first.

        Without this a rank can die of SIGABRT ("terminate called without an active exception") as the
        interpreter exits: objects that still hold gloo work (DDP's reducer, autograd cycles through the
        gathered vectors) are then destroyed after the group. Measured with tests/training/test_distributed.py's
        two-rank step on torch 2.13 (AMD EPYC): 3 of 12 runs aborted without it, 0 of 30 with it.
        """
        if self.enabled and dist.is_initialized():
            gc.collect()
            dist.barrier()
            dist.destroy_process_group()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The RomModel inside a DDP wrapper (or the model itself)."""
    return getattr(model, "module", model)
