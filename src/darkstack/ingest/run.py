"""``ingest``: read input files into the canonical store, one all-or-nothing step per file."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import ipaddress
import os
import shutil
import tempfile
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from darkstack.anonymise import CryptoPAn
from darkstack.errors import ConfigError, DarkstackError
from darkstack.ingest import manifest as manifest_file
from darkstack.ingest.batch import Batch
from darkstack.ingest.formats import Format, detect, get_format
from darkstack.ingest.pcap import read_pcap
from darkstack.ingest.settings import IngestSettings
from darkstack.ingest.tokens import TokenMap
from darkstack.log import get_logger
from darkstack.progress import advance, progress_bar
from darkstack.schema import SENSOR_KINDS
from darkstack.store import write_events, write_records
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)
SKIP_EXCLUDED = "source in an excluded network"


@dataclass
class FileReport:
    """What happened to one input file."""

    path: str
    format: str
    status: str  # "ingested", "unchanged" (already in the manifest), "duplicate" (same content as another file), "failed"
    sha256: str | None = None
    read: int = 0
    kept: int = 0
    events: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    days: dict[str, int] = field(default_factory=dict)
    honeypots: dict[str, dict[str, int]] = field(default_factory=dict)
    """Records per honeypot program and day (honeypot logs that name the program, e.g. T-Pot's)."""
    error: str | None = None
    seconds: float = 0.0


@dataclass
class IngestReport:
    """Per-file outcomes of one ``ingest`` call."""

    sensor: str
    kind: str
    files: list[FileReport] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def kept(self) -> int:
        return sum(f.kept for f in self.files)

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "failed"]

    def to_dict(self) -> dict:
        return {"sensor": self.sensor, "kind": self.kind, "files": [asdict(f) for f in self.files]}


