"""ETL + features for one simulated day: ~1M and ~4M raw events (quick: one run of ~200k).

Each run is a fresh Python process that builds its own SparkSession (JVM start included,
as for a spark-submit step) and runs the ``etl`` then the ``features`` stage for the day,
after the previous run's outputs are removed. Reported: median wall time of the runs,
events per second (raw lines read / wall time), and the 4M/1M ratio (target <= 4.5, i.e.
near-linear). The raw day is simulated once per size, outside the timing.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import timed
from idgraph.simulator import simulate

DAY = dt.date(2026, 11, 18)  # a Wednesday
LINES_PER_PERSON_DAY = 9.4  # the simulator's measured volume per person and day
DERIVED = ("visits", "quarantine", "reconciliation", "daily_cookie_aggregates", "cookie_features")

# One process: ETL then features, in one session, as a daily run does.
_DRIVER = """
import sys
from spark_jobs.etl import features_job, job
args = ["--lake", sys.argv[1], "--date", sys.argv[2]]
job.main(args)
features_job.main(args)
"""


def _one_run(lake: Path) -> int:
    for table in DERIVED:
        shutil.rmtree(lake / table, ignore_errors=True)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(lake), DAY.isoformat()],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    for line in done.stdout.splitlines():
        if line.startswith(f"etl {DAY}:"):
            fields = dict(item.split("=") for item in line.split(": ", 1)[1].split(", "))
            return int(fields["lines_read"])
    raise RuntimeError(f"etl summary not found in the driver's output:\n{done.stdout[-2000:]}")


def _measure(events: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-etl-") as tmp:
        lake = Path(tmp)
        started = time.perf_counter()
        simulate(
            tmp, DAY, days=1, people=round(events / LINES_PER_PERSON_DAY), seed=3, bad_rate=0.01
        )
        simulated = time.perf_counter() - started
        median, seconds, lines = timed(lambda: _one_run(lake), runs=runs)
    return {
        "lines": lines,
        "runs_seconds": seconds,
        "median_seconds": round(median, 2),
        "events_per_second": round(lines / median),
        "simulate_seconds": round(simulated, 1),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Time ETL + features on one day of ~1M and ~4M events (quick: one run of ~200k)."""
    if quick:
        return {"quick": True, "200k": _measure(200_000, runs=1)}
    # Each 4M run takes minutes on 2 cores; IDGRAPH_BENCH_RUNS trades repetitions for time.
    runs = int(os.environ.get("IDGRAPH_BENCH_RUNS", "3"))
    small, large = _measure(1_000_000, runs=runs), _measure(4_000_000, runs=runs)
    return {
        "quick": False,
        "runs": runs,
        "1M": small,
        "4M": large,
        "ratio_4M_to_1M": round(large["median_seconds"] / small["median_seconds"], 2),
        "target_1M_seconds": 90,
        "target_ratio": 4.5,
    }


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
