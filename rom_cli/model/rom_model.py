"""One encoder, three roles: query vector, passage vector, reader.

With `encoder.shared=true` the three roles run through one backbone; with `shared=false` each role
gets its own backbone (the DPR-style baseline) through exactly the same code, so comparisons differ
in nothing but sharing. Heads: an optional per-role projection, a span head (start/end logits) and a
passage-relevance logit on [CLS] for the reader.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from rom_cli.model.backbone import accepts_token_type_ids, build_backbone, load_backbone_config

ROLES = ("query", "passage", "reader")


class RomModel(nn.Module):
    def __init__(self, cfg, backbones: dict[str, nn.Module] | None = None):
        """Fresh backbones from `cfg`, or given ones (keys: shared, or query/passage/reader)."""
        super().__init__()
        self.cfg = cfg
        if backbones is None:
            first = build_backbone(cfg, load_backbone_config(cfg))
            if cfg.shared:
                backbones = {"shared": first}
            else:  # three towers starting from the same weights, trained apart
                backbones = {"query": first, "passage": copy.deepcopy(first), "reader": copy.deepcopy(first)}
        expected = {"shared"} if cfg.shared else set(ROLES)
        if set(backbones) != expected:
            raise ValueError(f"backbones {sorted(backbones)} do not match encoder.shared={cfg.shared}")
        self.backbones = nn.ModuleDict(backbones)
        first = next(iter(self.backbones.values()))
        hidden = first.config.hidden_size
        self.hidden_size = hidden
        self.projections = nn.ModuleDict()
        if cfg.projection_dim > 0:
            for role in ("query", "passage"):
                self.projections[role] = nn.Linear(hidden, cfg.projection_dim)
        self.span_head = nn.Linear(hidden, 2)
        self.relevance_head = nn.Linear(hidden, 1)
        self.extra_heads = nn.ModuleDict()  # heads of objectives from outside rom, by mixture entry
        self._token_types = accepts_token_type_ids(first)

    def forward(self, kind: str, *args):
        """The one entry point training calls, because DistributedDataParallel hooks `forward` only:
        ("pair", query batch, passage batch) -> (query vectors, passage vectors) in one call (a shared
        encoder used twice per backward would confuse DDP); ("embed", role, batch); ("read", batch)."""
        if kind == "pair":
            return self.embed("query", args[0]), self.embed("passage", args[1])
        if kind == "embed":
            return self.embed(*args)
        if kind == "read":
            return self.read(*args)
        if kind == "classify":  # (entry, head name, role, batch): an extra head on the role's [CLS] state
            entry, head, role, batch = args
            return self.extra_heads[entry][head](self.hidden_states(role, batch)[:, 0]).float()
        raise ValueError(f"unknown RomModel call {kind!r}: expected pair, embed, read or classify")

    # -- roles -------------------------------------------------------------------------------
    def backbone(self, role: str) -> nn.Module:
        return self.backbones["shared" if self.cfg.shared else role]

    def hidden_states(self, role: str, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        kwargs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        if self._token_types and "token_type_ids" in batch:
            kwargs["token_type_ids"] = batch["token_type_ids"]
        return self.backbone(role)(**kwargs).last_hidden_state

    def embed(self, role: str, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Pooled (and projected, and for cosine normalised) vectors for the query or passage role."""
        states = self.hidden_states(role, batch)
        if self.cfg.pooling == "cls":
            pooled = states[:, 0]
        else:
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        if role in self.projections:
            pooled = self.projections[role](pooled)
        pooled = pooled.float()
        if self.cfg.similarity == "cosine":
            pooled = F.normalize(pooled, dim=-1)
        return pooled

    def scores(self, queries: torch.Tensor, passages: torch.Tensor) -> torch.Tensor:
        """Similarity logits [Q, P] (temperature-scaled), the same for training and search.

        Always fp32, autocast off: bf16 keeps about 3 significant digits, and after dividing by a
        small temperature the contrastive softmax would rank near-ties by rounding noise."""
        with torch.autocast(device_type=queries.device.type, enabled=False):
            return queries.float() @ passages.float().T / self.cfg.temperature

    def read(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Start logits, end logits [B, L] (non-passage positions masked) and relevance logits [B]."""
        states = self.hidden_states("reader", batch)
        start, end = self.span_head(states).float().unbind(-1)
        relevance = self.relevance_head(states[:, 0]).float().squeeze(-1)
        allowed = batch["passage_mask"].bool()
        start = start.masked_fill(~allowed, -1e4)
        end = end.masked_fill(~allowed, -1e4)
        return start, end, relevance

    # -- bookkeeping --------------------------------------------------------------------------
    @property
    def embedding_dim(self) -> int:
        """Width of the query / passage vectors (the projection's when there is one)."""
        return int(self.cfg.projection_dim) if int(self.cfg.projection_dim or 0) > 0 else int(self.hidden_size)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def parameter_breakdown(self) -> dict[str, int]:
        out = {f"backbone.{name}": sum(p.numel() for p in m.parameters()) for name, m in self.backbones.items()}
        out["heads"] = self.num_parameters() - sum(out.values())
        return out
