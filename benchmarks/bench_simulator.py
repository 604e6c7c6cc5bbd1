"""Simulator throughput: one day of ~1M raw events (quick: one run of ~3k), median of 3 runs.

Reported with the process CPU time beside the wall time (the machine is shared, so wall
time moves with other people's load), the wall time per phase of the median run, and a
reference measured in the same run: gzip-compressing the same bytes with the same codec,
the floor any writer of this volume pays.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import main_for
from idgraph.simulator import simulate
from idgraph.simulator.lake_io import _gzip

LINES_PER_PERSON_DAY = 9.4  # measured: ~0.64 active x ~14 events, plus duplicates
DAY = dt.date(2026, 11, 18)  # a Wednesday


def _peak_rss_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _one_run(people: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        summary = simulate(tmp, DAY, days=1, people=people, seed=1, bad_rate=0.01)
        peak = _peak_rss_mb()  # before the reference below holds raw bytes of its own
        folder = Path(tmp) / "raw" / "pixel" / f"dt={DAY}"
        parts = sorted(folder.glob("*.json.gz"))
        raw_bytes, reference, reference_cpu = 0, 0.0, 0.0
        for part in parts:  # one part at a time: the reference must not inflate memory
            data = gzip.decompress(part.read_bytes())
            raw_bytes += len(data)
            started_cpu, started = time.process_time(), time.perf_counter()
            _gzip(data)
            reference += time.perf_counter() - started
            reference_cpu += time.process_time() - started_cpu
        return {
            "lines": summary.lines,
            "seconds": summary.seconds,
            "cpu_seconds": summary.cpu_seconds,
            "phases": summary.phase_seconds,
            "raw_mb": raw_bytes / 1e6,
            "gzip_mb": sum(p.stat().st_size for p in parts) / 1e6,
            "reference_seconds": reference,
            "reference_cpu_seconds": reference_cpu,
            "peak_rss_mb": peak,
        }


def run(quick: bool = False) -> dict[str, Any]:
    """Time the simulator on one day of ~1M events (quick: one run of ~3k)."""
    target = 3_000 if quick else 1_000_000
    runs = 1 if quick else 3
    people = int(target / LINES_PER_PERSON_DAY)
    results = [_one_run(people) for _ in range(runs)]
    median = sorted(results, key=lambda r: r["seconds"])[len(results) // 2]
    wall = statistics.median(r["seconds"] for r in results)
    cpu = statistics.median(r["cpu_seconds"] for r in results)
    reference = statistics.median(r["reference_seconds"] for r in results)
    reference_cpu = statistics.median(r["reference_cpu_seconds"] for r in results)
    return {
        "people": people,
        "events": median["lines"],
        "runs": runs,
        "wall_seconds_median": round(wall, 2),
        "wall_seconds_all": [round(r["seconds"], 2) for r in results],
        "cpu_seconds_median": round(cpu, 2),
        "events_per_second_wall": int(median["lines"] / wall),
        "events_per_second_cpu": int(median["lines"] / cpu),
        "phase_wall_seconds_of_median_run": {k: round(v, 2) for k, v in median["phases"].items()},
        "raw_mb": round(median["raw_mb"], 1),
        "gzip_mb": round(median["gzip_mb"], 1),
        "reference_gzip_only_seconds": round(reference, 2),
        "ratio_to_gzip_only": round(wall / reference, 2),
        "cpu_ratio_to_gzip_only": round(cpu / reference_cpu, 2),
        "peak_rss_mb_after_first_run": results[0]["peak_rss_mb"],
        "load_average_1min": round(os.getloadavg()[0], 1),
    }


if __name__ == "__main__":
    main_for("simulator")
