"""DPR formats: retriever JSON, passages TSV and QA CSV.

- Retriever JSON: a list of `{question, answers, positive_ctxs, negative_ctxs, hard_negative_ctxs}`
  with ctx = `{title, text, passage_id | psg_id}`. Positive ctxs are the gold passages, hard
  negatives become `hard_negative_ids`; answer spans are found in the positive ctx texts
  (case-sensitive first, then case-insensitive, word-bounded). A ctx without an id gets a stable
  hash of title + text. The ctxs themselves form the corpus when no passages TSV is configured.
  A repeated question id is skipped and counted (the first one is kept). The file is read one
  record at a time (`iter_json_list`, ijson), never whole: DPR's NQ train file is several GB.
  With a passages TSV, `negative_ctxs` are not read and no ctx text is kept past its record.
- Passages TSV (`id<TAB>text<TAB>title`, header line, e.g. psgs_w100.tsv with 21M rows):
  `TsvCorpus` keeps only byte offsets (and ids) in numpy arrays and parses one line per access (so a
  row that is not UTF-8 is reported, with its line, when it is first read).
- QA CSV: `question<TAB>["answer", ...]` per line (a JSON or Python list literal), answers only.
"""

from __future__ import annotations

import ast
import codecs
import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import ijson
import numpy as np

from rom_cli.data.common import answer_list, find_spans, not_utf8, read_json, stable_id, text_lines
from rom_cli.data.types import Corpus, LoadStats, Passage, Question
from rom_cli.errors import DataError

# ----------------------------------------------------------------------------- retriever JSON

JSON_BLOCK = 1 << 20  # characters the standard-library fallback reads at a time
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def first_json_byte(fh) -> bytes:
    """The first byte of a JSON document after a UTF-8 byte order mark and whitespace (b"" for none);
    `fh` (binary) is left just after the mark, so a parser reads the whole document from there."""
    start = 3 if fh.read(3) == codecs.BOM_UTF8 else 0
    fh.seek(start)
    found = b""
    while block := fh.read(1 << 16):
        stripped = block.lstrip(b" \t\r\n")
        if stripped:
            found = stripped[:1]
            break
    fh.seek(start)
    return found


def iter_json_list(path: str | Path, what: str = "records") -> Iterator:
    """The elements of a JSON file's top-level list, one at a time, so memory holds one element and
    never the file (DPR's NQ train JSON is several GB; `json.load` needs several times that).

    ijson does the parsing (its C backend `yajl2_c` when installed, see `ijson.backend`). What it
    rejects goes to the standard library's decoder, streamed the same way from the element where ijson
    stopped: a real syntax error or non-UTF-8 byte then gets `read_json`'s message (file, line,
    column), and the valid JSON yajl refuses (NaN, Infinity, integers beyond 64 bits) still loads. A
    file that does not start with `[` is small or broken: `read_json` reads it, as before."""
    with open(path, "rb") as fh:
        if first_json_byte(fh) != b"[":
            obj = read_json(path)
            if not isinstance(obj, list):
                raise DataError(path, f"expected a JSON list of {what}, got {type(obj).__name__}")
            yield from obj
            return
        done = 0
        try:
            for item in ijson.items(fh, "item", use_float=True):
                yield item
                done += 1
            return
        except (ijson.JSONError, ValueError):  # UnicodeDecodeError is a ValueError
            pass
    for i, item in enumerate(_stdlib_list_items(path)):
        if i >= done:
            yield item


