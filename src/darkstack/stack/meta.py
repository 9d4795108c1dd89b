"""Meta-learner stacking: logistic regression on the bases' concatenated class probabilities.

Per day, a stratified k-fold cross-validation without leakage (stacking paper §4.2): in each round
the training hosts' base probabilities come from leave-one-out restricted to the training folds and
the test hosts' from their neighbours in the training folds only, so no test host's label reaches any
feature. Unknown hosts are always training hosts (never scored) and are randomly undersampled to
the size of the third-largest labelled class before the regression is fitted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from darkstack.log import get_logger
from darkstack.stack.neighbourhood import NeighbourLists
from darkstack.stack.settings import StackSettings

log = get_logger(__name__)


def assign_folds(codes: np.ndarray, scored: np.ndarray, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified fold of every scored host (0..n_folds-1); -1 for hosts never tested (unknown).

    Each class's hosts are shuffled and dealt round-robin, continuing where the previous class
    stopped, so every class is spread evenly and fold sizes differ by at most one.
    """
    folds = np.full(len(codes), -1, dtype=np.int64)
    offset = 0
    for c in np.unique(codes[scored]):
        members = rng.permutation(np.flatnonzero(scored & (codes == c)))
        folds[members] = (offset + np.arange(members.size)) % n_folds
        offset = (offset + members.size) % n_folds
    return folds


def undersample_unknown(
    rows: np.ndarray, codes: np.ndarray, unknown_code: int, rank: int, rng: np.random.Generator
) -> np.ndarray:
    """``rows`` with their unknown hosts randomly cut to the size of the ``rank``-th largest labelled class.

    With fewer labelled classes than ``rank`` the smallest one sets the size; without any, all
    unknown rows are kept.
    """
    rows = np.asarray(rows, dtype=np.int64)
    is_unknown = codes[rows] == unknown_code
    unknown, labelled = rows[is_unknown], rows[~is_unknown]
    counts = np.bincount(codes[labelled]) if labelled.size else np.zeros(0, dtype=np.int64)
    sizes = np.sort(counts[counts > 0])[::-1]
    if sizes.size == 0:
        return rows
    target = int(sizes[min(rank, len(sizes)) - 1])
    if unknown.size > target:
        unknown = rng.choice(unknown, size=target, replace=False)
    return np.sort(np.concatenate([labelled, unknown]))


@dataclass
class MetaModel:
    """A fitted meta-learner: one linear function per known class over the stacked probabilities."""

    classes: np.ndarray
    """Class codes seen in training (the only ones it can predict)."""
    coef: np.ndarray
    """len(classes) × features."""
    intercept: np.ndarray
    n_classes: int
    multinomial: bool
    converged: bool = True

    def decision(self, features: np.ndarray) -> np.ndarray:
        return features @ self.coef.T + self.intercept

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probabilities over all ``n_classes`` classes (0 for classes absent from training)."""
        z = self.decision(features)
        if self.multinomial:
            z = np.exp(z - z.max(axis=1, keepdims=True))
        else:
            z = 1.0 / (1.0 + np.exp(-z))
        out = np.zeros((features.shape[0], self.n_classes))
        out[:, self.classes] = z / z.sum(axis=1, keepdims=True)
        return out

    def contributions(self, features: np.ndarray, predicted: np.ndarray, slices: list[slice]) -> np.ndarray:
        """Per host and base: Σ coefficient · input over the base's columns, for the host's predicted class."""
        row = np.searchsorted(self.classes, predicted)
        terms = self.coef[row] * features
        return np.stack([terms[:, s].sum(axis=1) for s in slices], axis=1)


def _logistic(settings: StackSettings):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=settings.lr_C, solver=settings.lr_solver, max_iter=settings.lr_max_iter)


def merge_duplicates(features: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First row and count of every distinct (feature row, class) pair.

    Each column is replaced by the (hash-based) index of its value and the indices are packed into one
    integer key (re-indexed before it could overflow): exact, and much faster than sorting whole rows.
    """
    import pandas as pd

    key = np.asarray(codes, dtype=np.int64)
    n_keys = int(key.max()) + 1 if key.size else 1
    for column in features.T:
        rank, values = pd.factorize(column)
        if n_keys * len(values) >= 2**62:
            key, distinct = pd.factorize(key)
            n_keys = len(distinct)
        key = key * len(values) + rank
        n_keys *= len(values)
    group, distinct = pd.factorize(key)
    first = np.empty(len(distinct), dtype=np.int64)
    first[group[::-1]] = np.arange(len(group) - 1, -1, -1)  # the last write per group is its first row
    return first, np.bincount(group, minlength=len(distinct))


