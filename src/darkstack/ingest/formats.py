"""Input formats: detection from a file's first bytes, each format's reader and default sensor kind."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from darkstack.errors import ConfigError, DarkstackError, InputFormatError
from darkstack.ingest.batch import Batch, open_input, read_errors
from darkstack.ingest.cowrie import read_cowrie
from darkstack.ingest.dionaea import SQLITE_MAGIC, is_dionaea, read_dionaea
from darkstack.ingest.flowtuple import AVRO_MAGIC, read_flowtuple
from darkstack.ingest.merit import read_merit
from darkstack.ingest.fingerprints import sibling_files, with_fingerprints
from darkstack.ingest.mhn import read_mhn
from darkstack.ingest.pcap import (
    PCAP_MAGIC_NS,
    PCAP_MAGIC_NS_SWAPPED,
    PCAP_MAGIC_US,
    PCAP_MAGIC_US_SWAPPED,
    read_pcap,
)
from darkstack.ingest.records import PCAPNG_SHB
from darkstack.ingest.spoki import read_spoki
from darkstack.ingest.settings import IngestSettings
from darkstack.ingest.suricata import read_suricata
from darkstack.ingest.textlog import read_textlog, read_tokenlog
from darkstack.ingest.tpot import read_tpot, recognise
from darkstack.ingest.zeek import read_zeek

SNIFF_BYTES = 64 << 10


@dataclass(frozen=True)
class Format:
    name: str
    read: Callable[[Path], Iterator[Batch]]
    kind: str
    """Sensor kind used when neither the user nor the sensor registry says otherwise."""
    description: str
    options: Callable[[IngestSettings], dict] | None = None
    """Keyword arguments of ``read`` taken from the ingest settings that change what it gives (part of the
    manifest key, so changing them re-reads the file)."""
    companions: Callable[[Path], list[Path]] | None = None
    """Other files ``read`` reads beside the input (their content is part of the manifest key)."""
    tokens: bool = False
    """``read`` takes the workspace's token table (``tokens=``): the format's addresses may be tokens."""


def _fingerprint_options(settings: IngestSettings) -> dict:
    return {"fingerprint_window_s": settings.fingerprint_window_s}


FORMATS = {
    "pcap": Format("pcap", read_pcap, "darknet", "classic pcap or pcapng capture"),
    "textlog": Format("textlog", read_textlog, "darknet", "the authors' space-separated raw packet log"),
    "tokenlog": Format("tokenlog", read_tokenlog, "darknet",
                       "the authors' packet log comma-separated, addresses as tokens (DarkVec public trace)", tokens=True),
    "spoki": Format("spoki", read_spoki, "darknet", "Spoki raw per-packet CSV ('|'-separated)"),
    "mhn": Format("mhn", read_mhn, "honeypot", "Modern Honey Network JSON-lines export"),
    "cowrie": Format("cowrie", with_fingerprints(read_cowrie), "honeypot", "Cowrie JSON event log",
                     options=_fingerprint_options, companions=sibling_files),
    "tpot": Format("tpot", with_fingerprints(read_tpot), "honeypot",
                   "a T-Pot honeypot log (honeytrap, dionaea, adbhoney, conpot, heralding, tanner, …; p0f/fatt joined)",
                   options=_fingerprint_options, companions=sibling_files),
    "dionaea": Format("dionaea", read_dionaea, "honeypot", "Dionaea SQLite database (logsql)"),
    "suricata": Format("suricata", read_suricata, "honeypot", "Suricata eve.json (flows, alerts, app events)"),
    "zeek": Format("zeek", read_zeek, "darknet", "Zeek conn.log (TSV with #fields, or JSON lines)"),
    "flowtuple": Format("flowtuple", read_flowtuple, "darknet", "CAIDA corsaro3 flowtuple (Avro)"),
    "merit": Format("merit", read_merit, "darknet", "Merit darknet-events NDJSON"),
}
PCAP_MAGICS = {PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_US_SWAPPED, PCAP_MAGIC_NS_SWAPPED, PCAPNG_SHB}


def get_format(name: str) -> Format:
    if name not in FORMATS:
        raise ConfigError(f"unknown format {name!r}; choose auto or one of {', '.join(sorted(FORMATS))}")
    return FORMATS[name]


def _head(path: Path) -> bytes:
    """The first bytes of the file's content (decompressed when gzip, bz2 or xz)."""
    with open_input(path) as fh, read_errors(fh, path):
        return fh.read(SNIFF_BYTES)


def detect(path: str | Path) -> Format:
    """Tell the format from the content: capture, SQLite or Avro magic, JSON event fields, or a header row."""
    path = Path(path)
    if path.is_dir():
        raise DarkstackError("is a folder, not a file", path)
    head = _head(path)
    if not head:
        raise InputFormatError("empty file", path)
    if len(head) >= 4 and int.from_bytes(head[:4], "little") in PCAP_MAGICS:
        return FORMATS["pcap"]
    if head.startswith(SQLITE_MAGIC):
        if is_dionaea(path):
            return FORMATS["dionaea"]
        raise InputFormatError("SQLite database without Dionaea's tables (connections, logins, downloads)", path)
    if head.startswith(AVRO_MAGIC):
        if b"packet_cnt" in head:
            return FORMATS["flowtuple"]
        raise InputFormatError("Avro file whose schema is not a corsaro flowtuple (no packet_cnt field)", path)
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    tpot_log = recognise(head) is not None  # a T-Pot log may start with text (ciscoasa, ddospot) or CSV (heralding)
    if first.startswith("{"):
        try:
            obj = json.loads(first)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            if str(obj.get("eventid", "")).startswith("cowrie."):
                return FORMATS["cowrie"]
            if tpot_log:  # before MHN and Suricata: heralding and sentrypeer records have a source_ip, conpot an event_type
                return FORMATS["tpot"]
            if "event_type" in obj and ("flow_id" in obj or "src_ip" in obj):
                return FORMATS["suricata"]
            if "id.orig_h" in obj:
                return FORMATS["zeek"]
            if "SourceIP" in obj and "Traffic" in obj:
                return FORMATS["merit"]
            if "source_ip" in obj or "hpfeed_id" in obj:
                return FORMATS["mhn"]
    if tpot_log:
        return FORMATS["tpot"]
    if first.startswith(("#separator", "#fields")):
        return FORMATS["zeek"]
    columns = set(first.split("|")) if "|" in first else set(first.split(" "))
    if {"saddr", "daddr", "snum"} <= columns:
        return FORMATS["spoki"]
    if {"ts", "src_ip", "dst_ip", "dst_port"} <= columns:
        return FORMATS["textlog"]
    if {"ts", "src_ip", "dst_ip", "dst_port"} <= set(first.split(",")):
        return FORMATS["tokenlog"]
    raise InputFormatError(f"cannot tell the format (first bytes {head[:16]!r}); give --format "
                           f"({', '.join(FORMATS)})", path)



