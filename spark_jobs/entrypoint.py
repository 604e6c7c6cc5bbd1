"""The one entry point spark-submit and EMR Serverless run: ``--stage S --date D --lake L``.

``idgraph submit`` points ``spark-submit`` (local) or an EMR Serverless job run at this file.
It runs one daily stage, the daily chain (etl → graph, one Spark session), publish, or the
weekly training, through the same functions ``idgraph daily``/``idgraph train`` use, so a job
behaves the same wherever it runs. It exits non-zero when the stage fails, which is what
marks an EMR job run FAILED.

The last line it prints for each stage is ``IDGRAPH_RESULT {json}``; ``idgraph submit`` reads
those lines back (from the child's stdout, or from the driver's stdout log on S3) to report
headline figures and the training decision.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from idgraph.core.redaction import RedactingFilter, redact
from idgraph.core.settings import load_settings
from idgraph.core.stage import DAILY, RESULT_MARKER, STAGE_CHOICES, TRAIN, StageFailed
from idgraph.pipeline import DAILY_STAGES, DRAIN_STAGE, PUBLISH_STAGE, build_session, run_day
from training.train import run_training

log = logging.getLogger("idgraph.entrypoint")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the job arguments (all strings, as EMR passes them)."""
    parser = argparse.ArgumentParser(prog="entrypoint.py", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, choices=STAGE_CHOICES)
    parser.add_argument("--date", required=True, type=dt.date.fromisoformat, help="YYYY-MM-DD")
    parser.add_argument("--lake", required=True, help="Lake root (path, file:// or s3://).")
    parser.add_argument("--redis-url", default=None, help="Publish target (else settings/env).")
    parser.add_argument(
        "--redis-url-secret-id",
        default=None,
        help="Secrets Manager id holding the rediss:// URL; read at run time, never logged.",
    )
    parser.add_argument("--redis-cluster", action="store_true", help="Target is a cluster.")
    parser.add_argument("--force", action="store_true", help="Publish even if the gate fails.")
    parser.add_argument(
        "--break-lock",
        action="store_true",
        help="Drain, publish: remove a dead publisher's lock first.",
    )
    parser.add_argument("--region", default=None, help="AWS region for Secrets Manager.")
    return parser.parse_args(argv)


def _secret_value(secret_id: str, region: str | None) -> str:
    import boto3

    client = boto3.client("secretsmanager", region_name=region)
    return str(client.get_secret_value(SecretId=secret_id)["SecretString"])


def _result_line(stage: str, ok: bool, summary: dict[str, Any], error: str | None) -> str:
    # The driver log and `idgraph submit` show this line: redacted.
    payload = {"stage": stage, "ok": ok, "summary": summary, "error": error}
    return redact(RESULT_MARKER + json.dumps(payload, default=str, sort_keys=True))


def run(args: argparse.Namespace) -> int:
    """Run the requested stage(s); return the process exit code (0 only if all succeeded)."""
    redis_url = args.redis_url
    if args.redis_url_secret_id:
        redis_url = _secret_value(args.redis_url_secret_id, args.region)
    settings = load_settings(
        lake={"root": args.lake},
        redis={"url": redis_url, "cluster": True if args.redis_cluster else None},
    )
    spark = build_session(settings)
    try:
        if args.stage == TRAIN:
            try:
                result = run_training(spark, settings, args.date)
            except StageFailed as exc:
                print(_result_line(TRAIN, False, {}, str(exc)), flush=True)
                return 1
            summary = dict(result.summary)
            if result.skipped:
                summary["skipped"] = result.note or True
            print(_result_line(TRAIN, True, summary, None), flush=True)
            return 0

        if args.stage == DAILY:
            stages = DAILY_STAGES
        else:
            every = (DRAIN_STAGE, *DAILY_STAGES, PUBLISH_STAGE)
            stages = tuple(s for s in every if s[0] == args.stage)
        try:
            report = run_day(
                spark, settings, args.date, stages=stages,
                stage_kwargs={
                    "drain": {"break_lock": args.break_lock},
                    "publish": {"force": args.force, "break_lock": args.break_lock},
                },
            )  # fmt: skip
        except Exception as exc:
            # A bug rather than a refused day: record it for `idgraph submit`, keep the traceback.
            print(_result_line(args.stage, False, {}, f"{type(exc).__name__}: {exc}"), flush=True)
            raise
        for result in report.results:
            summary = dict(result.summary)
            if result.skipped:
                summary["skipped"] = result.note or True
            print(_result_line(result.stage, True, summary, None), flush=True)
        if report.failed:
            print(_result_line(report.failed, False, {}, report.error), flush=True)
            return 1
        return 0
    finally:
        spark.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry: parse, run, exit with the run's code (non-zero marks the job FAILED)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:  # no Redis password in the driver log
        handler.addFilter(RedactingFilter())
    sys.exit(run(parse_args(argv)))


if __name__ == "__main__":
    main()
