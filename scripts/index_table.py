#!/usr/bin/env python
"""Render `scripts/bench_index.py` JSON results as markdown tables (for the README).

    python scripts/index_table.py benchmarks/results/index-100000.json [more.json ...] [--out FILE]

One section per file: what was measured (N, dim, vectors, queries, machine), then one row per index
configuration and search setting. "target" marks the rows that hold at most 1/8 of flat's bytes
with recall@100 >= 0.95 (the whole exact top-100 set); "nn" marks the weaker form, the exact
nearest neighbour inside the approximate top-100 for >= 95% of the queries.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HEADER = ("| index | search | build s | MB | bytes/vec | vs flat | queries/s | R@1 | R@10 | R@100 | NN in 100 | target |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")


def _num(x, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def _search(row: dict) -> str:
    text = " ".join(f"{k}={v}" for k, v in (row.get("search") or {}).items())
    return text or ("exact" if row.get("family") == "flat" else "–")


def render_rows(result: dict) -> str:
    lines = [HEADER]
    for row in result["rows"]:
        if row.get("error"):
            lines.append(f"| {row['name']} | – | – | – | – | – | – | – | – | – | – | error: {row['error']} |")
            continue
        mark = "yes" if row.get("meets_target") else ("nn" if row.get("meets_nn_target") else "")
        lines.append(
            f"| {row['name']} | {_search(row)} | {_num(row.get('build_s'), '.1f')} "
            f"| {_num(row['bytes'] / 1e6, '.1f')} | {_num(row.get('bytes_per_vector'), '.0f')} "
            f"| {_num(row.get('memory_vs_flat'), '.3f')} | {_num(row.get('qps'), ',.0f')} "
            f"| {_num(row.get('recall@1'), '.3f')} | {_num(row.get('recall@10'), '.3f')} "
            f"| {_num(row.get('recall@100'), '.3f')} | {_num(row.get('nn_in_100'), '.3f')} | {mark} |"
        )
    return "\n".join(lines)


def render(result: dict) -> str:
    m = result.get("machine", {})
    v = result.get("vectors", {})
    stats = result.get("stats", {})
    head = [
        f"### FAISS indexes over {result['n']:,} vectors of dim {result['dim']}",
        "",
        f"- vectors: {v.get('source', '?')}"
        + (f" ({v.get('description')})" if v.get("description") else ""),
        f"- queries: {result['queries']:,} ({result.get('query_source', '')}), k={result['k']}; "
        "recall is measured against exact flat search of the same queries",
        f"- machine: {m.get('cpu', '?')}, {m.get('threads', '?')} FAISS thread(s) of {m.get('cores', '?')} cores; "
        f"faiss {m.get('faiss', '?')}, numpy {m.get('numpy', '?')}, torch {m.get('torch', '?')}",
    ]
    if stats:
        head.append(f"- difficulty (inner products, cosines for normalised vectors): random pairs "
                    f"{stats.get('random_pair_score')}, query to its exact top-1 {stats.get('top1_score')}, "
                    f"top-10th {stats.get('top10_score')}, top-100th {stats.get('top100_score')}")
    if result.get("command"):
        head.append(f"- command: `{result['command']}`; {result.get('total_s', 0):.0f} s in all")
    return "\n".join(head) + "\n\n" + render_rows(result) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Render bench_index.py JSON results as markdown.")
    ap.add_argument("results", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, help="write here instead of stdout")
    args = ap.parse_args(argv)
    text = "\n".join(render(json.loads(p.read_text(encoding="utf-8"))) for p in args.results)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
