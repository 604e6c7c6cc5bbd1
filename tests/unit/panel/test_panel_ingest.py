"""The panel stage: every line of a partner's drop is kept, dropped or quarantined, and counted."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from spark_jobs.etl.panel import read_panel, run_panel

D = dt.date(2026, 3, 1)
P1, P2 = "a" * 64, "B" * 64


def _drop(lake: Path, day: dt.date, lines: list[str]) -> None:
    folder = lake / "raw" / "panel" / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-00000.jsonl").write_text("".join(line + "\n" for line in lines))


def _row(site: str, cookie: str, panel: str | None) -> str:
    return json.dumps({"site_id": site, "cookie_id": cookie, "panel_id": panel})


@pytest.mark.spark
def test_bad_panel_lines_are_quarantined_and_every_line_counted(spark, tmp_path):
    good = _row("news.example", "c1", P1)
    lines = [
        good,
        good,  # duplicate
        _row("shop.example", "c2", P2),  # upper-case hex: kept, lower-cased
        _row("mail.example", "c3", "jane.doe@example.com"),  # a raw e-mail, never stored
        _row("mail.example", "c4", None),
        json.dumps({"site_id": "mail.example", "panel_id": P1}),
        "{not json",
        _row("news.example", "c5", P1),
        _row("news.example", "c5", P2),  # one cookie, two panelists
        _row("x" * 300, "c6", P1),
        _row("news.example", "gone", P1),  # opted out
    ]
    _drop(tmp_path, D, lines)
    optouts = spark.createDataFrame(
        [("cookie", "news.example", "gone", None, None)],
        "kind string, site_id string, cookie_id string, login_hash string, requested_at timestamp",
    )
    optouts.write.parquet(str(tmp_path / "optouts" / "dt=2026-02-01"))
    settings = load_settings(lake={"root": str(tmp_path)})
    result = run_panel(spark, settings, D)
    assert result.summary["lines_read"] == len(lines)
    assert (
        result.summary["members_written"],
        result.summary["duplicates_dropped"],
        result.summary["opted_out_dropped"],
        result.summary["quarantined"],
    ) == (2, 1, 1, 7)
    quarantine = spark.read.parquet(str(tmp_path / "panel_quarantine"))
    reasons = sorted(r["reason"] for r in quarantine.collect())
    assert reasons == sorted(
        [
            "panel_id_not_hashed",
            "missing_panel_id",
            "missing_cookie_id",
            "malformed_json",
            "conflicting_panel_id",
            "conflicting_panel_id",
            "field_too_long",
        ]
    )
    stored = " ".join(str(v) for r in quarantine.collect() for v in r.asDict().values()) + " ".join(
        str(r) for r in spark.read.parquet(str(tmp_path / "panel")).collect()
    )
    assert "jane.doe" not in stored and "{not json" not in stored
    members = {
        (r["cookie_id"], r["panel_id"]) for r in read_panel(spark, Lake(str(tmp_path)), D).collect()
    }
    assert members == {("c1", P1), ("c2", P2.lower())}
    recon = spark.read.parquet(str(tmp_path / "panel_reconciliation")).first()
    assert recon["lines_read"] == len(lines) and recon["quarantined"] == 7


@pytest.mark.spark
def test_rerun_replaces_the_day_and_a_missing_drop_is_skipped(spark, tmp_path):
    settings = load_settings(lake={"root": str(tmp_path)})
    _drop(tmp_path, D, [_row("news.example", "c1", P1), _row("news.example", "c2", P1)])
    run_panel(spark, settings, D)
    _drop(tmp_path, D, [])  # the partner re-delivered an empty drop
    assert run_panel(spark, settings, D).summary["members_written"] == 0
    assert read_panel(spark, Lake(str(tmp_path)), D).count() == 0
    skipped = run_panel(spark, settings, D + dt.timedelta(days=1))
    assert skipped.skipped and "no panel drop" in skipped.note
    # a cookie two drops give to two panelists is no label at all
    _drop(tmp_path, D, [_row("news.example", "c1", P1)])
    _drop(tmp_path, D + dt.timedelta(days=2), [_row("news.example", "c1", "c" * 64)])
    run_panel(spark, settings, D)
    run_panel(spark, settings, D + dt.timedelta(days=2))
    panel = read_panel(spark, Lake(str(tmp_path)), D + dt.timedelta(days=2))
    assert panel.where(F.col("cookie_id") == "c1").count() == 0
    assert read_panel(spark, Lake(str(tmp_path)), D).count() == 1
