"""End to end on a small simulated lake: backfill (scoring waits for a model), train and
promote the first model, the real `idgraph daily` CLI scoring with it and publishing to a
real Valkey, evaluation against the simulator's truth, then the real `idgraph serve`
answering over HTTP.

One lake serves every test of the module: simulating and running days of every stage is
minutes of work on two cores, so it is done once."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import functions as F

from idgraph.core.embedded import free_port, start_server
from idgraph.core.lake import Lake
from idgraph.core.model_registry import load_champion
from idgraph.core.settings import AppSettings, load_settings
from idgraph.pipeline import DAILY_STAGES, PUBLISH_STAGE, day_range, run_day
from idgraph.simulator import simulate
from spark_jobs.common.io import read_partition
from spark_jobs.common.schemas import IDENTITY_GRAPH, LINK_TYPES, missing_columns
from spark_jobs.pair_scoring.scoring_job import NO_CHAMPION
from training.evaluate import run_evaluation
from training.train import run_training

# The module fixture runs three days of every stage plus a training run: minutes, not seconds.
pytestmark = [pytest.mark.spark, pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(1200)]

START = dt.date(2026, 11, 1)
# Every day is a run of each stage, and Spark's overhead per stage dominates: three days of
# history (plus the CLI's day) are enough snapshots to train on, and people are cheap.
DAYS = 4
LAST = START + dt.timedelta(days=DAYS - 1)
API_KEY = "e2e-key"


@pytest.fixture(scope="module")
def history(spark, tmp_path_factory) -> tuple[Path, AppSettings, Any, list[Any]]:  # type: ignore[no-untyped-def]
    """A simulated lake whose first DAYS-1 days went through every stage, and a first model.

    Returns the lake root, the settings, the training result and the day reports.
    """
    root = tmp_path_factory.mktemp("e2e-lake")
    simulate(str(root), START, DAYS, 400, 11, bad_rate=0.01)
    # A 400-person world of three days gives a weak first model that the production bar
    # (precision 0.85 at a threshold chosen for 0.95) rightly refuses; this test is about the
    # plumbing of the champion path, so it lowers the bar. Quality is measured by `make eval`,
    # not here.
    settings = load_settings(
        lake={"root": str(root)},
        training={"min_precision": 0.3, "min_pr_auc": 0.3, "target_precision": 0.7},
    )
    reports = []
    for day in day_range(START, LAST - dt.timedelta(days=1)):
        report = run_day(spark, settings, day)
        assert report.ok, f"{day}: {report.failed}: {report.error}"
        reports.append(report)
    trained = run_training(spark, settings, LAST - dt.timedelta(days=1))
    return root, settings, trained, reports


@pytest.fixture(scope="module")
def daily(history, valkey) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """The last day through the real `idgraph daily` CLI, with the first champion."""
    root = history[0]
    # The first day with a champion moves many cookies from singletons into probabilistic
    # components, so the churn check of the gate is expected to trip here (the gate has its
    # own tests); --force publishes anyway, as an operator would after reading the health.
    return _cli(
        "daily", "--lake", str(root), "--date", LAST.isoformat(), "--redis-url", valkey, "--force"
    )


@pytest.fixture(scope="module")
def valkey() -> Iterator[str]:
    server = start_server(config={"hash-max-listpack-entries": 1024})
    yield f"redis://127.0.0.1:{server.port}/0"
    server.stop()


# The CLI's own Spark session, sized like the test session's: a small lake on two cores.
_SMALL_SPARK = {
    "IDGRAPH_SPARK_SHUFFLE_PARTITIONS": "2",
    "IDGRAPH_SPARK_DRIVER_MEMORY": "2g",
    "IDGRAPH_SPARK_EXTRA_CONF": json.dumps(
        {"spark.sql.adaptive.enabled": "false", "spark.python.worker.reuse": "true"}
    ),
}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "idgraph.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | _SMALL_SPARK | (env or {}),
    )


def _decisions(root: Path) -> list[dict[str, Any]]:
    """Every recorded training decision of the lake, oldest first."""
    lines = [
        json.loads(line)
        for path in sorted((root / "training" / "decisions").glob("part-*"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    return sorted(lines, key=lambda r: str(r.get("run", "")))


def _get(url: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"X-API-Key": API_KEY})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_backfill_and_first_model(history, spark) -> None:  # type: ignore[no-untyped-def]
    root, settings, trained, reports = history
    lake = Lake(str(root))
    recon = read_partition(spark, lake, "reconciliation", START).first()
    assert recon is not None
    assert recon.lines_read == (
        recon.visits_written
        + recon.duplicates_dropped
        + recon.no_consent_dropped
        + recon.quarantined
    )
    assert recon.quarantined > 0  # bad records were injected and caught
    # Without a champion the scoring stage waits (an explicit empty day), the graph still
    # links deterministic logins and the session rule's pairs.
    for report in reports:
        scoring = next(r for r in report.results if r.stage == "scoring")
        assert scoring.skipped and scoring.note == NO_CHAMPION
    assert read_partition(spark, lake, "scored_pairs", START).count() == 0
    # A brand-new lake without a model is a normal state, not a degraded one.
    for report in reports:
        health = read_partition(spark, lake, "health", report.day).first()
        assert health is not None and health.degraded is False, health.degraded_reasons
        assert health.model_version is None and health.scored_pairs_above_threshold == 0
    # Session evidence: every day's session pairs were written, the candidates carry them, and
    # the session rule links anonymous browsing before any model exists.
    last = reports[-1].day
    for report in reports:
        assert read_partition(spark, lake, "session_pairs", report.day).count() > 0
    candidates = read_partition(spark, lake, "candidate_pairs", last)
    from_sessions = candidates.where(F.array_contains("blocking_keys", "session"))
    assert from_sessions.where(F.col("hops_30s") > 0).count() > 0
    assert read_partition(spark, lake, "health", last).first().probabilistic_edges > 0
    assert not trained.skipped, trained.note
    # Each snapshot's examples were written on their own and counted as they were written.
    run = trained.summary["run"]
    decision = _decisions(root)[-1]
    assert decision["run"] == run and not decision.get("failed")
    snapshots = decision["snapshots"]
    assert sorted(snapshots) == [d.isoformat() for d in day_range(START, LAST - dt.timedelta(1))]
    run_dir = root / "training_examples" / f"run={run}"
    assert sorted(p.name for p in run_dir.glob("snapshot=*")) == [
        f"snapshot={d}" for d in snapshots
    ]
    for day_iso, counts in snapshots.items():
        written = spark.read.parquet(str(run_dir / f"snapshot={day_iso}"))
        assert written.where(F.col("label") == 1).count() == counts["positives"]
        assert written.where(F.col("label") == 0).count() == counts["negatives"]
        assert counts["positives"] + counts["negatives"] <= counts["labelled"]
    assert trained.summary["examples_written"] == sum(
        c["positives"] + c["negatives"] for c in snapshots.values()
    )
    assert trained.summary.get("promoted") is True, trained.summary
    assert trained.summary["test_pr_auc"] > 0.5
    champion = load_champion(settings)
    assert champion is not None and str(champion.version) == str(trained.summary["model_version"])


def test_daily_cli_scores_with_the_champion_and_publishes(history, daily, valkey, spark) -> None:  # type: ignore[no-untyped-def]
    root, settings, _trained, _reports = history
    assert daily.returncode == 0, daily.stdout[-3000:] + daily.stderr[-3000:]
    assert "publish" in daily.stdout
    lake = Lake(str(root))
    champion = load_champion(settings)
    assert champion is not None
    candidates = read_partition(spark, lake, "candidate_pairs", LAST).count()
    scored = read_partition(spark, lake, "scored_pairs", LAST)
    assert candidates > 0 and scored.count() == candidates
    versions = {str(r[0]) for r in scored.select("model_version").distinct().collect()}
    assert versions == {str(champion.version)}
    assert scored.where(F.col("score").isNull() | ~F.col("score").between(0.0, 1.0)).count() == 0

    health = read_partition(spark, lake, "health", LAST).first()
    assert health is not None and health.model_version is not None
    assert health.gate_passed == (len(health.gate_failures) == 0)

    graph = read_partition(spark, lake, "identity_graph", LAST).cache()
    assert missing_columns(graph, IDENTITY_GRAPH) == []
    features = read_partition(spark, lake, "cookie_features", LAST)
    # every cookie of the window is in the graph exactly once
    assert graph.count() == features.count()
    assert graph.select("site_id", "cookie_id").distinct().count() == graph.count()
    assert {r.link_type for r in graph.select("link_type").distinct().collect()} <= set(LINK_TYPES)
    assert graph.where(~F.col("confidence").between(0.0, 1.0)).count() == 0
    assert graph.where(F.col("link_type") == "probabilistic").count() > 0
    assert health.scored_pairs_above_threshold > 0  # the model was used

    # cookies sharing a login hash share a unified id (unless the hash was found generic)
    logins = features.where(F.col("login_hash").isNotNull()).join(graph, ["site_id", "cookie_id"])
    per_login = logins.groupBy("login_hash").agg(F.countDistinct("unified_id").alias("ids"))
    assert per_login.where(F.col("ids") > 1).count() <= 0.02 * max(1, per_login.count())

    samples = graph.where(F.col("component_size") > 1).orderBy("site_id", "cookie_id").limit(5)
    expected = [(r.site_id, r.cookie_id, r.unified_id) for r in samples.collect()]
    port = free_port()
    service = subprocess.Popen(
        [sys.executable, "-m", "idgraph.cli", "serve", "--redis-url", valkey, "--port", str(port)],
        env=os.environ | {"IDGRAPH_API_KEYS": API_KEY},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(f"http://127.0.0.1:{port}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        for site_id, cookie_id, unified_id in expected:
            status, body = _get(f"http://127.0.0.1:{port}/v1/identity/{site_id}/{cookie_id}")
            assert status == 200, body
            assert body["unified_id"] == unified_id
        status, _ = _get(f"http://127.0.0.1:{port}/v1/identity/nowhere.example/nobody")
        assert status == 404
    finally:
        service.terminate()
        service.wait(timeout=30)


def test_evaluation_against_truth(history, daily, spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _root, settings, _trained, _reports = history
    out = tmp_path / "eval.json"
    figures = run_evaluation(spark, settings, LAST, out=str(out))
    assert json.loads(out.read_text())["day"] == LAST.isoformat()
    assert figures["true_pairs"] > 0 and figures["cookies"] > figures["anonymous_cookies"] > 0
    graph, deterministic = figures["methods"]["graph"], figures["methods"]["deterministic"]
    assert graph["recall"] >= deterministic["recall"]  # scored edges only add links
    assert 0 < figures["candidates"]["recall"] <= 1


def test_a_failing_training_is_recorded_and_exits_non_zero(  # type: ignore[no-untyped-def]
    history, spark, tmp_path, monkeypatch
) -> None:
    from typer.testing import CliRunner

    from idgraph.cli import app

    root = history[0]
    broken = tmp_path / "lake"
    shutil.copytree(root, broken, ignore=shutil.ignore_patterns("raw", "visits", "quarantine"))
    # One snapshot's cookie features are unreadable: a real Spark failure mid-training.
    victim = sorted(
        (broken / "cookie_features" / f"dt={START + dt.timedelta(1)}").glob("*.parquet")
    )
    victim[0].write_bytes(b"not parquet at all")
    before = len(_decisions(broken))
    # The real `idgraph train` command, in this process: it builds and stops its own session,
    # here it gets the test session, kept (a child JVM would only add its start-up).
    monkeypatch.setattr("idgraph.pipeline.build_session", lambda settings: spark)
    monkeypatch.setattr(spark, "stop", lambda: None)
    args = ["train", "--lake", str(broken), "--as-of", (LAST - dt.timedelta(1)).isoformat()]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 1, done.output[-3000:]
    assert isinstance(done.exception, SystemExit), done.exception  # its own exit, no crash
    said = [line for line in done.stdout.splitlines() if line.startswith("training failed:")]
    assert len(said) == 1, done.stdout[-3000:]
    assert "Traceback" not in done.stdout
    decisions = _decisions(broken)
    assert len(decisions) == before + 1
    failed = decisions[-1]
    assert failed["failed"] is True and failed["promoted"] is False
    assert failed["reason"] == said[0].strip()


def test_explain_names_the_edge_path_and_its_contributions(  # type: ignore[no-untyped-def]
    history, daily, spark, tmp_path, monkeypatch
) -> None:
    """``idgraph explain`` on the champion-scored last day: a sampled link's path of real edges
    with the contributions of the model that scored it, two cookies apart, an unknown cookie,
    and the health notebook's waterfall of that link."""
    import re

    import nbformat
    from nbclient import NotebookClient
    from typer.testing import CliRunner

    from idgraph.cli import app
    from idgraph.explain import explain

    root, settings, _trained, _reports = history
    lake = Lake(str(root))
    # The command builds and stops its own session: here it gets the test session, kept.
    monkeypatch.setattr("idgraph.pipeline.build_session", lambda settings: spark)
    monkeypatch.setattr(spark, "stop", lambda: None)
    runner = CliRunner()
    args = ["explain", "--lake", str(root), "--date", LAST.isoformat()]
    done = runner.invoke(app, [*args, "--sample", "--json"])
    assert done.exit_code == 0, done.output
    assert re.search(r"[0-9a-f]{64}", done.stdout) is None  # no whole login hash, ever
    expl = json.loads(next(x for x in done.stdout.splitlines() if x.startswith("{")))
    a, b = (c["cookie"] for c in expl["cookies"])
    graph = {
        f"{r.site_id}/{r.cookie_id}": r.unified_id
        for r in read_partition(spark, lake, "identity_graph", LAST).collect()
    }
    assert expl["linked"] is True and graph[a] == graph[b] == expl["cookies"][0]["unified_id"]
    assert a in expl["answer"] and "share unified ID" in expl["answer"]

    # The path runs from a to b over edges the lake really holds.
    scored = {
        (f"{r.site_id_l}/{r.cookie_id_l}", f"{r.site_id_r}/{r.cookie_id_r}"): r
        for r in read_partition(spark, lake, "scored_pairs", LAST)
        .where(F.col("score") >= F.col("threshold"))
        .collect()
    }
    logins = {
        f"{r.site_id}/{r.cookie_id}": r.login_hash
        for r in read_partition(spark, lake, "cookie_features", LAST).collect()
    }
    path = expl["path"]
    assert path and path[0]["from"] == a and path[-1]["to"] == b
    assert all(x["to"] == y["from"] for x, y in zip(path, path[1:], strict=False))
    champion = load_champion(settings)
    assert champion is not None
    for edge in path:
        assert graph[edge["from"]] == graph[edge["to"]] == graph[a]
        pair = tuple(sorted((edge["from"], edge["to"])))
        if edge["kind"] == "login":
            assert logins[edge["from"]] == logins[edge["to"]]
            assert logins[edge["from"]].startswith(edge["login"].rstrip("…"))
        elif edge["kind"] == "scored":
            assert edge["score"] == scored[pair].score  # type: ignore[index]
            assert edge["model_version"] == str(champion.version)
        else:
            assert edge["kind"] == "session rule"
    weakest = path[expl["weakest"]]
    assert weakest["from"] in expl["answer"] and weakest["to"] in expl["answer"]

    # The sampled pair is a kept scored edge: its contributions add up to its stored score.
    direct = expl["direct_pair"]
    assert tuple(sorted((a, b))) in scored and direct["score"] >= direct["threshold"]
    explained = [e for e in path if e["kind"] == "scored"] + [direct]
    for edge in explained:
        c = edge["contributions"]
        assert c is not None and c["matches_stored_score"] is True, edge
        shown = [f["contribution"] for f in c["features"]]
        assert len(shown) == settings.graph.explain_top_features
        assert [abs(x) for x in shown] == sorted((abs(x) for x in shown), reverse=True)
        assert c["bias"] + sum(shown) + c["rest"] == pytest.approx(c["margin"], abs=1e-4)
        assert 1 / (1 + math.exp(-c["margin"])) == pytest.approx(edge["score"], abs=1e-5)
        assert set(f["feature"] for f in c["features"]) <= set(champion.feature_columns)

    # Two cookies of different components, in the readable table: said plainly.
    other = min(k for k, u in graph.items() if u != graph[a])
    apart = explain(spark, settings, LAST, [a, other])
    assert apart["linked"] is False and apart["path"] == []
    assert f"{a} and {other} are NOT linked" in apart["answer"]
    table = runner.invoke(app, [*args, a, "nowhere.example/nobody"])
    assert table.exit_code == 0, table.output
    text = " ".join(table.stdout.split())
    assert f"{a} and nowhere.example/nobody are NOT linked" in text
    assert "nowhere.example/nobody is not in the graph of" in text and "guardrails" in text

    # The health notebook draws the sampled link as a waterfall.
    sample = tmp_path / "sample.json"
    sample.write_text(json.dumps(expl))
    prefix = tmp_path / "jupyter"
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name",
         "python3"],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    monkeypatch.setenv("IDGRAPH_LAKE_ROOT", str(root))
    monkeypatch.setenv("IDGRAPH_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setenv("IDGRAPH_EXPLAIN_JSON", str(sample))
    notebook = nbformat.read(Path(__file__).parents[2] / "notebooks" / "graph_health.ipynb", 4)
    NotebookClient(notebook, kernel_name="python3", timeout=120).execute()
    said = "".join(
        o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )  # fmt: skip
    drawn = next(e for e in [*path, direct] if e.get("contributions"))
    assert (
        f"sampled link {drawn['from']} ~ {drawn['to']}: stored score {drawn['score']:.4f}" in said
    )
    assert f"logistic {drawn['score']:.4f}" in said
    assert (tmp_path / "figures" / "link_waterfall.png").stat().st_size > 0


def test_a_day_without_its_lost_model_is_degraded(history, daily, valkey, spark) -> None:  # type: ignore[no-untyped-def]
    """Last of the module: it deletes the lake's model registry."""
    root, settings, _trained, _reports = history
    shutil.rmtree(root / "mlflow")
    settings = load_settings(
        lake={"root": str(root)}, redis={"url": valkey}, training=settings.training.model_dump()
    )
    assert load_champion(settings) is None
    report = run_day(spark, settings, LAST, stages=DAILY_STAGES[-2:])
    assert report.ok, report.error
    graph = next(r for r in report.results if r.stage == "graph")
    assert graph.summary["degraded"].startswith("DEGRADED: scored without a model although")
    health = read_partition(spark, Lake(str(root)), "health", LAST).first()
    assert health is not None and health.degraded is True and health.model_version is None
    assert health.scored_pairs_above_threshold == 0 and not health.gate_passed
    assert any(f.startswith("degraded: ") for f in health.gate_failures)

    refused = run_day(spark, settings, LAST, stages=(PUBLISH_STAGE,))
    assert refused.failed == "publish" and "degraded" in (refused.error or "")
    forced = run_day(
        spark, settings, LAST, stages=(PUBLISH_STAGE,), stage_kwargs={"publish": {"force": True}}
    )
    assert forced.ok, forced.error
