"""The bad-input matrix, as a user meets it: `rom <command> ...` in a subprocess.

Every case must end with exactly one line on stderr (`rom: error: ...`) that names the input (the
file and line, or the config key and value) and what was expected, exit status 2, no traceback, and
nothing written: a refused command leaves no run directory (not even Hydra's `.hydra/` and log) and never
touches an existing one; the passages-TSV offset cache is the only new file allowed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY

REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------------------------- helpers


def rom(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "COLUMNS": "200"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", "rom_cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def allowed(root: Path, rel: str) -> bool:
    """New paths a failed command may leave: the passages-TSV offset cache; no run directory (Hydra's
    `.hydra/` and `<command>.log` included), never a checkpoint, an index or a report."""
    return Path(rel).parts[0] == "cache"


def one_line_error(out: subprocess.CompletedProcess, *needles: str, root: Path | None = None,
                   before: set[str] | None = None) -> str:
    assert out.returncode == 2, (out.returncode, out.stdout[-2000:], out.stderr[-3000:])
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rom: error: "), out.stderr[-3000:]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    if root is not None:
        new = snapshot(root) - (before or set())
        left = sorted(p for p in new if not allowed(root, p))
        assert not left, f"left behind: {left}"
    return lines[0]


# ------------------------------------------------------------------------------------------- data files

PEOPLE = ["Tarn Hollis", "Mira Quell", "Odo Vance", "Lise Amber", "Kell Dorn", "Pia Sand"]
TOWNS = ["Ormsby", "Velkton", "Arlen", "Dunmere", "Caskill", "Brenna"]


def context(i: int) -> str:
    return (f"{TOWNS[i]} was founded in {1400 + 7 * i} by {PEOPLE[i]}. The river near {TOWNS[i]} is wide. "
            f"Boats cross it every spring.")


def squad(n: int = 6, answers=True) -> dict:
    paragraphs = []
    for i in range(n):
        ctx = context(i)
        ans = [{"text": PEOPLE[i], "answer_start": ctx.index(PEOPLE[i])}] if answers else []
        paragraphs.append({"context": ctx, "qas": [{"id": f"q{i}", "question": f"Who founded {TOWNS[i]}?",
                                                    "answers": ans}]})
    return {"version": "1.1", "data": [{"title": "Towns", "paragraphs": paragraphs}]}


def dpr(n: int = 4, gold: bool = True) -> list:
    items = []
    for i in range(n):
        ctx = {"title": TOWNS[i], "text": context(i), "passage_id": str(i + 1)}
        items.append({"question": f"Who founded {TOWNS[i]}?", "answers": [PEOPLE[i]],
                      "positive_ctxs": [ctx] if gold else [], "negative_ctxs": [] if gold else [ctx],
                      "hard_negative_ctxs": []})
    return items


def tsv(rows: list[str]) -> str:
    return "id\ttext\ttitle\n" + "".join(r + "\n" for r in rows)


GOOD_TSV = [f"{i + 1}\t{context(i)}\t{TOWNS[i]}" for i in range(6)]
SQUAD = json.dumps(squad(), indent=1)


def squad_bytes_with(bad: bytes) -> bytes:
    """Valid SQuAD JSON except `bad` inside the second line's text."""
    text = json.dumps(squad(), indent=1).encode()
    first, rest = text.split(b"\n", 1)
    return first + b"\n" + rest.replace(b'"1.1"', b'"1.1' + bad + b'"', 1)


