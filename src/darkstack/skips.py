"""Work the data does not allow: one line per skip, kept for the report's "not computed" section.

A stage that cannot compute something because of the data at hand (too few days, no class reaching
``min_class_hosts``, no common hosts, a rule needing fields the format lacks) does not abort the job.
It calls :func:`note` for a part it leaves out and carries on, or raises :class:`StageSkipped` when the
whole step has nothing to compute. Each skip is logged as one line naming stage, sensor or scenario,
variant, day(s), the reason and the option that would change it. While a pipeline step runs, its skips
are gathered by :func:`collect` and stored with the step, so a cached step still reports them.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

from darkstack.errors import DarkstackError
from darkstack.log import get_logger

log = get_logger(__name__)


def days_text(days: Iterable[dt.date | str] | dt.date | str | None) -> str | None:
    """One day as ``YYYY-MM-DD``, several as ``first … last (N days)``, none as ``None``."""
    if days is None:
        return None
    if isinstance(days, dt.date | str):
        days = [days]
    names = sorted({d if isinstance(d, str) else d.strftime("%Y-%m-%d") for d in days})
    if not names:
        return None
    return names[0] if len(names) == 1 else f"{names[0]} … {names[-1]} ({len(names)} days)"


@dataclass(frozen=True)
class Skip:
    """Something not computed, why, and the option that would change it.

    ``where`` is the sensor (or, for stacking and prediction, the scenario); ``option`` names the
    command-line option and/or config key (``--train-days / embed.train_days``), or ``None`` when only
    other data would help.
    """

    stage: str
    reason: str
    where: str | None = None
    variant: str | None = None
    days: str | None = None
    option: str | None = None

    def line(self) -> str:
        """``embed sensor honeypot, variant gcngru, 2021-12-01 … 2021-12-03 (3 days): reason (change: option)``."""
        parts = [p for p in (self.where, self.variant and f"variant {self.variant}", self.days) if p]
        head = self.stage + (" " + ", ".join(parts) if parts else "")
        tail = f" (change: {self.option})" if self.option else ""
        return f"{head}: {self.reason}{tail}"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Skip:
        return cls(**{k: data.get(k) for k in ("stage", "reason", "where", "variant", "days", "option")})


class StageSkipped(DarkstackError):
    """The whole step has nothing to compute on this data; the pipeline records it and carries on.

    A standalone command prints the skip as its one line and exits non-zero (nothing was written).
    """

    def __init__(self, skip: Skip):
        self.skip = skip
        super().__init__(f"not computed: {skip.line()}")


_collected: contextvars.ContextVar[list[Skip] | None] = contextvars.ContextVar("darkstack_skips", default=None)


def make(
    stage: str,
    reason: str,
    *,
    sensor: str | None = None,
    scenario: str | None = None,
    variant: str | None = None,
    days: Iterable[dt.date | str] | dt.date | str | None = None,
    option: str | None = None,
) -> Skip:
    """Build a :class:`Skip`; ``sensor`` or ``scenario`` (shown as ``sensor X`` / ``scenario X``) says where."""
    where = f"sensor {sensor}" if sensor else (f"scenario {scenario}" if scenario else None)
    return Skip(stage, reason, where, variant, days_text(days), option)


def note(stage: str, reason: str, **where) -> Skip:
    """Log a part left out (one WARNING line) and keep it for the step being run; returns the skip."""
    skip = make(stage, reason, **where)
    record(skip)
    return skip


def record(skip: Skip) -> None:
    """Log ``skip`` as one line and add it to the skips being collected (if any)."""
    log.warning(f"skipped {skip.line()}", extra={"skip": skip.as_dict()})
    found = _collected.get()
    if found is not None and skip not in found:
        found.append(skip)


def skip_stage(stage: str, reason: str, **where) -> StageSkipped:
    """The exception to raise when the whole step has nothing to compute (``raise skip_stage(...)``)."""
    return StageSkipped(make(stage, reason, **where))


def each(stage: str, items: Sequence[str], action: Callable[[str], object], nothing: str) -> None:
    """Run ``action`` on every item (sensor, scenario); a skip of one of several is recorded and the rest go on.

    With a single item its skip is raised as it is; when every item was skipped, the stage's skip is
    ``nothing`` (e.g. "no sensor could be embedded") with the items named.
    """
    done = 0
    for item in items:
        try:
            action(item)
        except StageSkipped as exc:
            if len(items) == 1:
                raise
            record(exc.skip)
            continue
        done += 1
    if not done:
        raise skip_stage(stage, f"{nothing} ({', '.join(items)}; see the lines above)")


@contextlib.contextmanager
def collect() -> Iterator[list[Skip]]:
    """Gather every skip noted inside the block (nested blocks also pass theirs to the outer one)."""
    outer = _collected.get()
    found: list[Skip] = []
    token = _collected.set(found)
    try:
        yield found
    finally:
        _collected.reset(token)
        if outer is not None:
            outer.extend(s for s in found if s not in outer)
