#!/usr/bin/env python
"""The "separate reader" peer: the standard Hugging Face extractive-QA recipe, on rom's data and scorer.

What `run_qa.py` / the HF course do, kept short: `AutoModelForQuestionAnswering` on the backbone
(a fresh span head), features `[CLS] question [SEP] context [SEP]` of at most 384 tokens with a
stride of 128 (overflowing windows become extra features; a feature without the answer points at
[CLS]), AdamW with 10 % linear warm-up then linear decay, batches of features. Scored on the gold
paragraph of each eval question: the best span (start <= end, at most `encoder.max_answer_tokens`
tokens, inside the context) by start + end logit over the question's features, with rom's EM / F1.

The questions are rom's: the task, split, limits, backbone, precision, threads and attention dropout
come from the same Hydra overrides as a `rom train`, so `scripts/bench_squad.py` trains this peer
on the train split rom_full trains on and scores it on the questions rom_full is scored on. The
training questions are the first `steps x batch_size` features of the train split in a seeded order
(one feature per question unless a paragraph overflows 384 tokens).

    python scripts/hf_reader.py --steps 150 --seeds 0,1,2 --out /tmp/hf.json \\
        experiment=squad task=squad_tune task.eval_split=test task.eval_limit=300 data.root=../shared/data
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RECIPE = {"max_length": 384, "stride": 128, "lr": 1e-4, "warmup": 0.1, "weight_decay": 0.01, "batch_size": 8}


def compose(overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    from rom_cli.config.schema import register_configs

    register_configs()
    with initialize_config_module("rom_cli.conf", version_base="1.3"):
        return hydra_compose("train", overrides=list(overrides))


def gold_context(question, corpus) -> tuple[str, list[tuple[int, int]]] | None:
    """(gold paragraph text, answer character spans in it) or None when the corpus lacks it."""
    spans = [s for s in question.spans if s.passage_id in corpus]
    if spans:
        pid = spans[0].passage_id
        return corpus[corpus.index_of(pid)].text, [(s.start, s.start + len(s.text)) for s in spans if s.passage_id == pid]
    for g in question.gold_passage_ids:
        if g in corpus:
            return corpus[corpus.index_of(g)].text, []
    return None


def featurize(tokenizer, questions: list[str], contexts: list[str], max_length: int, stride: int):
    return tokenizer(questions, contexts, truncation="only_second", max_length=max_length, stride=stride,
                     return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)


def train_features(tokenizer, examples, recipe: dict, wanted: int) -> tuple[list[dict], int]:
    """HF's `prepare_train_features`: (input_ids, token_type_ids, start, end) per feature, [CLS] (0, 0)
    when the feature's window misses the answer; stops after `wanted` features. Also: questions used."""
    out, used = [], 0
    for text, context, (a, b) in examples:
        used += 1
        enc = featurize(tokenizer, [text], [context], recipe["max_length"], recipe["stride"])
        for i in range(len(enc["input_ids"])):
            seq, offsets = enc.sequence_ids(i), enc["offset_mapping"][i]
            ctx = [j for j, s in enumerate(seq) if s == 1]
            start = end = 0
            if ctx and offsets[ctx[0]][0] <= a and offsets[ctx[-1]][1] >= b:
                start = next(j for j in ctx if offsets[j][1] > a)
                end = next(j for j in reversed(ctx) if offsets[j][0] < b)
            out.append({"input_ids": enc["input_ids"][i],
                        "token_type_ids": enc["token_type_ids"][i] if "token_type_ids" in enc else None,
                        "start_positions": start, "end_positions": end})
            if len(out) == wanted:
                return out, used
    return out, used


def collate(tokenizer, rows: list[dict]) -> dict:
    import torch

    width = max(len(r["input_ids"]) for r in rows)
    pad = tokenizer.pad_token_id or 0
    batch = {"input_ids": torch.full((len(rows), width), pad, dtype=torch.long),
             "attention_mask": torch.zeros((len(rows), width), dtype=torch.long)}
    if rows[0].get("token_type_ids") is not None:
        batch["token_type_ids"] = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        batch["input_ids"][i, :n] = torch.tensor(r["input_ids"])
        batch["attention_mask"][i, :n] = 1
        if "token_type_ids" in batch:
            batch["token_type_ids"][i, :n] = torch.tensor(r["token_type_ids"])
    for key in ("start_positions", "end_positions"):
        if key in rows[0]:
            batch[key] = torch.tensor([r[key] for r in rows], dtype=torch.long)
    return batch