def _expand(paths: list[Path]) -> list[Path]:
    """Files named, and the non-hidden files directly inside named folders (sorted)."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith("."))
        else:
            out.append(p)
    return out


def ingest(ws: Workspace, paths: list[Path], sensor: str, kind: str | None = None, fmt: str = "auto",
           anonymise_key: Path | None = None, settings: IngestSettings | None = None,
           keep_going: bool = False) -> IngestReport:
    """Ingest ``paths`` into ``sensor``; returns what each file gave.

    Each file is its own all-or-nothing step: its records reach the store only once the whole file
    was read, replacing what an earlier version of the same file wrote. ``kind`` defaults to the
    sensor's registered kind, else the format's (``formats.FORMATS``: captures, packet logs, Zeek and
    flow records → darknet; honeypot logs and Suricata → honeypot).
    A bad file raises ``DarkstackError`` (files before it stay ingested); with ``keep_going`` it is
    reported as failed and the next file is read.
    """
    settings = settings or IngestSettings()
    files = _expand(paths)
    if not files:
        raise ConfigError("no input files given")
    if kind is not None and kind not in SENSOR_KINDS:
        raise ConfigError(f"--kind must be one of {SENSOR_KINDS}, not {kind!r}")
    if not sensor or "/" in sensor or sensor.startswith("."):  # the registry's rule, checked before reading
        raise ConfigError(f"bad sensor name {sensor!r}")
    formats: list[Format | DarkstackError] = []
    for path in files:
        try:
            formats.append(get_format(fmt) if fmt != "auto" else detect(path))
        except ConfigError:
            raise
        except DarkstackError as exc:
            if not keep_going:
                raise
            formats.append(exc)
    if not any(isinstance(f, Format) for f in formats):
        raise formats[0]  # no file could be recognised: its own error says why
    registered = ws.sensors().get(sensor, {}).get("kind")
    defaults = {f.kind for f in formats if isinstance(f, Format)}
    kind = kind or registered or (defaults.pop() if len(defaults) == 1 else None)
    if kind is None:
        raise ConfigError(f"files of both sensor kinds given for sensor {sensor!r}: say which with --kind")
    if registered and kind != registered:
        raise ConfigError(f"sensor {sensor!r} is already registered as {registered}, not {kind}")
    cryptopan = CryptoPAn.from_file(anonymise_key) if anonymise_key is not None else None
    report = IngestReport(sensor, kind)
    with progress_bar(f"ingest → {sensor}", total=None) as bar:
        if settings.engine == "spark":
            from darkstack.ingest.spark import ingest_on_spark

            ingest_on_spark(ws, files, formats, report, anonymise_key, cryptopan, settings, keep_going, bar)
            return report
        for path, form in zip(files, formats):
            if isinstance(form, DarkstackError):
                failed(report, path, "?", form, keep_going=True)
                continue
            try:
                report.files.append(_ingest_file(ws, path, form, sensor, kind, cryptopan, settings, bar))
            except DarkstackError as exc:
                failed(report, path, form.name, exc, keep_going)
    return report


def failed(report: IngestReport, path: Path, format_name: str, exc: DarkstackError, keep_going: bool) -> None:
    """Report a file that could not be read; without ``keep_going`` its error stops the ingest."""
    if not keep_going:
        raise exc
    report.files.append(FileReport(str(path), format_name, "failed", error=exc.line()))
    log.debug(exc.line(), extra={"file": str(path)})


def _options_key(form: Format, path: Path, sensor: str, kind: str, cryptopan: CryptoPAn | None,
                 settings: IngestSettings) -> dict:
    key = {"format": form.name, "sensor": sensor, "kind": kind,
           "anonymised_with": cryptopan.fingerprint if cryptopan else None,
           "exclude_sources": list(settings.exclude_sources),
           "preserve_mirai": settings.preserve_mirai if cryptopan else None,
           "token_scope": settings.token_scope if form.tokens else None}
    if form.options:
        key["reader_options"] = form.options(settings)
    if form.companions:
        key["companions"] = {str(p.resolve()): manifest_file.file_sha256(p) for p in form.companions(path)}
    return key


@dataclass(frozen=True)
class FileJob:
    """An input file to read: its content hash (which names its parts) and the manifest key it is stored under."""

    path: Path
    format_name: str
    digest: str
    options: dict
    previous: dict | None
    """The manifest entry an earlier version of this file left (its parts are replaced), if any."""

    @property
    def form(self) -> Format:
        return get_format(self.format_name)

    @property
    def part(self) -> str:
        return self.digest[:16]


@dataclass(frozen=True)
class Staged:
    """A file read into its own staging folder beside the store, not yet in the store."""

    report: FileReport
    folder: Path


def plan_file(manifest: dict, path: Path, form: Format, sensor: str, kind: str, cryptopan: CryptoPAn | None,
              settings: IngestSettings, digest: str | None = None) -> FileJob | FileReport:
    """The file's job, or its report when it needs no reading: unchanged since it was ingested, or the same
    content as another file already in the manifest."""
    digest = digest or manifest_file.file_sha256(path)
    options = _options_key(form, path, sensor, kind, cryptopan, settings)
    key = str(path.resolve())
    previous = manifest.get(key, {}).get(sensor)
    if previous and previous.get("sha256") == digest and all(previous.get(k) == v for k, v in options.items()):
        log.info(f"{path}: unchanged since it was ingested, skipped", extra={"file": key})
        return FileReport(str(path), form.name, "unchanged", digest)
    twin = next((p for p, per_sensor in manifest.items()
                 if p != key and per_sensor.get(sensor, {}).get("sha256") == digest), None)
    if twin:
        log.warning(f"{path}: same content as {twin}, already ingested; skipped", extra={"file": key})
        return FileReport(str(path), form.name, "duplicate", digest)
    return FileJob(path, form.name, digest, options, previous)


def _ingest_file(ws: Workspace, path: Path, form: Format, sensor: str, kind: str, cryptopan: CryptoPAn | None,
                 settings: IngestSettings, bar) -> FileReport:
    job = plan_file(manifest_file.load(ws), path, form, sensor, kind, cryptopan, settings)
    if isinstance(job, FileReport):
        return job
    tokens = TokenMap.load(ws) if form.tokens else None
    return commit_file(ws, job, stage_file(ws.store_dir, job, sensor, kind, cryptopan, settings, tokens, bar), sensor, kind)


def stage_file(store_dir: Path, job: FileJob, sensor: str, kind: str, cryptopan: CryptoPAn | None,
               settings: IngestSettings, tokens: TokenMap | None = None, bar=None) -> Staged:
    """Read the whole file into a staging folder under ``store_dir`` (its parts named as in the store).

    This is what a file becomes, on either engine (a Spark task runs it too, without ``tokens`` and ``bar``);
    new tokens are saved before the records that use them can reach the store.
    """
    start = time.perf_counter()
    path, form, part = job.path, job.form, job.part
    (store_dir / ".staging").mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{part}-", dir=store_dir / ".staging"))
    staging_ws = Workspace(staging)
    result = FileReport(str(path), form.name, "ingested", job.digest)
    skipped: Counter = Counter()
    days: Counter = Counter()
    honeypots: Counter = Counter()
    reader = functools.partial(read_pcap, chunk_bytes=settings.chunk_bytes) if form.name == "pcap" else form.read
    if form.options:
        reader = functools.partial(form.read, **form.options(settings))
    if tokens is not None:
        reader = functools.partial(reader, tokens=tokens, per_file=settings.token_scope == "file")
    excluded = [ipaddress.IPv4Network(n, strict=False) for n in settings.exclude_sources]

    def tally(stored: _Stored) -> None:
        skipped.update(stored.skipped)
        days.update(stored.days)
        honeypots.update(stored.honeypots)
        result.kept += stored.kept
        result.events += stored.events

    try:
        # Batch i is filtered, anonymised and written by a writer thread while the reader produces batch i + 1
        # (Parquet encoding and compression release the GIL); one batch in writing at a time bounds memory.
        with ThreadPoolExecutor(max_workers=1) as writer:
            writing: Future | None = None
            for i, batch in enumerate(reader(path)):
                skipped.update(batch.skips)
                result.read += batch.read
                if writing is not None:
                    tally(writing.result())
                writing = writer.submit(_store_batch, staging_ws, sensor, kind, batch, f"{part}-{i:05d}",
                                        excluded, cryptopan, settings)
                if bar is not None:
                    rate = result.read / max(time.perf_counter() - start, 1e-9)
                    advance(bar, batch.read, status=f"{path.name}: {result.read:,} records, {rate:,.0f}/s")
            if writing is not None:
                tally(writing.result())
        if tokens is not None:
            tokens.save()
    except BaseException:
        discard(Staged(result, staging))
        raise
    result.skipped = dict(skipped)
    result.days = dict(sorted(days.items()))
    for (program, day), n in sorted(honeypots.items()):
        result.honeypots.setdefault(program, {})[day] = n
    result.seconds = time.perf_counter() - start
    return Staged(result, staging)


def discard(staged: Staged) -> None:
    """Remove a staging folder (and the staging area when no other file is staged)."""
    shutil.rmtree(staged.folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        staged.folder.parent.rmdir()


def commit_file(ws: Workspace, job: FileJob, staged: Staged, sensor: str, kind: str) -> FileReport:
    """Move a staged file's parts into the store (replacing its earlier version's) and record it in the manifest."""
    start = time.perf_counter()
    result, key = staged.report, str(job.path.resolve())
    try:
        _commit(ws, Workspace(staged.folder), sensor, kind, job.part, job.previous)
        result.seconds = round(result.seconds + time.perf_counter() - start, 3)
        manifest = manifest_file.load(ws)
        manifest.setdefault(key, {})[sensor] = {
            "sha256": job.digest, **job.options, "size": job.path.stat().st_size,
            "parts": sorted(str(p.relative_to(ws.root)) for p in _parts(ws, sensor, job.part)),
            "read": result.read, "kept": result.kept, "events": result.events, "skipped": result.skipped, "days": result.days,
            "ingested_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        manifest_file.save(ws, manifest)
    finally:
        discard(staged)
    log.info(f"{job.path}: {result.read:,} read, {result.kept:,} kept, {sum(result.skipped.values()):,} skipped",
             extra={"file": key, "read": result.read, "kept": result.kept, "events": result.events, "skipped": result.skipped,
                    "seconds": result.seconds})
    return result


@dataclass
class _Stored:
    """What writing one batch to the staging store gave."""

    kept: int
    events: int
    skipped: Counter
    days: Counter
    honeypots: Counter


def _store_batch(staging_ws: Workspace, sensor: str, kind: str, batch: Batch, part: str,
                 excluded: list[ipaddress.IPv4Network], cryptopan: CryptoPAn | None,
                 settings: IngestSettings) -> _Stored:
    """Filter, anonymise and write one batch's records and events as store part ``part``."""
    skipped: Counter = Counter()
    days: Counter = Counter()
    honeypots: Counter = Counter()
    table = _kept(batch.table, excluded, cryptopan, settings, skipped)
    if table.num_rows:
        for day, n in write_records(staging_ws, sensor, kind, table, part=part).items():
            days[day_str(day)] += n
        honeypots.update(_per_honeypot_day(table))
    events = _kept(batch.events, excluded, cryptopan, settings) if batch.events is not None else None
    if events is not None and events.num_rows:
        write_events(staging_ws, sensor, events, part=part)
    return _Stored(table.num_rows, events.num_rows if events is not None else 0, skipped, days, honeypots)


