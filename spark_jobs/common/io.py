"""Partition I/O at the edges of every job.

Tables are Parquet under ``<lake>/<table>/dt=YYYY-MM-DD``. Writes use dynamic partition
overwrite, so re-running day D replaces day D and nothing else. File-system questions go
through Hadoop's FileSystem API so they work the same on local disks and ``s3://``.
"""

from __future__ import annotations

import datetime as dt
import os
import re

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from idgraph.core.lake import Lake, day_str

_DT_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


def _hadoop_path(spark: SparkSession, path: str):  # type: ignore[no-untyped-def]
    jvm = spark.sparkContext._jvm  # the only way to reach Hadoop's FS API
    assert jvm is not None
    jpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = jpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return fs, jpath


def path_exists(spark: SparkSession, path: str) -> bool:
    """True if ``path`` exists (file or directory), on any Hadoop file system."""
    fs, jpath = _hadoop_path(spark, path)
    return bool(fs.exists(jpath))


def list_children(spark: SparkSession, path: str) -> list[str]:
    """Names of the entries directly under ``path`` (empty when it does not exist), sorted."""
    fs, jpath = _hadoop_path(spark, path)
    if not fs.exists(jpath):
        return []
    return sorted(str(status.getPath().getName()) for status in fs.listStatus(jpath))


def delete_path(spark: SparkSession, path: str) -> bool:
    """Delete ``path`` recursively, on any Hadoop file system; True if something was deleted."""
    fs, jpath = _hadoop_path(spark, path)
    return bool(fs.delete(jpath, True))


def write_text(spark: SparkSession, path: str, text: str) -> None:
    """Write ``text`` to the file ``path``, replacing it: a local path, ``file://`` or
    (through Hadoop's FileSystem API, as the tables) ``s3://``."""
    if "://" not in path or path.startswith("file://"):
        local = path.removeprefix("file://")
        os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
        with open(local, "w") as fh:
            fh.write(text)
        return
    fs, jpath = _hadoop_path(spark, path)
    stream = fs.create(jpath, True)
    try:
        stream.write(text.encode())
    finally:
        stream.close()


def list_partitions(spark: SparkSession, lake: Lake, table: str) -> list[dt.date]:
    """Dates for which ``table`` has a complete partition (with a ``_SUCCESS`` marker
    at the table root or any data file), sorted ascending."""
    root = lake.table(table)
    fs, jpath = _hadoop_path(spark, root)
    if not fs.exists(jpath):
        return []
    days = []
    for status in fs.listStatus(jpath):
        match = _DT_DIR.match(status.getPath().getName())
        if status.isDirectory() and match:
            days.append(dt.date.fromisoformat(match.group(1)))
    return sorted(days)


def partition_exists(spark: SparkSession, lake: Lake, table: str, day: dt.date) -> bool:
    """True if ``table`` has a partition for ``day``."""
    return path_exists(spark, lake.partition(table, day))


def write_partition(df: DataFrame, lake: Lake, table: str, day: dt.date) -> None:
    """Write ``df`` as day ``day`` of ``table``, replacing only that day.

    The ``dt`` column is added here; callers pass the day's rows without it.
    """
    (
        df.withColumn("dt", F.lit(day_str(day)))
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy("dt")
        .parquet(lake.table(table))
    )


def read_table(spark: SparkSession, lake: Lake, table: str) -> DataFrame:
    """The whole table, with ``dt`` as a DATE column (use filters to prune partitions)."""
    return (
        spark.read.option("basePath", lake.table(table))
        .parquet(lake.table(table))
        .withColumn("dt", F.col("dt").cast("date"))
    )


def read_partition(spark: SparkSession, lake: Lake, table: str, day: dt.date) -> DataFrame:
    """One day of ``table`` (without the ``dt`` column)."""
    return spark.read.parquet(lake.partition(table, day))


def read_range(
    spark: SparkSession,
    lake: Lake,
    table: str,
    start: dt.date,
    end: dt.date,
    *,
    merge_schema: bool = False,
) -> DataFrame:
    """Days ``start..end`` of ``table`` that exist, with ``dt`` as a DATE column.

    Only existing partitions are listed explicitly, so a missing day is not an error and
    Spark never scans partitions outside the range. ``merge_schema`` reads the union of the
    days' columns (days written before a column was added get nulls) at the cost of reading
    every file footer.
    """
    days = [d for d in list_partitions(spark, lake, table) if start <= d <= end]
    if not days:
        raise FileNotFoundError(f"no partitions of {table} between {start} and {end}")
    paths = [lake.partition(table, d) for d in days]
    return (
        spark.read.option("basePath", lake.table(table))
        .option("mergeSchema", str(merge_schema).lower())
        .parquet(*paths)
        .withColumn("dt", F.col("dt").cast("date"))
    )
