"""An index folder that answers questions on its own: the FAISS index plus the passages it covers.

`rom index` writes `index.faiss` and `meta.json` (format, index type and effective build
parameters, dimension, count, encoder fingerprint, the corpus it covers, and in `extra` the
checkpoint, task, split and encoding speed) and the passage store that `rom ask` reads passages from
by byte offset, never loading the corpus:
- a corpus that is a DPR passages TSV is referenced, not copied (`corpus.json`: its path, size and
  modification time; 13 GB of psgs_w100.tsv are not duplicated), and refused if the file changed;
- any other corpus is written into the folder as `passages.tsv` in DPR's format.
Row i of the index is passage i of the store. The whole folder is assembled beside its target and
renamed into place, so a crash never leaves an index without its passages. Loading refuses another
encoder's index, another corpus or a passage count that does not match, and says which.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rom_cli.atomic import fsync_dir, fsync_file, replace_dir
from rom_cli.data.types import Corpus
from rom_cli.errors import RomError
from rom_cli.retrieval.faiss_index import META_FILE, DenseIndex
from rom_cli.retrieval.vector_shards import SHARDS_DIR, corpus_descriptor

PASSAGES_FILE = "passages.tsv"
CORPUS_FILE = "corpus.json"
BM25_DIR = "bm25"  # `rom index ... index.bm25=true`: the sparse index over the same passages, memory-mapped


@dataclass
class IndexFolder:
    index: DenseIndex
    meta: dict
    passages: Corpus | None  # position i is the passage of index row i (read by offset)
    path: Path | None = None

    @property
    def fingerprint(self) -> str:
        return str(self.meta.get("fingerprint"))

    @property
    def bm25_dir(self) -> Path | None:
        return self.path / BM25_DIR if self.path is not None and (self.path / BM25_DIR).is_dir() else None

    @property
    def corpus(self) -> dict:
        """The descriptor of the corpus the index covers (`vector_shards.corpus_descriptor`)."""
        return dict((self.meta.get("extra") or {}).get("corpus") or {})


def check_index_target(target: str | os.PathLike) -> Path:
    """Refuse a target that is a file or a foreign non-empty folder, and check that a folder can be made
    beside it, so a build fails before it starts (not after hours of encoding)."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise RomError(f"{target}: exists and is not a folder: expected a folder path for the index")
    if target.exists() and any(p.name != SHARDS_DIR for p in target.iterdir()) and not (target / META_FILE).is_file():
        raise RomError(f"{target}: refusing to overwrite a non-empty folder that is not a rom index")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tempfile.mkdtemp(prefix=f".{target.name}.probe-", dir=target.parent))
    except OSError as ex:  # try it, rather than trust os.access (root "may write" /proc)
        reason = (ex.strerror or type(ex).__name__).lower()
        raise RomError(f"{target}: cannot write an index there ({reason}): expected a writable directory for "
                       "the index") from None
    return target


def write_passages_tsv(path: Path, corpus: Corpus) -> None:
    """DPR's passages format (`id<TAB>text<TAB>title`, a header line); line breaks and tabs inside a field
    become spaces, as a TSV row is one line."""
    clean = str.maketrans({"\t": " ", "\n": " ", "\r": " "})
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", quotechar='"', lineterminator="\n")
        writer.writerow(["id", "text", "title"])
        for batch in corpus.batches(8192):
            writer.writerows([p.id.translate(clean), p.text.translate(clean), p.title.translate(clean)] for p in batch)
        fh.flush()
        os.fsync(fh.fileno())


def save_index_folder(target: str | os.PathLike, index: DenseIndex, corpus: Corpus, fingerprint: str,
                      extra: dict | None = None) -> Path:
    """Write the index over `corpus` (row i = corpus[i]) and its passage store into `target`; shard folders
    already in `target` (`rom index index.num_shards=N`) stay."""
    target = check_index_target(target)
    if len(index) != len(corpus):
        raise ValueError(f"an index of {len(index)} vectors for {len(corpus)} passages")
    descriptor = corpus_descriptor(corpus)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    try:
        folder = staging / "index"
        index.save(folder, fingerprint, {**(extra or {}), "corpus": descriptor})
        if descriptor["kind"] == "tsv":
            (folder / CORPUS_FILE).write_text(json.dumps(descriptor, indent=2), encoding="utf-8")
            fsync_file(folder / CORPUS_FILE)
        else:
            write_passages_tsv(folder / PASSAGES_FILE, corpus)
        for keep in (SHARDS_DIR, BM25_DIR):  # shards: another index type can be built from them
            if (target / keep).is_dir():
                os.replace(target / keep, folder / keep)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(folder, 0o777 & ~umask)  # mkdtemp made it private; an index is shared like any output
        replace_dir(folder, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(target.parent)
    return target


def _passage_store(path: Path, count: int, cache_dir: str | None) -> Corpus:
    from rom_cli.data.dpr import TsvCorpus

    if (path / PASSAGES_FILE).is_file():
        store = TsvCorpus(path / PASSAGES_FILE, cache_dir)
    elif (path / CORPUS_FILE).is_file():
        try:
            ref = json.loads((path / CORPUS_FILE).read_text(encoding="utf-8"))
            source = Path(ref["path"])
        except (OSError, ValueError, KeyError, TypeError) as ex:
            raise RomError(f"index {path}: unreadable {CORPUS_FILE} ({type(ex).__name__}): rebuild it with "
                           "`rom index`") from None
        if not source.is_file():
            raise RomError(f"index {path}: its corpus {source} is gone: expected the passages TSV the index was "
                           "built from (or rebuild the index)")
        stat = source.stat()
        if (stat.st_size, stat.st_mtime_ns) != (ref.get("size"), ref.get("mtime_ns")):
            raise RomError(f"index {path}: its corpus {source} changed since the index was built (size or "
                           "modification time): rebuild it with `rom index`")
        store = TsvCorpus(source, cache_dir)
    else:
        raise RomError(f"index {path}: no passage store ({PASSAGES_FILE} or {CORPUS_FILE}): rebuild it with "
                       "`rom index`")
    if len(store) != count:
        raise RomError(f"index {path}: passage count mismatch (passage store {len(store)}, index {count}): "
                       "rebuild it with `rom index`")
    return store


def load_index_folder(directory: str | os.PathLike, expected_fingerprint: str | None = None,
                      expected_count: int | None = None, with_passages: bool = True,
                      cache_dir: str | None = None) -> IndexFolder:
    """Load and check an index folder; RomError names what does not match (fingerprint, count, corpus)."""
    index, meta = DenseIndex.load(directory, expected_fingerprint, expected_count)
    passages = _passage_store(Path(directory), len(index), cache_dir) if with_passages else None
    return IndexFolder(index, meta, passages, Path(directory))


def check_matches_corpus(folder: IndexFolder, corpus: Corpus, where: str) -> None:
    """An index reused for evaluation must cover the same passages in the same order."""
    theirs, ours = folder.corpus, corpus_descriptor(corpus)
    if theirs.get("fingerprint") != ours["fingerprint"]:
        raise RomError(f"index {where}: built over another corpus ({theirs.get('passages')} passages, "
                       f"fingerprint {theirs.get('fingerprint')}; this task's: {ours['passages']} passages, "
                       f"{ours['fingerprint']}): rebuild it with `rom index` for this task")
