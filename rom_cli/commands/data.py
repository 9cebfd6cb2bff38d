"""`rom data`: joint multi-task dataing (lands with the dataing issue)."""

from rom_cli.errors import RomError


def run(cfg) -> None:
    raise RomError("rom data: not implemented yet (tracked by the joint-dataing issue)")
