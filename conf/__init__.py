"""Hydra configs shipped inside the wheel as the package rom_cli.conf."""
