"""Durable writes: a reader sees the old file or the new one, never a part of either.

Everything rom writes for later (checkpoint pointers, metrics, reports, indexes) goes through a
temporary name beside the target, an fsync, a rename, and an fsync of the folder.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_tree(root: Path) -> None:
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            fsync_file(path)


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` beside `path`, fsync, rename over `path`; a failed write leaves no temporary file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def replace_dir(src: Path, target: Path) -> None:
    """Rename folder `src` to `target`, replacing an existing one: rename() cannot replace a non-empty folder,
    so the old one is moved aside first (and put back if the rename fails), then deleted."""
    import shutil
    import tempfile

    src, target = Path(src), Path(target)
    if not target.exists():
        os.replace(src, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.replace(target, old / "dir")
    try:
        os.replace(src, target)
    except BaseException:
        os.replace(old / "dir", target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_dir(final: Path, tmp: Path):
    """Assemble a folder at `tmp` (created here, beside `final`), then fsync it and rename it over `final`; on any
    error `tmp` is removed and `final` is left as it was. A reader sees the old folder or the new one, whole."""
    import shutil

    final, tmp = Path(final), Path(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        fsync_tree(tmp)
        replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(final.parent)
