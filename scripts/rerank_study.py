"""How should the reader's scores reorder a first stage's top-k? A study on one trained checkpoint.

`rom eval eval.rerank_top_k=K` reorders the first stage's top-K by the reader's relevance logit alone. On
the cpu_long checkpoints that made hybrid retrieval's top-1 fall from ~80 to 25-35 (the relevance head sees
only ~200 reader batches on CPU). This script reads the top-K windows once per split and scores the
same windows under each candidate ordering, so they are compared on identical reader outputs:

- `first_stage`: the retriever's order (no reranking);
- `relevance`: the relevance logit (what `rom eval` did);
- `span`: the best span log-prob of the passage;
- `relevance_span`: relevance + span log-prob (the score `pick_answers` ranks windows with);
- `rrf`: reciprocal-rank fusion of the first-stage and relevance ranks (1/(60 + r), no parameter);
- `interpolated`: z(first-stage score) + w * z(relevance) per question, w fit on the dev split (held-out
  train questions) and applied unchanged to the test split.

Each is measured by answer / gold top-1 and top-5 over the reordered list and end-to-end EM/F1 when the
reader reads the reordered top-1 and top-5 (`pick_answers`, as `rom eval`).

A second question on the same windows: reading the first stage's top-5 instead of its top-1 helps only if
the reader can tell passages apart. `rom eval` adds the retriever's own softmax as a prior for dense
retrieval (`eval.rank_with_retriever`) but nothing for BM25 / hybrid, whose scores are not logits. The
`first_stage_prior` section reads the first stage's top-1 and top-5 with the prior
log_softmax(w * z(first-stage scores of the k read)) (`eval.first_stage_prior`), w fit on dev's end-to-end EM@5 and applied unchanged to test. Writes JSON.

    python scripts/rerank_study.py --checkpoint benchmarks/runs/squad-cpu_long-headlr10/rom_full/checkpoints/last \
        --out benchmarks/results/rerank-study-cpu_long-headlr10.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_squad import compose, cpu_model, runtime_info, write_json  # noqa: E402

WEIGHTS = [0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0]
PRIOR_WEIGHTS = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
VARIANTS = ["first_stage", "relevance", "span", "relevance_span", "rrf", "interpolated"]


def passage_table(windows, cands: list[list[int]]) -> dict:
    """Per question, per candidate rank: best relevance, best span, best relevance+span over its windows."""
    n, k = len(cands), max(len(c) for c in cands)
    out = {name: np.full((n, k), -np.inf) for name in ("relevance", "span", "relevance_span")}
    for q, r, rel, span in zip(windows.question, windows.rank, windows.relevance, windows.span, strict=True):
        out["relevance"][q, r] = max(out["relevance"][q, r], rel)
        out["span"][q, r] = max(out["span"][q, r], span)
        out["relevance_span"][q, r] = max(out["relevance_span"][q, r], rel + span)
    return out


def zscore(x: np.ndarray) -> np.ndarray:
    finite = np.isfinite(x)
    mu = np.where(finite, x, 0).sum(1, keepdims=True) / np.maximum(finite.sum(1, keepdims=True), 1)
    sd = np.sqrt(np.where(finite, (x - mu) ** 2, 0).sum(1, keepdims=True) / np.maximum(finite.sum(1, keepdims=True), 1))
    return np.where(finite, (x - mu) / np.maximum(sd, 1e-6), -np.inf)


def orders(table: dict, first: np.ndarray, weight: float) -> dict:
    """Each variant's permutation of candidate ranks, per question (stable: ties keep the first-stage order)."""
    n, k = first.shape
    first_rank = np.tile(np.arange(k), (n, 1)).astype(float)
    rel_rank = np.argsort(np.argsort(-table["relevance"], axis=1, kind="stable"), axis=1)
    keys = {
        "first_stage": -first_rank,
        "relevance": table["relevance"],
        "span": table["span"],
        "relevance_span": table["relevance_span"],
        "rrf": 1.0 / (60 + first_rank) + 1.0 / (60 + rel_rank),
        "interpolated": zscore(first) + weight * zscore(table["relevance"]),
    }
    return {name: np.argsort(-key, axis=1, kind="stable") for name, key in keys.items()}


