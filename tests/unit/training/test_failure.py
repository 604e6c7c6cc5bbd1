"""A failed training run in one line: what ran out, and which setting to raise."""

from __future__ import annotations

import pytest

from idgraph.core.settings import load_settings
from training.failure import explain_failure

SETTINGS = load_settings(
    spark={"driver_memory": "4g"}, training={"max_examples_per_snapshot": 5_000}
)
JAVA_TRACE = (
    "\n\tat org.apache.spark.sql.execution.SparkPlan.executeQuery(SparkPlan.scala:218)" * 40
)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (  # what the independent month of traffic hit in the old training
            RuntimeError(
                "An error occurred while calling o1234.collectToPython.\n: "
                "org.apache.spark.SparkException: Not enough memory to build and broadcast "
                "the table to all worker nodes." + JAVA_TRACE
            ),
            "training ran out of memory (driver memory for a broadcast join",
        ),
        (  # and what the real browsing histories hit
            RuntimeError(
                "org.apache.spark.memory.SparkOutOfMemoryError: [UNABLE_TO_ACQUIRE_MEMORY] "
                "Unable to acquire 65536 bytes of memory, got 0." + JAVA_TRACE
            ),
            "training ran out of memory (execution memory of a task",
        ),
        (RuntimeError("java.lang.OutOfMemoryError: Java heap space"), "(the JVM heap"),
        (
            RuntimeError("Total size of serialized results is bigger than maxResultSize (1 GiB)"),
            "raise spark.driver.maxResultSize",
        ),
        (MemoryError(), "(a Python worker's memory"),
    ],
    ids=["broadcast", "acquire", "heap", "result-size", "python"],
)
def test_memory_failures_name_what_ran_out_and_the_setting(error, expected) -> None:
    line = explain_failure(error, SETTINGS)
    assert "\n" not in line and len(line) < 400
    assert expected in line
    if "raise the driver memory" in line:
        assert "IDGRAPH_SPARK_DRIVER_MEMORY, now 4g" in line
    assert "IDGRAPH_TRAIN_MAX_EXAMPLES_PER_SNAPSHOT (now 5,000)" in line


def test_any_other_failure_is_its_first_line() -> None:
    error = RuntimeError("[PATH_NOT_FOUND] Path does not exist: s3://lake/x." + JAVA_TRACE)
    line = explain_failure(error, SETTINGS)
    assert (
        line == "training failed: RuntimeError: [PATH_NOT_FOUND] Path does not exist: s3://lake/x."
    )
