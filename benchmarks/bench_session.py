"""Session evidence for one simulated day at two scales, against the day's cookie aggregates.

A day is simulated and run through the ETL once per scale (outside the timing). Then, in one
SparkSession, each run times two jobs over the same ``visits/dt=D``, each written to Parquet:

- ``daily_session_pairs`` (hops in (IP, UA) streams and quiet-IP co-presence), the step the
  candidates stage adds;
- ``daily_cookie_aggregates``, the features stage's per-day work, as the reference measured
  in the same run.

Reported per scale: events, session pairs written, median seconds of each job, and the ratio
session / reference; across scales, the 4x / 1x ratio of the session step (linear: ~4).

    python -m benchmarks session [--quick] [--out DIR]
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from typing import Any

from benchmarks.common import main_for, timed

DAY = dt.date(2026, 11, 18)  # a Wednesday


def _measure(spark: Any, people: int, runs: int) -> dict[str, Any]:
    from idgraph.core.lake import Lake
    from idgraph.core.settings import load_settings
    from idgraph.pipeline import DAILY_STAGES, run_day
    from idgraph.simulator import simulate
    from spark_jobs.common.io import read_partition
    from spark_jobs.etl import features as feats
    from spark_jobs.pair_scoring.session_evidence import daily_session_pairs

    with tempfile.TemporaryDirectory(prefix="bench-session-") as tmp:
        simulate(tmp, DAY, days=1, people=people, seed=5, bad_rate=0.0)
        settings = load_settings(lake={"root": tmp})
        report = run_day(spark, settings, DAY, stages=DAILY_STAGES[:1])
        if not report.ok:
            raise RuntimeError(f"etl failed: {report.error}")
        lake = Lake(tmp)
        visits = read_partition(spark, lake, "visits", DAY)
        events = visits.count()
        out = os.path.join(tmp, "out")

        def session() -> int:
            daily_session_pairs(visits).write.mode("overwrite").parquet(out + "/s")
            return spark.read.parquet(out + "/s").count()

        def reference() -> None:
            with_day = visits.withColumn("dt", visits["ts"].cast("date").cast("string"))
            feats.daily_cookie_aggregates(with_day, day_col="dt").write.mode("overwrite").parquet(
                out + "/r"
            )

        s_median, s_runs, pairs = timed(session, runs=runs)
        r_median, r_runs, _ = timed(reference, runs=runs)
    return {
        "people": people,
        "events": events,
        "session_pairs": pairs,
        "session_seconds": s_runs,
        "session_median_seconds": round(s_median, 2),
        "reference_seconds": r_runs,
        "reference_median_seconds": round(r_median, 2),
        "session_over_reference": round(s_median / r_median, 2),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Session evidence at ~N and ~4N events, 3 runs each (quick: one run of 200 people)."""
    from idgraph.core.settings import load_settings
    from idgraph.pipeline import build_session

    checkpoints = tempfile.TemporaryDirectory(prefix="bench-session-checkpoints-")
    spark = build_session(
        load_settings(
            lake={"root": checkpoints.name}, spark={"shuffle_partitions": 2} if quick else {}
        )
    )
    try:
        if quick:
            return {"quick": True, "small": _measure(spark, 200, runs=1)}
        runs = int(os.environ.get("IDGRAPH_BENCH_RUNS", "3"))
        small = _measure(spark, 10_000, runs)
        large = _measure(spark, 40_000, runs)
    finally:
        spark.stop()
        checkpoints.cleanup()
    return {
        "quick": False,
        "runs": runs,
        "1x": small,
        "4x": large,
        "session_ratio_4x_to_1x": round(
            large["session_median_seconds"] / small["session_median_seconds"], 2
        ),
    }


if __name__ == "__main__":
    main_for("session")
