"""Settings of the 3-NN leave-one-out evaluation (defaults: temporal-GNN paper §4 and its reference code)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from darkstack.evaluate.knn import APPROX_ABOVE, EXACT_MAX

TIE_RULES = ("nearest", "alphabetical")
Search = Literal["auto", "exact", "ivf", "hnsw"]
SEARCH_HELP = (
    "Neighbour search: 'auto' = exact up to approx_above hosts, FAISS IVF candidates above (then the exact "
    "re-rank; recall of the 3 neighbours >= 0.99, docs/evaluation.md); 'exact' always; 'ivf' / 'hnsw' always approximate."
)
APPROX_ABOVE_HELP = "search = 'auto': days with more hosts than this use the approximate IVF candidates (papers: exact)."


class EvalSettings(BaseModel):
    """How embeddings are judged: k-NN leave-one-out per test day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int = Field(3, ge=1, description="Neighbours per host (paper: k = 3).")
    metric: Literal["cosine"] = Field("cosine", description="Similarity of the neighbour search (paper: cosine).")
    test_days: int = Field(
        11,
        ge=1,
        description="Evaluate the last N days (paper: the last 11 of 31); fewer when fewer than test_days + "
        "train_days days exist (docs/evaluation.md). A variant lacking one of them is left out with a skip line.",
    )
    train_days: int = Field(
        20,
        ge=0,
        description="Days the papers keep before the test days (20 of 31). With fewer days present, the test days "
        "keep the ratio test_days : train_days (at least one); 0 scores every day up to test_days.",
    )
    min_class_hosts: int = Field(
        11,
        ge=1,
        description="A class needs at least this many hosts on a day to be scored that day; smaller classes are "
        "folded into unknown (reference: 10 or fewer hosts are folded).",
    )
    standardise: bool = Field(True, description="Standardise every dimension over all hosts of the day first (reference).")
    tie_rule: Literal["nearest", "alphabetical"] = Field(
        "nearest",
        description="Vote ties (the 1-1-1 case of 3-NN) go to the class of the nearest neighbour among the tied ones "
        "('nearest'), or to the alphabetically first tied class ('alphabetical', the reference code's rule).",
    )
    exact_max: int = Field(
        EXACT_MAX, ge=0, description="Days with more hosts than this search candidates with FAISS instead of exact blocks."
    )
    search: Search = Field("auto", description=SEARCH_HELP)
    approx_above: int = Field(APPROX_ABOVE, ge=0, description=APPROX_ABOVE_HELP)
