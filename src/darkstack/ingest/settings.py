"""Options of ``darkstack ingest``."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


FINGERPRINT_WINDOW_S = 3600.0
"""Default p0f join window: a SYN's TTL, MSS and window are the sender's OS stack and path, stable for an hour."""

ENGINE_KEYS = frozenset({"engine", "spark_master"})
"""Settings that choose where files are read, not what they become (so not part of a pipeline step's key)."""


class IngestSettings(BaseModel):
    """How input files are read into the store (no paper setting applies: these are operational)."""

    model_config = ConfigDict(frozen=True)

    chunk_bytes: int = Field(64 << 20, ge=1 << 16, description="Bytes of a capture decoded per step (bounds memory).")
    exclude_sources: tuple[str, ...] = Field(
        (), description="CIDR networks whose packets are dropped (counted), e.g. the telescope's own replies.")
    preserve_mirai: bool = Field(
        True, description="When anonymising, a TCP sequence number equal to the real destination address is "
                          "replaced by the anonymised destination, so the Mirai fingerprint survives.")
    token_scope: Literal["workspace", "file"] = Field(
        "workspace", description="Traces whose addresses are tokens: 'workspace' = a token names one host in every file "
                                 "(one address per token; labels keyed by tokens map), 'file' = each file numbers its own "
                                 "tokens (the DarkVec public trace), so equal tokens of two files get two addresses.")

    fingerprint_window_s: float = Field(
        FINGERPRINT_WINDOW_S, gt=0, description="Seconds either side of a honeypot session within which a p0f SYN of the same "
                                "source fills its TTL, MSS and window (T-Pot folders; docs/ingest.md).")

    engine: Literal["embedded", "spark"] = Field(
        "embedded", description="Where files are decoded: 'embedded' (this process, one file after the other) or 'spark' "
                                "(one Spark task per file, docs/ingest.md); both write the same store.")
    spark_master: str = Field("local[*]", description="Spark master URL for engine = 'spark' (local[N] or a cluster's).")

    @field_validator("exclude_sources")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            ipaddress.IPv4Network(net, strict=False)
        return value
