"""A failed training run in one readable line: what ran out, and which setting to raise.

Spark reports memory trouble in many shapes (a JVM ``OutOfMemoryError``, a broadcast that does
not fit, a task that cannot acquire execution memory, a result larger than
``spark.driver.maxResultSize``), each buried in a Java stack trace of hundreds of lines. An
operator needs the one fact and the one knob.
"""

from __future__ import annotations

from idgraph.core.settings import AppSettings

# (marker in the error text, what ran out, which setting raises it). First match wins.
_MEMORY_MARKERS: tuple[tuple[str, str, str], ...] = (
    ("maxResultSize", "the driver's result size limit", "spark.driver.maxResultSize"),
    (
        "Not enough memory to build and broadcast",
        "driver memory for a broadcast join",
        "driver",
    ),
    ("UNABLE_TO_ACQUIRE_MEMORY", "execution memory of a task", "driver"),
    ("SparkOutOfMemoryError", "execution memory of a task", "driver"),
    ("Java heap space", "the JVM heap", "driver"),
    ("GC overhead limit exceeded", "the JVM heap", "driver"),
    ("OutOfMemoryError", "the JVM heap", "driver"),
    ("Container killed", "a container's memory", "executor"),
    ("exceeding memory limits", "a container's memory", "executor"),
    ("MemoryError", "a Python worker's memory", "executor"),
)


def _first_line(text: str, limit: int = 240) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def explain_failure(exc: BaseException, settings: AppSettings) -> str:
    """One line saying why training failed and what to change.

    Args:
        exc: the exception that stopped training (any type; Py4J errors carry the Java text).
        settings: the settings the run used (to name the current values).
    """
    text = f"{type(exc).__name__}: {exc}"
    for marker, what, knob in _MEMORY_MARKERS:
        if marker not in text:
            continue
        cap = settings.training.max_examples_per_snapshot
        fewer = f"or lower IDGRAPH_TRAIN_MAX_EXAMPLES_PER_SNAPSHOT (now {cap:,})"
        if knob == "driver":
            hint = (
                f"raise the driver memory (IDGRAPH_SPARK_DRIVER_MEMORY, now "
                f"{settings.spark.driver_memory}; on EMR spark.driver.memory) {fewer}"
            )
        elif knob == "executor":
            hint = f"raise spark.executor.memory / spark.executor.memoryOverhead {fewer}"
        else:
            hint = f"raise {knob} (IDGRAPH_SPARK_EXTRA_CONF) {fewer}"
        return f"training ran out of memory ({what}: {marker}): {hint}"
    return f"training failed: {_first_line(text)}"