def fit_meta(features: np.ndarray, codes: np.ndarray, n_classes: int, settings: StackSettings) -> MetaModel:
    """Fit the logistic regression on (features, class codes).

    Identical rows are merged with their count as sample weight (base probabilities take few distinct
    values), which leaves the objective unchanged and makes the fit fast. ``lr_class_weight="balanced"``
    weights classes by their true host counts.
    """
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    present = np.unique(codes)
    n_features = features.shape[1]
    if present.size == 1:
        zeros = np.zeros((1, n_features))
        return MetaModel(present, zeros, np.zeros(1), n_classes, settings.lr_multinomial)
    first, counts = merge_duplicates(features, codes)
    X, y, weight = features[first], codes[first], counts.astype(np.float64)
    if settings.lr_class_weight == "balanced":
        per_class = np.bincount(codes, minlength=n_classes)
        weight *= len(codes) / (present.size * per_class[y])
    # One thread: the problem is tiny after merging, and OpenMP/BLAS threads only add synchronisation.
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1):
        warnings.simplefilter("always", ConvergenceWarning)
        if settings.lr_multinomial:
            model = _logistic(settings).fit(X, y, sample_weight=weight)
            coef, intercept = model.coef_, model.intercept_
            if present.size == 2:  # sklearn keeps one logit for two classes; split it symmetrically
                coef, intercept = np.vstack([-coef, coef]) / 2, np.concatenate([-intercept, intercept]) / 2
        else:
            fits = [_logistic(settings).fit(X, (y == c).astype(int), sample_weight=weight) for c in present]
            coef = np.vstack([m.coef_ for m in fits])
            intercept = np.concatenate([m.intercept_ for m in fits])
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return MetaModel(present, coef, intercept, n_classes, settings.lr_multinomial, converged)


def stacked_probabilities(
    lists: list[NeighbourLists], codes: np.ndarray, n_classes: int, pool: np.ndarray | None = None
) -> np.ndarray:
    """The meta-learner's inputs: every base's class probabilities side by side (hosts × bases·classes)."""
    return np.hstack([nl.probabilities(codes, n_classes, pool) for nl in lists])


def base_columns(base_indices, n_classes: int) -> np.ndarray:
    """Columns of the stacked features that belong to the given bases."""
    return np.concatenate([np.arange(b * n_classes, (b + 1) * n_classes) for b in base_indices])


@dataclass
class CrossValidation:
    """Out-of-fold meta-learner outputs of one day (rows of unscored hosts stay empty)."""

    folds: np.ndarray
    proba: dict[str, np.ndarray]
    """Meta-learner name → hosts × classes probabilities (test-fold rows filled)."""
    contributions: np.ndarray
    """Hosts × bases contributions to the predicted class of the full meta-learner."""
    missing_classes: dict[int, list[int]]
    """Fold → class codes absent from its training data (they cannot be predicted in that fold)."""
    unconverged: int


def training_rows(codes: np.ndarray, unknown_code: int, settings: StackSettings, rng: np.random.Generator) -> np.ndarray:
    """The day's meta-learner training hosts: every labelled host plus the unknown hosts kept by one
    random undersampling of the day (shared by every fold and by the full-day fit)."""
    rows = np.arange(len(codes), dtype=np.int64)
    if settings.undersample_unknown:
        rows = undersample_unknown(rows, codes, unknown_code, settings.undersample_rank, rng)
    return rows


def cross_validate(
    lists: list[NeighbourLists],
    codes: np.ndarray,
    folds: np.ndarray,
    unknown_code: int,
    groups: dict[str, tuple[int, ...]],
    settings: StackSettings,
    train_rows: np.ndarray,
) -> CrossValidation:
    """Out-of-fold predictions of every meta-learner in ``groups`` for the hosts with a fold.

    Each fold trains on the ``train_rows`` outside it (see :func:`training_rows`); every host outside
    the fold, unknown ones included, may be a neighbour.
    """
    n, n_classes, m = len(codes), unknown_code + 1, len(lists)
    full = max(groups, key=lambda g: len(groups[g]))
    proba = {g: np.zeros((n, n_classes)) for g in groups}
    contributions = np.zeros((n, m))
    missing: dict[int, list[int]] = {}
    unconverged = 0
    for f in np.unique(folds[folds >= 0]):
        test = folds == f
        features = stacked_probabilities(lists, codes, n_classes, pool=~test)
        train = train_rows[~test[train_rows]]
        absent = sorted(set(codes[test].tolist()) - set(codes[train].tolist()))
        if absent:
            missing[int(f)] = absent
        for g, bases in groups.items():
            cols = base_columns(bases, n_classes)
            model = fit_meta(features[train][:, cols], codes[train], n_classes, settings)
            unconverged += not model.converged
            p = model.predict_proba(features[test][:, cols])
            proba[g][test] = p
            if g == full:
                slices = [slice(i * n_classes, (i + 1) * n_classes) for i in range(m)]
                contributions[test] = model.contributions(features[test], p.argmax(axis=1), slices)
    return CrossValidation(folds, proba, contributions, missing, unconverged)


def fit_day(
    lists: list[NeighbourLists],
    codes: np.ndarray,
    unknown_code: int,
    groups: dict[str, tuple[int, ...]],
    settings: StackSettings,
    train_rows: np.ndarray,
) -> tuple[np.ndarray, dict[str, MetaModel]]:
    """Meta-learners fitted on the day's ``train_rows`` (leave-one-out base probabilities).

    Used for the day's explanation and for predicting unlabelled hosts; returns the stacked
    features of every searched host and the fitted models.
    """
    n_classes = unknown_code + 1
    features = stacked_probabilities(lists, codes, n_classes)
    models = {
        g: fit_meta(features[train_rows][:, base_columns(bases, n_classes)], codes[train_rows], n_classes, settings)
        for g, bases in groups.items()
    }
    return features, models
