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
    assert len(folder.passages) == meta["count"] == len(folder.passage_ids)
    assert folder.passages[0].id == folder.passage_ids[0] and folder.passages[0].text

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
    with open(other / "passages.jsonl", "a") as fh:
        fh.write(json.dumps({"id": "extra", "title": "", "text": "one too many"}) + "\n")
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
    assert (tmp_path / "index" / "passages.jsonl").is_file() and "hnsw" in out.stdout


def test_save_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    index = DenseIndex.build(np.eye(4, dtype=np.float32), {"type": "flat"})
    corpus = InMemoryCorpus([Passage(f"p{i}", "t") for i in range(4)])
    with pytest.raises(RomError, match="refusing to overwrite"):
        save_index_folder(tmp_path / "mine", index, corpus, "f" * 16)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
