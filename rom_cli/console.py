"""Terminal output: one place decides width, wrapping, progress bars and the copy in the run's log.

On a terminal Rich lays text out to the window. Anywhere else (a pipe, a file, a CI log) a line is
never wrapped and a table never truncated: paths stay whole, and `grep` finds them. Everything
printed through `make_console` consoles is also appended, without colour, to the run's log file
(Hydra's `<run dir>/<command>.log`) once `attach_log` has named it, so a run directory keeps what
its command said.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

WIDE = 100_000  # "no wrapping" for a console that is not a terminal: tables take the width they need

_log_path: Path | None = None


def attach_log(path: str | Path | None) -> None:
    """Copy every later console print into `path` (appended; None stops copying)."""
    global _log_path
    _log_path = None if path is None else Path(path)


def log_path() -> Path | None:
    return _log_path


def append_log(text: str) -> None:
    """One plain line into the attached log (e.g. the one-line error a command ends with)."""
    if _log_path is None:
        return
    try:
        with open(_log_path, "a", encoding="utf-8") as fh:
            fh.write(text.rstrip("\n") + "\n")
    except OSError:  # the log is a copy: losing it must never fail the command
        pass


class RunConsole(Console):
    """A Rich console that also writes what it prints (not live progress bars) to the attached log."""

    def on_broken_pipe(self) -> None:
        """`rom report ... | head`: the reader has what it wanted; stop quietly with status 0 (Rich's own
        handler exits 1, which reads as a failure in a `set -o pipefail` script)."""
        self.quiet = True
        raise BrokenPipeError

    def print(self, *objects, **kwargs) -> None:  # noqa: A003 - Rich's name
        super().print(*objects, **kwargs)
        if _log_path is None:
            return
        try:
            with open(_log_path, "a", encoding="utf-8") as fh:
                Console(file=fh, width=WIDE, soft_wrap=True, color_system=None, force_terminal=False,
                        highlight=False).print(*objects, **kwargs)
        except OSError:
            pass


def make_console(stderr: bool = False) -> RunConsole:
    """A console for stdout (results) or stderr (progress and notes)."""
    stream = sys.stderr if stderr else sys.stdout
    tty = bool(getattr(stream, "isatty", lambda: False)())
    if tty:
        return RunConsole(stderr=stderr)
    return RunConsole(stderr=stderr, width=WIDE, soft_wrap=True)


def progress_bar(console: Console, label: str, *fields: str) -> Progress:
    """The bar every long loop shows: label, bar, done/total, elapsed, remaining, and a free text field."""
    return Progress(TextColumn(f"[bold blue]{label}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                    console=console, transient=False)


@contextlib.contextmanager
def tracked(console: Console | None, label: str, total: int, unit: str = "") -> Iterator[Callable[[int], None]]:
    """`with tracked(console, "encode", n, "passages") as advance: ... advance(k)`: a progress bar with a
    rate (items/s); a no-op when `console` is None (library calls, tests)."""
    if console is None or total <= 0:
        yield lambda n=1: None
        return
    start = time.perf_counter()
    done = 0
    with progress_bar(console, label) as bar:
        task = bar.add_task(label, total=total, info="")

        def advance(n: int = 1) -> None:
            nonlocal done
            done += n
            rate = done / max(time.perf_counter() - start, 1e-9)
            bar.update(task, completed=done, info=f"{rate:,.0f} {unit}/s".strip())

        yield advance
