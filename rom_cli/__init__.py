"""rom: Retrieval Optimized Multi-task learning with one shared encoder, driven by Hydra configs."""

__version__ = "0.1.0"
