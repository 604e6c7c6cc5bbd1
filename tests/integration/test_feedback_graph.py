"""Feedback end to end on a tiny lake: recorded in the stream after the publish of D1, drained by
the drain stage that opens the run of D2, honoured by graph D2 (a scored chain and a shared
login both split), exported, used as labels."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import redis
from typer.testing import CliRunner

from idgraph.core import keyspace as ks
from idgraph.core.embedded import graph_server_config, start_server
from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from idgraph.pipeline import DAILY_STAGES, DRAIN_STAGE, run_day
from spark_jobs.common.feedback import feedback_effects, feedback_labels
from spark_jobs.common.io import read_partition, write_partition
from spark_jobs.common.schemas import COOKIE_FEATURES, SCORED_PAIRS
from spark_jobs.graph.job import run_graph

pytestmark = [pytest.mark.spark, pytest.mark.redis, pytest.mark.slow]
D1, D2 = dt.date(2026, 6, 1), dt.date(2026, 6, 2)
LOGIN = "d" * 64


def _cookie(site: str, cookie: str, login: str | None = None) -> tuple:
    row = dict.fromkeys(COOKIE_FEATURES.fieldNames())
    row.update(site_id=site, cookie_id=cookie, login_hash=login, device_type="mobile")
    return tuple(row[name] for name in COOKIE_FEATURES.fieldNames())


COOKIES = [
    *(_cookie("s1", f"c{i}") for i in range(1, 5)),  # a scored chain c1 - c2 - c3 - c4
    _cookie("s2", "m1", LOGIN),  # two cookies of one login, plus m3 scored onto m1
    _cookie("s3", "m2", LOGIN),
    _cookie("s2", "m3"),
    _cookie("s1", "k1"),  # a pair the same_person verdict is about (never merged by it)
    _cookie("s2", "k2"),
]
PAIRS = [
    ("s1", "c1", "s1", "c2", 0.95),
    ("s1", "c2", "s1", "c3", 0.6),  # the weakest link between c1 and c4
    ("s1", "c3", "s1", "c4", 0.9),
    ("s2", "m1", "s2", "m3", 0.9),
]


def _graph(spark, lake: Lake, day: dt.date) -> dict[str, str]:  # type: ignore[no-untyped-def]
    rows = read_partition(spark, lake, "identity_graph", day).collect()
    return {r["cookie_id"]: r["unified_id"] for r in rows}


def test_verdicts_are_drained_and_the_next_graph_splits(spark, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(str(tmp_path / "lake"))
    settings = load_settings(lake={"root": lake.root})
    for day in (D1, D2):
        write_partition(
            spark.createDataFrame(COOKIES, COOKIE_FEATURES), lake, "cookie_features", day
        )
        pairs = [(*p, 0.5, "m1") for p in PAIRS]
        write_partition(spark.createDataFrame(pairs, SCORED_PAIRS), lake, "scored_pairs", day)
    run_graph(spark, settings, D1)
    before = _graph(spark, lake, D1)
    assert before["c1"] == before["c4"] and before["m2"] == before["m3"] == before["m1"]

    # What the service does on 202 (after the publish of D1), then the run of D2.
    server = start_server(config=graph_server_config())
    try:
        client = redis.Redis(port=server.port)
        verdicts = [
            (("s1", "c1"), ("s1", "c4"), "different_people"),
            (("s3", "m2"), ("s2", "m1"), "different_people"),  # one login: the verdict wins
            (("s1", "k1"), ("s2", "k2"), "same_person"),
        ]
        for a, b, verdict in verdicts:
            client.xadd(
                ks.FEEDBACK_KEY,
                ks.feedback_entry(
                    a=a, b=b, verdict=verdict, key_id=ks.api_key_id("ops"),
                    received_at="2026-06-01T12:00:00.000+00:00",
                ),
            )  # fmt: skip
        with_redis = load_settings(
            lake={"root": lake.root}, redis={"url": f"redis://127.0.0.1:{server.port}"}
        )
        graph_stage = next(s for s in DAILY_STAGES if s[0] == "graph")
        report = run_day(spark, with_redis, D2, stages=(DRAIN_STAGE, graph_stage))
        assert report.ok, report.error
        drained, result = report.results
        assert drained.summary["feedback_drained"] == 3
        assert client.xlen(ks.FEEDBACK_KEY) == 0
        client.close()
    finally:
        server.terminate()

    after = _graph(spark, lake, D2)
    assert after["c1"] != after["c4"]
    assert after["c1"] == after["c2"] and after["c3"] == after["c4"]  # cut at 0.6 only
    assert after["m1"] != after["m2"]
    assert after["m1"] == after["m3"]  # the scored edge stays; a login edge was cut
    assert after["k1"] != after["k2"]  # same_person never merges
    graph = read_partition(spark, lake, "identity_graph", D2)
    link = {r["cookie_id"]: r["link_type"] for r in graph.collect()}
    assert link["m2"] == "singleton"  # its login no longer joins it to anyone
    health = read_partition(spark, lake, "health", D2).first().asDict()  # type: ignore[union-attr]
    assert (health["feedback_pairs"], health["feedback_pairs_split"]) == (2, 2)
    assert (health["feedback_components_split"], health["feedback_edges_cut"]) == (2, 2)
    assert health["gate_failures"] == [] or "feedback" not in " ".join(health["gate_failures"])
    assert result.summary["feedback_split"] == "2 of 2 pairs"

    labels = {
        (r["cookie_id_l"], r["cookie_id_r"]): r["label"]
        for r in feedback_labels(spark, lake, D2).collect()
    }
    assert labels == {("c1", "c4"): 0, ("m1", "m2"): 0, ("k1", "k2"): 1}
    assert feedback_labels(spark, lake, D1).count() == 0  # drained for D2

    effects, latest = feedback_effects(spark, lake)
    assert latest == D2
    said = {r["cookie_id_a"]: r["effect"] for r in effects.collect()}
    assert said == {
        "c1": "split: one unified ID before, two now",
        "m2": "split: one unified ID before, two now",
        "k1": "training label only",
    }

    from idgraph.cli import app

    # The export builds and stops its own session: here it gets the test session, kept.
    monkeypatch.setattr("idgraph.pipeline.build_session", lambda settings: spark)
    monkeypatch.setattr(spark, "stop", lambda: None)
    out = CliRunner().invoke(app, ["feedback", "export", "--lake", lake.root, "--format", "jsonl"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [r["verdict"] for r in rows].count("different_people") == 2
    assert all(r["key_id"] == ks.api_key_id("ops") for r in rows)

    # idgraph explain names the verdict and the edge it cut: the weakest scored one, and a
    # login edge when the two cookies shared a login.
    from idgraph.explain import explain

    chain = explain(spark, settings, D2, ["s1/c1", "s1/c4"])
    assert chain["linked"] is False and "are NOT linked" in chain["answer"]
    assert [(e["from"], e["to"], e["score"], e["status"]) for e in chain["between"]] == [
        ("s1/c2", "s1/c3", 0.6, "cut: feedback")
    ]
    rails = [g for c in chain["components"] for g in c["guardrails"]]
    assert {g["kind"] for g in rails} == {"feedback cannot-link"}
    assert all(g["verdicts"][0]["pair"] == ["s1/c1", "s1/c4"] for g in rails)
    login = explain(spark, settings, D2, ["s2/m1", "s3/m2"])
    assert [(e["kind"], e["login"], e["status"]) for e in login["between"]] == [
        ("login", "dddddddd…", "cut: feedback")
    ]
    kept = explain(spark, settings, D2, ["s2/m3", "s2/m1"])
    assert kept["linked"] is True and [e["score"] for e in kept["path"]] == [0.9]
