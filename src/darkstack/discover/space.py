"""The vectors a day's hosts are clustered in: one embedding variant, or the sensor's stacked probability space."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from darkstack import skips
from darkstack.discover.settings import BEST, STACK, DiscoverSettings
from darkstack.errors import DamagedFileError
from darkstack.stack.settings import StackSettings
from darkstack.workspace import Workspace

SPACE_OPTION = "--space / discover.space"


@dataclass(frozen=True)
class Space:
    """What is clustered for one sensor: a variant's embeddings, or the stacked class shares of ``bases``."""

    sensor: str
    name: str
    """The variant, or ``stack``."""
    why: str
    """Why this space (shown in the report)."""
    bases: tuple[str, ...] = ()
    """Variants whose 3-NN class shares make up the stacked space (empty for a variant)."""

    def days(self, ws: Workspace) -> list[dt.date]:
        """Days on which every variant the space needs has embeddings."""
        variants = self.bases or (self.name,)
        return sorted(set.intersection(*(set(ws.embedding_days(self.sensor, v)) for v in variants)))


def best_variant(ws: Workspace, sensor: str, candidates: Sequence[str]) -> tuple[str, str]:
    """The variant to cluster for ``space = "best"`` and why it was chosen.

    The variant with the highest mean daily macro-F1 in ``results/evaluate/<sensor>/table.json`` among
    those with embeddings (ties: the first listed); without a scored evaluation (none run, or no class
    large enough to score, as on a few unlabelled days), the first of ``candidates`` with embeddings:
    unknown groups matter most where labels are scarce.
    """
    from darkstack.evaluate.metrics import MACRO
    from darkstack.evaluate.run import evaluate_dir

    path = evaluate_dir(ws, sensor) / "table.json"
    scores: dict[str, float] = {}
    if path.exists():
        try:
            result = json.loads(path.read_text())
            scores = {r["variant"]: r["f1_mean"] for r in result["summary"] if r["label"] == MACRO and r["f1_mean"] is not None}
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise DamagedFileError(f"not an evaluation table ({exc})", path) from exc
    embedded = {v: f1 for v, f1 in scores.items() if ws.embedding_days(sensor, v)}
    if embedded:
        best = max(embedded, key=lambda v: (embedded[v], -list(embedded).index(v)))
        return best, f"the highest macro-F1 of the evaluation, {embedded[best]:.3f}"
    found = [v for v in candidates if ws.embedding_days(sensor, v)]
    if not found:
        raise skips.skip_stage("discover", "no embeddings: run `darkstack embed` first", sensor=sensor, option=SPACE_OPTION)
    return found[0], "no scored evaluation: the first variant embedded"


def resolve_space(ws: Workspace, sensor: str, settings: DiscoverSettings, stack: StackSettings, candidates: Sequence[str]) -> Space:
    """The :class:`Space` ``settings.space`` names for ``sensor`` (``best``: :func:`best_variant` among ``candidates``)."""
    if settings.space == STACK:
        return Space(sensor, STACK, "the stacked probability space", tuple(stack.base_variants))
    if settings.space == BEST:
        return Space(sensor, *best_variant(ws, sensor, candidates))
    return Space(sensor, settings.space, "chosen by --space / discover.space")


def day_vectors(
    ws: Workspace, space: Space, day: dt.date, settings: DiscoverSettings, stack: StackSettings
) -> tuple[np.ndarray, np.ndarray]:
    """(ips uint32 sorted, vectors n × d) of the hosts of ``day`` in ``space``; a skip below ``settings.min_hosts`` hosts.

    A variant gives its embeddings standardised per dimension, as the 3-NN evaluation compares them
    (temporal-GNN paper's reference code). The stacked space gives, per host, every base's class shares
    among its k nearest other hosts: the meta-learner's inputs (stacking paper §3), unknown included.
    """
    from darkstack.evaluate.knn import standardise

    if not space.bases:
        from darkstack.evaluate.inputs import day_embeddings

        ips, X = day_embeddings(ws, space.sensor, space.name, day)
        _enough(space, day, len(ips), settings)
        order = np.argsort(ips, kind="stable")
        return ips[order], standardise(X[order])
    from darkstack.stack.bases import Base, Scenario, load_day
    from darkstack.stack.meta import stacked_probabilities
    from darkstack.stack.neighbourhood import NeighbourLists

    bases = tuple(Base(space.sensor, v) for v in space.bases)
    scenario = Scenario(f"{space.sensor} stack", bases, {"ML": tuple(range(len(bases)))})
    inputs = load_day(ws, scenario, day, stack)
    _enough(space, day, len(inputs.ips), settings)
    lists = [NeighbourLists(X, stack.k, 0, stack.metric) for X in inputs.embeddings]
    return inputs.ips, stacked_probabilities(lists, inputs.codes, len(inputs.classes))


def _enough(space: Space, day: dt.date, n_hosts: int, settings: DiscoverSettings) -> None:
    if n_hosts < settings.min_hosts:
        raise skips.skip_stage(
            "discover", f"{n_hosts} hosts are too few to cluster (fewer than {settings.min_hosts})", sensor=space.sensor,
            variant=space.name, days=day, option="--min-hosts / discover.min_hosts",
        )
