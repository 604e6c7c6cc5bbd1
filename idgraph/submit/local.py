"""Run a job with the spark-submit that ships inside the pyspark package (--target local)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from idgraph.core.settings import SparkSettings
from idgraph.core.settings.process_env import with_process_env
from idgraph.submit.jobs import JobOutcome, JobSpec, parse_results


def spark_submit_path() -> Path:
    """``bin/spark-submit`` of the installed pyspark (no separate Spark install needed)."""
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-submit"


def entrypoint_path() -> Path:
    """The entry point file spark-submit runs (located, not imported: spark-submit imports it)."""
    spec = importlib.util.find_spec("spark_jobs.entrypoint")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).resolve()


def build_command(job: JobSpec, spark: SparkSettings) -> list[str]:
    """The ``spark-submit`` command line for ``job`` under these Spark settings.

    The master and driver memory go on the command line because they only take effect before
    the JVM starts; everything else is ``--conf``.
    """
    conf = {
        "spark.sql.shuffle.partitions": str(spark.shuffle_partitions),
        "spark.ui.enabled": str(spark.ui_enabled).lower(),
        **spark.extra_conf,
    }
    command = [
        str(spark_submit_path()),
        "--master", spark.master or "local[*]",
        "--name", job.name,
        "--driver-memory", spark.driver_memory,
    ]  # fmt: skip
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    return [*command, str(entrypoint_path()), *job.arguments()]


def build_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: ours (so ``IDGRAPH_*`` settings pass through) plus Spark's needs
    (``process_env``: spark-submit would otherwise start the ``python3`` on PATH)."""
    return with_process_env(os.environ if base is None else base)


def run_local(
    job: JobSpec,
    spark: SparkSettings,
    *,
    echo: Callable[[str], None] | None = None,
    on_state: Callable[[str], None] | None = None,
) -> JobOutcome:
    """Run ``job`` with spark-submit and wait for it.

    The child's stdout is read line by line (echoed through ``echo``) so the entry point's
    result records can be collected; its stderr (Spark's log) goes straight to ours.
    """
    command = build_command(job, spark)
    started = time.perf_counter()
    if on_state is not None:
        on_state("RUNNING")
    lines: list[str] = []
    with subprocess.Popen(
        command, env=build_env(), stdout=subprocess.PIPE, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if echo is not None:
                echo(line.rstrip("\n"))
        code = proc.wait()
    if on_state is not None:
        on_state("SUCCESS" if code == 0 else "FAILED")
    results = parse_results(lines)
    failed = [r for r in results if not r.get("ok")]
    reason = ""
    if code != 0:
        reason = failed[-1]["error"] if failed else f"spark-submit exited with code {code}"
    return JobOutcome(
        job=job,
        ok=code == 0,
        state="SUCCESS" if code == 0 else "FAILED",
        job_id=f"pid:{proc.pid}",
        seconds=round(time.perf_counter() - started, 1),
        reason=reason,
        log_location="stderr of spark-submit (above)" if code != 0 else "",
        results=results,
    )