def _kept(table: pa.Table, excluded: list[ipaddress.IPv4Network], cryptopan: CryptoPAn | None,
          settings: IngestSettings, skipped: Counter | None = None) -> pa.Table:
    """``table`` without sources in excluded networks (counted in ``skipped`` when given), anonymised if asked."""
    if excluded and table.num_rows:
        drop = _in_networks(table.column("src_ip").to_numpy(), excluded)
        if skipped is not None:
            skipped[SKIP_EXCLUDED] += int(drop.sum())
        table = table.filter(pa.array(~drop))
    if cryptopan is not None and table.num_rows:
        table = _anonymise(table, cryptopan, settings.preserve_mirai)
    return table


def _per_honeypot_day(table: pa.Table) -> Counter:
    """Rows per (honeypot program, UTC day) of a batch whose rows name their program."""
    if "honeypot" not in table.column_names:
        return Counter()
    named = table.filter(pc.is_valid(table.column("honeypot")))
    day = pc.strftime(named.column("ts"), "%Y-%m-%d")
    counts = pa.table({"honeypot": named.column("honeypot"), "day": day}).group_by(["honeypot", "day"]).aggregate(
        [([], "count_all")])
    return Counter({(h, d): n for h, d, n in zip(*(counts.column(c).to_pylist() for c in ("honeypot", "day", "count_all")))})


