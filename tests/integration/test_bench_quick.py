"""Every benchmark driver runs in quick mode and writes its figures, outside the committed ones.

``python -m benchmarks --quick --out DIR`` runs all the ``bench_*`` modules in one process (tiny
sizes, one run each, no tool installed); one module's own entry point is run too. The committed
``benchmarks/results/*.json`` must come out byte for byte as they went in.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.__main__ import available
from benchmarks.common import RESULTS

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.timeout(1500)]

ROOT = Path(__file__).parents[2]
BENCHMARKS = [
    "candidates",
    "cc",
    "etl",
    "ip_hash",
    "redis",
    "service",
    "session",
    "simulator",
    "training",
]


def _committed() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in RESULTS.glob("*.json")}


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    tail = f"{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{tail}"
    return done


def test_every_benchmark_runs_quick_and_writes_its_figures(tmp_path: Path) -> None:
    assert available() == BENCHMARKS  # a new benchmark is covered here: add it to the list
    before = _committed()
    out = tmp_path / "figures"
    started = time.perf_counter()
    done = _run(["-m", "benchmarks", "--quick", "--out", str(out)], timeout=1400)
    seconds = time.perf_counter() - started

    assert sorted(p.stem for p in out.glob("*.json")) == BENCHMARKS, done.stdout[-2000:]
    figures = {name: json.loads((out / f"{name}.json").read_text()) for name in BENCHMARKS}
    for name, got in figures.items():
        assert got["benchmark"] == name and got["quick"] is True, got
        assert got["machine"]["cpus"] and got["bench_seconds"] > 0, got
    print({name: got["bench_seconds"] for name, got in figures.items()}, f"total {seconds:.0f}s")

    # A figure or two of each: the drivers measured something, and what they checked held.
    assert figures["etl"]["3k"]["lines"] > 1000  # parsed from the etl stage's result line
    assert figures["cc"]["random_graph"]["partitions_equal"] is True
    assert figures["cc"]["chain"]["partitions_equal"] is True
    assert figures["candidates"]["large"]["pairs"] > figures["candidates"]["small"]["pairs"] > 0
    assert figures["ip_hash"]["lines"] > 1000
    assert figures["redis"]["cookies"] == 5000 and figures["redis"]["compact_bytes_per_cookie"]
    service = figures["service"]
    assert service["single_c8"]["req_per_s"] > 0 and service["batch100_c8"]["req_per_s"] > 0
    assert figures["session"]["small"]["events"] > 0
    assert figures["simulator"]["events"] > 1000
    (lake,) = figures["training"]["lakes"].values()
    assert lake["snapshots_3"]["model_versions"] == ["1"]  # it trained a model

    assert _committed() == before  # quick figures never replace the committed ones


def test_a_driver_runs_on_its_own(tmp_path: Path) -> None:
    """``python -m benchmarks.bench_<name> --quick --out DIR``: one module, the same options."""
    before = _committed()
    _run(["-m", "benchmarks.bench_simulator", "--quick", "--out", str(tmp_path)], timeout=120)
    assert json.loads((tmp_path / "simulator.json").read_text())["quick"] is True
    assert _committed() == before
