"""Weekly training: wall time and peak memory (RSS of the whole process tree: the CLI, its
JVM and the Python workers) of ``idgraph train``, at several snapshot counts.

Each run is a fresh ``idgraph train`` process against an already backfilled lake, with a
throw-away MLflow store, so runs neither see nor change the lake's registry. The ratio the
issue holds training to is the peak RSS at the most snapshots against the fewest, measured in
the same run of this benchmark.

    python -m benchmarks training                      # builds a small dense lake first
    IDGRAPH_BENCH_TRAIN_LAKES=L1:2026-10-28,L2:2026-10-30 python -m benchmarks training

``IDGRAPH_BENCH_TRAIN_SNAPSHOTS`` (default ``8,28``) and ``IDGRAPH_BENCH_TRAIN_RUNS``
(default 3; 1 with ``--quick``) set the grid.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SMALL = {"people": 40, "days": 10, "start": dt.date(2026, 10, 1), "profile": "dense"}


def peak_rss(cmd: list[str], env: dict[str, str], *, every: float = 0.25) -> tuple[int, float, int]:
    """Run ``cmd``; return (exit code, wall seconds, peak RSS bytes of its process tree)."""
    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                total = 0
                for p in tree:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak = max(peak, total)
            except psutil.Error:
                return
            stop.wait(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    stop.set()
    sampler.join()
    return code, time.perf_counter() - started, peak


def _small_lake(root: Path) -> tuple[str, dt.date]:
    from idgraph.pipeline import DAILY_STAGES, build_session, day_range, run_day
    from idgraph.settings import load_settings
    from idgraph.simulator import simulate

    start, days = SMALL["start"], int(SMALL["days"])  # type: ignore[call-overload]
    last = start + dt.timedelta(days=days - 1)
    simulate(str(root), start, days, SMALL["people"], 7, profile=SMALL["profile"])
    settings = load_settings(lake={"root": str(root)})
    spark = build_session(settings)
    try:
        for day in day_range(start, last):
            report = run_day(spark, settings, day, stages=DAILY_STAGES[:3])
            if not report.ok:
                raise RuntimeError(f"{day}: {report.error}")
    finally:
        spark.stop()
    return str(root), last


def _lakes(tmp: Path) -> list[tuple[str, dt.date]]:
    given = os.environ.get("IDGRAPH_BENCH_TRAIN_LAKES")
    if not given:
        return [_small_lake(tmp / "small-dense")]
    out = []
    for item in given.split(","):
        path, _, day = item.rpartition(":")
        out.append((path, dt.date.fromisoformat(day)))
    return out


def run(*, quick: bool = False) -> dict[str, Any]:
    grid = [int(n) for n in os.environ.get("IDGRAPH_BENCH_TRAIN_SNAPSHOTS", "8,28").split(",")]
    runs = 1 if quick else int(os.environ.get("IDGRAPH_BENCH_TRAIN_RUNS", "3"))
    figures: dict[str, Any] = {"runs": runs, "lakes": {}}
    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        for lake, as_of in _lakes(tmp):
            per_lake: dict[str, Any] = {"as_of": as_of.isoformat()}
            for snapshots in grid:
                seconds, peaks = [], []
                for i in range(runs):
                    store = tmp / f"mlflow-{snapshots}-{i}"
                    store.mkdir(parents=True)
                    env = os.environ | {
                        "IDGRAPH_TRAIN_MAX_TRAINING_DAYS": str(snapshots),
                        "IDGRAPH_TRAIN_HISTORY_DAYS": str(max(snapshots, 7)),
                        "IDGRAPH_TRAIN_TRACKING_URI": f"sqlite:///{store}/mlflow.db",
                        "IDGRAPH_TRAIN_ARTIFACT_LOCATION": str(store / "artifacts"),
                    }
                    cmd = [sys.executable, "-m", "idgraph.cli", "train", "--lake", lake]
                    code, wall, peak = peak_rss([*cmd, "--as-of", as_of.isoformat()], env)
                    if code != 0:
                        raise RuntimeError(f"idgraph train failed ({code}) on {lake}")
                    seconds.append(round(wall, 1))
                    peaks.append(round(peak / 2**20))
                    print(f"{lake} {snapshots} snapshots: {wall:.0f}s, peak {peak / 2**20:.0f} MiB")
                per_lake[f"snapshots_{snapshots}"] = {
                    "seconds_median": statistics.median(seconds),
                    "seconds": seconds,
                    "peak_rss_mib_median": statistics.median(peaks),
                    "peak_rss_mib": peaks,
                }
            lo, hi = f"snapshots_{min(grid)}", f"snapshots_{max(grid)}"
            per_lake["peak_rss_growth"] = round(
                per_lake[hi]["peak_rss_mib_median"] / per_lake[lo]["peak_rss_mib_median"] - 1, 3
            )
            figures["lakes"][lake] = per_lake
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return figures
