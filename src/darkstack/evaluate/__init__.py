"""Evaluation: 3-NN leave-one-out host classification, per-class F1 tables and parameter studies.

``evaluate`` and ``study`` are imported on first use, so importing ``darkstack.evaluate.knn`` or the
commands stays light.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "evaluate": "darkstack.evaluate.run",
    "EvaluationResult": "darkstack.evaluate.run",
    "EvalSettings": "darkstack.evaluate.settings",
    "study": "darkstack.evaluate.studies",
}
__all__ = ["EvalSettings", "EvaluationResult", "evaluate", "study"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'darkstack.evaluate' has no attribute {name!r}")
