"""`rom train`: joint multi-task training (lands with the training issue)."""

from rom_cli.errors import RomError


def run(cfg) -> None:
    raise RomError("rom train: not implemented yet (tracked by the joint-training issue)")
