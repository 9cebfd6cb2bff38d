"""`rom report`: lands with the eval/index/ask/report issue."""

from rom_cli.errors import RomError


def run(cfg) -> None:
    raise RomError("rom report: not implemented yet (tracked by the eval/index/ask/report issue)")
