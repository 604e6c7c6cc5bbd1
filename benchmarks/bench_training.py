"""Weekly training: wall time and peak memory (RSS of the whole process tree: the CLI, its
JVM and the Python workers) of ``idgraph train``, at several snapshot counts.

Each run is a fresh ``idgraph train`` process against an already backfilled lake (the daily
stages up to ``candidates``, what training reads), with a throw-away MLflow store, so runs
neither see nor change the lake's registry. Each run must train a model (its decision line in
``training/decisions`` names a model version). The ratio the issue holds training to is the
peak RSS at the most snapshots against the fewest, measured in the same run of this benchmark.

    python -m benchmarks training                      # builds a small dense lake first
    python -m benchmarks training --quick              # 3 days of 16 people, one run
    IDGRAPH_BENCH_TRAIN_LAKES=L1:2026-10-28,L2:2026-10-30 python -m benchmarks training

``IDGRAPH_BENCH_TRAIN_SNAPSHOTS`` (default ``8,28``; ``3`` with ``--quick``) and
``IDGRAPH_BENCH_TRAIN_RUNS`` (default 3; 1 with ``--quick``) set the grid. Quick mode trains on
so few labels that it relaxes the training bars (as the dense-world test does) and the model's
size: it shows the benchmark runs, not what training costs.
"""

from __future__ import annotations

import datetime as dt
import json
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

from benchmarks.common import main_for

SMALL = {"people": 40, "days": 10, "start": dt.date(2026, 10, 1), "profile": "dense"}
QUICK = {"people": 16, "days": 3, "start": dt.date(2026, 10, 1), "profile": "dense"}
# Quick mode's few labels would fail the production bars: relaxed, and a smaller model.
QUICK_TRAINING = {
    "IDGRAPH_TRAIN_MIN_POSITIVES": "5",
    "IDGRAPH_TRAIN_MIN_NEGATIVES": "5",
    "IDGRAPH_TRAIN_MIN_PRECISION": "0",
    "IDGRAPH_TRAIN_MIN_PR_AUC": "0",
    "IDGRAPH_TRAIN_N_ESTIMATORS": "20",
    "IDGRAPH_TRAIN_REWEIGHT": "false",  # no second model (the domain classifier) to fit
    "IDGRAPH_SPARK_SHUFFLE_PARTITIONS": "2",
    "IDGRAPH_SPARK_DRIVER_MEMORY": "1g",
}


def peak_rss(
    cmd: list[str], env: dict[str, str], *, log: Path | None = None, every: float = 0.25
) -> tuple[int, float, int]:
    """Run ``cmd`` (its output to ``log``, if given); return (exit code, wall seconds, peak RSS
    bytes of its process tree)."""
    import psutil

    started = time.perf_counter()
    with open(log or os.devnull, "wb") as sink:  # the child keeps its own copy of the file
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
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


def _small_lake(root: Path, world: dict[str, Any], *, quick: bool) -> tuple[str, dt.date]:
    from idgraph.core.settings import load_settings
    from idgraph.pipeline import DAILY_STAGES, build_session, day_range, run_day
    from idgraph.simulator import simulate

    start, days = world["start"], int(world["days"])
    last = start + dt.timedelta(days=days - 1)
    simulate(str(root), start, days, world["people"], 7, profile=world["profile"])
    settings = load_settings(
        lake={"root": str(root)}, spark={"shuffle_partitions": 2} if quick else {}
    )
    spark = build_session(settings)
    try:
        for day in day_range(start, last):
            # What training reads: cookie_features and candidate_pairs.
            report = run_day(spark, settings, day, stages=DAILY_STAGES[:4])
            if not report.ok:
                raise RuntimeError(f"{day}: {report.error}")
    finally:
        spark.stop()
    return str(root), last


def _lakes(tmp: Path, *, quick: bool) -> list[tuple[str, dt.date]]:
    given = os.environ.get("IDGRAPH_BENCH_TRAIN_LAKES")
    if not given:
        world = QUICK if quick else SMALL
        return [_small_lake(tmp / "small-dense", world, quick=quick)]
    out = []
    for item in given.split(","):
        path, _, day = item.rpartition(":")
        out.append((path, dt.date.fromisoformat(day)))
    return out


def _decision_files(lake: str) -> set[Path]:
    return set((Path(lake) / "training" / "decisions").glob("part-*"))


def _new_decisions(lake: str, before: set[Path]) -> list[dict[str, Any]]:
    """The decision records written since ``before`` (the lake's decision files then)."""
    return [
        json.loads(line)
        for path in sorted(_decision_files(lake) - before)
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def run(*, quick: bool = False) -> dict[str, Any]:
    default_grid = "3" if quick else "8,28"
    grid = [
        int(n) for n in os.environ.get("IDGRAPH_BENCH_TRAIN_SNAPSHOTS", default_grid).split(",")
    ]
    runs = 1 if quick else int(os.environ.get("IDGRAPH_BENCH_TRAIN_RUNS", "3"))
    figures: dict[str, Any] = {"runs": runs, "lakes": {}}
    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        for lake, as_of in _lakes(tmp, quick=quick):
            per_lake: dict[str, Any] = {"as_of": as_of.isoformat()}
            for snapshots in grid:
                seconds, peaks, versions = [], [], []
                for i in range(runs):
                    store = tmp / f"mlflow-{snapshots}-{i}"
                    store.mkdir(parents=True)
                    env = (
                        os.environ
                        | (QUICK_TRAINING if quick else {})
                        | {
                            "IDGRAPH_TRAIN_MAX_TRAINING_DAYS": str(snapshots),
                            "IDGRAPH_TRAIN_HISTORY_DAYS": str(max(snapshots, 7)),
                            "IDGRAPH_TRAIN_TRACKING_URI": f"sqlite:///{store}/mlflow.db",
                            "IDGRAPH_TRAIN_ARTIFACT_LOCATION": str(store / "artifacts"),
                        }
                    )
                    cmd = [sys.executable, "-m", "idgraph.cli", "train", "--lake", lake]
                    before = _decision_files(lake) if Path(lake).is_dir() else set()
                    log = store / "train.log"
                    code, wall, peak = peak_rss([*cmd, "--as-of", as_of.isoformat()], env, log=log)
                    if code != 0:
                        tail = log.read_text(errors="replace")[-3000:]
                        raise RuntimeError(f"idgraph train failed ({code}) on {lake}:\n{tail}")
                    if Path(lake).is_dir():  # a local lake: the run must have trained
                        decided = _new_decisions(lake, before)
                        if not decided or not decided[-1].get("model_version"):
                            raise RuntimeError(f"idgraph train trained no model: {decided}")
                        versions.append(decided[-1]["model_version"])
                    seconds.append(round(wall, 1))
                    peaks.append(round(peak / 2**20))
                    print(f"{lake} {snapshots} snapshots: {wall:.0f}s, peak {peak / 2**20:.0f} MiB")
                per_lake[f"snapshots_{snapshots}"] = {
                    "seconds_median": statistics.median(seconds),
                    "seconds": seconds,
                    "peak_rss_mib_median": statistics.median(peaks),
                    "peak_rss_mib": peaks,
                    "model_versions": versions,
                }
            lo, hi = f"snapshots_{min(grid)}", f"snapshots_{max(grid)}"
            per_lake["peak_rss_growth"] = round(
                per_lake[hi]["peak_rss_mib_median"] / per_lake[lo]["peak_rss_mib_median"] - 1, 3
            )
            figures["lakes"][lake] = per_lake
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main_for("training")