def predict(model, tokenizer, questions: list[str], contexts: list[str], recipe: dict, max_answer: int,
            device, precision, batch_size: int = 64) -> list[str]:
    """Best span per question over its features (HF's postprocess_qa_predictions, n-best over all pairs)."""
    import torch

    from rom_cli.model.runtime import autocast

    enc = featurize(tokenizer, questions, contexts, recipe["max_length"], recipe["stride"])
    owner = enc["overflow_to_sample_mapping"]
    rows = [{"input_ids": enc["input_ids"][i],
             "token_type_ids": enc["token_type_ids"][i] if "token_type_ids" in enc else None}
            for i in range(len(owner))]
    best = [(-math.inf, "")] * len(questions)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    model.eval()
    with torch.no_grad():
        for lo in range(0, len(order), batch_size):
            chunk = order[lo: lo + batch_size]
            batch = {k: v.to(device) for k, v in collate(tokenizer, [rows[i] for i in chunk]).items()}
            with autocast(device, precision):
                out = model(**batch)
            starts, ends = out.start_logits.float().cpu(), out.end_logits.float().cpu()
            for r, i in enumerate(chunk):
                seq, offsets = enc.sequence_ids(i), enc["offset_mapping"][i]
                ctx = torch.tensor([s == 1 for s in seq] + [False] * (starts.shape[1] - len(seq)))
                s_logit = starts[r].masked_fill(~ctx, -math.inf)
                e_logit = ends[r].masked_fill(~ctx, -math.inf)
                pair = s_logit[:, None] + e_logit[None, :]
                n = pair.shape[0]
                idx = torch.arange(n)
                valid = (idx[None, :] >= idx[:, None]) & (idx[None, :] - idx[:, None] < max_answer)
                pair = pair.masked_fill(~valid, -math.inf)
                score, arg = pair.view(-1).max(dim=0)
                if float(score) > best[owner[i]][0]:
                    s, e = int(arg) // n, int(arg) % n
                    q = owner[i]
                    best[q] = (float(score), contexts[q][offsets[s][0]: offsets[e][1]])
    return [text for _, text in best]


