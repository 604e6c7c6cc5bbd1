"""The publish gate, check by check, and the health row's figures (pure Python)."""

from __future__ import annotations

import datetime as dt

import pytest

from idgraph.core.settings import GraphSettings
from spark_jobs.graph.gate import evaluate_gate
from spark_jobs.graph.health import (
    HEALTH,
    degraded_reasons,
    format_health,
    health_row,
    score_figures,
    size_figures,
)

SETTINGS = GraphSettings(
    max_component_size=10,
    generic_login_max_cookies=10,
    gate_max_churn=0.1,
    gate_volume_band=0.5,
    gate_min_history=3,
)
HEALTHY = {"largest_component": 8, "churn": 0.02, "scored_pairs": 1_000}
HISTORY = [900, 1_000, 1_100, 1_050]


def test_healthy_day_passes() -> None:
    outcome = evaluate_gate(HEALTHY, HISTORY, SETTINGS)
    assert outcome.passed and outcome.failures == [] and outcome.notes == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"largest_component": 11}, "largest component: 11 cookies, above the cap of 10"),
        ({"churn": 0.25}, "ID churn: 25.00% of returning cookies changed ID"),
        ({"scored_pairs": 1_600}, "scored-pair volume: 1,600 pairs, outside 512..1,538"),
        ({"scored_pairs": 400}, "scored-pair volume: 400 pairs"),
        ({"scored_pairs": 0}, "scored-pair volume: 0 pairs"),  # scoring silently vanished
    ],
    ids=["cap", "churn", "volume-high", "volume-low", "volume-missing"],
)
def test_each_check_fails_alone(change: dict, message: str) -> None:
    outcome = evaluate_gate({**HEALTHY, **change}, HISTORY, SETTINGS)
    assert not outcome.passed
    assert len(outcome.failures) == 1
    assert outcome.failures[0].startswith(message)


def test_stage_failures_fail_the_gate() -> None:
    outcome = evaluate_gate(HEALTHY, HISTORY, SETTINGS, problems=["scoring (earlier stage)"])
    assert outcome.failures == ["stage failed: scoring (earlier stage)"]


def test_checks_without_history_are_skipped_with_notes() -> None:
    # Two days with a model (the zero-volume days had none) are fewer than the three needed.
    outcome = evaluate_gate({**HEALTHY, "churn": None}, [0, 0, 950, 1_000], SETTINGS)
    assert outcome.passed
    assert any("churn check skipped" in n for n in outcome.notes)
    assert any("volume check skipped: 2 earlier day(s)" in n for n in outcome.notes)


def test_size_figures() -> None:
    figures = size_figures([(1, 5), (2, 3), (3, 1), (40, 2), (7, 9)])
    assert figures["cookies"] == 5 + 6 + 3 + 80 + 63
    assert (figures["components"], figures["singletons"]) == (20, 5)
    assert figures["largest_component"] == 40
    assert figures["largest_components"] == [40, 40, 7, 7, 7, 7, 7, 7, 7, 7]
    assert figures["size_buckets"]["1"] == 5 and figures["size_buckets"]["5-8"] == 9
    assert figures["size_buckets"]["33-64"] == 2 and figures["size_buckets"]["129+"] == 0
    assert size_figures([])["largest_components"] == []


