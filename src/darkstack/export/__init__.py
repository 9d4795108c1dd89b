"""Feeds of a day's classified hosts for SOCs and blocklists: CSV, JSON lines, MISP event, STIX 2.1 indicators."""

from darkstack.export.run import export, export_dir

__all__ = ["export", "export_dir"]