# name -> (files under data.root, overrides, needles; "{root}" stands for data.root)
DATA_CASES = {
    "json-syntax": ({"train.json": '{"data": [\n  {"title": "x",\n  oops}\n]}'}, ["task.train=train.json"],
                    ["{root}/train.json:3: invalid JSON"]),
    "jsonl-syntax": ({"train.json": SQUAD, "dev.jsonl": '{"question": "a?", "answer": ["b"]}\n{"question": "c", '},
                     ["task.train=train.json", "task.dev=dev.jsonl"], ["{root}/dev.jsonl:2: invalid JSON"]),
    "tsv-columns": ({"train.json": json.dumps(dpr()), "psgs.tsv": tsv([GOOD_TSV[0], "2\tno title column"])},
                    ["task.train=train.json", "task.passages=psgs.tsv"],
                    ["{root}/psgs.tsv:3: expected 3 tab-separated columns (id, text, title), found 2"]),
    "csv-columns": ({"train.json": SQUAD, "dev.qa.csv": "Who?\t['Tarn Hollis']\nno answers column\n"},
                    ["task.train=train.json", "task.dev=dev.qa.csv"],
                    ["{root}/dev.qa.csv:2: expected 2 tab-separated columns (question, answers list), found 1"]),
    "csv-answers-literal": ({"train.json": SQUAD, "dev.qa.csv": "Who?\tTarn Hollis\n"},
                            ["task.train=train.json", "task.dev=dev.qa.csv"],
                            ["{root}/dev.qa.csv:1: answers column is not a list literal"]),
    "squad-missing-context": ({"train.json": json.dumps({"data": [{"title": "T", "paragraphs": [
        {"context": context(0), "qas": []}, {"qas": []}]}]})}, ["task.train=train.json"],
        ["{root}/train.json: data[0].paragraphs[1]: missing 'context' (expected SQuAD v1.1 layout)"]),
    "jsonl-missing-question": ({"train.json": SQUAD, "dev.jsonl": '{"question": "a?", "answer": ["b"]}\n'
                                                                  '{"answer": ["b"]}\n'},
                               ["task.train=train.json", "task.dev=dev.jsonl"],
                               ["{root}/dev.jsonl:2: expected an object with a 'question' string"]),
    "jsonl-missing-answer": ({"train.json": SQUAD, "dev.jsonl": '{"question": "a?"}\n'},
                             ["task.train=train.json", "task.dev=dev.jsonl"],
                             ["{root}/dev.jsonl:1: missing 'answer' (a list of answer strings)"]),
    "dpr-missing-question": ({"train.json": json.dumps([dpr()[0], {"answers": ["x"], "positive_ctxs": []}])},
                             ["task.train=train.json"],
                             ["{root}/train.json: record 1: expected an object with a 'question' string"]),
    "non-utf8-json": ({"train.json": squad_bytes_with(b"\xff")}, ["task.train=train.json"],
                      ["{root}/train.json:2: not UTF-8 text", "expected a UTF-8 encoded file"]),
    "non-utf8-jsonl": ({"train.json": SQUAD, "dev.jsonl": b'{"question": "a?", "answer": ["b"]}\n'
                                                          b'{"question": "caf\xe9?", "answer": ["b"]}\n'},
                       ["task.train=train.json", "task.dev=dev.jsonl"],
                       ["{root}/dev.jsonl:2: not UTF-8 text", "expected a UTF-8 encoded file"]),
    "non-utf8-csv": ({"train.json": SQUAD, "dev.qa.csv": b"Who?\t['Tarn Hollis']\n\nWho\xc3?\t['x']\n"},
                     ["task.train=train.json", "task.dev=dev.qa.csv"],
                     ["{root}/dev.qa.csv:3: not UTF-8 text", "expected a UTF-8 encoded file"]),
    "non-utf8-tsv": ({"train.json": json.dumps(dpr()), "psgs.tsv": tsv(GOOD_TSV[:2]).encode()
                      + b"3\tLatin-1 caf\xe9 text\tCafe\n" + tsv(GOOD_TSV[3:]).encode().split(b"\n", 1)[1]},
                     ["task.train=train.json", "task.passages=psgs.tsv"],
                     ["{root}/psgs.tsv:4: not UTF-8 text", "expected a UTF-8 encoded file"]),
    "empty-file": ({"train.json": ""}, ["task.train=train.json"],
                   ["{root}/train.json: empty file: expected a JSON document"]),
    "empty-split": ({"train.json": json.dumps({"data": []})}, ["task.train=train.json"],
                    ["task.train: no usable questions in {root}/train.json"]),
    "empty-jsonl-split": ({"train.json": SQUAD, "dev.jsonl": "\n\n"}, ["task.train=train.json", "task.dev=dev.jsonl"],
                          ["task.dev: no usable questions in {root}/dev.jsonl"]),
    "empty-corpus": ({"train.json": json.dumps(dpr()), "psgs.tsv": tsv([])},
                     ["task.train=train.json", "task.passages=psgs.tsv"],
                     ["{root}/psgs.tsv: no passages (task.passages): expected id<TAB>text<TAB>title rows"]),
    "no-answers-at-all": ({"train.json": json.dumps(squad(answers=False))}, ["task.train=train.json"],
                          ["task.train: no usable questions in {root}/train.json",
                           "question without a usable answer x6"]),
    "no-gold-under-full-supervision": ({"train.json": json.dumps(dpr(gold=False))}, ["task.train=train.json"],
                                       ["task.train=train.json: none of the 4 training questions has a gold passage",
                                        "supervision=full", "supervision=weak"]),
    "answer-offsets-do-not-match": (
        {"train.json": json.dumps(squad(), indent=1).replace('"text": "', '"text": "Sir ')}, ["task.train=train.json"],
        ["task.train: no usable questions in {root}/train.json", "answer not found at its offset x6"]),
    "eval-split-not-loaded": ({"train.json": SQUAD}, ["task.train=train.json", "task.eval_split=dev"],
                              ["config task.eval_split='dev': expected a split the task loads (train), "
                               "or set task.dev=PATH"]),
    "duplicate-passage-ids": ({"train.json": json.dumps(dpr()), "psgs.tsv": tsv(GOOD_TSV[:3] + ["2\tagain\tX"])},
                              ["task.train=train.json", "task.passages=psgs.tsv"],
                              ["{root}/psgs.tsv:5: duplicate passage id 2 (first on line 3): expected unique ids"]),
    "split-is-a-directory": ({"train.json/x": ""}, ["task.train=train.json"],
                             ["task.train: {root}/train.json is a directory, expected a file"]),
}