def test_score_figures_fill_empty_bins() -> None:
    bins = score_figures([(0, 3), (9, 1)], bins=10)
    assert [b["pairs"] for b in bins] == [3, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert (bins[9]["lo"], bins[9]["hi"]) == (0.9, 1.0)


def test_health_row_has_every_column_and_formats() -> None:
    figures = {f.name: 0 for f in HEALTH.fields}
    figures.update(
        largest_components=[3, 2],
        size_buckets={"1": 4},
        size_histogram=[],
        score_histogram=[],
        churn=None,
        model_version=None,
        deterministic_only=True,
        cc_implementation="dataframe",
        note="deterministic links only",
        degraded=False,
        degraded_reasons=[],
    )
    for gate_column in ("gate_passed", "gate_failures", "gate_notes", "computed_at"):
        figures.pop(gate_column)
    outcome = evaluate_gate({**HEALTHY, "largest_component": 99}, [], SETTINGS)
    row = health_row(figures, outcome)
    assert list(row) == HEALTH.fieldNames()
    assert row["gate_passed"] is False and row["gate_failures"] == outcome.failures
    text = format_health(row)
    assert "gate: FAILED" in text and "above the cap" in text
    assert "DETERMINISTIC LINKS ONLY" in text and len(text.splitlines()) < 25
    with pytest.raises(ValueError, match="lacks"):
        health_row({"cookies": 1}, outcome)


LIVE = dt.date(2026, 11, 4)
NEW_LAKE = {
    "deterministic_only": True,
    "model_evidence": None,
    "probabilistic_edges": 0,
    "live_day": LIVE,
    "live_probabilistic_edges": 0,
    "max_drop": 0.5,
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, []),  # a brand-new lake without a model: a normal state
        (
            {"model_evidence": "2026-11-04 was scored with model v3"},
            ["scored without a model although 2026-11-04 was scored with model v3"],
        ),
        (
            {
                "deterministic_only": False,
                "probabilistic_edges": 400,
                "live_probabilistic_edges": 1_000,
            },
            ["probabilistic edges fell 60%: 400 against 1,000 in the live graph of 2026-11-04"],
        ),
        (
            {
                "deterministic_only": False,
                "probabilistic_edges": 500,
                "live_probabilistic_edges": 1_000,
            },
            [],  # exactly half is tolerated
        ),
        (
            {"model_evidence": "a training was tried", "live_probabilistic_edges": 1_000},
            ["scored without a model although a training was tried", "fell 100%"],
        ),
    ],
    ids=["new-lake", "model-lost", "edges-fell", "edges-half", "both"],
)
def test_degraded_reasons(change: dict, expected: list[str]) -> None:
    reasons = degraded_reasons(**{**NEW_LAKE, **change})
    assert len(reasons) == len(expected)
    for reason, start in zip(reasons, expected, strict=True):
        assert start in reason


def test_a_degraded_day_fails_the_gate_and_says_so_first() -> None:
    reasons = degraded_reasons(**{**NEW_LAKE, "model_evidence": "a training was tried"})
    outcome = evaluate_gate(HEALTHY, HISTORY, SETTINGS, degraded=reasons)
    assert not outcome.passed
    assert outcome.failures == [f"degraded: {reasons[0]}"]
    figures = {f.name: 0 for f in HEALTH.fields} | {
        "largest_components": [],
        "size_buckets": {},
        "size_histogram": [],
        "score_histogram": [],
        "churn": None,
        "model_version": None,
        "deterministic_only": True,
        "cc_implementation": "dataframe",
        "note": "",
        "degraded": True,
        "degraded_reasons": reasons,
    }
    text = format_health(health_row(figures, outcome))
    assert text.splitlines()[0].startswith("DEGRADED: scored without a model")


def test_generic_limit_may_not_exceed_cap() -> None:
    with pytest.raises(ValueError, match="generic_login_max_cookies"):
        GraphSettings(max_component_size=10, generic_login_max_cookies=11)


def test_a_quiet_day_always_fails_the_gate_and_a_visit_drop_fails_with_history() -> None:
    quiet = evaluate_gate(HEALTHY, HISTORY, SETTINGS, visits=0, history_visits=[])
    assert not quiet.passed
    assert quiet.failures == [
        "visit volume: no visits today (the raw partition holds no lines); the graph only "
        "repeats the feature window's earlier days"
    ]
    history = [1_000, 1_100, 900]
    dropped = evaluate_gate(HEALTHY, HISTORY, SETTINGS, visits=400, history_visits=history)
    assert dropped.failures == [
        f"visit volume: 400 visits, below 500 (median 1,000 of the last 3 days - "
        f"{SETTINGS.gate_volume_band:.0%})"
    ]
    for fine in (
        {"visits": 600, "history_visits": history},  # within the band
        {"visits": 10, "history_visits": [1_000, 0]},  # too little history: no band check
        {"visits": None, "history_visits": history},  # no reconciliation: nothing to say
    ):
        assert evaluate_gate(HEALTHY, HISTORY, SETTINGS, **fine).passed, fine  # type: ignore[arg-type]