def _parts(ws: Workspace, sensor: str, part: str) -> list[Path]:
    """The store files one input file wrote: its records and its honeypot events."""
    folder = ws.store_dir / sensor
    return sorted([*folder.glob(f"*/part-{part}-*.parquet"), *folder.glob(f"*/events-{part}-*.parquet")])


def _commit(ws: Workspace, staging_ws: Workspace, sensor: str, kind: str, part: str, previous: dict | None) -> None:
    """Replace the store's parts of this file (old content and old chunking) by the staged ones."""
    ws.register_sensor(sensor, kind)
    stale = set(_parts(ws, sensor, part))
    if previous:
        stale |= {ws.root / p for p in previous.get("parts", [])}
    staged = sorted([*(staging_ws.store_dir / sensor).glob("*/part-*.parquet"),
                     *(staging_ws.store_dir / sensor).glob("*/events-*.parquet")])
    targets = {ws.store_dir / sensor / f.parent.name / f.name for f in staged}
    for f in stale - targets:
        f.unlink(missing_ok=True)
    for f in staged:
        target = ws.store_dir / sensor / f.parent.name / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, target)


def _in_networks(ips: np.ndarray, networks: list[ipaddress.IPv4Network]) -> np.ndarray:
    ips = ips.astype(np.uint32)
    hit = np.zeros(ips.size, bool)
    for net in networks:
        hit |= (ips & np.uint32(int(net.netmask))) == np.uint32(int(net.network_address))
    return hit


def _anonymise(table: pa.Table, cryptopan: CryptoPAn, preserve_mirai: bool) -> pa.Table:
    """Anonymise both addresses; keep the Mirai fingerprint (seq = destination) when asked."""
    src = table.column("src_ip").to_numpy()
    dst_column = table.column("dst_ip")
    dst = pc.fill_null(dst_column, 0).to_numpy(zero_copy_only=False)
    both = cryptopan.anonymise(np.concatenate([src, dst]))
    new_src, new_dst = both[: src.size], both[src.size:]
    table = table.set_column(table.column_names.index("src_ip"), "src_ip", pa.array(new_src, pa.uint32()))
    unknown_dst = pc.is_null(dst_column).to_numpy(zero_copy_only=False)  # events may lack the sensor's address
    table = table.set_column(table.column_names.index("dst_ip"), "dst_ip",
                             pa.array(new_dst, pa.uint32(), mask=unknown_dst if unknown_dst.any() else None))
    if preserve_mirai and "tcp_seq" in table.column_names:
        seq = table.column("tcp_seq")
        fingerprint = pc.fill_null(pc.equal(seq, pa.array(dst, pa.uint32())), False).to_numpy(zero_copy_only=False)
        if fingerprint.any():
            values = pc.if_else(pa.array(fingerprint), pa.array(new_dst, pa.uint32()), seq)
            table = table.set_column(table.column_names.index("tcp_seq"), "tcp_seq", values)
    return table
