"""Console output: unwrapped off a terminal, copied into the run's log once attached."""

from __future__ import annotations

import io

from rich.table import Table

from rom_cli import console as con


def test_off_a_terminal_nothing_wraps_and_tables_are_not_truncated(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr("sys.stdout", buf)
    c = con.make_console()
    long_path = "/data/" + "/".join(f"folder-{i:02d}" for i in range(20)) + "/checkpoints/step-0000300"
    c.print(f"checkpoint: {long_path}")
    table = Table()
    for i in range(12):
        table.add_column(f"a long column header {i}")
    table.add_row(*[f"value-{i}-{'x' * 20}" for i in range(12)])
    c.print(table)
    out = buf.getvalue()
    assert f"checkpoint: {long_path}\n" in out
    assert "value-11-" + "x" * 20 in out and "…" not in out


def test_prints_are_copied_to_the_attached_log_without_colour(tmp_path):
    log = tmp_path / "train.log"
    c = con.RunConsole(file=io.StringIO(), force_terminal=True)
    c.print("before attaching")
    con.attach_log(log)
    try:
        c.print("[bold]rom train[/]: encoder tiny")
        con.append_log("rom: error: something")
    finally:
        con.attach_log(None)
    c.print("after detaching")
    assert log.read_text() == "rom train: encoder tiny\nrom: error: something\n"


def test_tracked_reports_progress_and_is_silent_without_a_console():
    with con.tracked(None, "encode", 10) as advance:
        advance(10)  # no console: nothing happens, nothing fails
    buf = io.StringIO()
    c = con.RunConsole(file=buf, width=120)
    with con.tracked(c, "encode", 4, "passages") as advance:
        advance(2)
        advance(2)
    assert "encode" in buf.getvalue() and "4/4" in buf.getvalue() and "passages/s" in buf.getvalue()
