"""Spark engine: the same SQL of ``queries`` on a PySpark session (``local[*]`` or a cluster URL)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings

import pyarrow as pa

from darkstack.errors import ConfigError
from darkstack.snapshot.queries import LATER_COLUMNS

NO_PYSPARK = "--engine spark needs pyspark, which is not installed: pip install 'darkstack[spark]'"
NO_JAVA = "--engine spark needs a Java runtime (java on PATH or JAVA_HOME), e.g. apt-get install default-jre-headless"


def java_found() -> bool:
    """Whether Spark can start its JVM: ``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    return os.access(os.path.join(home, "bin", "java"), os.X_OK) if home else shutil.which("java") is not None


class SparkEngine:
    """A light Spark session: no UI, UTC, local scratch in a temporary folder and, on a ``local`` master,
    ``shuffle_partitions`` shuffle partitions (default: one per core; a day is small for Spark).

    A session already active in this process (a notebook's, a test module's) is used as it is and left running,
    so its Python workers are not started again for every call."""

    name = "spark"

    def __init__(self, master: str = "local[*]", shuffle_partitions: int | None = None, driver_memory: str = "2g",
                 app: str = "darkstack-snapshot"):
        # Tables leave Spark as Arrow (toArrow) and enter it as Parquet, never through pandas, so pyspark's
        # "does not yet fully support pandas >= 3.0.0" warning (raised on import of its helpers) does not apply.
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        try:
            from py4j.protocol import Py4JJavaError
            from pyspark.errors import PySparkException
            from pyspark.sql import SparkSession
        except ImportError as e:
            raise ConfigError(NO_PYSPARK) from e
        if not java_found():
            raise ConfigError(NO_JAVA)

        self.errors = (PySparkException, Py4JJavaError)
        self._cached: set[str] = set()
        self._tmp = None
        self.spark = SparkSession.getActiveSession()
        if self.spark is not None:
            return
        # Python tasks (ingest's readers) run in this interpreter, which has darkstack, unless PYSPARK_PYTHON names
        # another (a cluster's executors: one with darkstack installed); pyspark's own default is python3 on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        self._tmp = tempfile.TemporaryDirectory(prefix="darkstack-spark-")
        builder = SparkSession.builder.master(master).appName(app)
        if master.startswith("local"):  # one machine: one shuffle partition per core; a cluster keeps its own
            builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions or os.cpu_count() or 1))
        self.spark = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.driver.memory", driver_memory)
            .config("spark.local.dir", self._tmp.name)
            .config("spark.sql.warehouse.dir", f"{self._tmp.name}/warehouse")
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")

    def register_packets(self, parquet_glob: str) -> None:
        """Expose the day's canonical records as the view ``packets``."""
        from pyspark.sql import functions as F

        frame = self.spark.read.option("mergeSchema", "true").parquet(parquet_glob)  # parts written before a column was added lack it
        for name, (_, spark_type) in LATER_COLUMNS.items():
            if name not in frame.columns:
                frame = frame.withColumn(name, F.lit(None).cast(spark_type))
        frame.createOrReplaceTempView("packets")

    def view(self, name: str, sql: str) -> None:
        self.spark.sql(sql).createOrReplaceTempView(name)

    def materialise(self, name: str, sql: str) -> None:
        self.spark.sql(sql).createOrReplaceTempView(name)
        self.spark.sql(f"CACHE LAZY TABLE {name}")
        self._cached.add(name)

    def query(self, sql: str) -> pa.Table:
        return self.spark.sql(sql).toArrow()

    def release(self, name: str) -> None:
        if name in self._cached:
            self.spark.sql(f"UNCACHE TABLE IF EXISTS {name}")
            self._cached.discard(name)

    def close(self) -> None:
        if self._tmp is not None:  # the session is this engine's own
            self.spark.stop()
            self._tmp.cleanup()
