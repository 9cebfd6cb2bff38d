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

ROW_ORDER = ["rom_full", "three_towers", "rom_weak", "rom_none", "bm25", "hybrid", "separate_reader"]
SHORT = {
    "separate_reader": "separate reader (HF QA recipe, same backbone; mean [min-max] of seeds)",
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


# The `full` profile's own targets (GPU): (label, system, metric key, target).
FULL_TARGETS = [
    ("dense top-1, rom_full", "rom_full", "top1", 70.0),
    ("reranked top-1 (hybrid first stage, rom_full's relevance head)", "hybrid", "rerank_top1", 85.0),
    ("reader EM on the gold paragraph, rom_full", "rom_full", "reader_em", 62.0),
    ("reader F1 on the gold paragraph, rom_full", "rom_full", "reader_f1", 73.0),
    ("end-to-end EM, reranked hybrid top-1, rom_full reader", "hybrid", "rerank_e2e_em@1", 52.0),
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
    rerank = metrics.get("rerank")
    if rerank:
        for k in (1, 5, 20, 100):
            out[f"rerank_top{k}"] = _get(rerank, "gold", f"top{k}")
        for k in read_ks:
            out[f"rerank_e2e_em@{k}"] = _get(rerank, "end_to_end", f"top{k}", "em")
            out[f"rerank_e2e_f1@{k}"] = _get(rerank, "end_to_end", f"top{k}", "f1")
    return out


def reranked_numbers(metrics: dict, read_ks) -> dict:
    """The rerank rows of one evaluation in the keys of `numbers` (top-k within the reranked depth)."""
    n = numbers(metrics, read_ks)
    out = {f"top{k}": n.get(f"rerank_top{k}") for k in (1, 5, 20, 100)}
    for k in read_ks:
        out[f"e2e_em@{k}"] = n.get(f"rerank_e2e_em@{k}")
        out[f"e2e_f1@{k}"] = n.get(f"rerank_e2e_f1@{k}")
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
        cells = {key: fmt_num(n.get(key)) for key in keys}
        spread = entry.get("spread")
        if spread:  # several seeds: mean [min-max]
            for key, metric in (("reader_em", "em"), ("reader_f1", "f1")):
                m = spread.get(metric) or {}
                cells[key] = f"{fmt_num(m.get('mean'))} [{fmt_num(m.get('min'))}-{fmt_num(m.get('max'))}]"
        lines.append("| " + " | ".join(
            [label, fmt_params(entry.get("parameters")), fmt_int(entry.get("peak_memory_mb")),
             fmt_num(entry.get("train_examples_per_s")), fmt_int(index_rate(entry))]
            + [cells[key] for key in keys] + [fmt_int(entry.get("wall_s"))]) + " |")
        rerank = _get(entry, "final", "rerank")
        if rerank:
            r = reranked_numbers(entry["final"], ks)
            rate = rerank.get("windows_per_s")
            lines.append("| " + " | ".join(
                [f"{label} -> top-{rerank.get('k')} reranked by the rom_full reader's relevance head", "+0", "-", "-",
                 f"{fmt_int(rate)} windows/s" if rate else "-"]
                + [fmt_num(r.get(key)) if key in r else "-" for key in keys] + ["-"]) + " |")
    return lines


def curve_table(result: dict) -> list[str]:
    """The learning curves: every trained system's selections on the dev split (trainer.eval_every)."""
    curves = {name: e["learning_curve"] for name, e in result.get("systems", {}).items() if e.get("learning_curve")}
    if not curves:
        return []
    cols = [("retrieval.gold.top1", "top-1"), ("reader_gold.em", "reader EM"), ("reader_gold.f1", "reader F1"),
            ("end_to_end.top1.em", "e2e EM @1")]
    first = next(iter(curves.values()))[0]
    lines = [f"Learning curve: every {first['step']} steps on `{first.get('split')}` (questions held out of the "
             "train file by paragraph; never the test split), the same fixed subset each time:", "",
             "| step | " + " | ".join(f"{name} {label}" for name in curves for _, label in cols) + " |",
             "|---:|" + "---:|" * (len(cols) * len(curves))]
    steps = sorted({p["step"] for c in curves.values() for p in c})
    for step in steps:
        cells = []
        for c in curves.values():
            point = next((p for p in c if p["step"] == step), {})
            cells += [fmt_num(point.get(key)) for key, _ in cols]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
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


def peer_note(result: dict) -> list[str]:
    peer = result.get("systems", {}).get("separate_reader")
    if not peer or "error" in peer:
        return []
    recipe = peer.get("recipe") or {}
    seeds = peer.get("per_seed") or []
    rom_reader = _get(result, "systems", "rom_full", "train_tasks", "reader", "examples")
    return [f"Separate reader: the Hugging Face QA recipe (`scripts/hf_reader.py`: AutoModelForQuestionAnswering, "
            f"features of {recipe.get('max_length')} tokens / stride {recipe.get('stride')}, AdamW {recipe.get('lr'):g}, "
            f"{100 * recipe.get('warmup', 0):.0f} % warm-up, batches of {recipe.get('batch_size')} features) trained for "
            f"{peer.get('steps')} steps, as many features as rom_full's reader saw questions ({fmt_int(rom_reader)}; "
            f"the features came from {', '.join(fmt_int(q) for q in peer.get('reader_questions') or [])} questions), "
            "scored on the same gold paragraphs; per seed EM / F1: "
            + ", ".join(f"seed {r['seed']} {fmt_num(r['reader_gold']['em'])} / {fmt_num(r['reader_gold']['f1'])}"
                        for r in seeds) + "."]


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
    for extra in (step0_table(result), curve_table(result), peer_note(result)):
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
    rows = [(f"{label} ({source})", system, key, target) for label, system, key, target, source in TARGETS]
    rows += [(f"{label} (target of the `full` profile)", system, key, target) for label, system, key, target in FULL_TARGETS]
    if not full:
        lines += ["| target | baseline | measured |", "|---|---:|---|"]
        for label, _, _, target in rows:
            lines.append(f"| {label} | {target:.1f} | not measured yet |")
        return lines + ["", "No `full`-profile result exists yet: run `scripts/gpu_bench.sh OUT_DIR` on a GPU "
                            "(or the full profile on a CPU in the background) and commit its JSON here.", "",
                        *cpu_targets(results)]
    path, result = full[-1]
    ks = read_ks(result)
    lines += [f"From `{path.name}` ({result.get('date', '?')}):", "",
              "| target | baseline | measured | verdict |", "|---|---:|---:|---|"]
    for label, system, key, target in rows:
        entry = result.get("systems", {}).get(system) or {}
        value = numbers(entry.get("final"), ks).get(key)
        lines.append(f"| {label} | {target:.1f} | {fmt_num(value)} | {verdict(value, target)} |")
    return lines + ["", *cpu_targets(results)]


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f} (1 seed)"
    return f"{sum(values) / len(values):.1f} [{min(values):.1f}-{max(values):.1f}, {len(values)} seeds]"


def cpu_targets(results: list[tuple[Path, dict]]) -> list[str]:
    """The CPU profile's targets (issue 14), from the newest `cpu_long` result with every system; rom_full's
    reader EM over every `cpu_long` result of the same settings but the seed (one file per extra seed)."""
    longs = [(p, r) for p, r in results if r.get("profile") == "cpu_long"]
    main = [(p, r) for p, r in longs if {"three_towers", "hybrid", "separate_reader"} <= set(r.get("systems", {}))]
    if not main:
        return []
    path, result = main[-1]
    ks = read_ks(result)
    systems = result["systems"]
    n = {name: numbers(e.get("final"), ks) for name, e in systems.items() if "error" not in e}
    rom, towers, hybrid = n.get("rom_full", {}), n.get("three_towers", {}), n.get("hybrid", {})
    def settings(r):  # what the run trained with, but the seed (and the command line that named it)
        return {k: v for k, v in (r.get("settings") or {}).items()
                if k not in ("seed", "extra_overrides", "system_overrides")}

    rom_em = [r["systems"]["rom_full"]["final"]["reader_gold"]["em"] for _, r in longs
              if _get(r, "systems", "rom_full", "final", "reader_gold", "em") is not None
              and settings(r) == settings(result)]
    peer = (systems.get("separate_reader") or {}).get("spread", {}).get("em", {})
    peer_values = peer.get("values") or []

    def row(label, measured, verdict_text):
        return f"| {label} | {measured} | {verdict_text} |"

    def cmp(a, b, margin=0.0):
        if a is None or b is None:
            return "not measured"
        return f"met ({a - b - margin:+.1f})" if a >= b + margin else f"missed by {b + margin - a:.1f} points"

    rom_mean = sum(rom_em) / len(rom_em) if rom_em else None
    seeds_caveat = ""
    if rom_em and len(rom_em) < 3:  # the issue asks for 3 seeds a side: say when one side has fewer
        inside = peer_values and min(peer_values) <= rom_mean <= max(peer_values)
        seeds_caveat = (f"; rom_full has {len(rom_em)} seed{'s' if len(rom_em) > 1 else ''} of 3"
                        + (", inside the peer's seed spread: not settled" if inside else ""))
    peer_mean = sum(peer_values) / len(peer_values) if peer_values else None
    p_rom, p_tow = (systems.get("rom_full") or {}).get("parameters"), (systems.get("three_towers") or {}).get("parameters")
    lines = ["### CPU profile targets", "",
             f"From `{path.name}` ({result.get('date', '?')}; the `cpu_long` profile: "
             f"{(result.get('sample') or {}).get('eval_questions', '?')} test questions, one 2-core CPU; rom_full's "
             "reader EM over every `cpu_long` result with the same settings but the seed):", "",
             "| target | measured | verdict |", "|---|---|---|",
             row("rom_full reader EM (gold paragraph) >= the separate reader's at the same number of reader questions",
                 f"rom_full {_spread(rom_em) if rom_em else '-'}; separate reader "
                 f"{_spread(peer_values) if peer_values else '-'}", cmp(rom_mean, peer_mean) + seeds_caveat),
             row("rom_full top-1 > three towers top-1",
                 f"{fmt_num(rom.get('top1'))} vs {fmt_num(towers.get('top1'))}", cmp(rom.get("top1"), towers.get("top1"))),
             row(f"rom_full end-to-end EM @{ks[0]} > three towers",
                 f"{fmt_num(rom.get(f'e2e_em@{ks[0]}'))} vs {fmt_num(towers.get(f'e2e_em@{ks[0]}'))}",
                 cmp(rom.get(f"e2e_em@{ks[0]}"), towers.get(f"e2e_em@{ks[0]}"))),
             row("at a third of the parameters", f"{fmt_params(p_rom)} vs {fmt_params(p_tow)}",
                 "met" if p_rom and p_tow and 3 * p_rom <= p_tow * 1.01 else "missed"),
             row("reranked hybrid top-1 >= hybrid top-1 + 5",
                 f"{fmt_num(hybrid.get('rerank_top1'))} vs {fmt_num(hybrid.get('top1'))} + 5",
                 cmp(hybrid.get("rerank_top1"), hybrid.get("top1"), 5.0)),
             row("end-to-end EM reading the reranked hybrid top-5 >= 25",
                 fmt_num(hybrid.get("rerank_e2e_em@5")), cmp(hybrid.get("rerank_e2e_em@5"), 25.0)),
             ""]
    return lines


def render(results: list[tuple[Path, dict]], others: list[str] = ()) -> str:
    lines = ["# Benchmarks", "",
             "Generated by `python scripts/bench_table.py` from `benchmarks/results/squad*.json` (written by "
             "`scripts/bench_squad.py`, `make bench` for the `cpu_small` profile, `scripts/gpu_bench.sh` for the "
             "`full` profile on a GPU, `make bench-long` for the `cpu_long` profile). Do not edit by hand.", "",
             "Every result trains ROM (one shared MiniLM encoder for queries, passages and the reader, mixture "
             "ict + retrieval + reader) and the DPR-style baseline with three towers (`cpu_small` and `full`: also "
             "ROM under weak and no supervision), with one seed and the same data, steps, batch sizes and precision; "
             "then evaluates BM25 and hybrid BM25 + ROM retrieval on the same questions (`cpu_long` and `full`: "
             "also the hybrid top-k reranked by ROM's reader, and `cpu_long` the separate-reader peer, the Hugging "
             "Face QA recipe, under three seeds). Train: SQuAD v1.1 "
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
