#!/usr/bin/env python
"""Regenerate benchmarks/README.md from the SQuAD benchmark JSON files (no training).

Every `squad*.json` of the results folder (written by `scripts/bench_squad.py`) becomes one section:
what was run (data, sample sizes, hardware, command) and one table with a row per system (the
untrained model, ROM, three towers, weak and no supervision, BM25, hybrid). A "Targets" section
compares the newest `full`-profile result with the baselines measured on this project's data
(/work/shared/REFERENCE.md, section 4).

    python scripts/bench_table.py [--results benchmarks/results] [--readme benchmarks/README.md]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ROW_ORDER = ["rom_full", "three_towers", "rom_weak", "rom_none", "bm25", "hybrid"]
SHORT = {
    "rom_full": "ROM, shared encoder, full supervision",
    "three_towers": "three towers (DPR-style), full supervision",
    "rom_weak": "ROM, weak supervision (answers only)",
    "rom_none": "ROM, no supervision (corpus only)",
    "bm25": "BM25 (bm25s) + rom_full reader",
    "hybrid": "hybrid BM25 + rom_full + rom_full reader",
}

# Baselines measured on this project's data (REFERENCE.md section 4: MiniLM, 11,877 train questions,
# SQuAD v1.1 dev 10,570 questions over its 2,067 paragraphs). (label, system, metric key, target, source)
TARGETS = [
    ("dense retrieval top-1, one shared encoder", "rom_full", "top1", 67.6,
     "DPR-style two-tower bi-encoder, 3 epochs (45.4M), top-1 67.6"),
    ("dense retrieval top-1, three towers", "three_towers", "top1", 67.6,
     "DPR-style two-tower bi-encoder, 3 epochs (45.4M), top-1 67.6"),
    ("BM25 top-1", "bm25", "top1", 75.0, "BM25 (bm25s, English stopwords), top-1 74.95"),
    ("reader EM on the gold paragraph, one shared encoder", "rom_full", "reader_em", 59.3,
     "HF-style reader, 3 epochs, len 384 / stride 128: EM 59.3 / F1 70.6"),
    ("end-to-end EM, dense top-1 + reader, one shared encoder", "rom_full", "e2e_em@1", 46.3,
     "BM25 top-1 + that reader: EM 46.3 (F1 55.7)"),
    ("end-to-end EM, BM25 top-1 + rom_full reader", "bm25", "e2e_em@1", 46.3,
     "BM25 top-1 + that reader: EM 46.3 (F1 55.7)"),
    ("end-to-end EM, hybrid top-1 + rom_full reader", "hybrid", "e2e_em@1", 46.3,
     "BM25 top-1 + that reader: EM 46.3 (F1 55.7)"),
]


# -- reading ---------------------------------------------------------------------------------------
def load_results(results_dir: Path) -> list[tuple[Path, dict]]:
    """(path, result) for every squad*.json, oldest date first."""
    out = []
    for path in sorted(Path(results_dir).glob("squad*.json")):
        try:
            out.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except ValueError:
            continue
    return sorted(out, key=lambda pr: (str(pr[1].get("date", "")), pr[0].name))


def _get(d, *path):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def numbers(metrics: dict | None, read_ks) -> dict:
    """The table's metrics of one evaluation (metrics.json's `final` / `step0` structure)."""
    if not metrics:
        return {}
    out = {f"top{k}": _get(metrics, "retrieval", "gold", f"top{k}") for k in (1, 5, 20, 100)}
    out["reader_em"] = _get(metrics, "reader_gold", "em")
    out["reader_f1"] = _get(metrics, "reader_gold", "f1")
    for k in read_ks:
        out[f"e2e_em@{k}"] = _get(metrics, "end_to_end", f"top{k}", "em")
        out[f"e2e_f1@{k}"] = _get(metrics, "end_to_end", f"top{k}", "f1")
    return out


def read_ks(result: dict) -> list[int]:
    ks = _get(result, "settings", "read_top_k")
    if ks:
        return [int(k) for k in ks]
    for entry in result.get("systems", {}).values():
        e2e = _get(entry, "final", "end_to_end")
        if e2e:
            return sorted(int(k[3:]) for k in e2e)
    return [1]


# -- formatting ------------------------------------------------------------------------------------
def fmt_num(v, digits: int = 1) -> str:
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def fmt_params(n) -> str:
    if n is None:
        return "-"
    if n == 0:
        return "0"
    return f"{n / 1e6:.1f}M"


def fmt_int(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def index_rate(entry: dict):
    """Passages indexed per second: the final evaluation's encoding of the eval corpus (the same
    measurement for every dense row), BM25's indexing rate for BM25; else the live-index rebuilds."""
    if entry.get("kind") == "retriever":
        return entry.get("index_passages_per_s")
    return entry.get("eval_index_passages_per_s") or entry.get("index_passages_per_s")