def run_seed(cfg, train_examples, eval_questions, eval_contexts, steps: int, seed: int, recipe: dict) -> dict:
    import numpy as np
    import torch
    from transformers import AutoModelForQuestionAnswering, get_linear_schedule_with_warmup

    from rom_cli.config.schema import value_of
    from rom_cli.evaluation.metrics import exact_match, f1
    from rom_cli.model.backbone import load_backbone_config, load_tokenizer, resolve_name_or_path
    from rom_cli.model.runtime import (
        autocast,
        peak_memory_mb,
        resolve_device,
        resolve_precision,
        seed_everything,
    )

    device = resolve_device(cfg.trainer.device)
    precision = resolve_precision(cfg.trainer.precision, device).precision
    if cfg.trainer.threads:
        torch.set_num_threads(int(cfg.trainer.threads))
    seed_everything(seed)
    tokenizer = load_tokenizer(cfg.encoder)
    config = load_backbone_config(cfg.encoder)  # encoder.attention_dropout applies as in rom
    if value_of(cfg.encoder.init) == "random":
        model = AutoModelForQuestionAnswering.from_config(config)
    else:
        model = AutoModelForQuestionAnswering.from_pretrained(resolve_name_or_path(cfg.encoder.name_or_path),
                                                              config=config)
    model.to(device)
    order = np.random.default_rng(seed).permutation(len(train_examples))
    features, questions_used = train_features(tokenizer, (train_examples[i] for i in order), recipe,
                                              steps * recipe["batch_size"])
    decay = [p for n, p in model.named_parameters() if not any(k in n for k in ("bias", "LayerNorm", "norm"))]
    other = [p for n, p in model.named_parameters() if any(k in n for k in ("bias", "LayerNorm", "norm"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": recipe["weight_decay"]},
                             {"params": other, "weight_decay": 0.0}], lr=recipe["lr"])
    sched = get_linear_schedule_with_warmup(opt, int(recipe["warmup"] * steps), steps)
    model.train()
    start, losses = time.perf_counter(), []
    for step in range(steps):
        rows = features[step * recipe["batch_size"]: (step + 1) * recipe["batch_size"]]
        if not rows:
            break
        batch = {k: v.to(device) for k, v in collate(tokenizer, rows).items()}
        with autocast(device, precision):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    train_s = time.perf_counter() - start
    t0 = time.perf_counter()
    preds = predict(model, tokenizer, [q.text for q in eval_questions], eval_contexts, recipe,
                    int(cfg.encoder.max_answer_tokens), device, precision, int(cfg.eval.batch_size))
    eval_s = time.perf_counter() - t0
    em = [exact_match(p, q.answers) for p, q in zip(preds, eval_questions, strict=True)]
    f = [f1(p, q.answers) for p, q in zip(preds, eval_questions, strict=True)]
    n = len(features)
    return {"seed": seed, "steps": steps, "train_features": n, "questions_used": questions_used,
            "reader_gold": {"em": 100.0 * float(np.mean(em)), "f1": 100.0 * float(np.mean(f)),
                            "questions": len(eval_questions)},
            "loss_first": losses[0] if losses else None,
            "loss_last10": float(np.mean(losses[-10:])) if losses else None,
            "train_s": train_s, "train_features_per_s": n / max(train_s, 1e-9), "eval_s": eval_s,
            "precision": precision, "device": str(device),
            "parameters": sum(p.numel() for p in model.parameters()), "peak_memory_mb": peak_memory_mb(device)}


def spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
            "stdev": statistics.stdev(values) if len(values) > 1 else 0.0, "values": values}


def run(overrides: list[str], steps: int, seeds: list[int], recipe: dict | None = None) -> dict:
    """Train and score one HF reader per seed; mean / spread of gold-paragraph EM and F1."""
    from rom_cli.data.load import load_task

    recipe = {**RECIPE, **(recipe or {})}
    cfg = compose(overrides)
    data = load_task(cfg.task, cfg.data)
    train_corpus = data.corpus("train")
    train_examples = []
    for q in data.split("train"):
        found = gold_context(q, train_corpus)
        if found and found[1]:
            train_examples.append((q.text, found[0], found[1][0]))
    split = str(cfg.task.eval_split)
    corpus = data.corpus(split)
    eval_questions, contexts = [], []
    for q in data.split(split):
        found = gold_context(q, corpus)
        if found:
            eval_questions.append(q)
            contexts.append(found[0])
    per_seed = []
    for seed in seeds:
        print(f"hf_reader: seed {seed}, {steps} steps of {recipe['batch_size']} features", file=sys.stderr, flush=True)
        per_seed.append(run_seed(cfg, train_examples, eval_questions, contexts, steps, seed, recipe))
    return {"label": "separate reader: the Hugging Face QA recipe (AutoModelForQuestionAnswering) on the same backbone",
            "recipe": recipe, "steps": steps, "seeds": seeds, "eval_split": split,
            "train_questions_available": len(train_examples),
            "reader_gold": {"em": spread([r["reader_gold"]["em"] for r in per_seed]),
                            "f1": spread([r["reader_gold"]["f1"] for r in per_seed]),
                            "questions": len(eval_questions)},
            "per_seed": per_seed}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=RECIPE["batch_size"])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", required=True)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of conf/train.yaml (task, encoder, precision)")
    args = parser.parse_args(argv)
    result = run(args.overrides, args.steps, [int(s) for s in args.seeds.split(",") if s.strip()],
                 {"batch_size": args.batch_size})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    g = result["reader_gold"]
    print(f"hf_reader: EM {g['em']['mean']:.1f} (min {g['em']['min']:.1f}, max {g['em']['max']:.1f}) "
          f"F1 {g['f1']['mean']:.1f} on {g['questions']} questions -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
