"""``python -m benchmarks [--quick] [name …]``: run the ``bench_*`` modules, print, save JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
import traceback

from benchmarks.common import write_result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help="e.g. etl cc (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    args = parser.parse_args(argv)
    import benchmarks

    found = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if m.name.startswith("bench_")
    )
    selected = args.names or found
    failures = 0
    for name in selected:
        if name not in found:
            print(f"unknown benchmark {name!r}; have {found}", file=sys.stderr)
            return 2
        print(f"\n=== benchmark {name} {'(quick)' if args.quick else ''}", flush=True)
        started = time.perf_counter()
        try:
            figures = importlib.import_module(f"benchmarks.bench_{name}").run(quick=args.quick)
        except Exception:  # one broken benchmark must not hide the others
            traceback.print_exc()
            failures += 1
            continue
        figures["bench_seconds"] = round(time.perf_counter() - started, 1)
        figures["quick"] = args.quick
        path = write_result(name, figures)
        print(json.dumps(figures, indent=2, default=str))
        print(f"-> {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
