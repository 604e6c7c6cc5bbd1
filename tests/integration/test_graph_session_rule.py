"""Stage ``graph`` adds the session rule's pairs as probabilistic edges (no model needed)."""

from __future__ import annotations

import datetime as dt

import pytest

from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from spark_jobs.common.evidence import EVIDENCE_COLUMNS, NO_HOP_GAP
from spark_jobs.common.io import read_partition, write_partition
from spark_jobs.common.schemas import CANDIDATE_PAIRS, COOKIE_FEATURES
from spark_jobs.graph.job import run_graph

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DAY = dt.date(2026, 3, 1)
LOGIN_A, LOGIN_B = "a" * 64, "b" * 64


def _cookie(site: str, cookie: str, login: str | None = None) -> tuple:
    row = dict.fromkeys(COOKIE_FEATURES.fieldNames())
    row.update(site_id=site, cookie_id=cookie, login_hash=login, device_type="mobile")
    return tuple(row[name] for name in COOKIE_FEATURES.fieldNames())


def _pair(
    l_site: str, l_cookie: str, r_site: str, r_cookie: str, rank: int = 1, **evidence: int
) -> tuple:
    values = dict.fromkeys(EVIDENCE_COLUMNS, 0) | {"hop_min_gap_s": NO_HOP_GAP} | evidence
    return (
        l_site,
        l_cookie,
        r_site,
        r_cookie,
        ["session"],
        1.0,
        1,
        *(values[c] for c in EVIDENCE_COLUMNS),
        rank,  # evidence_rank
        1.0,  # evidence_share
    )


COOKIES = [
    _cookie("news", "n1"),
    _cookie("mail", "m1"),
    _cookie("shop", "phone"),
    _cookie("news", "n2"),
    _cookie("mail", "m2"),
    _cookie("news", "la", LOGIN_A),
    _cookie("mail", "lb", LOGIN_B),
    _cookie("shop", "s3"),
    _cookie("news", "n4"),
    _cookie("mail", "m4"),
]
PAIRS = [
    _pair("mail", "m1", "news", "n1", hops_300s=2, quiet_hops_300s=2, hop_days=1),  # hop
    _pair("news", "n1", "shop", "phone", quiet_codays=3),  # two devices, 3 quiet days
    _pair("mail", "m2", "news", "n2", hops_300s=5, hop_days=2),  # hops on a busy IP only
    _pair("news", "n2", "shop", "s3", quiet_codays=2),  # two days: not enough
    _pair("mail", "lb", "news", "la", hops_300s=1, quiet_hops_300s=1, hop_days=1),  # 2 logins
    # a quiet hop, but both cookies have four better-evidenced candidates: an interleaving
    _pair("mail", "m4", "news", "n4", rank=5, hops_300s=3, quiet_hops_300s=3, hop_days=1),
]


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):  # type: ignore[no-untyped-def]
    lake = Lake(str(tmp_path_factory.mktemp("rule-lake")))
    write_partition(spark.createDataFrame(COOKIES, COOKIE_FEATURES), lake, "cookie_features", DAY)
    write_partition(spark.createDataFrame(PAIRS, CANDIDATE_PAIRS), lake, "candidate_pairs", DAY)
    return lake


def _graph(spark, lake: Lake, **graph: object) -> dict[tuple[str, str], tuple]:  # type: ignore[no-untyped-def]
    settings = load_settings(lake={"root": lake.root}, graph=graph)
    result = run_graph(spark, settings, DAY)
    rows = read_partition(spark, lake, "identity_graph", DAY).collect()
    return result, {
        (r.site_id, r.cookie_id): (r.unified_id, r.link_type, r.confidence) for r in rows
    }


def test_rule_pairs_link_anonymous_cookies_without_a_model(spark, lake) -> None:  # type: ignore[no-untyped-def]
    result, graph = _graph(spark, lake)
    uid = {k: v[0] for k, v in graph.items()}
    assert uid["news", "n1"] == uid["mail", "m1"]
    assert graph["mail", "m1"][1] == "probabilistic"
    assert graph["mail", "m1"][2] == pytest.approx(0.95)  # two quiet hops: strong
    # co-presence alone is household evidence: not a person link by default
    assert uid["shop", "phone"] != uid["news", "n1"]
    # busy-IP hops and two co-present days are not the rule
    assert len({uid["news", "n2"], uid["mail", "m2"], uid["shop", "s3"]}) == 3
    # never an edge between two different logins
    assert uid["news", "la"] != uid["mail", "lb"]
    # a hop that is neither cookie's best evidence is left to the model
    assert uid["news", "n4"] != uid["mail", "m4"]
    assert result.summary["probabilistic_edges"] == 1


def test_a_hop_of_any_rank_links_when_asked(spark, lake) -> None:  # type: ignore[no-untyped-def]
    result, graph = _graph(spark, lake, session_rule_max_evidence_rank=0)
    uid = {k: v[0] for k, v in graph.items()}
    assert uid["news", "n4"] == uid["mail", "m4"]
    assert result.summary["probabilistic_edges"] == 2


def test_co_present_days_link_when_asked(spark, lake) -> None:  # type: ignore[no-untyped-def]
    result, graph = _graph(spark, lake, session_rule_min_codays=3)
    uid = {k: v[0] for k, v in graph.items()}
    assert uid["news", "n1"] == uid["mail", "m1"] == uid["shop", "phone"]
    assert uid["news", "n2"] != uid["shop", "s3"]
    assert result.summary["probabilistic_edges"] == 2


def test_the_rule_can_be_turned_off(spark, lake) -> None:  # type: ignore[no-untyped-def]
    result, graph = _graph(spark, lake, session_rule_edges=False)
    assert {v[1] for v in graph.values()} <= {"singleton", "deterministic"}
    assert result.summary["probabilistic_edges"] == 0
