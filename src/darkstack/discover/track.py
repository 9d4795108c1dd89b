"""Following groups of hosts from day to day: which of today's clusters continue the groups of the last days.

The rule (docs/discover.md): a group G's *members* are the hosts it held on any of the last ``track_days``
clustered days (its member history). A cluster C of today is *linked* to G when the Jaccard index of C and
those members, counted over the hosts embedded today and on those days, reaches ``match_jaccard``:
``|G ∩ C| / |(G ∩ today) ∪ (C ∩ window)|``. Hosts that were not active today or on any day of the window
(churn) count neither for nor against a match. With ``track_days = 1`` this is the day-before rule.
The history is what carries a group over a day on which its hosts fell into another cluster or into noise
(HDBSCAN's clusters shift from day to day); Spiliopoulou et al., MONIC (KDD 2006), match clusters over a
window of records in the same way. Then, for each cluster:

- no link: ``new``, with a new group id;
- links to several groups: ``merged``; it keeps the id of the group it shares most hosts with;
- one link, to a group linked to several clusters: ``split``; the cluster sharing most hosts with the
  group keeps its id, the others get new ones;
- one link, one to one: the same group; ``grown`` (``shrunk``) when its size rose (fell) by more than
  ``size_change`` of the group's size on its last day in the window, else ``same``.

Ties go to the lower group id (the older group) and the lower cluster number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from darkstack.discover.cluster import NOISE


def group_id(number: int) -> str:
    """``G0007``: the stable name of the 7th group found on a sensor."""
    return f"G{number:04d}"


@dataclass(frozen=True)
class Match:
    """The group a cluster of today is, how it relates to the day before, and the groups it came from."""

    cluster: int
    group: str
    status: str
    parents: list[str] = field(default_factory=list)
    previous_size: int | None = None


def match_clusters(
    history: pd.DataFrame | None, today: pd.DataFrame, next_number: int, match_jaccard: float, size_change: float
) -> tuple[list[Match], int]:
    """Name today's clusters after the groups of the last clustered days by the rule of this module.

    ``history``: ``src_ip``, ``group`` (None/NaN for noise) and ``age`` (0 for the previous clustered day, 1 for
    the one before, …) of every host embedded on each day of the window (None on the first day); ``today``:
    ``src_ip``, ``cluster`` (-1 noise) of every host embedded today.
    Returns one :class:`Match` per cluster (by cluster number) and the next unused group number.
    """
    clusters = sorted(set(today["cluster"].tolist()) - {NOISE})
    links = _links(history, today, match_jaccard) if history is not None else pd.DataFrame(columns=["group", "cluster", "shared", "jaccard"])
    sizes_before = _last_sizes(history) if history is not None else pd.Series(dtype=int)
    sizes_now = today.loc[today["cluster"] != NOISE, "cluster"].value_counts()
    per_group = links.groupby("group")["cluster"].nunique()
    matches: dict[int, Match] = {}
    # merged clusters first: they take the id of their strongest parent
    strongest = links.sort_values(["shared", "jaccard", "group"], ascending=[False, False, True], kind="stable")
    taken: set[str] = set()
    for c in clusters:
        parents = sorted(links.loc[links["cluster"] == c, "group"].tolist())
        if len(parents) > 1:
            free = [g for g in strongest.loc[strongest["cluster"] == c, "group"] if g not in taken]
            heir = free[0] if free else ""
            taken.add(heir)
            matches[c] = Match(c, heir, "merged", parents, int(sizes_before[parents].sum()))
    for g in sorted(per_group.index):
        children = strongest.loc[(strongest["group"] == g) & ~strongest["cluster"].isin(list(matches)), "cluster"].tolist()
        if not children:
            continue
        before = int(sizes_before[g])
        if per_group[g] > 1:
            for rank, c in enumerate(children):
                keeps = rank == 0 and g not in taken
                matches[c] = Match(c, g if keeps else "", "split", [g], before)
            taken.add(g)
            continue
        c = children[0]
        size = int(sizes_now[c])
        status = "grown" if size > before * (1 + size_change) else "shrunk" if size < before * (1 - size_change) else "same"
        matches[c] = Match(c, g, status, [g], before)
        taken.add(g)
    out = []
    for c in clusters:
        m = matches.get(c)
        if m is None:
            m = Match(c, "", "new")
        if not m.group:
            m = Match(c, group_id(next_number), m.status, m.parents, m.previous_size)
            next_number += 1
        out.append(m)
    return out, next_number


def _last_sizes(history: pd.DataFrame) -> pd.Series:
    """Each group's size on the most recent day of the window it had a cluster."""
    grouped = history[history["group"].notna()]
    latest = grouped.groupby("group")["age"].transform("min")
    return grouped[grouped["age"] == latest]["group"].value_counts()


def _links(history: pd.DataFrame, today: pd.DataFrame, match_jaccard: float) -> pd.DataFrame:
    """Group–cluster pairs whose Jaccard index over the hosts of today and of the window reaches ``match_jaccard``."""
    members = history.loc[history["group"].notna(), ["src_ip", "group"]].drop_duplicates()
    before = members[members["src_ip"].isin(today["src_ip"].to_numpy())]
    now = today[(today["cluster"] != NOISE) & today["src_ip"].isin(history["src_ip"].to_numpy())]
    shared = before.merge(now, on="src_ip").groupby(["group", "cluster"]).size().rename("shared").reset_index()
    g_size = before["group"].value_counts()
    c_size = now["cluster"].value_counts()
    union = g_size.reindex(shared["group"]).to_numpy() + c_size.reindex(shared["cluster"]).to_numpy() - shared["shared"].to_numpy()
    shared["jaccard"] = shared["shared"] / union
    return shared[shared["jaccard"] >= match_jaccard].reset_index(drop=True)
