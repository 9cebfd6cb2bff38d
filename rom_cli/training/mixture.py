"""A run's tasks: (objective, dataset) entries, the datasets they read, and the live indexes they share.

ROM scales one encoder to many tasks. `mixture.tasks` (objective -> weight) keeps the one-dataset form:
every objective trains on the run's `task`. `mixture.entries` names (objective, dataset) pairs across
datasets, each with its weight and supervision level, e.g.

    entries:
      nq_retrieval:     {objective: retrieval, data: nq}
      trivia_retrieval: {objective: retrieval, data: trivia}
      squad_reader:     {objective: reader, data: squad, supervision: full}
      wiki_ict:         {objective: ict, data: nq, weight: 0.5}

`data` is a task preset name (`conf/task/<name>.yaml`), a YAML file, task keys inline, or empty for the
run's `task`. Each dataset is loaded once; datasets over one passages TSV share one corpus object (and
so one token cache and one live index). An objective from outside rom is named by `_target_` and
implements `rom_cli.tasks.base.Objective`; the heads it declares are registered on the shared model.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from rom_cli.config.mixture import Entry, entries_of, task_config
from rom_cli.config.schema import value_of
from rom_cli.data.load import load_task
from rom_cli.errors import ConfigError, RomError
from rom_cli.model.passage_tokens import PassageTokens
from rom_cli.tasks import build_objective
from rom_cli.tasks.base import TaskContext
from rom_cli.training.live_corpus import live_positions
from rom_cli.training.live_index import LiveIndex, LiveView


def check_supervision(entry: Entry, ctx: TaskContext, task_cfg) -> None:
    """Under full supervision, retrieval needs gold passages and the reader answer spans: an entry none of
    whose training questions has them is an error naming the data and the ways out (before it is built)."""
    need = {"retrieval": ("a gold passage in the corpus", lambda q, c: any(g in c for g in q.gold_passage_ids)),
            "reader": ("an answer span in a gold passage", lambda q, c: any(s.passage_id in c for s in q.spans))}
    kind = entry.objective if isinstance(entry.objective, str) else None
    if ctx.level != "full" or kind not in need or any(need[kind][1](q, ctx.corpus) for q in ctx.questions):
        return
    raise RomError(
        f"task.train={task_cfg.train or task_cfg.name}: none of the {len(ctx.questions)} training questions has "
        f"{need[kind][0]}, which the {kind} objective needs under supervision=full: expected gold passages and "
        f"answer spans, or use supervision=weak (answers only) or supervision=none, or drop {entry.name} from the "
        "mixture")


class Mixture:
    """Datasets, training contexts, objectives and live indexes of a run (see the module docstring)."""

    def __init__(self, cfg, packer, model, device, precision, dist, seed: int):
        self.cfg = cfg
        self.entries = entries_of(cfg)
        if not self.entries:
            raise ConfigError("mixture.tasks", {}, "at least one of ict, retrieval, reader (or mixture.entries)")
        configs: dict[str, DictConfig] = {}
        for entry in self.entries:
            tc = task_config(cfg, entry)
            entry.dataset = str(tc.name)
            known = configs.setdefault(entry.dataset, tc)
            if OmegaConf.to_container(known) != OmegaConf.to_container(tc):
                raise ConfigError(f"mixture.entries.{entry.name}.data", entry.data,
                                  f"one configuration per dataset name ({entry.dataset!r} is configured twice "
                                  "differently): give the task its own `name`")
        self.task_configs = configs
        self.datasets = {name: load_task(tc, cfg.data) for name, tc in configs.items()}
        for name, data in self.datasets.items():
            if not data.splits.get("train"):
                tc = configs[name]
                if tc.train_limit is not None and int(tc.train_limit) == 0:
                    raise ConfigError("task.train_limit", 0, "a positive number of training questions (null: all of them)")
                raise RomError(f"task {name!r} has no training questions: set task.train=PATH")
        self.primary = str(cfg.task.name) if str(cfg.task.name) in self.datasets else self.entries[0].dataset
        # one token cache per corpus object: datasets over one passages TSV share it
        token_caches: dict[int, PassageTokens] = {}
        self.contexts: dict[tuple[str, str], TaskContext] = {}
        self.objectives = {}
        self.entry_of = {}
        default_level = value_of(cfg.supervision.level)
        for key, entry in enumerate(self.entries):
            level = entry.supervision or default_level
            ctx = self.contexts.get((entry.dataset, level))
            if ctx is None:
                data = self.datasets[entry.dataset]
                questions, corpus = data.splits["train"], data.corpus("train")
                tokens = token_caches.setdefault(id(corpus), PassageTokens(packer, corpus))
                ctx = TaskContext(cfg=cfg, packer=packer, questions=questions,
                                  question_tokens=packer.tokenize([q.text for q in questions]), corpus=corpus,
                                  passage_tokens=tokens, seed=seed, dist=dist, level_override=level)
                self.contexts[(entry.dataset, level)] = ctx
            check_supervision(entry, ctx, configs[entry.dataset])
            objective = build_objective(entry.name, entry.objective, ctx, key)
            objective.entry = entry.name
            heads = objective.heads(model.hidden_size)
            if heads:
                import torch.nn as nn

                model.extra_heads[entry.name] = nn.ModuleDict(heads).to(next(model.parameters()).device)
            self.objectives[entry.name] = objective
            self.entry_of[entry.name] = entry
        self.live: list[LiveIndex] = []
        self.live_info: dict[str, dict] = {}
        needs = [ctx for ctx in self.contexts.values()
                 if any(o.ctx is ctx and o.needs_index() for o in self.objectives.values())]
        by_corpus: dict[int, list[TaskContext]] = {}
        for ctx in needs:
            by_corpus.setdefault(id(ctx.corpus), []).append(ctx)
        depth = max(int(cfg.objectives.retrieval.mine_top_k), int(cfg.supervision.top_k),
                    int(cfg.objectives.reader.passages_per_question) * 4)
        for ctxs in by_corpus.values():
            corpus = ctxs[0].corpus
            questions = [q for ctx in ctxs for q in ctx.questions]
            positions, info = live_positions(cfg.index, corpus, questions, seed)
            index = LiveIndex(cfg, packer, corpus, model, device, precision, depth, positions, dist)
            self.live.append(index)
            names = sorted({name for name, ctx in self.contexts if ctx in ctxs})
            self.live_info["+".join(names)] = info
            for ctx in ctxs:
                ctx.live = LiveView(ctx, index)

    @property
    def weights(self) -> dict[str, float]:
        return {e.name: e.weight for e in self.entries}

    @property
    def multi(self) -> bool:
        return len(self.datasets) > 1

    def eval_datasets(self) -> dict[str, str]:
        """Dataset -> its evaluation split, for every dataset that has one loaded."""
        out = {}
        for name, data in self.datasets.items():
            split = str(self.task_configs[name].eval_split)
            if data.splits.get(split):
                out[name] = split
        return out

    def describe(self) -> dict:
        """The mixture as metrics.json records it."""
        if not self.cfg.mixture.entries:
            return {e.name: e.weight for e in self.entries}
        return {e.name: {"objective": e.objective, "dataset": e.dataset, "weight": e.weight,
                         "supervision": e.supervision or value_of(self.cfg.supervision.level)} for e in self.entries}