def table(result: dict) -> list[str]:
    ks = read_ks(result)
    header = ["system", "params", "peak MB", "train ex/s", "index p/s", "top-1", "top-5", "top-20", "top-100",
              "reader EM", "reader F1"]
    for k in ks:
        header += [f"e2e EM @{k}", f"e2e F1 @{k}"]
    header.append("wall s")
    keys = ["top1", "top5", "top20", "top100", "reader_em", "reader_f1"]
    for k in ks:
        keys += [f"e2e_em@{k}", f"e2e_f1@{k}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    systems = result.get("systems", {})
    ref = systems.get("rom_full") or next((e for e in systems.values() if e.get("step0")), None)
    if ref and ref.get("step0"):
        n = numbers(ref["step0"], ks)
        encoder = (ref.get("config") or {}).get("encoder", "encoder")
        lines.append("| " + " | ".join([f"untrained {encoder} (step 0), shared encoder", fmt_params(ref.get("parameters")),
                                        "-", "-", fmt_int(_get(ref, "step0", "speed", "index_passages_per_s"))]
                                       + [fmt_num(n.get(key)) for key in keys] + ["-"]) + " |")
    for name in ROW_ORDER + [s for s in systems if s not in ROW_ORDER]:
        entry = systems.get(name)
        if entry is None:
            continue
        label = f"{SHORT.get(name, name)} (`{name}`)"
        if "error" in entry:
            lines.append("| " + " | ".join([label, f"failed: {entry['error']}"] + [""] * (len(header) - 2)) + " |")
            continue
        n = numbers(entry.get("final"), ks)
        lines.append("| " + " | ".join(
            [label, fmt_params(entry.get("parameters")), fmt_int(entry.get("peak_memory_mb")),
             fmt_num(entry.get("train_examples_per_s")), fmt_int(index_rate(entry))]
            + [fmt_num(n.get(key)) for key in keys] + [fmt_int(entry.get("wall_s"))]) + " |")
    return lines


def step0_table(result: dict) -> list[str]:
    """Step 0 -> final for every trained system that was also evaluated untrained."""
    ks = read_ks(result)
    rows = [(name, e) for name, e in result.get("systems", {}).items() if e.get("step0") and e.get("final")]
    if not rows:
        return []
    k = ks[0]
    keys = [("top1", "top-1"), ("top20", "top-20"), ("reader_em", "reader EM"), (f"e2e_em@{k}", f"e2e EM @{k}")]
    lines = ["What training bought (step 0 -> final, same evaluation):", "",
             "| system | " + " | ".join(label for _, label in keys) + " |", "|---|" + "---:|" * len(keys)]
    for name, e in rows:
        a, b = numbers(e["step0"], ks), numbers(e["final"], ks)
        lines.append(f"| `{name}` | " + " | ".join(f"{fmt_num(a.get(key))} -> {fmt_num(b.get(key))}"
                                                   for key, _ in keys) + " |")
    return lines


def section(path: Path, result: dict) -> list[str]:
    sample, settings, hw = result.get("sample", {}), result.get("settings", {}), result.get("hardware", {})
    data = result.get("data", {})
    ks = read_ks(result)
    title = f"## {path.stem} (profile `{result.get('profile')}`)"
    status = "" if result.get("complete") else " **(incomplete: a system failed or the run was cut short)**"
    device = hw.get("gpu") or f"{hw.get('cpu', '?')}, {hw.get('cpu_cores', '?')} cores"
    batch = settings.get("batch_sizes") or {}
    every = settings.get("index_refresh_every", "?")
    refresh = ("live index built once, at step 0 (rom_none needs none)" if every is None
               else f"live index rebuilt every {every} steps (rom_none needs none)")
    lines = [title + status, ""]
    lines.append(f"- data: train `{data.get('train_file', '-')}`, test `{data.get('eval_file', '-')}` "
                 f"(data root `{data.get('root', '-')}`)")
    lines.append(f"- sample: {fmt_int(sample.get('train_questions'))} train questions "
                 f"({fmt_int(sample.get('train_passages'))} train paragraphs), "
                 f"{fmt_int(sample.get('eval_questions'))} {sample.get('eval_split', 'eval')} questions retrieving "
                 f"from {fmt_int(sample.get('corpus_passages'))} passages")
    lines.append(f"- hardware: {device} (device `{hw.get('device', '?')}`, torch threads "
                 f"{hw.get('torch_threads', '?')}, torch {hw.get('torch', '?')})")
    lines.append(f"- training: {settings.get('max_steps', '?')} steps, seed {settings.get('seed', '?')}, "
                 f"{settings.get('precision', '?')}, mixture rom (ict + retrieval + reader), "
                 f"{str(settings.get('schedule', 'round_robin')).replace('_', ' ')}"
                 + (f", lr {settings['lr']:g} (heads x {settings.get('head_lr_scale', 1):g})" if "lr" in settings else "")
                 + "; batches "
                 f"ict {batch.get('ict', '?')}, retrieval {batch.get('retrieval', '?')} "
                 f"(+{batch.get('retrieval_hard_negatives', '?')} hard negative each), reader "
                 f"{batch.get('reader', '?')} x {batch.get('reader_passages_per_question', '?')} windows; passages "
                 f"<= {settings.get('passage_max_length', '?')} tokens, reader windows <= "
                 f"{settings.get('reader_max_length', '?')}; {refresh}")
    lines.append(f"- command: `{result.get('command', '?')}` ({result.get('date', '?')}, commit "
                 f"`{(result.get('git') or {}).get('commit') or '?'}`"
                 f"{' + local changes' if (result.get('git') or {}).get('dirty') else ''}); "
                 f"total wall time {fmt_int(result.get('total_wall_s'))} s ({fmt_num((result.get('total_wall_s') or 0) / 60)} min)")
    usage = [(name, e["usage"]) for name, e in result.get("systems", {}).items() if e.get("usage")]
    if usage:
        lines.append("- CPU use per system process (CPU-seconds per wall-second; 1-minute load average at its "
                     "start / end; a load above the core count means other work shared the machine): "
                     + "; ".join(f"{name} {fmt_num(u.get('cpu_per_wall_s'))} ({fmt_num(u.get('loadavg_1min_start'))}"
                                 f" / {fmt_num(u.get('loadavg_1min_end'))})" for name, u in usage))
    for note in result.get("notes") or []:
        lines.append(f"- note: {note}")
    lines += ["", *table(result), ""]
    lines.append(f"top-k: the gold paragraph among the first k retrieved. Reader EM / F1: read on the gold paragraph. "
                 f"e2e @k: the reader reads the top-{', top-'.join(str(k) for k in ks)} passages of that row's "
                 "retriever and answers with its best span (relevance + span score; dense rows also add the "
                 "retriever's score). params: parameters used at inference (BM25 retrieval has none; hybrid "
                 "uses rom_full's encoder; both read with rom_full's reader). peak MB: the process's maximum "
                 "resident memory on CPU (CUDA: maximum allocated); BM25 and hybrid share one evaluation process. "
                 "train ex/s: training examples per second over all tasks (ict + retrieval + reader, batches only). "
                 "index p/s: passages per second encoding the eval corpus into the dense index (BM25: passages "
                 "indexed per second; the live-index rebuilds during training are in the JSON). wall s: the "
                 "system's whole process (start, load, train, evaluate); BM25 and hybrid: their evaluation.")
    extra = step0_table(result)
    if extra:
        lines += ["", *extra]
    repro = result.get("dense_reproduces_training")
    if repro:
        verdict = ("reproduced exactly" if repro.get("reproduced")
                   else f"differs in {len(repro.get('differences', []))} values")
        lines += ["", f"rom_full re-evaluated from its checkpoint (the `rom eval` code path): {verdict}."]
    return lines + [""]


def verdict(value, target) -> str:
    if value is None:
        return "not measured"
    diff = value - target
    return f"met (+{diff:.1f})" if diff >= 0 else f"missed by {-diff:.1f} points"


def targets(results: list[tuple[Path, dict]]) -> list[str]:
    full = [(p, r) for p, r in results if r.get("profile") == "full"]
    lines = ["## Targets", "",
             "Baselines measured on this project's data (REFERENCE.md section 4: MiniLM; 11,877 train questions; "
             "SQuAD v1.1 dev, 10,570 questions over its 2,067 paragraphs), against the newest `full`-profile "
             "result. Only the `full` profile uses all the data, so only it is compared.", ""]
    if not full:
        lines += ["| target | baseline | measured |", "|---|---:|---|"]
        for label, _, _, target, source in TARGETS:
            lines.append(f"| {label} ({source}) | {target:.1f} | not measured yet |")
        return lines + ["", "No `full`-profile result exists yet: run `scripts/gpu_bench.sh OUT_DIR` on a GPU "
                            "(or the full profile on a CPU in the background) and commit its JSON here.", ""]
    path, result = full[-1]
    ks = read_ks(result)
    lines += [f"From `{path.name}` ({result.get('date', '?')}):", "",
              "| target | baseline | measured | verdict |", "|---|---:|---:|---|"]
    for label, system, key, target, source in TARGETS:
        entry = result.get("systems", {}).get(system) or {}
        value = numbers(entry.get("final"), ks).get(key)
        lines.append(f"| {label} ({source}) | {target:.1f} | {fmt_num(value)} | {verdict(value, target)} |")
    return lines + [""]


def render(results: list[tuple[Path, dict]], others: list[str] = ()) -> str:
    lines = ["# Benchmarks", "",
             "Generated by `python scripts/bench_table.py` from `benchmarks/results/squad*.json` (written by "
             "`scripts/bench_squad.py`, `make bench` for the `cpu_small` profile, `scripts/gpu_bench.sh` for the "
             "`full` profile on a GPU). Do not edit by hand.", "",
             "Every result trains ROM (one shared MiniLM encoder for queries, passages and the reader, mixture "
             "ict + retrieval + reader), the DPR-style baseline with three towers, and ROM under weak and no "
             "supervision, with one seed and the same data, steps, batch sizes and precision; then evaluates BM25 "
             "and hybrid BM25 + ROM retrieval on the same questions. Train: SQuAD v1.1 "
             "`train-v1.1-subset-du2017test.json` (11,877 questions); test: SQuAD v1.1 dev (10,570 questions) "
             "retrieving from its 2,067 paragraphs (the profiles subsample the questions, never the corpus).", ""]
    lines += targets(results)
    if not results:
        lines += ["No results yet: run `make bench`.", ""]
    for path, result in reversed(results):  # newest first
        lines += section(path, result)
    if others:
        lines += ["Other files here: " + ", ".join(f"`{o}`" for o in others) + " (trainer and index-rebuild "
                  "overhead against the bare model, written by `scripts/bench_speed.py`).", ""]
    return "\n".join(lines)


def write_readme(results_dir: Path, readme: Path) -> Path:
    readme = Path(readme)
    readme.parent.mkdir(parents=True, exist_ok=True)
    tmp = readme.with_name(f".{readme.name}.tmp")
    others = sorted(p.name for p in Path(results_dir).glob("speed*.json"))
    tmp.write_text(render(load_results(results_dir), others), encoding="utf-8")
    os.replace(tmp, readme)
    return readme


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--readme", default=str(REPO / "benchmarks" / "README.md"))
    args = parser.parse_args(argv)
    print(write_readme(Path(args.results), Path(args.readme)))


if __name__ == "__main__":
    main()
