"""Helpers shared by benchmark modules: timing medians, result files, the drivers' command line."""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
"""The committed figures: only a full run (``make bench``) writes here by default."""


def timed(fn: Callable[[], Any], *, runs: int) -> tuple[float, list[float], Any]:
    """Run ``fn`` ``runs`` times; return (median seconds, all seconds, last result)."""
    seconds, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        seconds.append(round(time.perf_counter() - started, 3))
    return statistics.median(seconds), seconds, result


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    import os

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_result(name: str, figures: dict[str, Any], out: Path = RESULTS) -> Path:
    """Write ``<out>/<name>.json`` (default ``benchmarks/results``) with the machine description."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **figures}, indent=2))
    return path


def main_for(name: str) -> None:
    """``python -m benchmarks.bench_<name> [--quick] [--out DIR]``: the runner, for one module."""
    from benchmarks.__main__ import main

    raise SystemExit(main([name, *sys.argv[1:]]))