def measure(split_data: dict, perm: np.ndarray) -> dict:
    from rom_cli.evaluation.metrics import topk_accuracy
    from rom_cli.evaluation.pipeline import _em_f1
    from rom_cli.evaluation.reading import pick_answers, reranked

    cands, hits, gold, windows = split_data["cands"], split_data["hits"], split_data["gold"], split_data["windows"]
    order = [[cands[q][r] for r in perm[q] if r < len(cands[q])] for q in range(len(cands))]
    def top(rows):
        return {f"top{k}": v for k, v in topk_accuracy(rows, [1, 5]).items()}

    answer = top([[hits[q][r] for r in perm[q] if r < len(cands[q])] for q in range(len(cands))])
    gold_acc = top([[cands[q][r] in gold[q] for r in perm[q] if r < len(cands[q])] for q in range(len(cands))])
    ordered = reranked(windows, order)
    questions, corpus = split_data["questions"], split_data["corpus"]
    e2e = {f"top{k}": _em_f1(pick_answers(ordered, corpus, len(questions), k), questions) for k in (1, 5)}
    return {"answer": answer, "gold": gold_acc, "end_to_end": e2e}


def prior_e2e(split_data: dict, weight: float, retriever: str = "hybrid") -> dict:
    """End-to-end EM/F1 reading the first stage's top-1 and top-5 with `rom eval`'s prior for BM25 / hybrid
    (`retriever_priors` with eval.first_stage_prior=weight: log_softmax(weight * z-scores over the k read))."""
    from rom_cli.evaluation.pipeline import _em_f1
    from rom_cli.evaluation.reading import pick_answers, retriever_priors

    priors = retriever_priors(split_data["first"], retriever, False, 1.0, weight)
    questions, corpus = split_data["questions"], split_data["corpus"]
    return {f"top{k}": _em_f1(pick_answers(split_data["windows"], corpus, len(questions), k, priors), questions)
            for k in (1, 5)}


