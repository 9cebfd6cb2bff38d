"""torch.distributed on CPU (gloo): cross-rank negatives give the single-process loss and gradients of the
global batch; gradient caching gives the plain loss and gradients; two `torchrun` processes train, checkpoint
and resume to identical weights on both ranks, also after a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rom_cli.tasks.ict import contrastive_loss
from rom_cli.training.distributed import DistContext
from tests.conftest import TINY

# ------------------------------------------------------------------------------------------ the loss


class Toy(nn.Module):
    """A linear "encoder" with RomModel's call convention (forward(kind, ...), scores)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(8, 6)

    def embed(self, role, batch):
        return F.normalize(self.lin(batch["x"]), dim=-1)

    def forward(self, kind, *args):
        if kind == "pair":
            return self.embed("query", args[0]), self.embed("passage", args[1])
        return self.embed(*args)

    def scores(self, q, p):
        return q @ p.T / 0.1


def global_batch():
    """Six questions; question i's positive is passage 10 + i; passage 20 is everyone's hard negative."""
    g = torch.Generator().manual_seed(1)
    x_q, x_p, x_hard = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g), torch.randn(1, 8, generator=g)
    return x_q, x_p, x_hard


def rank_batch(rank: int, world: int):
    """Rank r's slice of the global batch (as each rank packs it: its passages, then the shared hard negative)."""
    x_q, x_p, x_hard = global_batch()
    lo, hi = 6 * rank // world, 6 * (rank + 1) // world
    cols = list(range(10 + lo, 10 + hi)) + [20]
    positive = torch.tensor([[c == 10 + i for c in cols] for i in range(lo, hi)])
    return {"queries": {"x": x_q[lo:hi]}, "passages": {"x": torch.cat([x_p[lo:hi], x_hard])}, "positive": positive,
            "column_ids": torch.tensor(cols)}


def _rank_main(rank: int, world: int, store: str, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    dist = DistContext(world=world, rank=rank, backend="gloo")
    model = dist.wrap(Toy())
    loss = contrastive_loss(model, rank_batch(rank, world), torch.device("cpu"), dist)
    (loss * dist.gradient_multiplier(True)).backward()  # DDP averages: x world gives the global gradient
    if rank == 0:
        torch.save({"loss": loss.detach(), "grad": model.module.lin.weight.grad.clone()}, out)
    del model, loss  # DDP's reducer must not outlive the process group (see DistContext.shutdown)
    dist.shutdown()
    assert not torch.distributed.is_initialized()  # the group is gone (a failed assertion fails the spawn)


def test_cross_rank_loss_and_gradients_equal_one_process_on_the_global_batch(tmp_path):
    out = tmp_path / "rank0.pt"
    torch.multiprocessing.spawn(_rank_main, args=(2, str(tmp_path / "store"), str(out)), nprocs=2, join=True)
    got = torch.load(out)
    single = Toy()
    loss = contrastive_loss(single, rank_batch(0, 1), torch.device("cpu"))  # one process: passage 20 once
    loss.backward()
    assert torch.allclose(got["loss"], loss.detach(), atol=1e-6), (got["loss"], loss)
    assert torch.allclose(got["grad"], single.lin.weight.grad, atol=1e-6)


def test_without_gathering_each_rank_sees_only_its_own_passages(tmp_path):
    """The flag `distributed.cross_rank_negatives=false` really changes the loss (a local softmax)."""
    local = contrastive_loss(Toy(), rank_batch(0, 2), torch.device("cpu"))
    whole = contrastive_loss(Toy(), rank_batch(0, 1), torch.device("cpu"))
    assert not torch.allclose(local, whole)


# ------------------------------------------------------------------------------------ gradient cache


def test_gradient_caching_gives_the_plain_loss_and_gradients(tiny_cfg, tmp_path):
    from rom_cli.model.runtime import autocast
    from rom_cli.training.trainer import Trainer

    trainer = Trainer(tiny_cfg("objectives.retrieval.batch_size=6"), tmp_path)
    trainer.mixture.live[0].refresh(0)
    objective = trainer.objectives["retrieval"]
    batch = objective.next_batch(np.random.default_rng(0))
    model = trainer.model
    model.eval()  # no dropout: the plain and the chunked forward see the same network

    def grads():
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain = contrastive_loss(model, dict(batch), trainer.device)
    plain.backward()
    expected = grads()
    model.zero_grad(set_to_none=True)
    cached_batch = dict(batch)
    cached = contrastive_loss(model, cached_batch, trainer.device, grad_cache_chunk=2)
    assert "replay" in cached_batch
    cached.backward()
    assert all(p.grad is None for p in model.parameters())  # phase 1 reaches the vectors only
    objective.after_backward(cached_batch, lambda last: torch.enable_grad(), lambda: autocast(trainer.device, "fp32"))
    got = grads()
    assert torch.allclose(cached, plain, atol=1e-6)
    assert set(got) == set(expected)
    for name in expected:
        assert torch.allclose(got[name], expected[name], atol=1e-5, rtol=1e-4), name


def test_a_run_with_gradient_caching_trains(tiny_cfg, tmp_path):
    from rom_cli.training.trainer import Trainer

    metrics = Trainer(tiny_cfg("objectives.retrieval.grad_cache_chunk=2", "objectives.ict.grad_cache_chunk=2",
                               "trainer.max_steps=3"), tmp_path).run()
    assert metrics["train"]["tasks"]["retrieval"]["batches"] == 1 and metrics["train"]["tasks"]["ict"]["batches"] == 1


# ------------------------------------------------------------------------------------ two processes

ARGS = [*TINY, "trainer.max_steps=8", "trainer.checkpoint_every=2", "index.refresh_every=3", "task.eval_limit=4",
        "trainer.keep_last=5"]


def torchrun(run_dir: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             "-m", "rom_cli", "train", *ARGS, *extra, f"hydra.run.dir={run_dir}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def finish(proc: subprocess.Popen, timeout: int = 600) -> None:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-4000:]


@pytest.mark.slow
def test_two_processes_train_resume_and_agree_after_a_kill(tmp_path):
    whole = tmp_path / "whole"
    finish(torchrun(whole))
    metrics = json.loads((whole / "metrics.json").read_text())
    d = metrics["distributed"]
    assert d["world_size"] == 2 and d["backend"] == "gloo" and d["cross_rank_negatives"] is True
    assert len(d["rank_fingerprints"]) == 2 and len(set(d["rank_fingerprints"])) == 1  # both ranks agree
    assert d["global_batch"]["retrieval"] == 4 and metrics["train"]["steps"] == 8
    final = json.loads((whole / "checkpoints" / "step-0000008" / "meta.json").read_text())["fingerprint"]
    assert final == d["rank_fingerprints"][0] and metrics["final"]["retrieval"]["questions"] == 4

    killed = tmp_path / "killed"
    proc = torchrun(killed)
    deadline = time.monotonic() + 300
    while not (killed / "checkpoints" / "step-0000004" / "meta.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks, mid-run
    proc.wait()
    assert not (killed / "metrics.json").exists()
    finish(torchrun(killed))  # trainer.resume=auto: every rank restores the last complete checkpoint
    resumed = json.loads((killed / "metrics.json").read_text())
    assert resumed["distributed"]["rank_fingerprints"] == d["rank_fingerprints"]
