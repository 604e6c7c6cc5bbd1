"""The one place that builds a SparkSession.

Local mode is sized for a small machine; on EMR, spark-submit's configuration wins because we
set ``master`` and resources only when the settings ask for them or nothing else did.
"""

from __future__ import annotations

import logging

from pyspark import SparkConf
from pyspark.sql import SparkSession

from idgraph.core.settings import SparkSettings
from idgraph.core.settings.process_env import configure_process_env

log = logging.getLogger(__name__)


def build_spark(settings: SparkSettings, *, checkpoint_dir: str | None = None) -> SparkSession:
    """Build (or return the active) SparkSession for these settings.

    Args:
        settings: the Spark concern of the app settings.
        checkpoint_dir: where reliable checkpoints go (usually ``<lake>/_checkpoints``).

    Returns:
        The session, with dynamic partition overwrite so re-runs replace only their day.
    """
    configure_process_env()  # before the JVM starts: it and the Python workers inherit it
    submitted = SparkConf()  # carries spark.* properties when launched by spark-submit
    builder = SparkSession.builder.appName(settings.app_name)
    if settings.master:
        builder = builder.master(settings.master)
    elif not submitted.contains("spark.master"):
        builder = builder.master("local[*]")
    local = (settings.master or submitted.get("spark.master", "local[*]")).startswith("local")
    conf: dict[str, str] = {
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.ui.enabled": str(settings.ui_enabled).lower(),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.parquet.compression.codec": "zstd",
    }
    if local:
        conf |= {
            "spark.driver.memory": settings.driver_memory,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            # Broadcast joins of small dimension tables save shuffles on one machine.
            "spark.sql.autoBroadcastJoinThreshold": str(64 * 1024 * 1024),
            "spark.default.parallelism": str(max(2, settings.shuffle_partitions)),
        }
    conf |= settings.extra_conf
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    _quiet_observation_listener(spark)
    if checkpoint_dir or settings.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(settings.checkpoint_dir or checkpoint_dir)
    log.info("spark %s master=%s", spark.version, spark.sparkContext.master)
    return spark


def _quiet_observation_listener(spark: SparkSession) -> None:
    """Silence the listener bus that logs a harmless ERROR once a job has used ``Observation``.

    Once the ETL has registered an ``Observation``, Spark's observation listener re-analyses
    every failed query. Great Expectations' check of ``cookie_features`` runs one query that
    fails analysis ("window functions inside WHERE") and handles the failure itself; the suite
    passes. Without this, the listener logs that query as an ERROR with a 200-line stack trace,
    once per day. Only ``ExecutionListenerBus`` is silenced; our own code registers no other
    query listener.
    """
    jvm = spark.sparkContext._jvm
    if jvm is None:
        return
    jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
        "org.apache.spark.sql.util.ExecutionListenerBus", jvm.org.apache.logging.log4j.Level.OFF
    )