# cases that need the trainer (or show that `rom train` reports loader errors the same way)
THROUGH_TRAIN = {"json-syntax", "non-utf8-tsv", "no-gold-under-full-supervision", "eval-split-not-loaded"}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data_is_one_line(case, tmp_path):
    files, overrides, needles = DATA_CASES[case]
    root = tmp_path / "data"
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    before = snapshot(tmp_path)
    if case in THROUGH_TRAIN:
        if not any(o.startswith("task.eval_split=") for o in overrides):
            overrides = [*overrides, "task.eval_split=train"]
        command = ["train", *TINY, "trainer.max_steps=1"]
    else:  # the loaders are the same for every command; `rom data` reaches them in a second
        command = ["data"]
    out = rom(*command, "task=dpr", *overrides, f"data.root={root}", f"data.cache_dir={tmp_path / 'cache'}",
              f"hydra.run.dir={tmp_path / 'run'}")
    one_line_error(out, *[n.format(root=root) for n in needles], root=tmp_path, before=before)


def test_questions_without_gold_are_skipped_and_counted(tmp_path, tiny_cfg):
    """Some questions without a gold passage under full supervision: the run goes on, they are counted."""
    from rom_cli.training.trainer import Trainer

    items = dpr(4) + [dict(x, question=x["question"] + " (no gold)") for x in dpr(2, gold=False)]
    (tmp_path / "train.json").write_text(json.dumps(items))
    cfg = tiny_cfg("task=dpr", "task.train=train.json", f"data.root={tmp_path}", "task.eval_split=train",
                   "trainer.max_steps=1", "task.eval_limit=2", "eval.top_k=[1]")
    metrics = Trainer(cfg, tmp_path / "run").run()
    assert metrics["train"]["questions_without_gold"] == {"retrieval": 2, "reader": 2}


