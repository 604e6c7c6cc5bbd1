"""The environment of every process that starts Spark or runs its Python workers, in one place.

The JVM and the Python workers Spark starts inherit the driver's environment, and some of these
are read once, when a library loads; so they are set before any JVM starts: by the test
suite's conftest, by ``build_spark`` (``spark_jobs/common/session.py``) and into the child's
environment by ``idgraph submit --target local``. No pyspark here: it must run before pyspark
is imported, and in processes (the submitter) that never import it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def process_env(python: str | None = None) -> dict[str, str]:
    """The variables and the values a Spark process needs (``python``: default this one)."""
    python = python or sys.executable
    return {
        # Driver and workers must run this interpreter (the venv's), not the `python3` on PATH.
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
        # No reverse-DNS lookup of the host name, which can hang in sandboxes.
        "SPARK_LOCAL_IP": "127.0.0.1",
        # XGBoost's OpenMP threads busy-waiting next to Spark's JVM on few cores are
        # catastrophically slow; read when the OpenMP runtime loads.
        "OMP_WAIT_POLICY": "PASSIVE",
        # No usage analytics from Great Expectations in a batch job (no network, none wanted).
        "GX_ANALYTICS_ENABLED": "false",
    }


def with_process_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` (a child's environment) plus each ``process_env`` variable it does not set."""
    return process_env() | dict(base)


def configure_process_env() -> None:
    """Put ``process_env`` into ``os.environ``; a variable already set keeps its value."""
    for name, value in process_env().items():
        os.environ.setdefault(name, value)
