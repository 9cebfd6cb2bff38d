"""rom: Retrieval Optimized Multi-task learning with one shared encoder, driven by Hydra configs.

`rom_cli.load(checkpoint)` opens a trained checkpoint for Python use (rom_cli/api.py); it is imported on
first access, so `import rom_cli` stays light (no torch, no transformers).
"""

__version__ = "0.1.0"
__all__ = ["__version__", "load"]


def __getattr__(name: str):
    if name == "load":
        from rom_cli.api import load

        return load
    raise AttributeError(f"module 'rom_cli' has no attribute {name!r}")
