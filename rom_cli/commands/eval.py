"""`rom eval`: lands with the eval/index/ask/report issue."""

from rom_cli.errors import RomError


def run(cfg) -> None:
    raise RomError("rom eval: not implemented yet (tracked by the eval/index/ask/report issue)")
