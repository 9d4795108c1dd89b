"""Ingest on Spark (``ingest.engine = "spark"``): each input file is read by its usual reader in a Spark task.

A task runs :func:`~darkstack.ingest.run.stage_file`, the embedded engine's own step, into a staging folder
beside the store; the driver then commits the staged files in input order with the embedded engine's
:func:`~darkstack.ingest.run.commit_file`, checking the manifest again first (a file listed twice, or two files of
the same content, end as they do embedded). Store parts, manifest and sensor registry are thus the embedded ones.
Executors must see the input files and the workspace at the same paths as the driver (one machine, or a shared
filesystem). Formats whose addresses may be tokens (``Format.tokens``) are read on the driver, in input order:
a token's address is its place in the workspace's one append-only table, so tasks cannot number them apart.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from darkstack.anonymise import CryptoPAn
from darkstack.errors import DarkstackError
from darkstack.ingest import manifest as manifest_file
from darkstack.ingest.formats import Format
from darkstack.ingest.run import (
    FileJob,
    FileReport,
    IngestReport,
    Staged,
    commit_file,
    discard,
    failed,
    plan_file,
    stage_file,
)
from darkstack.ingest.settings import IngestSettings
from darkstack.ingest.tokens import TokenMap
from darkstack.log import get_logger
from darkstack.progress import advance
from darkstack.snapshot.spark_engine import SparkEngine
from darkstack.workspace import Workspace

log = get_logger(__name__)
PYTHON_ERROR = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")
"""The last line of a Python traceback, the cause of a failed task (Spark wraps it in its own report)."""


def ingest_on_spark(ws: Workspace, files: list[Path], formats: list[Format | DarkstackError], report: IngestReport,
                    anonymise_key: Path | None, cryptopan: CryptoPAn | None, settings: IngestSettings,
                    keep_going: bool, bar) -> None:
    """Hash and read ``files`` in Spark tasks (one per file), commit them in order into ``report``."""
    sensor, kind = report.sensor, report.kind
    engine = SparkEngine(master=settings.spark_master, app="darkstack-ingest")
    try:
        context = engine.spark.sparkContext
        readable = [(i, path) for i, (path, form) in enumerate(zip(files, formats)) if isinstance(form, Format)]
        digests = _collect(engine, context.parallelize(readable, len(readable)).map(_digest))
        manifest = manifest_file.load(ws)
        plans = {i: _plan(manifest, files[i], formats[i], sensor, kind, cryptopan, settings, digest) for i, digest in digests}
        on_driver = sorted({p.format_name for p in plans.values() if isinstance(p, FileJob) and p.form.tokens})
        if on_driver:
            log.info(f"ingest {sensor}: {', '.join(on_driver)} files are read on the driver, in input order (their "
                     "address tokens are numbered in the workspace's one token table); the others in Spark tasks",
                     extra={"sensor": sensor})
        jobs = [(i, p) for i, p in plans.items() if isinstance(p, FileJob) and not p.form.tokens]
        stage = functools.partial(_stage_task, ws.store_dir, sensor, kind, anonymise_key, settings)
        staged = dict(_collect(engine, context.parallelize(jobs, len(jobs)).map(stage))) if jobs else {}
        try:
            for i, (path, form) in enumerate(zip(files, formats)):
                outcome = plans.get(i, form)
                try:
                    if isinstance(outcome, BaseException):
                        raise outcome
                    if isinstance(outcome, FileJob):
                        outcome = _commit(ws, outcome, staged.pop(i, None), sensor, kind, cryptopan, settings)
                except DarkstackError as exc:
                    failed(report, path, getattr(form, "name", "?"), exc, keep_going)
                    continue
                report.files.append(outcome)
                advance(bar, outcome.read, status=f"{path.name}: {outcome.status}, {outcome.read:,} records")
        finally:
            for left in staged.values():  # after an error that stops the ingest: the files not committed
                if isinstance(left, Staged):
                    discard(left)
    finally:
        engine.close()


def _collect(engine: SparkEngine, rdd) -> list:
    """The job's results; a failed job (an executor without darkstack, a lost worker) as one line naming its cause."""
    try:
        return rdd.collect()
    except engine.errors as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        cause = next((line for line in reversed(lines) if PYTHON_ERROR.match(line)), lines[0] if lines else type(exc).__name__)
        raise DarkstackError(f"ingest on Spark failed: {cause} (--spark-master / ingest.spark_master; on a cluster "
                             "PYSPARK_PYTHON must name a Python with darkstack)") from exc


def _plan(manifest: dict, path: Path, form: Format, sensor: str, kind: str, cryptopan: CryptoPAn | None,
          settings: IngestSettings, digest: str | BaseException) -> FileJob | FileReport | BaseException:
    """``plan_file`` with the task's hash, or the error that stops this file (raised in input order)."""
    if isinstance(digest, BaseException):
        return digest
    try:
        return plan_file(manifest, path, form, sensor, kind, cryptopan, settings, digest)
    except DarkstackError as exc:
        return exc


def _commit(ws: Workspace, job: FileJob, staged: Staged | BaseException | None, sensor: str, kind: str,
            cryptopan: CryptoPAn | None, settings: IngestSettings) -> FileReport:
    """Commit one file on the driver: its task's staged result, or a token format's file read here and now."""
    if isinstance(staged, BaseException):
        raise staged
    now = plan_file(manifest_file.load(ws), job.path, job.form, sensor, kind, cryptopan, settings, job.digest)
    if isinstance(now, FileReport):  # an earlier file of this call had the same path or the same content
        if staged is not None:
            discard(staged)
        return now
    if now.form.tokens:
        staged = stage_file(ws.store_dir, now, sensor, kind, cryptopan, settings, TokenMap.load(ws))
    return commit_file(ws, now, staged, sensor, kind)


def _digest(item: tuple[int, Path]) -> tuple[int, str | DarkstackError]:
    """Spark task: a file's content hash, or the one-line error of an unreadable file."""
    i, path = item
    try:
        return i, manifest_file.file_sha256(path)
    except DarkstackError as exc:
        return i, exc


def _stage_task(store_dir: Path, sensor: str, kind: str, anonymise_key: Path | None, settings: IngestSettings,
                item: tuple[int, FileJob]) -> tuple[int, Staged | DarkstackError | OSError]:
    """Spark task: read one file into its staging folder, or give the error the driver raises for it, as the
    embedded engine would (the key is loaded here: a cipher does not pickle)."""
    i, job = item
    try:
        cryptopan = CryptoPAn.from_file(anonymise_key) if anonymise_key is not None else None
        return i, stage_file(store_dir, job, sensor, kind, cryptopan, settings)
    except (DarkstackError, OSError) as exc:
        return i, exc
