"""Export settings (``[export]`` in darkstack.toml, options of ``darkstack export``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from darkstack.export.formats import FORMATS


class ExportSettings(BaseModel):
    """Which hosts and feed files the export step writes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="Export each scenario's predicted day after predict (and discover) in `darkstack run`.")
    top_strings: int = Field(
        5, ge=0, description="Most frequent usernames, passwords, commands, downloads and web requests kept per host and day (0: counts per event kind only)."
    )
    max_string_length: int = Field(200, ge=16, le=2048, description="Characters kept of each of those strings (longer ones are cut, marked with …).")
    include: Literal["all", "predicted", "labelled"] = Field(
        "all", description="Hosts exported: all (ground-truth labels and predictions), predicted (the hosts predict labelled) or labelled (ground truth only)."
    )
    formats: tuple[str, ...] = Field(FORMATS, min_length=1, description="Feed formats written: csv, jsonl, misp, stix (default: all four).")

    @field_validator("formats")
    @classmethod
    def _known(cls, formats):
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown export format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
        return tuple(dict.fromkeys(formats))
