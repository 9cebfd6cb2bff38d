"""User-facing errors: one line on stderr, exit status 2, never a traceback.

Anything the user can fix (a path, a config value, a malformed data line) raises `RomError`
with a message that names the file/key/value and what was expected. Real bugs stay ordinary
exceptions so their traceback is kept.
"""

from __future__ import annotations

import sys

EXIT_USER_ERROR = 2


class RomError(Exception):
    """A mistake in the user's input, reported as one line."""


class DataError(RomError):
    """Malformed or missing data: the message names the file (and line where it applies)."""

    def __init__(self, path, what: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {what}")
        self.path = path
        self.line = line


class ConfigError(RomError):
    """A config value that composes but cannot work (e.g. a negative batch size)."""

    def __init__(self, key: str, value, expected: str):
        super().__init__(f"config {key}={value!r}: expected {expected}")
        self.key = key


def fail(message: str) -> None:
    """Print one line and exit 2 (used at the outermost layer only)."""
    sys.stderr.write(f"rom: error: {one_line(message)}\n")
    sys.stderr.flush()
    raise SystemExit(EXIT_USER_ERROR)


def one_line(message: str) -> str:
    parts = [p.strip() for p in str(message).splitlines() if p.strip()]
    return " ".join(parts)