def read_split(checkpoint: str, split: str, limit: int, k: int, retriever: str) -> dict:
    from rom_cli.data.load import load_task
    from rom_cli.evaluation.pipeline import AnswerMatcher, EvalSetup, retrieve
    from rom_cli.evaluation.reading import score_windows
    from rom_cli.evaluation.session import effective_config, open_checkpoint, peek_run_config
    from rom_cli.model.passage_tokens import PassageTokens
    from rom_cli.retrieval.bm25 import BM25Retriever

    path, run_cfg = peek_run_config(checkpoint)
    overrides = [f"task.eval_split={split}", f"task.eval_limit={limit}"]
    eff = effective_config(compose("eval", [f"checkpoint={path}", *overrides]), run_cfg, overrides)
    session = open_checkpoint(path, eff.device, eff.precision, eff.threads)
    data = load_task(eff.task, eff.data)
    questions, corpus = data.split(split), data.corpus(split)
    setup = EvalSetup(session.model, session.packer, session.enc_cfg, eff.eval, eff.index, session.device,
                      eff.precision)
    t0 = time.perf_counter()
    bm25 = BM25Retriever.from_passages(corpus)
    scores, idx, _, _ = retrieve(setup, corpus, questions, k, bm25=bm25, retriever=retriever,
                                 hybrid_weight=float(eff.eval.hybrid_weight))
    cands = [[int(p) for p in row[:k] if p >= 0] for row in idx]
    first = np.full((len(cands), k), -np.inf)
    for q, row in enumerate(scores):
        first[q, : len(cands[q])] = row[: len(cands[q])]
    print(f"rerank_study: {split}: reading top-{k} of {len(questions)} questions...", file=sys.stderr, flush=True)
    tokens = PassageTokens(setup.packer, corpus)
    q_ids = setup.packer.tokenize([q.text for q in questions]).ids
    windows = score_windows(setup.model, setup.packer, setup.enc_cfg, q_ids, cands, tokens, eff.eval.batch_size,
                            setup.device, eff.precision)
    matcher = AnswerMatcher(corpus)
    hits = [[matcher.contains(p, matcher.answer_keys(q.answers)) for p in row] for q, row in zip(questions, cands, strict=True)]
    gold = [{corpus.index_of(g) for g in q.gold_passage_ids if g in corpus} for q in questions]
    return {"questions": questions, "corpus": corpus, "cands": cands, "first": first, "hits": hits, "gold": gold,
            "windows": windows, "seconds": time.perf_counter() - t0, "device": session.device,
            "precision": eff.precision, "step": session.step, "task": str(eff.task.name),
            "corpus_passages": len(corpus)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--retriever", default="hybrid", choices=["bm25", "hybrid"])
    ap.add_argument("--k", type=int, default=10, help="first-stage depth that is reordered")
    ap.add_argument("--dev-limit", type=int, default=500, help="dev questions the interpolation weight is fit on")
    ap.add_argument("--test-limit", type=int, default=2000)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    start = time.perf_counter()
    dev = read_split(args.checkpoint, "dev", args.dev_limit, args.k, args.retriever)
    tables = {"dev": passage_table(dev["windows"], dev["cands"])}
    sweep = {}
    for w in WEIGHTS:  # the weight is chosen on dev's gold top-1 only
        sweep[str(w)] = measure(dev, orders(tables["dev"], dev["first"], w)["interpolated"])["gold"]["top1"]
    best_w = max(WEIGHTS, key=lambda w: (sweep[str(w)], -w))
    prior_sweep = {str(w): prior_e2e(dev, w, args.retriever)["top5"]["em"] for w in PRIOR_WEIGHTS}
    prior_w = max(PRIOR_WEIGHTS, key=lambda w: (prior_sweep[str(w)], -w))
    test = read_split(args.checkpoint, "test", args.test_limit, args.k, args.retriever)
    tables["test"] = passage_table(test["windows"], test["cands"])
    results = {}
    for split, data in (("dev", dev), ("test", test)):
        perms = orders(tables[split], data["first"], best_w)
        results[split] = {name: measure(data, perms[name]) for name in VARIANTS}
        results[split]["questions"] = len(data["questions"])
        results[split]["corpus_passages"] = data["corpus_passages"]
        results[split]["read_seconds"] = data["seconds"]
        results[split]["first_stage_prior"] = {"without": prior_e2e(data, 0.0, args.retriever),
                                               "with": prior_e2e(data, prior_w, args.retriever)}
    out = {"name": Path(args.out).stem, "checkpoint": str(args.checkpoint), "step": test["step"], "task": test["task"],
           "retriever": args.retriever, "k": args.k, "variants": VARIANTS,
           "interpolation": {"weights": WEIGHTS, "dev_gold_top1": sweep, "chosen_on_dev": best_w},
           "first_stage_prior": {"weights": PRIOR_WEIGHTS, "dev_e2e_top5_em": prior_sweep, "chosen_on_dev": prior_w},
           "results": results, "precision": test["precision"], "runtime": runtime_info(test["device"]),
           "hardware": {"cpu": cpu_model()},
           "command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d"), "wall_s": time.perf_counter() - start}
    write_json(Path(args.out), out)
    for split in ("dev", "test"):
        print(f"{split} ({results[split]['questions']} questions, top-{args.k} {args.retriever}; w={best_w}):")
        for name in VARIANTS:
            r = results[split][name]
            print(f"  {name:15s} answer@1 {r['answer']['top1']:5.1f} gold@1 {r['gold']['top1']:5.1f} "
                  f"gold@5 {r['gold']['top5']:5.1f} e2e@1 EM {r['end_to_end']['top1']['em']:5.1f} "
                  f"e2e@5 EM {r['end_to_end']['top5']['em']:5.1f}")
        for name, r in results[split]["first_stage_prior"].items():
            print(f"  first-stage order, prior {name:7s} (w={prior_w if name == 'with' else 0.0}): "
                  f"e2e@1 EM {r['top1']['em']:5.1f} e2e@5 EM {r['top5']['em']:5.1f}")
    print(json.dumps({"out": args.out}))


if __name__ == "__main__":
    from rom_cli.errors import RomError

    try:
        main()
    except RomError as ex:  # a bad checkpoint path, a task without a dev or test split: one line
        sys.exit(f"rerank_study: {ex}")
