"""Stacking settings: base classifiers, the meta-learner and its cross-validation (defaults = the stacking paper)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from darkstack.evaluate.knn import APPROX_ABOVE
from darkstack.evaluate.settings import APPROX_ABOVE_HELP, SEARCH_HELP, Search


class StackSettings(BaseModel):
    """How the base 3-NN classifiers are combined. Every field has the paper's value (or a documented choice)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    darknet_sensor: str | None = Field(
        None, description="Sensor used by scenario D (and the D half of DH); None: the workspace's one darknet-kind sensor."
    )
    honeypot_sensor: str | None = Field(
        None, description="Sensor used by scenario H (and the H half of DH); None: the workspace's one honeypot-kind sensor."
    )
    base_variants: tuple[str, ...] = Field(
        ("ds", "idarkvec", "igcngru"),
        description="Embedding variants stacked per sensor: domain-specific features, text (i-DarkVec), graph "
        "(i-GCN-GRU with features), as in the paper.",
    )
    app_features: bool = Field(
        False,
        description="Append the honeypot application block (sessions, logins, usernames, passwords, commands, "
        "downloads, services, payload bytes; from the honeypot events) to the DS base of honeypot-kind sensors. "
        "Beyond the papers; scores of classes labelled from the same events are circular (docs/stacking.md).",
    )
    k: int = Field(3, ge=1, description="Neighbours of each base kNN classifier.")
    metric: Literal["cosine"] = Field("cosine", description="kNN distance (the paper: cosine on standardised embeddings).")
    min_class_hosts: int = Field(
        11, ge=1, description="A class needs at least this many hosts that day, else it is folded into unknown (as the evaluation)."
    )
    test_days: int = Field(
        11,
        ge=1,
        description="Evaluate the last N days on which any base has embeddings (a day missing a base is left out "
        "with a skip line); fewer when fewer than test_days + train_days such days exist (docs/evaluation.md).",
    )
    train_days: int = Field(
        20,
        ge=0,
        description="Days the paper keeps before the test days (20 of 31). With fewer days, the test days keep the "
        "ratio test_days : train_days (at least one); 0 stacks every day up to test_days.",
    )
    folds: int = Field(10, ge=2, description="Stratified folds of the meta-learner's cross-validation per day.")
    undersample_unknown: bool = Field(True, description="Randomly undersample unknown training hosts before fitting the meta-learner.")
    undersample_rank: int = Field(
        3, ge=1, description="Unknown is undersampled to the size of the N-th largest labelled class of the training data (paper: third)."
    )
    lr_C: float = Field(1.0, gt=0, description="Inverse L2 regularisation strength of the logistic regression (not stated in the paper).")
    lr_solver: Literal["lbfgs", "newton-cg", "sag", "saga"] = Field("lbfgs", description="Logistic-regression solver.")
    lr_multinomial: bool = Field(True, description="One multinomial (softmax) model; False fits one-vs-rest binary models.")
    lr_max_iter: int = Field(1000, ge=1, description="Iteration cap of the solver (enough to converge on probability inputs).")
    lr_class_weight: Literal["balanced"] | None = Field(None, description="Class weights of the logistic regression (paper: none).")
    neighbour_margin: int = Field(
        5,
        ge=0,
        description="Extra neighbours fetched once per base so every fold's neighbours are cut from one search "
        "(hosts left short are searched again exactly; only speed depends on it).",
    )
    search: Search = Field("auto", description=SEARCH_HELP + " The folds cut their neighbours from this search.")
    approx_above: int = Field(APPROX_ABOVE, ge=0, description=APPROX_ABOVE_HELP)
    figures: bool = Field(True, description="Draw the PNG figures (confusion matrices, coefficients); the CSVs are always written.")
    confusion_day: dt.date | None = Field(None, description="Day of the confusion matrices and coefficients (default: the last test day).")

    def settings_hash(self) -> str:
        """Short stable hash of the settings."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
