"""Command ``idgraph feedback export``: the link verdicts received, and what each changed."""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from idgraph.cli.app import app
from idgraph.cli.common import LakeOpt, console, parse_day, setup_logging

feedback_app = typer.Typer(
    help="Verdicts sent to POST /v1/feedback (drained into the lake table feedback).",
    no_args_is_help=True,
)
app.add_typer(feedback_app, name="feedback")

COLUMNS = (
    "dt", "received_at", "site_id_a", "cookie_id_a", "site_id_b", "cookie_id_b", "verdict",
    "reason", "key_id", "in_force", "shared_before", "shared_now", "effect",
)  # fmt: skip


class Format(StrEnum):
    """Output formats of the export."""

    jsonl = "jsonl"
    table = "table"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


@feedback_app.command("export")
def export(
    lake: LakeOpt,
    since: Annotated[
        str | None, typer.Option(help="Only verdicts drained on or after this day, YYYY-MM-DD.")
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="jsonl or table.")] = Format.table,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows are printed.")] = 200,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """List every verdict received (day, pair, verdict, reason, key id) and what it changed.

    For ``different_people``: whether the pair shared a unified ID in the graph of the day it
    was drained, and whether it is apart in the latest graph. ``same_person``: a training
    label only. Rows are oldest first; at most ``--limit`` are printed, with the total.
    """
    from pyspark.sql import functions as F

    from idgraph.core.lake import Lake
    from idgraph.core.settings import load_settings
    from idgraph.pipeline import build_session
    from spark_jobs.common.feedback import feedback_effects

    setup_logging(verbose)
    first = parse_day(since, name="since") if since else None
    settings = load_settings(lake={"root": lake})
    spark = build_session(settings)
    try:
        verdicts, latest = feedback_effects(spark, Lake(settings.lake.root), first)
        verdicts = verdicts.select(*COLUMNS).localCheckpoint()
        total = verdicts.count()
        by_effect = verdicts.groupBy("effect").agg(F.count(F.lit(1)).alias("n"))
        effects = {r["effect"]: int(r["n"]) for r in by_effect.collect()}
        rows = [
            {k: _plain(v) for k, v in r.asDict().items()}
            for r in verdicts.orderBy("received_at", "dt").limit(limit).collect()
        ]
    finally:
        spark.stop()
    if output is Format.jsonl:
        for row in rows:
            typer.echo(json.dumps(row, sort_keys=False))
    else:
        from rich.table import Table

        table = Table(title=f"feedback (latest graph: {latest or 'none'})", title_justify="left")
        for column in ("dt", "pair", "verdict", "reason", "key_id", "effect"):
            table.add_column(column)
        for row in rows:
            pair = (
                f"{row['site_id_a']}/{row['cookie_id_a']} ~ {row['site_id_b']}/{row['cookie_id_b']}"
            )
            table.add_row(
                str(row["dt"]), pair, str(row["verdict"]), str(row["reason"] or ""),
                str(row["key_id"]), str(row["effect"]),
            )  # fmt: skip
        console.print(table)
    summary = ", ".join(f"{n:,} {e}" for e, n in sorted(effects.items()))
    typer.echo(
        f"{total:,} verdicts{f' since {first}' if first else ''}; {min(total, limit):,} shown"
        + (f"; {summary}" if summary else ""),
        err=output is Format.jsonl,
    )
