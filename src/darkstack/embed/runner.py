"""``embed()``: run one method over a sensor's snapshot days, resumable day by day."""

from __future__ import annotations

import datetime as dt
import os
import platform
import time

from darkstack import skips
from darkstack.embed import checkpoint
from darkstack.embed.ds import ds_embeddings
from darkstack.embed.idarkvec import IDarkVec
from darkstack.embed.output import RunLog, write_embeddings
from darkstack.embed.settings import GNN_METHODS, METHODS, EmbedSettings
from darkstack.errors import ConfigError
from darkstack.log import get_logger
from darkstack.progress import advance, progress_bar
from darkstack.snapshot import load_day
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)


def default_variant(method: str, features: bool) -> str:
    """``method``, or ``method-nofeat`` for a GNN without node features."""
    return method if features else f"{method}-nofeat"


def cpu_threads() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def resolve_device(device: str):
    """``auto`` → CUDA when available, else CPU (``device`` is auto, cpu or cuda); ``cuda`` without a GPU is an error."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available")
    return torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu")


class Session:
    """One run of one variant: the days to process, the run log, output writing and the progress bar."""

    def __init__(self, ws: Workspace, sensor: str, variant: str, days: list[dt.date], log_: RunLog, seed: int):
        self.ws, self.sensor, self.variant, self.days, self.log, self.seed = ws, sensor, variant, days, log_, seed
        self.bar = None
        self.written: list[dt.date] = []

    def snapshot(self, index: int):
        return load_day(self.ws, self.sensor, self.days[index])

    def finished(self, index: int) -> bool:
        return self.log.finished(self.days[index])

    def first_unfinished(self) -> int:
        for i in range(len(self.days)):
            if not self.finished(i):
                return i
        return len(self.days)

    def restart(self, index: int) -> None:
        """Days from ``index`` on are being recomputed."""
        self.log.forget_from(self.days[index])

    def write(self, index: int, ips, X) -> None:
        write_embeddings(self.ws, self.sensor, self.variant, self.days[index], ips, X)
        self.written.append(self.days[index])

    def record(self, index: int, **entry) -> None:
        """Mark day ``index`` finished (run.json is rewritten after every day) and advance the bar."""
        self.log.record(self.days[index], **entry)
        self.log.save()
        status = "" if entry.get("loss") is None else f"loss {entry['loss']:.4f}"
        day = day_str(self.days[index])
        log.debug(
            f"{'embedded' if entry.get('embedded', True) else 'trained on'} sensor {self.sensor}, variant {self.variant}, "
            f"{day}{', ' + status if status else ''}",
            extra={"sensor": self.sensor, "variant": self.variant, "day": day, **entry},
        )
        if self.bar is not None:
            advance(self.bar, 1, f"{day_str(self.days[index])} {status}")

    def skip(self, index: int) -> bool:
        """True (and the bar advanced) when day ``index`` is already finished."""
        if not self.finished(index):
            return False
        if self.bar is not None:
            advance(self.bar, 1)
        return True

    def progress_status(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.bar.task_ids[0], status=text)


def _run_ds(session: Session, start: int) -> None:
    for i in range(start, len(session.days)):
        if session.skip(i):
            continue
        t0 = time.perf_counter()
        ips, X = ds_embeddings(session.snapshot(i))
        session.write(i, ips, X)
        session.record(i, seconds=time.perf_counter() - t0, hosts=len(ips))


def _run_idarkvec(session: Session, start: int, settings: EmbedSettings) -> None:
    model = IDarkVec(settings, session.seed)
    folder = session.ws.model_dir(session.sensor, session.variant, session.days[start - 1]) if start else None
    if folder is not None and (folder / checkpoint.STATE).exists():
        model.load(folder)
    else:
        start = 0
    session.restart(start)
    for i in range(start, len(session.days)):
        t0 = time.perf_counter()
        snap = session.snapshot(i)
        stats = model.update(snap)
        ips, X = model.vectors(snap.host_features.column("ip").to_numpy(zero_copy_only=False))
        missing = snap.host_features.num_rows - len(ips)
        if missing:
            log.warning(
                f"sensor {session.sensor}, variant {session.variant}, {day_str(snap.day)}: {missing} host(s) without "
                "a corpus token get no i-DarkVec vector",
                extra={"sensor": session.sensor, "variant": session.variant, "day": day_str(snap.day), "hosts": missing},
            )
        session.write(i, ips, X)
        model.save(
            session.ws.model_dir(session.sensor, session.variant, snap.day),
            {"day": day_str(snap.day), "seed": session.seed},
        )
        checkpoint.prune(session.ws, session.sensor, session.variant, settings.keep_checkpoints)
        session.record(i, seconds=time.perf_counter() - t0, hosts=len(ips), **stats)


def gcngru_limit(settings: EmbedSettings, n_days: int) -> tuple[str, str] | None:
    """Why GCN-GRU cannot run on ``n_days`` days (reason, option that would change it), or None.

    It is trained on the windows [t-H … t] of the days t = H+1 … M and frozen, then embeds the days
    after M (temporal-GNN paper §2): it needs M > H, and at least one day after the M training days.
    """
    m, h = settings.train_days, settings.history
    if n_days <= m:
        return (
            f"GCN-GRU is trained on the first {m} days and embeds only the days after them; "
            f"{n_days} snapshot day(s) exist",
            "--train-days / embed.train_days",
        )
    if m <= h:
        return (
            f"GCN-GRU trains on windows of H + 1 = {h + 1} days ending within its {m} training days; none fits",
            "--history / embed.history, or --train-days / embed.train_days",
        )
    return None


def embed(
    ws: Workspace,
    sensor: str,
    method: str,
    *,
    features: bool = True,
    settings: EmbedSettings | None = None,
    variant: str | None = None,
    until: dt.date | None = None,
    device: str = "auto",
    seed: int = 0,
    threads: int | None = None,
) -> list[dt.date]:
    """Embed every snapshot day of ``sensor`` up to ``until`` with ``method``; returns the days written now.

    Finished days (same method, seed, settings and snapshot) are kept; an interrupted run continues from
    the last finished day's checkpoint. ``variant`` names the output (default ``method`` or
    ``method-nofeat``). ``threads`` caps torch's CPU threads (default: every core of the process).
    """
    settings = settings or EmbedSettings()
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not features and method not in GNN_METHODS:
        raise ConfigError(f"--no-features applies to the GNN methods only, not {method}")
    variant = variant or default_variant(method, features)
    if not variant or "/" in variant or variant.startswith("."):
        raise ConfigError(f"bad variant name {variant!r}")
    days = [d for d in ws.snapshot_days(sensor) if until is None or d <= until]
    if not days:
        raise ConfigError(
            f"no snapshot days for sensor {sensor!r}: run `darkstack snapshot` first", ws.snapshot_dir(sensor)
        )
    if method == "gcngru" and (limit := gcngru_limit(settings, len(days))) is not None:
        reason, option = limit
        raise skips.skip_stage("embed", reason, sensor=sensor, variant=variant, days=days, option=option)
    identity = {
        "method": method,
        "variant": variant,
        "features": features if method in GNN_METHODS else None,
        "seed": seed,
        "fingerprint": settings.fingerprint(method),
        "settings": settings.relevant(method),
    }
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, not {device!r}")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be at least 1, not {threads}")
    info = {"python": platform.python_version(), "threads": threads or cpu_threads(), "device": "cpu"}
    if method in GNN_METHODS:
        import torch

        torch.set_num_threads(info["threads"])
        dev = resolve_device(device)
        info.update(device=str(dev), torch=torch.__version__)
    run_log = RunLog(ws, sensor, variant, identity)
    kept = run_log.open()
    session = Session(ws, sensor, variant, days, run_log, seed)
    start = session.first_unfinished() if kept else 0
    with progress_bar(f"embed sensor {sensor}, variant {variant}", total=len(days)) as bar:
        session.bar = bar
        advance(bar, start)
        if start < len(days):
            if method == "ds":
                _run_ds(session, start)
            elif method == "idarkvec":
                info["workers"] = settings.workers
                _run_idarkvec(session, start, settings)
            else:
                from darkstack.embed.train import GNNRegime

                GNNRegime(session, method, features, settings, dev).run(start)
        run_log.save(last_run=info)
    where = f"sensor {sensor}, variant {variant}"
    if session.written:
        log.info(
            f"embeddings ready: {where}, {skips.days_text(session.written)} written",
            extra={"sensor": sensor, "variant": variant, "written": len(session.written)},
        )
    else:
        log.info(
            f"embeddings up to date: {where}, every day up to {day_str(days[-1])} was embedded before",
            extra={"sensor": sensor, "variant": variant, "written": 0},
        )
    return session.written
