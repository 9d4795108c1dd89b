"""Settings of ``discover``: clustering hosts of one embedding and tracking the clusters from day to day.

Neither paper clusters hosts (the temporal-GNN paper names clustering of its embeddings as the next
downstream task), so every default here is a documented choice, not a paper's setting (docs/discover.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

BEST = "best"
"""``space`` value: the variant with the highest macro-F1 in the sensor's evaluation (``results/evaluate``), else the first embedded."""
STACK = "stack"
"""``space`` value: the sensor's stacked probability space (every base's 3-NN class shares side by side)."""


class DiscoverSettings(BaseModel):
    """How the hosts of a day are grouped and how groups are matched with those of the last clustered days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    space: str = Field(
        BEST,
        description="Vectors clustered: 'best' (the variant scoring the highest macro-F1 in the sensor's evaluation; "
        "without a scored evaluation, the first of run.variants embedded), "
        "a variant name (ds, idarkvec, igcngru, ...), or 'stack' (the stacked probability space of the sensor's bases, "
        "stack.base_variants: the meta-learner's inputs).",
    )
    min_cluster_size: int = Field(
        5, ge=2, description="HDBSCAN's smallest group (scikit-learn's default, 5): fewer hosts acting alike are noise."
    )
    min_samples: int | None = Field(
        None, ge=1, description="HDBSCAN's neighbourhood size for core points (None: min_cluster_size, scikit-learn's default)."
    )
    min_hosts: int = Field(20, ge=2, description="A day with fewer embedded hosts than this is not clustered (skip line).")
    match_jaccard: float = Field(
        0.3,
        gt=0,
        le=1,
        description="A cluster continues a group when the Jaccard index of the cluster and the group's members of the "
        "last track_days clustered days, counted over the hosts embedded today and on those days, reaches this.",
    )
    track_days: int = Field(
        3,
        ge=1,
        description="Clustered days a group's members are remembered for matching (1: the previous day only); a group "
        "with no cluster on that many clustered days in a row ends.",
    )
    size_change: float = Field(
        0.2, ge=0, description="A continued group has grown (shrunk) when its size rose (fell) by more than this share."
    )
    top_ports: int = Field(5, ge=1, description="Ports listed per group (by packets of its members).")
    members_listed: int = Field(20, ge=1, description="Member addresses listed per group in groups-day=….json (most packets first).")

    @field_validator("space")
    @classmethod
    def _known_space(cls, space: str) -> str:
        if space in (BEST, STACK):
            return space
        from darkstack.pipeline.config import parse_variant

        parse_variant(space)
        return space
