"""Self-contained HTML report of a workspace: dataset overview, F1 tables, studies, stacking, predictions.

``build_report`` is imported on first use, so ``darkstack --help`` does not load pandas and pyarrow.
"""

__all__ = ["build_report"]


def __getattr__(name: str):
    if name == "build_report":
        from darkstack.report.build import build_report

        return build_report
    raise AttributeError(f"module 'darkstack.report' has no attribute {name!r}")
