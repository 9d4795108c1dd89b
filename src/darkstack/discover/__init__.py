"""Discovery (stage ``discover``): clusters of hosts per day and sensor, described and tracked as groups
from day to day, so that coordinated unknown senders show up as one group. See docs/discover.md.

``discover`` is imported on first use, so importing the command (``darkstack --help``) stays light.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"discover": "darkstack.discover.run", "DiscoverSettings": "darkstack.discover.settings"}
__all__ = ["DiscoverSettings", "discover"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'darkstack.discover' has no attribute {name!r}")
