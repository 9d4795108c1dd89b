"""darkstack: tells who is knocking on your darknet and honeypots."""

__version__ = "0.2.0"
