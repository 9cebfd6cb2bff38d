"""`rom index`: lands with the eval/index/ask/report issue."""

from rom_cli.errors import RomError


def run(cfg) -> None:
    raise RomError("rom index: not implemented yet (tracked by the eval/index/ask/report issue)")
