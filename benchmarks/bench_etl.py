"""ETL + features for one simulated day: ~1M and ~4M raw events (quick: one run of ~3k).

Each run is a fresh Python process, as a spark-submit step is: it runs the ``etl`` then the
``features`` stage for the day through the spark-submit entry point
(``spark_jobs/entrypoint.py``, what EMR runs; one JVM, one session per stage), after the
previous run's outputs are removed. The lines read come from the ``etl`` stage's result line
(``IDGRAPH_RESULT {json}``). Reported: median wall time of the runs, events per second (raw
lines read / wall time), and the 4M/1M ratio (target <= 4.5, i.e. near-linear). The raw day is
simulated once per size, outside the timing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import main_for, timed
from idgraph.core.settings.process_env import with_process_env
from idgraph.core.stage import RESULT_MARKER
from idgraph.simulator import simulate

DAY = dt.date(2026, 11, 18)  # a Wednesday
LINES_PER_PERSON_DAY = 9.4  # the simulator's measured volume per person and day
DERIVED = ("visits", "quarantine", "reconciliation", "daily_cookie_aggregates", "cookie_features")

# One process, as a step: the entry point once per stage (each exits through SystemExit).
_DRIVER = """
import sys
from spark_jobs import entrypoint
for stage in ("etl", "features"):
    try:
        entrypoint.main(["--stage", stage, "--lake", sys.argv[1], "--date", sys.argv[2]])
    except SystemExit as done:
        if done.code:
            raise
"""


def result_lines(stdout: str) -> dict[str, dict[str, Any]]:
    """The entry point's ``IDGRAPH_RESULT {json}`` lines, by stage."""
    return {
        payload["stage"]: payload
        for payload in (
            json.loads(line.removeprefix(RESULT_MARKER))
            for line in stdout.splitlines()
            if line.startswith(RESULT_MARKER)
        )
    }


def _one_run(lake: Path) -> int:
    for table in DERIVED:
        shutil.rmtree(lake / table, ignore_errors=True)
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(lake), DAY.isoformat()],
        env=with_process_env(os.environ),
        check=False,
        capture_output=True,
        text=True,
    )
    results = result_lines(done.stdout)
    failed = [r for r in results.values() if not r["ok"]]
    if done.returncode or failed or set(results) != {"etl", "features"}:
        raise RuntimeError(
            f"etl + features failed (exit {done.returncode}, results {results}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return int(results["etl"]["summary"]["lines_read"])


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
    """Time ETL + features on one day of ~1M and ~4M events (quick: one run of ~3k)."""
    if quick:
        return {"quick": True, "3k": _measure(3_000, runs=1)}
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
    main_for("etl")
