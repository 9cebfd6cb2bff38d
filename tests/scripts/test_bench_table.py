"""scripts/bench_table.py on a tiny fake result, and scripts/bench_squad.py end to end on the smoke
profile (the tiny random encoder on the demo task: no SQuAD needed)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_metrics(top1: float, reader_em: float = 50.0, e2e_em: float = 40.0) -> dict:
    return {
        "retrieval": {"gold": {"top1": top1, "top5": top1 + 10, "top20": top1 + 20, "top100": 99.0},
                      "answer": {"top1": top1 + 1}},
        "reader_gold": {"em": reader_em, "f1": reader_em + 10},
        "end_to_end": {"top1": {"em": e2e_em, "f1": e2e_em + 9}, "top5": {"em": e2e_em - 2, "f1": e2e_em + 7}},
        "speed": {"index_passages_per_s": 111.0},
    }


def fake_result(profile: str = "cpu_small", date: str = "2026-11-26T12:00:00+00:00") -> dict:
    trained = {"kind": "trained", "parameters": 22_713_601, "peak_memory_mb": 2048.0, "train_examples_per_s": 5.25,
               "index_passages_per_s": 100.0, "eval_index_passages_per_s": 120.0, "wall_s": 500.0}
    return {
        "name": f"squad-{profile}", "profile": profile, "complete": True, "date": date,
        "command": f"python scripts/bench_squad.py --profile {profile}", "git": {"commit": "abc123", "dirty": False},
        "hardware": {"cpu": "Test CPU", "cpu_cores": 2, "device": "cpu", "torch_threads": 2, "gpu": None},
        "data": {"root": "../shared/data", "train_file": "squad/train.json", "eval_file": "squad/dev.json"},
        "sample": {"train_questions": 2000, "train_passages": 2429, "eval_split": "dev", "eval_questions": 300,
                   "corpus_passages": 2067},
        "settings": {"max_steps": 150, "seed": 42, "precision": "bf16", "read_top_k": [1, 5], "index_refresh_every": None,
                     "batch_sizes": {"ict": 32, "retrieval": 16, "retrieval_hard_negatives": 1, "reader": 8,
                                     "reader_passages_per_question": 4}},
        "total_wall_s": 2100.0, "notes": ["a note about this run"],
        "systems": {
            "rom_full": {**trained, "config": {"encoder": "minilm"}, "step0": fake_metrics(60.0, 1.0, 0.5),
                         "final": fake_metrics(70.0, 61.0, 47.0),
                         "usage": {"cpu_per_wall_s": 1.93, "loadavg_1min_start": 0.5, "loadavg_1min_end": 2.1}},
            "three_towers": {**trained, "parameters": 68_140_803, "step0": None, "final": fake_metrics(66.0)},
            "rom_weak": {**trained, "step0": None, "final": fake_metrics(64.0)},
            "rom_none": {"kind": "trained", "error": "training exited with code 1"},
            "bm25": {"kind": "retriever", "parameters": 0, "peak_memory_mb": 900.0, "train_examples_per_s": None,
                     "index_passages_per_s": 40_000.0, "wall_s": 30.0, "step0": None,
                     "final": fake_metrics(74.0, 61.0, 45.0)},
            "hybrid": {"kind": "retriever", "parameters": 22_713_601, "peak_memory_mb": 900.0,
                       "train_examples_per_s": None, "index_passages_per_s": 110.0, "wall_s": 30.0, "step0": None,
                       "final": fake_metrics(78.5, 61.0, 48.0)},
        },
    }


def test_table_rows_and_targets_not_measured(tmp_path):
    bench_table = load_script("bench_table")
    results = tmp_path / "results"
    results.mkdir()
    (results / "squad-cpu_small.json").write_text(json.dumps(fake_result()))
    (results / "speed-cpu.json").write_text("{}")  # not a squad result: listed, not tabulated
    (results / "other.json").write_text(json.dumps(fake_result()))  # ignored: name does not start with squad
    readme = bench_table.write_readme(results, tmp_path / "README.md")
    text = readme.read_text()
    assert text.count("## squad-cpu_small") == 1 and "## other" not in text
    assert "`speed-cpu.json`" in text
    assert "2,000 train questions" in text and "300 dev questions" in text and "2,067 passages" in text
    assert "python scripts/bench_squad.py --profile cpu_small" in text
    assert "- note: a note about this run" in text and "rom_full 1.9 (0.5 / 2.1)" in text
    assert "live index built once, at step 0" in text
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    full = rows["ROM, shared encoder, full supervision (`rom_full`)"]
    assert "| 22.7M | 2,048 | 5.2 | 120 | 70.0 | 80.0 | 90.0 | 99.0 | 61.0 | 71.0 | 47.0 | 56.0 | 45.0 | 54.0 | 500 |" in full
    assert "68.1M" in rows["three towers (DPR-style), full supervision (`three_towers`)"]
    assert "failed" in rows["ROM, no supervision (corpus only) (`rom_none`)"]
    assert "| 0 |" in rows["BM25 (bm25s) + rom_full reader (`bm25`)"]
    assert "untrained minilm (step 0), shared encoder" in rows
    assert "| `rom_full` | 60.0 -> 70.0 |" in text
    assert "e2e EM @1" in text and "e2e F1 @5" in text
    targets = text.split("## Targets")[1].split("## squad")[0]
    assert targets.count("not measured yet") == len(bench_table.TARGETS) + len(bench_table.FULL_TARGETS)
    assert "CPU profile targets" not in text  # no cpu_long result


def rerank_metrics(top1: float, e2e5: float) -> dict:
    return {"k": 10, "gold": {"top1": top1, "top5": 97.0}, "answer": {"top1": top1 + 1},
            "end_to_end": {"top1": {"em": e2e5 - 3, "f1": e2e5 + 5}, "top5": {"em": e2e5, "f1": e2e5 + 8}},
            "windows": 20000, "windows_per_s": 95.0}


def cpu_long_result(seed: int, reader_em: float, with_peers: bool = True) -> dict:
    result = fake_result("cpu_long", f"2026-11-30T0{seed - 40}:00:00+00:00")
    result["settings"]["seed"] = seed
    systems = result["systems"]
    systems["rom_full"]["final"] = fake_metrics(70.0, reader_em, 30.0)
    systems["rom_full"]["train_tasks"] = {"reader": {"examples": 1600, "batches": 200, "examples_per_s": 3.0}}
    systems["rom_full"]["learning_curve"] = [
        {"step": 100, "split": "dev", "retrieval.gold.top1": 60.0, "reader_gold.em": 5.0, "reader_gold.f1": 9.0,
         "end_to_end.top1.em": 4.0},
        {"step": 200, "split": "dev", "retrieval.gold.top1": 66.0, "reader_gold.em": 25.0, "reader_gold.f1": 35.0,
         "end_to_end.top1.em": 20.0}]
    for name in ("rom_weak", "rom_none"):
        systems.pop(name)
    if not with_peers:
        for name in ("three_towers", "bm25", "hybrid"):
            systems.pop(name)
        return result
    systems["three_towers"]["final"] = fake_metrics(66.0, 20.0, 25.0)
    systems["hybrid"]["final"]["rerank"] = rerank_metrics(85.0, 31.0)
    systems["separate_reader"] = {
        "kind": "peer", "parameters": 22_566_146, "peak_memory_mb": 2400.0, "train_examples_per_s": 15.0,
        "wall_s": 400.0, "steps": 200, "seeds": [0, 1, 2], "reader_questions": [1598, 1599, 1600],
        "recipe": {"max_length": 384, "stride": 128, "lr": 1e-4, "warmup": 0.1, "batch_size": 8},
        "spread": {"em": {"mean": 20.0, "min": 15.0, "max": 25.0, "values": [15.0, 20.0, 25.0]},
                   "f1": {"mean": 30.0, "min": 25.0, "max": 35.0, "values": [25.0, 30.0, 35.0]}},
        "per_seed": [{"seed": i, "reader_gold": {"em": em, "f1": em + 10}} for i, em in enumerate([15.0, 20.0, 25.0])],
        "final": {"reader_gold": {"em": 20.0, "f1": 30.0}}}
    return result


def test_cpu_long_rows_learning_curve_and_targets(tmp_path):
    bench_table = load_script("bench_table")
    results = tmp_path / "results"
    results.mkdir()
    (results / "squad-cpu_long.json").write_text(json.dumps(cpu_long_result(42, 24.0)))
    (results / "squad-cpu_long-seed43.json").write_text(json.dumps(cpu_long_result(43, 30.0, with_peers=False)))
    other = cpu_long_result(44, 99.0, with_peers=False)
    other["settings"]["max_steps"] = 999  # other settings: not pooled with the seeds
    (results / "squad-cpu_long-other.json").write_text(json.dumps(other))
    text = bench_table.render(bench_table.load_results(results))
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    reranked = [line for label, line in rows.items() if label.startswith("hybrid") and "reranked" in label]
    assert reranked and "| 95 windows/s | 85.0 | 97.0 | - | - |" in reranked[0]
    peer = next(line for label, line in rows.items() if label.startswith("separate reader"))
    assert "| 20.0 [15.0-25.0] | 30.0 [25.0-35.0] |" in peer
    assert "Learning curve: every 100 steps on `dev`" in text and "| 200 | 66.0 | 25.0 | 35.0 | 20.0 |" in text
    assert "as many features as rom_full's reader saw questions (1,600" in text
    cpu = text.split("### CPU profile targets")[1].split("## squad")[0]
    assert "From `squad-cpu_long.json`" in cpu
    assert ("rom_full 27.0 [24.0-30.0, 2 seeds]; separate reader 20.0 [15.0-25.0, 3 seeds] | met (+7.0); "
            "rom_full has 2 seeds of 3 |") in cpu
    assert "| 70.0 vs 66.0 | met (+4.0) |" in cpu  # top-1 against three towers
    assert "| 85.0 vs 78.5 + 5 | met (+1.5) |" in cpu  # reranked hybrid top-1
    assert "| 31.0 | met (+6.0) |" in cpu  # e2e EM reading the reranked top-5


def test_targets_compare_the_newest_full_result(tmp_path):
    bench_table = load_script("bench_table")
    results = tmp_path / "results"
    results.mkdir()
    old = fake_result("full", "2026-11-01T00:00:00+00:00")
    old["systems"]["rom_full"]["final"] = fake_metrics(10.0)
    (results / "squad-full-old.json").write_text(json.dumps(old))
    (results / "squad-full.json").write_text(json.dumps(fake_result("full")))
    text = bench_table.render(bench_table.load_results(results))
    targets = text.split("## Targets")[1].split("## squad")[0]
    assert "From `squad-full.json`" in targets
    assert "not measured yet" not in targets
    assert "| 67.6 | 70.0 | met (+2.4) |" in targets  # rom_full top-1
    assert "| 67.6 | 66.0 | missed by 1.6 points |" in targets  # three towers top-1
    assert "| 75.0 | 74.0 | missed by 1.0 points |" in targets  # BM25 top-1
    assert "| 59.3 | 61.0 | met (+1.7) |" in targets  # reader EM
    assert "| 46.3 | 47.0 | met (+0.7) |" in targets  # e2e EM
    assert text.index("## squad-full (") < text.index("## squad-full-old")  # newest section first


@pytest.mark.slow
def test_bench_squad_smoke_profile(tmp_path):
    out_dir, runs = tmp_path / "results", tmp_path / "runs"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_squad.py"), "--profile", "smoke",
                           "--out-dir", str(out_dir), "--runs-dir", str(runs), "--name", "squad-smoke"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out_dir / "squad-smoke.json").read_text())
    assert result["complete"] and result["profile"] == "smoke"
    assert set(result["systems"]) == {"rom_full", "three_towers", "rom_weak", "rom_none", "bm25", "hybrid",
                                      "separate_reader"}
    assert result["sample"]["train_questions"] == 32 and result["sample"]["eval_questions"] == 8
    assert result["hardware"]["cpu_cores"] and result["hardware"]["torch_threads"] == 1
    systems = result["systems"]
    assert systems["three_towers"]["parameters"] > 2.5 * systems["rom_full"]["parameters"]
    assert systems["bm25"]["parameters"] == 0
    for name in ("rom_full", "three_towers", "rom_weak", "rom_none"):
        s = systems[name]
        assert s["train_steps"] == 3 and s["step0"] and s["final"]["retrieval"]["questions"] == 8
        assert s["peak_memory_mb"] > 0 and s["train_examples_per_s"] > 0 and s["wall_s"] > 0
        assert s["config"]["supervision"] == {"rom_weak": "weak", "rom_none": "none"}.get(name, "full")
    for name in ("bm25", "hybrid"):
        assert systems[name]["final"]["retriever"] == name
        assert systems[name]["final"]["reader_gold"] == systems["rom_full"]["final"]["reader_gold"]
    assert result["dense_reproduces_training"]["reproduced"] is True
    rerank = systems["hybrid"]["final"]["rerank"]
    assert rerank["k"] == 5 and rerank["gold"]["top5"] == systems["hybrid"]["final"]["retrieval"]["gold"]["top5"]
    assert "rerank" not in systems["bm25"]["final"]  # the profile reranks hybrid only
    curve = systems["rom_full"]["learning_curve"]
    assert [p["step"] for p in curve] == [3] and curve[0]["split"] == "dev" and "reader_gold.em" in curve[0]
    peer = systems["separate_reader"]
    assert peer["seeds"] == [0, 1] and len(peer["per_seed"]) == 2 and peer["final"]["reader_gold"]["questions"] == 8
    assert peer["steps"] * 8 >= systems["rom_full"]["train_tasks"]["reader"]["examples"]
    readme = (out_dir / "README.md").read_text()
    assert "## squad-smoke (profile `smoke`)" in readme and "(`hybrid`)" in readme
    assert "reranked by the rom_full reader's relevance head" in readme and "Learning curve" in readme
    assert not list(out_dir.glob(".*.tmp"))  # atomic writes leave no temporary files
