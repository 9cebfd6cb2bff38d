"""The wheel ships every module and every preset: pyproject's explicit package list covers the tree."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed():
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for root, prefix in ((REPO / "rom_cli", "rom_cli"), (REPO / "conf", "rom_cli.conf")):
        for folder in [root, *[p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__"]]:
            if any(folder.glob("*.py")) or any(folder.glob("*.yaml")):
                rel = folder.relative_to(root).parts
                found.add(".".join((prefix, *rel)))
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - found == set(), "these listed packages have no folder"
