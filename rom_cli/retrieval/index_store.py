"""An index folder that answers questions on its own: the FAISS index plus the passages it covers.

`rom index` writes `index.faiss`, `passage_ids.json`, `meta.json` (format, index type and effective
build parameters, dimension, count, encoder fingerprint, and in `extra` the checkpoint, task, split
and encoding speed) and `passages.jsonl` (id, title, text per line, in index order), so `rom ask`
needs no data files. The whole folder is assembled beside its target and renamed into place, so a
crash never leaves an index without its passages. Loading refuses another encoder's index or a
passage count that does not match, and says which.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rom_cli.atomic import fsync_dir
from rom_cli.data.types import Corpus, InMemoryCorpus, Passage
from rom_cli.errors import RomError
from rom_cli.retrieval.faiss_index import META_FILE, DenseIndex, _replace_dir

PASSAGES_FILE = "passages.jsonl"


@dataclass
class IndexFolder:
    index: DenseIndex
    passage_ids: list[str]
    meta: dict
    passages: Corpus  # position i is the passage of index row i

    @property
    def fingerprint(self) -> str:
        return str(self.meta.get("fingerprint"))


def check_index_target(target: str | os.PathLike) -> Path:
    """Refuse a target that is a file or a foreign non-empty folder, and create its parent folder
    (an OSError naming the path when that cannot be done), so a build fails before it starts."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise RomError(f"{target}: exists and is not a folder: expected a folder path for the index")
    if target.exists() and any(target.iterdir()) and not (target / META_FILE).is_file():
        raise RomError(f"{target}: refusing to overwrite a non-empty folder that is not a rom index")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tempfile.mkdtemp(prefix=f".{target.name}.probe-", dir=target.parent))
    except OSError as ex:  # try it, rather than trust os.access (root "may write" /proc)
        reason = (ex.strerror or type(ex).__name__).lower()
        raise RomError(f"{target}: cannot write an index there ({reason}): expected a writable directory for the index") from None
    return target


def save_index_folder(target: str | os.PathLike, index: DenseIndex, corpus: Corpus, fingerprint: str,
                      extra: dict | None = None) -> Path:
    """Write the index over `corpus` (row i = corpus[i]) and its passage store into `target`."""
    target = check_index_target(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    try:
        folder = staging / "index"
        index.save(folder, [corpus[i].id for i in range(len(corpus))], fingerprint, extra)
        with open(folder / PASSAGES_FILE, "w", encoding="utf-8") as fh:
            for batch in corpus.batches(4096):
                for p in batch:
                    fh.write(json.dumps({"id": p.id, "title": p.title, "text": p.text}, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(folder, 0o777 & ~umask)  # mkdtemp made it private; an index is shared like any output
        _replace_dir(folder, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(target.parent)
    return target


def read_passages(path: Path) -> InMemoryCorpus:
    passages = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                passages.append(Passage(str(row["id"]), str(row["text"]), str(row.get("title") or "")))
            except (ValueError, KeyError, TypeError) as ex:
                raise RomError(f"{path}:{n}: not a passage record ({type(ex).__name__}): rebuild the index with "
                               "`rom index`") from ex
    return InMemoryCorpus(passages)


def load_index_folder(directory: str | os.PathLike, expected_fingerprint: str | None = None,
                      expected_count: int | None = None, with_passages: bool = True) -> IndexFolder:
    """Load and check an index folder; RomError names what does not match (fingerprint, count, ids)."""
    index, ids, meta = DenseIndex.load(directory, expected_fingerprint, expected_count)
    path = Path(directory)
    passages: Corpus | None = None
    if with_passages:
        store = path / PASSAGES_FILE
        if not store.is_file():
            raise RomError(f"index {path}: no {PASSAGES_FILE} passage store: rebuild it with `rom index`")
        passages = read_passages(store)
        if len(passages) != len(ids):
            raise RomError(f"index {path}: passage count mismatch ({PASSAGES_FILE} has {len(passages)}, "
                           f"index {len(ids)}): rebuild it with `rom index`")
        if any(passages[i].id != pid for i, pid in enumerate(ids)):
            raise RomError(f"index {path}: {PASSAGES_FILE} is not in index order: rebuild it with `rom index`")
    return IndexFolder(index, ids, meta, passages)


def check_matches_corpus(folder: IndexFolder, corpus: Corpus, where: str) -> None:
    """An index reused for evaluation must cover the same passages in the same order."""
    for i, pid in enumerate(folder.passage_ids):
        if corpus[i].id != pid:
            raise RomError(f"index {where}: passage ids differ from the corpus (row {i}: index {pid!r}, "
                           f"corpus {corpus[i].id!r}): rebuild it with `rom index` for this task")
