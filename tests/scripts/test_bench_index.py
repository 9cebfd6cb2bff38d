"""scripts/bench_index.py on 5,000 synthetic vectors (and on a small .npy file), and
scripts/index_table.py on its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "scripts" / "bench_index.py"
TABLE = REPO / "scripts" / "index_table.py"
RECALLS = ("recall@1", "recall@10", "recall@100", "nn_in_100")


def run(args, cwd, timeout=300):
    proc = subprocess.run([sys.executable, str(BENCH), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_synthetic_5000(tmp_path):
    out = tmp_path / "index-5000.json"
    proc = run(["--n", "5000", "--queries", "200", "--nprobe", "8,64", "--hnsw-ef", "128", "--pq-m", "48",
                "--pq-train-points", "8192", "--out", str(out)], tmp_path)
    result = json.loads(out.read_text())
    assert result["complete"] and result["n"] == 5000 and result["dim"] == 384 and result["k"] == 100
    assert result["queries"] == 200
    m = result["machine"]
    assert m["cpu"] and m["cores"] >= 1 and m["threads"] == 1 and m["faiss"] and m["numpy"]
    assert result["settings"]["nlist"] == [128]  # ~4 sqrt(N), but at most N/39
    rows = result["rows"]
    assert not [r for r in rows if r.get("error")]
    names = {r["name"] for r in rows}
    assert {"flat", "hnsw M=32", "IVF128,Flat", "IVF128,PQ48x8"} <= names
    assert any(n.startswith("rom DenseIndex ivfpq") for n in names)
    flat = rows[0]
    assert flat["name"] == "flat" and all(flat[k] == 1.0 for k in RECALLS)
    assert flat["memory_vs_flat"] == 1.0 and flat["bytes"] >= 5000 * 384 * 4
    for r in rows:
        assert all(0.0 <= r[k] <= 1.0 for k in RECALLS), r
        assert r["bytes"] > 0 and r["qps"] > 0 and r["build_s"] >= 0
        assert r["meets_target"] == (r["memory_vs_flat"] <= 1 / 8 and r["recall@100"] >= 0.95)
    ivf = [r for r in rows if r["name"] == "IVF128,Flat"]
    assert [r["search"]["nprobe"] for r in ivf] == [8, 64]
    assert ivf[1]["recall@100"] >= ivf[0]["recall@100"]  # more probes, more recall
    pq = next(r for r in rows if r["name"] == "IVF128,PQ48x8")
    assert pq["memory_vs_flat"] < 0.25
    assert 0 <= result["stats"]["random_pair_score"] < result["stats"]["top100_score"] < result["stats"]["top1_score"]
    assert "| flat | exact |" in proc.stdout

    table = subprocess.run([sys.executable, str(TABLE), str(out)], capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("### FAISS indexes over 5,000 vectors of dim 384")
    assert "| IVF128,PQ48x8 | nprobe=64 |" in table.stdout


def test_vectors_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 64)).astype(np.float16)
    np.save(tmp_path / "vecs.npy", x)
    out = tmp_path / "r.json"
    run(["--vectors", str(tmp_path / "vecs.npy"), "--normalize", "--queries", "100", "--configs", "flat,ivfflat,rom",
         "--nlist", "32", "--nprobe", "4,32", "--out", str(out)], tmp_path)
    result = json.loads(out.read_text())
    assert result["n"] == 2900 and result["dim"] == 64  # 100 rows held out as query sources
    assert result["vectors"]["source"].endswith("vecs.npy")
    rows = {(r["name"], r["search"].get("nprobe")): r for r in result["rows"]}
    assert rows[("IVF32,Flat", 32)]["recall@100"] == 1.0  # every list probed: exact
    assert rows[("flat", None)]["recall@1"] == 1.0
    assert any(name.startswith("rom DenseIndex") for name, _ in rows)


def test_bad_config(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH), "--configs", "flat,nope"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and "unknown --configs ['nope']" in proc.stderr
