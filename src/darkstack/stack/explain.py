"""Explanations of the meta-learner: coefficients per class and base, per-sensor averages, per-host contributions.

The regression has one linear function per class over the bases' class probabilities. The importance
of base ``b`` for class ``c`` (paper Fig. 4a/6) is the coefficient of class ``c``'s function on base
``b``'s probability of ``c``; the importance of a sensor (Fig. 4b) is the mean of that coefficient over
the sensor's bases. A host's contribution of base ``b`` is Σ coefficient · input over base ``b``'s
columns in the function of the host's predicted class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from darkstack.stack.bases import Base
from darkstack.stack.meta import MetaModel

INTERCEPT = "(intercept)"


def coefficient_table(model: MetaModel, classes: list[str], bases: list[Base]) -> pd.DataFrame:
    """Every coefficient: class (the function), base, sensor, input_class, coef; plus one intercept row per class."""
    n_classes = len(classes)
    rows = []
    for row, code in enumerate(model.classes):
        for b, base in enumerate(bases):
            for j, input_class in enumerate(classes):
                rows.append((classes[code], base.name, base.display, base.sensor, input_class, model.coef[row, b * n_classes + j]))
        rows.append((classes[code], "", INTERCEPT, "", INTERCEPT, model.intercept[row]))
    return pd.DataFrame(rows, columns=["class", "base", "base_display", "sensor", "input_class", "coef"])


def own_class_coefficients(table: pd.DataFrame) -> pd.DataFrame:
    """Class × base: the coefficient of each class's function on each base's probability of that class."""
    own = table[(table["input_class"] == table["class"]) & (table["base"] != "")]
    wide = own.pivot(index="class", columns="base_display", values="coef")
    order = list(dict.fromkeys(own["base_display"]))
    return wide.reindex(index=list(dict.fromkeys(own["class"])), columns=order)


def sensor_coefficients(table: pd.DataFrame) -> pd.DataFrame:
    """Class × sensor: the own-class coefficients averaged over each sensor's bases (Fig. 4b)."""
    own = table[(table["input_class"] == table["class"]) & (table["base"] != "")]
    wide = own.groupby(["class", "sensor"], sort=False)["coef"].mean().unstack("sensor")
    return wide.reindex(index=list(dict.fromkeys(own["class"])), columns=list(dict.fromkeys(own["sensor"])))


def drivers(contributions: np.ndarray, names: list[str], top: int = 3) -> list[str]:
    """Per host, the bases that pushed most towards its predicted class: ``name=+1.23; name=+0.40``."""
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top]
    out = []
    for row, idx in zip(contributions, order):
        parts = [f"{names[i]}={row[i]:+.2f}" for i in idx if row[i] > 0]
        out.append("; ".join(parts))
    return out
