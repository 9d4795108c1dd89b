"""Which days are test days: the papers' split of 31 days, adapted to the days present.

Both papers embed 31 days and score the last 11; the first 20 train GCN-GRU and warm up the
incremental models. With ``n`` days present, the test days are the last ``T`` of them:

* ``n >= test_days + train_days``: ``T = test_days`` (the papers' setting, 11 with 20 before them);
* fewer days: ``T = max(1, round(n * test_days / (test_days + train_days)))``, the papers' ratio
  (11 of 31), so a 12-day workspace scores its last 4 days after 8 earlier ones.

``train_days = 0`` scores every day present up to ``test_days``. One test day is still scored; its
standard deviation is undefined and shown as "n/a" (:func:`std_text`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

PAPER_TRAIN_DAYS = 20
"""Days before the papers' 11 test days (temporal-GNN paper §4.1: GCN-GRU's training days)."""


def count_test_days(n_days: int, test_days: int, train_days: int = PAPER_TRAIN_DAYS) -> int:
    """How many of ``n_days`` days are test days under the rule above (0 when there is no day)."""
    if n_days <= 0:
        return 0
    if n_days >= test_days + train_days:
        return test_days
    return max(1, math.floor(n_days * test_days / (test_days + train_days) + 0.5))


def pick_test_days(days: Iterable[dt.date], test_days: int, train_days: int = PAPER_TRAIN_DAYS) -> list[dt.date]:
    """The test days among ``days``: the last :func:`count_test_days` of them, sorted."""
    ordered = sorted(set(days))
    count = count_test_days(len(ordered), test_days, train_days)
    return ordered[len(ordered) - count :]


def is_undefined(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def std_text(std, digits: int = 3) -> str:
    """A standard deviation for logs and tables; "n/a" when undefined (one day)."""
    return "n/a" if is_undefined(std) else f"{std:.{digits}f}"


def days_phrase(n: int) -> str:
    return f"{n} test day" if n == 1 else f"{n} test days"
