"""``python -m benchmarks [--quick] [--out DIR] [name …]``: run the ``bench_*`` modules, print,
save one JSON file of figures per benchmark.

A full run writes ``benchmarks/results/<name>.json``, the committed figures. ``--quick`` runs
tiny sizes (seconds each, one run; the test suite runs it) and writes to a fresh temporary
directory unless ``--out`` names one: quick figures never replace the committed ones.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks.common import RESULTS, write_result


def available() -> list[str]:
    """The benchmark names: every ``bench_<name>`` module of the package."""
    import benchmarks

    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help="e.g. etl cc (default: all)")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, one run each (seconds per benchmark)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for the JSON figures (default: benchmarks/results; with --quick, a "
        "new temporary directory)",
    )
    args = parser.parse_args(argv)
    found = available()
    unknown = [name for name in args.names if name not in found]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; have {found}", file=sys.stderr)
        return 2
    out: Path = args.out or (
        Path(tempfile.mkdtemp(prefix="idgraph-bench-quick-")) if args.quick else RESULTS
    )
    failures = []
    started_all = time.perf_counter()
    for name in args.names or found:
        print(f"\n=== benchmark {name}{' (quick)' if args.quick else ''}", flush=True)
        started = time.perf_counter()
        try:
            figures = importlib.import_module(f"benchmarks.bench_{name}").run(quick=args.quick)
        except Exception:  # one broken benchmark must not hide the others
            traceback.print_exc()
            failures.append(name)
            continue
        figures["bench_seconds"] = round(time.perf_counter() - started, 1)
        figures["quick"] = args.quick
        path = write_result(name, figures, out)
        print(json.dumps(figures, indent=2, default=str))
        print(f"-> {path}", flush=True)
    print(f"\nbenchmarks done in {time.perf_counter() - started_all:.0f}s; figures in {out}")
    if failures:
        print(f"FAILED: {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
