"""Run directories: a command's config is written only once it runs; empty ones do not stay behind."""

from __future__ import annotations

from rom_cli.run_dir import discard_if_empty, holds_only_log


def test_a_folder_with_only_the_log_is_removed_with_its_empty_date_folder(tmp_path):
    run = tmp_path / "outputs" / "ask" / "2026-01-01" / "10-00-00"
    run.mkdir(parents=True)
    (run / "ask.log").write_text("")
    assert holds_only_log(run, "ask.log")
    assert discard_if_empty(run, "ask.log", "ask")
    assert not run.exists() and not run.parent.exists() and (tmp_path / "outputs" / "ask").is_dir()


def test_a_folder_with_anything_else_stays(tmp_path):
    run = tmp_path / "mine"
    run.mkdir()
    (run / "train.log").write_text("x")
    (run / "metrics.json").write_text("{}")
    assert not discard_if_empty(run, "train.log", "train")
    assert (run / "metrics.json").exists()
    other = tmp_path / "parent" / "run"  # a user's own parent folder is never removed
    other.mkdir(parents=True)
    assert discard_if_empty(other, "train.log", "train")
    assert (tmp_path / "parent").is_dir()