def _stdlib_list_items(path: str | Path) -> Iterator:
    """The top-level list's elements decoded by `json.JSONDecoder.raw_decode` one at a time from a
    text buffer of about `JSON_BLOCK` characters; the first error is `read_json`'s DataError (invalid
    JSON with line and column, or not UTF-8 with the line)."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    with open(path, "rb") as fh:
        buf, pos = "", 0  # decoded text not yet dropped, and the parse position in it
        line, col = 1, 0  # the line of buf[0] and the characters before buf[0] on that line
        newlines = 0  # newlines in the bytes decoded so far
        eof = False

        def more(need: int = JSON_BLOCK) -> None:
            nonlocal buf, eof, newlines
            chunk = fh.read(max(need, JSON_BLOCK))
            try:
                text = utf8.decode(chunk, final=not chunk)
            except UnicodeDecodeError as ex:  # ex.object: the bytes held back from the last block + chunk
                raise not_utf8(path, ex.object, ex, line=newlines + ex.object.count(b"\n", 0, ex.start) + 1) from None
            newlines += chunk.count(b"\n")
            buf += text
            eof = not chunk

        def error(msg: str, at: int) -> DataError:
            last = buf.rfind("\n", 0, at)
            column = at - last if last >= 0 else col + at + 1
            return DataError(path, f"invalid JSON: {msg} (column {column})", line=line + buf.count("\n", 0, at))

        def skip_space() -> str:  # the next character after whitespace ("" at the end of the file)
            nonlocal pos
            while True:
                pos = _JSON_SPACE.match(buf, pos).end()
                if pos < len(buf) or eof:
                    return buf[pos:pos + 1]
                more()

        def drop_parsed() -> None:
            nonlocal buf, pos, line, col
            last = buf.rfind("\n", 0, pos)
            col = pos - last - 1 if last >= 0 else col + pos
            line += buf.count("\n", 0, pos)
            buf, pos = buf[pos:], 0

        if skip_space() != "[":  # iter_json_list only comes here for a list
            raise error("Expecting value", pos)
        pos += 1
        if skip_space() == "]":
            pos += 1
        else:
            while True:
                skip_space()
                while True:
                    try:
                        item, end = decoder.raw_decode(buf, pos)
                    except json.JSONDecodeError as ex:
                        # an element cut by the end of the buffer fails at its end (or, for a string, where
                        # the string starts): read more and decode it again; anything else is the error
                        if not eof and (ex.pos >= len(buf) - 64 or ex.msg.startswith("Unterminated string")):
                            more(len(buf) - pos)
                            continue
                        raise error(ex.msg, ex.pos) from None
                    except ValueError as ex:  # e.g. an integer longer than Python's digit limit
                        raise error(str(ex), pos) from None
                    if end == len(buf) and not eof:  # a number may go on in the next block
                        more(len(buf) - pos)
                        continue
                    break
                pos = end
                yield item
                if pos > JSON_BLOCK:
                    drop_parsed()
                c = skip_space()
                if c == "]":
                    pos += 1
                    break
                if c != ",":
                    raise error("Expecting ',' delimiter", pos)
                pos += 1
        if skip_space():
            raise error("Extra data", pos)


def ctx_passage(ctx, path, where: str) -> Passage:
    """The Passage of one DPR ctx dict (id from passage_id / psg_id / id, else a content hash)."""
    if not isinstance(ctx, dict) or not isinstance(ctx.get("text"), str):
        raise DataError(path, f"{where}: a ctx must be an object with a 'text' string")
    title = str(ctx.get("title") or "")
    text = ctx["text"]
    raw = next((ctx[k] for k in ("passage_id", "psg_id", "id") if ctx.get(k) not in (None, "")), None)
    pid = str(raw) if raw is not None else stable_id(title, text)
    return Passage(pid, text, title)


def parse_dpr_retriever(
    items, path: str | Path, stats: LoadStats | None = None, keep_passages: bool = True
) -> tuple[list[Question], list[Passage]]:
    """Questions (gold = positive ctxs) and, when `keep_passages`, every ctx of the file (dedup by id),
    from an already parsed JSON list (`load_dpr_retriever` streams a file instead)."""
    if not isinstance(items, list):
        raise DataError(path, f"expected a JSON list of DPR retriever records, got {type(items).__name__}")
    return _read_records(items, path, stats, keep_passages)


def load_dpr_retriever(
    path: str | Path, stats: LoadStats | None = None, keep_passages: bool = True
) -> tuple[list[Question], list[Passage]]:
    """Read a DPR retriever JSON file one record at a time (`iter_json_list`): what is kept is the
    questions (text, answers, spans, gold and hard-negative ids) and, with `keep_passages`, the ctxs;
    the same result and errors as `parse_dpr_retriever(read_json(path))` without the parsed file."""
    return _read_records(iter_json_list(path, "DPR retriever records"), path, stats, keep_passages)


def _read_records(
    items: Iterable, path: str | Path, stats: LoadStats | None, keep_passages: bool
) -> tuple[list[Question], list[Passage]]:
    """The records' questions and passages. Without `keep_passages` (a passages TSV is the corpus)
    `negative_ctxs` are not read at all (random negatives: training never uses them, and they are
    half of DPR's file) and no ctx text outlives its record once its spans are found."""
    stats = stats if stats is not None else LoadStats()
    stem = Path(path).name.split(".")[0]
    keys = ("positive_ctxs", "negative_ctxs", "hard_negative_ctxs") if keep_passages else (
        "positive_ctxs", "hard_negative_ctxs")
    passages: dict[str, Passage] = {}
    questions: list[Question] = []
    seen_qids: set[str] = set()
    for i, item in enumerate(items):
        where = f"record {i}"
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise DataError(path, f"{where}: expected an object with a 'question' string")
        text = item["question"].strip()
        answers = answer_list(item.get("answers", []), path, what=f"{where}: answers")
        if not text:
            stats.skip("empty question text")
            continue
        if not answers:
            stats.skip("question without answers")
            continue
        ctx_ids: dict[str, list[str]] = {}
        positives: list[Passage] = []
        for key in keys:
            ctxs = item.get(key) or []
            if not isinstance(ctxs, list):
                raise DataError(path, f"{where}: {key} must be a list")
            ids = []
            for j, ctx in enumerate(ctxs):
                p = ctx_passage(ctx, path, f"{where}.{key}[{j}]")
                ids.append(p.id)
                if key == "positive_ctxs":
                    positives.append(p)
                if keep_passages:
                    old = passages.setdefault(p.id, p)
                    if old.text != p.text:
                        stats.skip("ctx id reused with another text (first kept)")
            ctx_ids[key] = list(dict.fromkeys(ids))
        spans = []
        for p in positives:
            for s in find_spans(p.id, p.text, answers):
                if s not in spans:
                    spans.append(s)
        qid = str(item.get("id") or item.get("qid") or f"{stem}-{i}")
        if qid in seen_qids:
            stats.skip("duplicate question id")
            continue
        seen_qids.add(qid)
        questions.append(
            Question(qid, text, answers, spans, ctx_ids["positive_ctxs"], ctx_ids["hard_negative_ctxs"])
        )
    return questions, list(passages.values())


# ----------------------------------------------------------------------------- QA CSV


def _parse_answer_literal(raw: str):
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def load_qa_csv(path: str | Path, stats: LoadStats | None = None) -> list[Question]:
    """DPR QA CSV: `question<TAB>answers-list` per line (answers only, no passages)."""
    stats = stats if stats is not None else LoadStats()
    stem = Path(path).name.split(".")[0]
    questions = []
    for n, line in text_lines(path):
        if not line.strip():
            continue
        try:
            row = next(csv.reader([line.rstrip("\r\n")], delimiter="\t"))
        except csv.Error as ex:
            raise DataError(path, f"malformed line ({ex}): expected question<TAB>answers list", line=n) from None
        if len(row) != 2:
            raise DataError(
                path, f"expected 2 tab-separated columns (question, answers list), found {len(row)}", line=n
            )
        value = _parse_answer_literal(row[1])
        if value is None:
            raise DataError(path, f"answers column is not a list literal: {row[1][:60]!r}", line=n)
        answers = answer_list(value, path, line=n)
        text = row[0].strip()
        if not text or not answers:
            stats.skip("empty question text" if not text else "question without answers")
            continue
        questions.append(Question(f"{stem}-{n}", text, answers))
    return questions


# ----------------------------------------------------------------------------- passages TSV


class RowError(ValueError):
    """A passages-TSV row the csv module cannot parse (e.g. a stray carriage return)."""


def _parse_row(line: bytes) -> list[str]:
    text = line.decode("utf-8").rstrip("\r\n")
    try:
        return next(csv.reader(io.StringIO(text), delimiter="\t", quotechar='"'), [])
    except csv.Error as ex:
        raise RowError(str(ex)) from None


def _malformed(path, ex: RowError, line: int) -> DataError:
    return DataError(path, f"malformed row ({ex}): expected id<TAB>text<TAB>title", line=line)


class TsvCorpus(Corpus):
    """A DPR passages TSV (`id<TAB>text<TAB>title`, header line) read on demand.

    One pass over the file records each row's byte offset (numpy int64) and its id: all-integer
    ids are kept in a sorted int64 array looked up with `searchsorted`, other ids in a dict. A row
    is only parsed when accessed. With `cache_dir`, the offsets are saved in
    `cache_dir/tsv-<hash of path, size, mtime>.npz` and reused while the file is unchanged.
    """

    COLUMNS = ("id", "text", "title")

    def __init__(self, path: str | Path, cache_dir: str | Path | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(self.path, "passages TSV not found")
        self._fh = None
        self._str_pos: dict[str, int] | None = None
        self._int_ids: np.ndarray | None = None
        self._int_sorted: np.ndarray | None = None
        self._int_order: np.ndarray | None = None
        self._cols = (0, 1, 2)
        cache = self._cache_file(cache_dir)
        if cache is not None and cache.is_file() and self._load_cache(cache):
            return
        self._build_index()
        if cache is not None:
            self._save_cache(cache)

    # -- index -----------------------------------------------------------------------------
    def _build_index(self) -> None:
        """One pass in 64 MiB blocks, vectorised with numpy: line starts, tab counts per line, and
        the id column (parsed to int64 without Python per-row work when every id is an integer)."""
        offsets: list[np.ndarray] = []
        int_ids: list[np.ndarray] | None = []
        str_ids: list[str] = []
        with open(self.path, "rb") as f:
            first = f.readline()
            line_no = 0
            head = [c.strip().lower() for c in first.decode("utf-8", "replace").rstrip("\r\n").split("\t")]
            if head and head[0] == "id":
                if sorted(head) != sorted(self.COLUMNS):
                    raise DataError(self.path, f"header must name the columns id, text, title; got {head}", line=1)
                self._cols = tuple(head.index(c) for c in self.COLUMNS)
                pos, line_no = len(first), 1
            else:
                pos = 0
            f.seek(pos)
            carry = b""
            while True:
                chunk = f.read(1 << 26)
                if not chunk:
                    if not carry:
                        break
                    chunk = b"\n"  # a last line without a newline
                buf = carry + chunk
                cut = buf.rfind(b"\n") + 1
                if cut == 0:
                    carry = buf
                    continue
                block, carry = buf[:cut], buf[cut:]
                offs, ids, n_lines = self._scan_block(block, pos, line_no)
                offsets.append(offs)
                if int_ids is not None and isinstance(ids, np.ndarray):
                    int_ids.append(ids)
                else:
                    if int_ids is not None:  # first non-integer id: everything becomes strings
                        str_ids = [str(v) for a in int_ids for v in a.tolist()]
                        int_ids = None
                    str_ids.extend(str(v) for v in (ids.tolist() if isinstance(ids, np.ndarray) else ids))
                pos += len(block)
                line_no += n_lines
        self._offsets = np.concatenate(offsets) if offsets else np.zeros(0, dtype=np.int64)
        if int_ids is not None:
            self._set_int_ids(np.concatenate(int_ids) if int_ids else np.zeros(0, dtype=np.int64))
        else:
            self._set_ids(str_ids)

    def _scan_block(self, block: bytes, base: int, line_base: int):
        """(row offsets, ids as int64 array or list of str, lines in the block) for whole lines."""
        arr = np.frombuffer(block, dtype=np.uint8)
        ends = np.flatnonzero(arr == 10)
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        n_lines = len(ends)
        line_numbers = line_base + 1 + np.arange(n_lines)
        content = ends - starts - (arr[np.maximum(ends - 1, 0)] == 13)  # without \r\n
        blank = content <= 0
        if blank.any():  # whitespace-only lines are skipped too
            for i in np.flatnonzero(~blank & (content < 8)).tolist():
                if not block[starts[i]:ends[i]].strip():
                    blank[i] = True
        keep = ~blank
        starts, ends, line_numbers = starts[keep], ends[keep], line_numbers[keep]
        tabs = np.flatnonzero(arr == 9)
        first_tab = np.searchsorted(tabs, starts)
        n_tabs = np.searchsorted(tabs, ends) - first_tab
        ncols = len(self.COLUMNS)
        odd = np.flatnonzero((n_tabs != ncols - 1) | (arr[starts] == 34))  # wrong count, or a quoted id
        fixed_ids: dict[int, str] = {}
        for i in odd.tolist():
            try:
                row = _parse_row(block[starts[i]:ends[i]])
            except UnicodeDecodeError as ex:
                raw = block[starts[i]:ends[i]]
                raise not_utf8(self.path, raw, ex, line=int(line_numbers[i])) from None
            except RowError as ex:
                raise _malformed(self.path, ex, int(line_numbers[i])) from None
            if len(row) != ncols:
                raise DataError(
                    self.path,
                    f"expected {ncols} tab-separated columns (id, text, title), found {len(row)}",
                    line=int(line_numbers[i]),
                )
            fixed_ids[i] = row[self._cols[0]].strip()
        offsets = starts.astype(np.int64) + base
        if self._cols[0] == 0 and len(starts):
            id_end = tabs[np.minimum(first_tab, len(tabs) - 1)] if len(tabs) else ends
            lens = id_end - starts
            if not fixed_ids and lens.min() >= 1 and lens.max() <= 18:
                digits = np.zeros(len(starts), dtype=np.int64)
                ok = True
                for k in range(int(lens.max())):
                    has = k < lens
                    d = arr[np.minimum(starts + k, len(arr) - 1)].astype(np.int64) - 48
                    if ((d[has] < 0) | (d[has] > 9)).any():
                        ok = False
                        break
                    digits = np.where(has, digits * 10 + d, digits)
                lead_zero = (lens > 1) & (arr[starts] == 48)
                if ok and not lead_zero.any():
                    return offsets, digits, n_lines
            ids = [fixed_ids.get(i) or block[s:e].decode("utf-8", "replace").strip()
                   for i, (s, e) in enumerate(zip(starts.tolist(), id_end.tolist(), strict=True))]
            return offsets, ids, n_lines
        ids = [fixed_ids.get(i) or block[s:e].decode("utf-8", "replace").split("\t")[self._cols[0]].strip()
               for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True))]
        return offsets, ids, n_lines

    def _set_ids(self, ids: list[str]) -> None:
        try:
            as_int = np.asarray([int(i) for i in ids], dtype=np.int64)
            if any(str(v) != i for v, i in zip(as_int.tolist(), ids, strict=True)):
                raise ValueError  # "007" and "7" must stay distinct: fall back to strings
        except ValueError:
            pos: dict[str, int] = {}
            for i, pid in enumerate(ids):
                first = pos.setdefault(pid, i)
                if first != i:
                    raise self._duplicate(pid, first, i) from None
            self._str_pos = pos
            return
        self._set_int_ids(as_int)

    def _set_int_ids(self, as_int: np.ndarray) -> None:
        order = np.argsort(as_int, kind="stable")
        sorted_ids = as_int[order]
        dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
        if dup.size:
            j = int(dup[0])
            raise self._duplicate(int(sorted_ids[j]), int(order[j]), int(order[j + 1]))
        self._int_ids, self._int_sorted, self._int_order = as_int, sorted_ids, order

    def _line_at(self, offset: int) -> int:
        """The 1-based line number of the row starting at byte `offset` (for error messages only)."""
        count = 0
        with open(self.path, "rb") as f:
            while offset > 0:
                chunk = f.read(min(offset, 1 << 24))
                if not chunk:
                    break
                count += chunk.count(b"\n")
                offset -= len(chunk)
        return count + 1

    def _duplicate(self, pid, first: int, again: int) -> DataError:
        """The error for a passage id on rows `first` and `again` (row positions, not lines)."""
        line = self._line_at(int(self._offsets[again]))
        return DataError(self.path, f"duplicate passage id {pid!r} (first on line "
                                    f"{self._line_at(int(self._offsets[first]))}): expected unique ids", line=line)

    def _cache_file(self, cache_dir) -> Path | None:
        if cache_dir is None:
            return None
        st = self.path.stat()
        key = f"{self.path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        return Path(cache_dir) / f"tsv-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"

    def _load_cache(self, cache: Path) -> bool:
        try:
            with np.load(cache, allow_pickle=False) as z:
                self._offsets = z["offsets"]
                self._cols = tuple(int(c) for c in z["cols"])
                if "int_ids" in z:
                    self._set_int_ids(z["int_ids"])
                else:
                    self._str_pos = {str(pid): i for i, pid in enumerate(z["str_ids"].tolist())}
            return True
        except (OSError, KeyError, ValueError):
            return False  # unreadable cache: rebuild

    def _save_cache(self, cache: Path) -> None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.name + f".tmp{os.getpid()}.npz")
            arrays = {"offsets": self._offsets, "cols": np.asarray(self._cols)}
            if self._int_ids is not None:
                arrays["int_ids"] = self._int_ids
            else:
                arrays["str_ids"] = np.asarray(list(self._str_pos or {}), dtype=str)
            np.savez(tmp, **arrays)
            os.replace(tmp, cache)
        except OSError:
            pass  # the cache is an optimisation only

    # -- Corpus API ------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._offsets.shape[0])

    def __getitem__(self, i: int) -> Passage:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]  # type: ignore[return-value]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"passage index {i} out of range (corpus has {n})")
        if self._fh is None:
            self._fh = open(self.path, "rb")  # noqa: SIM115 - kept open for random access
        self._fh.seek(int(self._offsets[i]))
        raw = self._fh.readline()
        try:
            row = _parse_row(raw)
        except UnicodeDecodeError as ex:
            raise not_utf8(self.path, raw, ex, line=self._line_at(int(self._offsets[i]))) from None
        except RowError as ex:
            raise _malformed(self.path, ex, self._line_at(int(self._offsets[i]))) from None
        if len(row) != len(self.COLUMNS):  # e.g. an unterminated quote that swallowed a tab
            raise DataError(self.path, f"expected {len(self.COLUMNS)} tab-separated columns (id, text, title), "
                                       f"found {len(row)}", line=self._line_at(int(self._offsets[i])))
        pid, text, title = (row[c] for c in self._cols)
        return Passage(pid.strip(), text, title)

    def index_of(self, passage_id: str) -> int:
        if self._str_pos is not None:
            return self._str_pos[str(passage_id)]
        try:
            key = int(str(passage_id))
        except ValueError:
            raise KeyError(passage_id) from None
        if str(key) != str(passage_id).strip():
            raise KeyError(passage_id)
        j = int(np.searchsorted(self._int_sorted, key))
        if j >= len(self._int_sorted) or int(self._int_sorted[j]) != key:
            raise KeyError(passage_id)
        return int(self._int_order[j])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_fh"] = None
        return state

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass
