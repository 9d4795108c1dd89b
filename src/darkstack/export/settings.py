"""Export settings (``[export]`` in darkstack.toml, options of ``darkstack export``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from darkstack.export.formats import FORMATS


class ExportSettings(BaseModel):
    """Which feed files the export step writes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="Export each scenario's predicted day after predict (and discover) in `darkstack run`.")
    formats: tuple[str, ...] = Field(FORMATS, min_length=1, description="Feed formats written: csv, jsonl, misp, stix (default: all four).")

    @field_validator("formats")
    @classmethod
    def _known(cls, formats):
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown export format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
        return tuple(dict.fromkeys(formats))
