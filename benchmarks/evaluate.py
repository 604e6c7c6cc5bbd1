"""``make eval``: the pipeline on a simulated lake, then quality against the ground truth.

Builds (or reuses) a lake at the simulator's default scale of people over a month, runs the
daily stages over the history with no model (deterministic links only), trains the first
model as of the day before the last, runs the last day with the champion (scoring, graph) and
evaluates it: against the truth, and with a share of the logins hidden and the last day
rebuilt without them (docs/evaluation.md). Figures go to ``benchmarks/results/eval.json`` and
are printed as tables.

    python -m benchmarks.evaluate [--lake DIR] [--days N] [--people P] [--seed S] [--fresh]
        [--hide-logins SHARE] [--hide-seed S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from benchmarks.common import machine
from idgraph.core.settings.process_env import configure_process_env

RESULTS = Path(__file__).parent / "results"
START = dt.date(2026, 1, 5)


def main(argv: list[str] | None = None) -> int:
    from idgraph.core.settings import SimulatorSettings

    parser = argparse.ArgumentParser(prog="python -m benchmarks.evaluate")
    parser.add_argument("--lake", default="eval-lake")
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--people", type=int, default=SimulatorSettings().people)
    parser.add_argument("--seed", type=int, default=SimulatorSettings().seed)
    parser.add_argument(
        "--panel-share",
        type=float,
        default=SimulatorSettings().panel_share,
        help="share of people in the consented panel (a new lake only)",
    )
    parser.add_argument(
        "--hide-logins",
        type=float,
        default=0.2,
        help="share of logged-in people whose logins the rebuild hides (0: no rebuild)",
    )
    parser.add_argument("--hide-seed", type=int, default=1, help="picks the hidden logins")
    parser.add_argument("--fresh", action="store_true", help="rebuild the lake from scratch")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    configure_process_env()  # before xgboost loads OpenMP

    from idgraph.core.lake import Lake
    from idgraph.core.settings import load_settings
    from idgraph.pipeline import DAILY_STAGES, build_session, day_range, run_day
    from idgraph.simulator import simulate
    from spark_jobs.common.io import partition_exists
    from training.evaluate import run_evaluation
    from training.train import run_training

    timings: dict[str, float] = {}
    started = time.perf_counter()
    if args.fresh:
        shutil.rmtree(args.lake, ignore_errors=True)
    days = day_range(START, START + dt.timedelta(days=args.days - 1))
    if not os.path.exists(os.path.join(args.lake, "truth", "cookies")):
        print(f"simulating {args.people} people x {args.days} days into {args.lake}")
        simulate(args.lake, START, args.days, args.people, args.seed, panel_share=args.panel_share)
    timings["simulate"] = round(time.perf_counter() - started, 1)

    settings = load_settings(lake={"root": args.lake})
    lake = Lake(settings.lake.root)
    spark = build_session(settings)

    t = time.perf_counter()
    for day in days[:-1]:  # history with no model: reuse days already built
        if partition_exists(spark, lake, "identity_graph", day):  # the last daily stage's
            continue
        report = run_day(spark, settings, day, stages=DAILY_STAGES)
        print(f"{day}: {'ok' if report.ok else 'FAILED ' + str(report.error)} {report.seconds}")
        if not report.ok:
            return 1
    timings["backfill"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    trained = run_training(spark, settings, days[-2])
    timings["train"] = round(time.perf_counter() - t, 1)
    print(json.dumps({"training": trained.summary, "note": trained.note}, default=str, indent=1))

    t = time.perf_counter()
    report = run_day(spark, settings, days[-1], stages=DAILY_STAGES)
    timings["last_day"] = round(time.perf_counter() - t, 1)
    timings |= {f"last_day.{k}": v for k, v in report.seconds.items()}
    if not report.ok:
        print(f"last day FAILED at {report.failed}: {report.error}", file=sys.stderr)
        return 1

    t = time.perf_counter()
    out = RESULTS / "eval.json"
    result = run_evaluation(  # into the lake (evaluation/D.json); the committed file below
        spark,
        settings,
        days[-1],
        hide_logins=args.hide_logins or None,
        seed=args.hide_seed,
    )
    timings["evaluate"] = round(time.perf_counter() - t, 1)
    spark.stop()
    result |= {
        "lake": {
            "root": args.lake,
            "days": args.days,
            "people": args.people,
            "seed": args.seed,
            "panel_share": args.panel_share,
        },
        "training": trained.summary | {"note": trained.note},
        "last_day_stages": {r.stage: r.summary for r in report.results},
        "seconds": timings,
        "machine": machine(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {out} in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
