"""Discovery (stage ``discover``): clusters of hosts per day and sensor, described and tracked as groups
from day to day, so that coordinated unknown senders show up as one group. See docs/discover.md."""

from darkstack.discover.run import discover
from darkstack.discover.settings import DiscoverSettings

__all__ = ["DiscoverSettings", "discover"]
