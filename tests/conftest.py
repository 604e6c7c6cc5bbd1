"""Test fixtures shared by every area: one lazily created, session-scoped SparkSession."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idgraph.core.settings.process_env import configure_process_env

# Before any test imports xgboost or starts a JVM (and for the processes tests start).
configure_process_env()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the SparkSession (``spark``, directly or through a fixture)
    ``spark``, declared or not, so ``-m "not spark"`` (``make test-fast``) starts no JVM."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The one SparkSession of the test run, built by the same code the jobs use."""
    from idgraph.core.settings import SparkSettings
    from spark_jobs.common.session import build_spark

    settings = SparkSettings(
        master="local[2]",  # both cores; tests are small, parallelism keeps them honest
        shuffle_partitions=2,  # tiny DataFrames: more partitions only add task overhead
        driver_memory="2g",  # small data; leaves room for the Valkey servers and xgboost
        app_name="idgraph-tests",
        extra_conf={
            "spark.sql.adaptive.enabled": "false",  # stable plans and partition counts
            "spark.rdd.compress": "false",  # local; CPU is scarcer than memory here
            "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",  # surface bugs
            "spark.python.worker.reuse": "true",  # worker start-up dominates small tasks
        },
    )
    session = build_spark(settings, checkpoint_dir=str(tmp_path_factory.mktemp("checkpoints")))
    yield session
    session.stop()
