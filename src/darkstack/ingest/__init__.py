"""Ingest: captures (pcap/pcapng) and text/honeypot logs → the canonical store."""

from darkstack.ingest.run import FileReport, IngestReport, ingest
from darkstack.ingest.settings import IngestSettings

__all__ = ["FileReport", "IngestReport", "IngestSettings", "ingest"]
