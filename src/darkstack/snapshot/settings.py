"""Snapshot settings: the filters of the papers, each an option (defaults = the papers' values)."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SNAPSHOT_FORMAT = 2
"""Version of the snapshot tables' layout (2: the corpus has ``hour``); part of the settings hash, so days
written in an older layout are rebuilt."""


class SnapshotSettings(BaseModel):
    """What goes into a daily snapshot. Changing any field changes the settings hash, so days are recomputed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tcp_only: bool = Field(True, description="Keep TCP packets only (both papers).")
    syn_only: bool = Field(
        False,
        description="Keep only pure SYNs (SYN set, ACK clear), as the stacking paper's darknet; the temporal-GNN "
        "paper and the reference code keep all TCP. Honeypot rows already are session SYNs.",
    )
    min_packets: int = Field(5, ge=0, description="Host filter threshold: packets a host must send that day.")
    host_filter: Literal["ge", "gt"] = Field(
        "ge",
        description="'ge' keeps hosts with >= min_packets packets (the papers: 'remove hosts that send less than "
        "5 packets'); 'gt' keeps > min_packets, as the reference code does (at least 6).",
    )
    top_ports: int = Field(2500, ge=1, description="Ports kept by packet count that day; the rest fold into port -1.")

    @classmethod
    def reference(cls, **overrides) -> SnapshotSettings:
        """The reference code's behaviour: hosts with more than ``min_packets`` packets."""
        return cls(**{"host_filter": "gt", **overrides})

    @property
    def min_host_packets(self) -> int:
        """The smallest packet count a kept host has (the one comparison every engine uses)."""
        return self.min_packets if self.host_filter == "ge" else self.min_packets + 1

    def settings_hash(self) -> str:
        """Short stable hash of the settings (keys the cached days)."""
        text = json.dumps({**self.model_dump(), "format": SNAPSHOT_FORMAT}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
