"""The pipeline (stage ``run`` / ``update`` / ``demo``): a validated ``darkstack.toml``, cached steps, daily updates.

Exports are imported on first use, so the command line stays fast.
"""

import importlib

_EXPORTS = {
    "PipelineConfig": "darkstack.pipeline.config",
    "load_config": "darkstack.pipeline.config",
    "run_pipeline": "darkstack.pipeline.run",
    "update_day": "darkstack.pipeline.update",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'darkstack.pipeline' has no attribute {name!r}")
