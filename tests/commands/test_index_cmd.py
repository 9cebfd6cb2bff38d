"""`rom index`: a self-contained index folder, reused by `rom eval`, refused when it does not match."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rom_cli.data.types import InMemoryCorpus, Passage
from rom_cli.errors import RomError
from rom_cli.retrieval.faiss_index import DenseIndex
from rom_cli.retrieval.index_store import load_index_folder, save_index_folder
from tests.commands.conftest import one_line_error, rom


def test_index_folder_round_trip_and_eval_reuse(trained_run, index_dir, tmp_path):
    meta = json.loads((index_dir / "meta.json").read_text())
    ckpt_meta = json.loads(next((trained_run / "checkpoints").glob("step-*/meta.json")).read_text())
    assert meta["fingerprint"] == ckpt_meta["fingerprint"]  # the loaded weights hash like the trained ones
    assert meta["type"] == "flat" and meta["extra"]["task"] == "demo" and meta["extra"]["split"] == "test"
    folder = load_index_folder(index_dir, expected_fingerprint=meta["fingerprint"], expected_count=meta["count"])
    assert len(folder.passages) == meta["count"] and folder.passages[0].text
    assert (index_dir / "passages.tsv").is_file() and (index_dir / "shards").is_dir()  # the demo is in memory

    out = rom("eval", f"checkpoint={trained_run}", f"index_dir={index_dir}", "compare=false",
              f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["index"] == str(index_dir) and report["training"]["reproduced"] is True


def test_index_refuses_another_encoder_or_count(index_dir, trained_run, tmp_path):
    fingerprint = json.loads((index_dir / "meta.json").read_text())["fingerprint"]
    with pytest.raises(RomError, match="fingerprint mismatch"):
        load_index_folder(index_dir, expected_fingerprint="0" * 16)
    with pytest.raises(RomError, match="passage count mismatch"):
        load_index_folder(index_dir, expected_fingerprint=fingerprint, expected_count=3)
    other = tmp_path / "other"
    shutil.copytree(index_dir, other)
    meta = json.loads((other / "meta.json").read_text())
    meta["fingerprint"] = "0123456789abcdef"
    (other / "meta.json").write_text(json.dumps(meta))
    line = one_line_error(rom("eval", f"checkpoint={trained_run}", f"index_dir={other}",
                              f"hydra.run.dir={tmp_path / 'run'}"))
    assert "fingerprint mismatch" in line and "0123456789abcdef" in line
    with open(other / "passages.tsv", "a") as fh:
        fh.write("extra\tone too many\t\n")
    with pytest.raises(RomError, match="passage count mismatch"):
        load_index_folder(other)


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_approximate_index_folders_round_trip(kind, tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(700, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    corpus = InMemoryCorpus([Passage(f"p{i}", f"text {i}", f"title {i}") for i in range(700)])
    cfg = {"type": kind, "hnsw_m": 16, "hnsw_ef_construction": 64, "hnsw_ef_search": 64, "ivf_nlist": 8,
           "ivf_nprobe": 8, "pq_m": 4, "pq_bits": 4}
    index = DenseIndex.build(vectors, cfg)
    save_index_folder(tmp_path / "idx", index, corpus, "f" * 16, {"note": kind})
    folder = load_index_folder(tmp_path / "idx", expected_fingerprint="f" * 16, expected_count=700)
    assert folder.index.kind == kind and folder.meta["extra"]["note"] == kind
    np.testing.assert_array_equal(folder.index.search(vectors[:5], 3)[1], index.search(vectors[:5], 3)[1])
    assert folder.passages[699] == corpus[699]


def test_rom_index_hnsw_from_the_command_line(trained_run, tmp_path):
    out = rom("index", f"checkpoint={trained_run}", "index=hnsw", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    meta = json.loads((tmp_path / "index" / "meta.json").read_text())
    assert meta["type"] == "hnsw" and meta["params"]["m"] == 32 and meta["extra"]["config"]["type"] == "hnsw"
    assert (tmp_path / "index" / "passages.tsv").is_file() and "hnsw" in out.stdout


def test_save_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    index = DenseIndex.build(np.eye(4, dtype=np.float32), {"type": "flat"})
    corpus = InMemoryCorpus([Passage(f"p{i}", "t") for i in range(4)])
    with pytest.raises(RomError, match="refusing to overwrite"):
        save_index_folder(tmp_path / "mine", index, corpus, "f" * 16)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def _rows(folder):
    """Every vector of an index folder (flat), in row order."""
    index = load_index_folder(folder, with_passages=False).index.index
    return index.reconstruct_n(0, index.ntotal)


@pytest.mark.slow
def test_four_shards_then_merge_equal_one_pass(trained_run, tmp_path):
    """Sharded encoding (4 processes' worth) then a merge gives the same rows, ids and neighbours as one pass
    (fp32: batches are formed per shard, and bf16 rounds differently in other batch company)."""
    single = tmp_path / "single"
    assert rom("index", f"checkpoint={trained_run}", f"out={single}", "precision=fp32",
               f"hydra.run.dir={tmp_path / 'one'}").returncode == 0
    out = tmp_path / "sharded"
    for i in range(4):
        proc = rom("index", f"checkpoint={trained_run}", f"out={out}", "index.num_shards=4", f"index.shard={i}",
                   "precision=fp32", f"hydra.run.dir={tmp_path / f'run{i}'}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert not (out / "meta.json").exists()  # nothing is merged before asked
    assert sorted(p.name for p in (out / "shards").iterdir()) == [f"shard-0000{i}-of-00004" for i in range(4)]
    again = rom("index", f"checkpoint={trained_run}", f"out={out}", "index.num_shards=4", "index.shard=1",
                "precision=fp32", f"hydra.run.dir={tmp_path / 'again'}")
    assert again.returncode == 0 and "already encoded" in again.stdout  # a rerun job does not encode again
    merged = rom("index", f"checkpoint={trained_run}", f"out={out}", "index.num_shards=4", "index.merge=true",
                 f"hydra.run.dir={tmp_path / 'merge'}")
    assert merged.returncode == 0, merged.stderr[-3000:]
    a, b = _rows(out), _rows(single)
    np.testing.assert_allclose(a, b, atol=2e-3)  # float16 storage; fp32 sums in other batch company
    assert (np.argmax(a @ b.T, axis=1) == np.arange(len(a))).all()  # every row's nearest is itself
    one, four = load_index_folder(single), load_index_folder(out)
    assert [p.id for p in one.passages.batches(10_000).__next__()] == [p.id for p in four.passages.batches(10_000).__next__()]
    assert json.loads((out / "meta.json").read_text())["extra"]["shards"] == 4


@pytest.mark.slow
def test_merge_refuses_missing_duplicate_and_foreign_shards(trained_run, tmp_path):
    out = tmp_path / "idx"
    for i in (0, 2):
        assert rom("index", f"checkpoint={trained_run}", f"out={out}", "index.num_shards=3", f"index.shard={i}",
                   f"hydra.run.dir={tmp_path / f'r{i}'}").returncode == 0
    merge = ["index", f"checkpoint={trained_run}", f"out={out}", "index.num_shards=3", "index.merge=true"]
    line = one_line_error(rom(*merge, f"hydra.run.dir={tmp_path / 'm1'}"))
    assert "missing 1 of 3 shards (1)" in line and "index.shard=i" in line
    shards = out / "shards"
    shutil.copytree(shards / "shard-00000-of-00003", shards / "shard-00001-of-00003")  # shard 0 under 1's name
    line = one_line_error(rom(*merge, f"hydra.run.dir={tmp_path / 'm2'}"))
    assert "holds shard 0 of 3" in line
    shutil.rmtree(shards / "shard-00001-of-00003")
    assert rom("index", f"checkpoint={trained_run}", f"out={out}", "index.num_shards=3", "index.shard=1",
               f"hydra.run.dir={tmp_path / 'r1'}").returncode == 0
    meta = json.loads((shards / "shard-00001-of-00003" / "meta.json").read_text())
    (shards / "shard-00001-of-00003" / "meta.json").write_text(json.dumps({**meta, "fingerprint": "f" * 16}))
    line = one_line_error(rom(*merge, f"hydra.run.dir={tmp_path / 'm3'}"))
    assert "shard 1 has another encoder fingerprint" in line
    (shards / "shard-00001-of-00003" / "meta.json").write_text(json.dumps(meta))
    other = rom("index", f"checkpoint={trained_run}", f"out={out}", "index.num_shards=2", "index.shard=0",
                f"hydra.run.dir={tmp_path / 'r3'}")
    assert other.returncode == 0
    line = one_line_error(rom(*merge, f"hydra.run.dir={tmp_path / 'm4'}"))
    assert "shards of different shard counts" in line
    shutil.rmtree(shards / "shard-00000-of-00002")
    assert rom(*merge, f"hydra.run.dir={tmp_path / 'm5'}").returncode == 0


def test_sharding_arguments_are_checked(trained_run, tmp_path):
    line = one_line_error(rom("index", f"checkpoint={trained_run}", "index.num_shards=4", "index.shard=4",
                              f"hydra.run.dir={tmp_path / 'a'}"))
    assert "index.shard=4" in line and "from 0 to 3" in line
    line = one_line_error(rom("index", f"checkpoint={trained_run}", "index.num_shards=4",
                              f"hydra.run.dir={tmp_path / 'b'}"))
    assert "index.shard=0..3" in line and "index.merge=true" in line


def test_ask_reads_passages_of_a_tsv_corpus_by_offset(tmp_path):
    """An index over a passages TSV references the file (no copy) and `rom ask`'s store reads it by offset."""
    tsv = tmp_path / "psgs.tsv"
    tsv.write_text("id\ttext\ttitle\n" + "".join(f"{i}\tpassage number {i}\tT{i}\n" for i in range(1, 51)))
    from rom_cli.data.dpr import TsvCorpus

    corpus = TsvCorpus(tsv)
    index = DenseIndex.build(np.eye(50, 8, dtype=np.float32), {"type": "flat"})
    save_index_folder(tmp_path / "idx", index, corpus, "f" * 16)
    assert not (tmp_path / "idx" / "passages.tsv").exists() and (tmp_path / "idx" / "corpus.json").is_file()
    folder = load_index_folder(tmp_path / "idx")
    assert isinstance(folder.passages, TsvCorpus) and folder.passages[49].text == "passage number 50"
    with open(tsv, "a") as fh:
        fh.write("51\tone more\tT\n")
    with pytest.raises(RomError, match="changed since the index was built"):
        load_index_folder(tmp_path / "idx")


@pytest.mark.slow
def test_a_saved_bm25_index_serves_eval_and_ask(trained_run, tmp_path):
    out = tmp_path / "idx"
    proc = rom("index", f"checkpoint={trained_run}", f"out={out}", "index.bm25=true", f"hydra.run.dir={tmp_path / 'i'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "bm25" / "rom-bm25.json").is_file()
    ev = rom("eval", f"checkpoint={trained_run}", f"index_dir={out}", f"hydra.run.dir={tmp_path / 'e'}")
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert set(json.loads((tmp_path / "e" / "report.json").read_text())["results"]) == {"dense", "bm25", "hybrid"}
    ask = rom("ask", f"checkpoint={trained_run}", f"index_dir={out}", "retriever=hybrid", "Who founded a brewery?",
              f"hydra.run.dir={tmp_path / 'a'}")
    assert ask.returncode == 0 and "passages (hybrid)" in ask.stdout, ask.stderr[-3000:]


def test_bm25_that_would_not_fit_is_left_out_with_the_reason(monkeypatch):
    from rom_cli.retrieval import bm25

    monkeypatch.setattr(bm25, "build_refusal", lambda n, *a, **k: f"BM25 not built: {n:,} passages exceed the memory")
    corpus = InMemoryCorpus([Passage(f"p{i}", f"text {i}") for i in range(5)])
    index, why = bm25.sparse_retriever(corpus)
    assert index is None and "5 passages exceed" in why and "index.bm25=true" in why


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["local", "submitit_local"])
def test_sharded_encoding_as_a_hydra_multirun(trained_run, tmp_path, launcher):
    """The shards as one sweep through a real launcher (joblib processes; submitit's local mode, what
    `hydra/launcher=slurm` runs on a cluster), then the merge."""
    out = tmp_path / "idx"
    extra = ["hydra.launcher.n_jobs=2"] if launcher == "local" else ["hydra.launcher.timeout_min=10"]
    sweep = rom("index", "-m", f"checkpoint={trained_run}", f"out={out}", "index.num_shards=2", "index.shard=0,1",
                "threads=1", f"hydra/launcher={launcher}", *extra, f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["shard-00000-of-00002", "shard-00001-of-00002"]
    merge = rom("index", f"checkpoint={trained_run}", f"out={out}", "index.num_shards=2", "index.merge=true",
                f"hydra.run.dir={tmp_path / 'merge'}")
    assert merge.returncode == 0, merge.stderr[-3000:]
    assert len(load_index_folder(out).index) > 0


def test_the_slurm_preset_composes_with_its_keys():
    out = rom("index", "checkpoint=x", "hydra/launcher=slurm", "hydra.launcher.partition=gpu",
              "hydra.launcher.gpus_per_node=8", "hydra.launcher.nodes=2", "--cfg", "hydra")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "SlurmLauncher" in out.stdout and "partition: gpu" in out.stdout and "gpus_per_node: 8" in out.stdout