def test_duplicate_question_ids_are_skipped_and_counted(tmp_path):
    """A repeated question id is not fatal: the first is kept, the rest are skipped and counted."""
    items = dpr(3)
    items[2]["id"] = items[0]["id"] = "same"
    (tmp_path / "train.json").write_text(json.dumps(items))
    out = rom("data", "task=dpr", "task.train=train.json", f"data.root={tmp_path}",
              f"hydra.run.dir={tmp_path / 'run'}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "skipped: train: duplicate question id: 1" in out.stdout
    summary = json.loads((tmp_path / "run" / "data_summary.json").read_text())
    assert summary["splits"]["train"]["questions"] == 2


# ---------------------------------------------------------------------------------------------- config

CONFIG_CASES = {
    "unknown-key-eval": (["eval", "checkpoint=x", "evall.top_k=[1]"], ["evall"]),
    "unknown-key-added": (["train", "+trainer.foo=1"], ["trainer.foo"]),
    "unknown-value-enum": (["train", "supervision.level=partial"], ["supervision.level", "partial"]),
    "unknown-value-format": (["data", "task.format=xml"], ["task.format", "xml"]),
    "unknown-option-ask": (["ask", "checkpoint=x", "index=y", "retriever=sparse", "Who?"], ["retriever", "sparse"]),
    "wrong-type": (["train", "objectives.reader.batch_size=two"], ["objectives.reader.batch_size", "two"]),
    "batch-size-zero": (["train", "objectives.retrieval.batch_size=0"],
                        ["config objectives.retrieval.batch_size=0: expected a positive number"]),
    "batch-size-negative": (["train", "objectives.reader.batch_size=-2"],
                            ["config objectives.reader.batch_size=-2: expected a positive number"]),
    "eval-batch-size-zero": (["train", "eval.batch_size=0"], ["config eval.batch_size=0: expected a positive number"]),
    "first-stage-prior-negative": (["train", "eval.first_stage_prior=-1"],
                                   ["config eval.first_stage_prior=-1.0: expected a weight >= 0"]),
    "refresh-every-zero": (["train", "index.refresh_every=0"],
                           ["config index.refresh_every=0: expected a positive number or null"]),
    "eval-every-zero": (["train", "trainer.eval_every=0"],
                        ["config trainer.eval_every=0: expected a positive number or null"]),
    "keep-last-zero": (["train", "trainer.keep_last=0"], ["config trainer.keep_last=0: expected a positive number"]),
    "limit-negative": (["train", "task.train_limit=-1"], ["config task.train_limit=-1: expected a non-negative"]),
    "train-limit-zero": (["train", "task.train_limit=0"],
                         ["config task.train_limit=0: expected a positive number of training questions"]),
    "reader-group-larger-than-corpus": (["train", "objectives.reader.passages_per_question=100000"],
                                        ["config objectives.reader.passages_per_question=100000: expected at most "
                                         "the", "passages of the training corpus"]),
    "max-length-above-model-limit": (["train", "encoder.reader_max_length=4096"],
                                     ["config encoder.reader_max_length=4096: expected an integer from 8 to the "
                                      "model's limit 512"]),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_config_is_one_line(case, tmp_path):
    args, needles = CONFIG_CASES[case]
    extra = [*TINY, "task.demo_passages=20"] if args[0] == "train" else []
    before = snapshot(tmp_path)
    out = rom(*args[:1], *extra, *args[1:], f"hydra.run.dir={tmp_path / 'run'}")
    one_line_error(out, *needles, root=tmp_path, before=before)


# ------------------------------------------------------------------------------ checkpoints and indexes

SHORT = ["encoder=tiny", "task.demo_passages=20", "task.train_limit=4", "task.eval_limit=4", "trainer.max_steps=2",
         "trainer.threads=1", "trainer.precision=fp32", "trainer.eval_at_start=false", "eval.top_k=[1,5]",
         "eval.read_top_k=[1]", "objectives.ict.batch_size=4", "objectives.retrieval.batch_size=4",
         "objectives.reader.batch_size=2", "objectives.reader.passages_per_question=2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Two short tiny-encoder runs (seeds 1 and 2) and an index built with the first."""
    root = tmp_path_factory.mktemp("runs")
    for name, seed in (("a", 1), ("b", 2)):
        out = rom("train", *SHORT, f"trainer.seed={seed}", f"hydra.run.dir={root / name}")
        assert out.returncode == 0, out.stderr[-3000:]
    out = rom("index", f"checkpoint={root / 'a'}", f"out={root / 'index-a'}", f"hydra.run.dir={root / 'index-run'}")
    assert out.returncode == 0, out.stderr[-3000:]
    return {"a": root / "a", "b": root / "b", "index": root / "index-a"}


@pytest.mark.parametrize("encoder,differ", [
    ("encoder=minilm", "encoder.config_overrides"),
    ("encoder.config_overrides.hidden_size=64", "encoder.config_overrides"),
    ("encoder.shared=false", "encoder.shared"),
])
def test_resume_from_a_checkpoint_of_another_encoder(runs, tmp_path, encoder, differ):
    ckpt = runs["a"] / "checkpoints" / "step-0000002"
    before = snapshot(tmp_path)
    out = rom("train", *SHORT, encoder, f"trainer.resume={ckpt}", f"hydra.run.dir={tmp_path / 'run'}")
    one_line_error(out, f"trainer.resume={ckpt}: checkpoint {ckpt} is of another encoder", differ,
                   "expected a checkpoint of the same encoder", root=tmp_path, before=before)


def test_resume_auto_in_a_run_dir_of_another_encoder(runs, tmp_path):
    """Refused before anything is written: the finished run keeps its own settings (`rom report` reads them)."""
    run = tmp_path / "r"
    shutil.copytree(runs["a"], run)
    kept = {p: (run / p).read_bytes() for p in (".hydra/config.yaml", ".hydra/overrides.yaml", ".hydra/hydra.yaml",
                                                 "metrics.json", "train.log")}
    before = snapshot(tmp_path)
    out = rom("train", *SHORT, "encoder.projection_dim=16", f"hydra.run.dir={run}")
    one_line_error(out, "trainer.resume=auto: checkpoint", "encoder.projection_dim", "trainer.resume=never",
                   root=tmp_path, before=before)
    for p, content in kept.items():
        assert (run / p).read_bytes() == content, f"{p} was rewritten by a refused command"


@pytest.mark.parametrize("command", ["eval", "ask"])
def test_index_of_another_checkpoint(runs, tmp_path, command):
    before = snapshot(tmp_path)
    args = [f"index_dir={runs['index']}"] if command == "eval" else [f"index={runs['index']}", "Who founded it?"]
    out = rom(command, f"checkpoint={runs['b']}", *args, f"hydra.run.dir={tmp_path / 'run'}")
    one_line_error(out, f"index {runs['index']}: encoder fingerprint mismatch", "rebuild it with `rom index`",
                   root=tmp_path, before=before)


def test_index_with_another_passage_count(runs, tmp_path):
    before = snapshot(tmp_path)
    out = rom("eval", f"checkpoint={runs['a']}", f"index_dir={runs['index']}", "task.demo_passages=30",
              f"hydra.run.dir={tmp_path / 'run'}")
    one_line_error(out, f"index {runs['index']}: passage count mismatch", root=tmp_path, before=before)


@pytest.mark.parametrize("args,needle", [
    (["eval", "eval.batch_size=0"], "config eval.batch_size=0: expected a positive number"),
    (["eval", "task.eval_limit=-3"], "config task.eval_limit=-3: expected a non-negative integer"),
    (["eval", "eval.first_stage_prior=-0.5"], "config eval.first_stage_prior=-0.5: expected a weight >= 0"),
    (["index", "index.encode_batch_size=0"], "config index.encode_batch_size=0: expected a positive number"),
    (["ask", "top_k=0", "Who?"], "top_k=0, read_top_k=1: expected integers >= 1"),
])
def test_impossible_eval_index_and_ask_values(runs, tmp_path, args, needle):
    before = snapshot(tmp_path)
    extra = [f"index={runs['index']}"] if args[0] == "ask" else []
    out = rom(args[0], f"checkpoint={runs['a']}", *extra, *args[1:], f"hydra.run.dir={tmp_path / 'run'}")
    one_line_error(out, needle, root=tmp_path, before=before)


# ------------------------------------------------------------------------------------------- outputs


def unwritable(tmp_path: Path) -> tuple[Path, str]:
    """(a directory path that cannot be created or written, the path the error must name).

    As root, permissions do not stop writes, so the path goes through a regular file instead."""
    if os.geteuid() == 0:
        blocker = tmp_path / "afile"
        blocker.write_text("not a directory\n")
        return blocker / "run", str(blocker)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked / "run", str(locked / "run")


@pytest.mark.parametrize("command", ["train", "data"])
def test_output_dir_not_writable(command, tmp_path):
    target, named = unwritable(tmp_path)
    before = snapshot(tmp_path)
    extra = [*TINY] if command == "train" else []
    out = rom(command, *extra, f"hydra.run.dir={target}")
    line = one_line_error(out, str(target), named, "expected a writable directory", root=tmp_path, before=before)
    assert "hydra.run.dir" in line


@pytest.mark.parametrize("command", ["eval", "index"])
def test_eval_and_index_outputs_not_writable(runs, tmp_path, command):
    target, named = unwritable(tmp_path)
    before = snapshot(tmp_path)
    where = [f"hydra.run.dir={target}"] if command == "eval" else [f"out={target / 'idx'}",
                                                                     f"hydra.run.dir={tmp_path / 'run'}"]
    out = rom(command, f"checkpoint={runs['a']}", *where)
    one_line_error(out, named, "expected a writable directory", root=tmp_path, before=before)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
@pytest.mark.parametrize("command,where", [
    ("train", "hydra.run.dir={p}"), ("data", "hydra.run.dir={p}"), ("report", "out={p}"),
])
def test_an_output_path_that_cannot_be_created_is_one_line(command, where, tmp_path, runs):
    """/proc accepts no folders, whoever asks (root included): the path is named, no traceback."""
    folder = f"/proc/rom-test-{os.getpid()}"  # the first folder that cannot be made is named
    extra = {"train": [*TINY], "report": [str(runs["a"]), f"hydra.run.dir={tmp_path / 'run'}"]}.get(command, [])
    out = rom(command, *extra, where.format(p=f"{folder}/run"))
    one_line_error(out, folder, "expected a writable directory")


def test_an_index_target_that_cannot_be_created_is_refused_before_encoding(runs, tmp_path):
    target = f"/proc/rom-test-{os.getpid()}/idx"
    out = rom("index", f"checkpoint={runs['a']}", f"out={target}", f"hydra.run.dir={tmp_path / 'run'}")
    one_line_error(out, target, "expected a writable directory")
    assert "encoding" not in out.stderr and "encode" not in out.stdout


@pytest.mark.parametrize("command", ["train", "eval", "index", "ask", "report", "data"])
def test_added_keys_are_refused_by_every_command(tmp_path, command):
    """`+key=value` adds a key no schema knows: refused before any work, not silently ignored."""
    before = snapshot(tmp_path)
    out = rom(command, "+lr_typo=1", f"hydra.run.dir={tmp_path / 'run'}")
    one_line_error(out, "config lr_typo=1: expected one of the keys of the config:", root=tmp_path, before=before)
