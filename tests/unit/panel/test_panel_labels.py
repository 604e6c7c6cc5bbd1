"""Panel labels on candidate pairs, the split by panelist, and where the threshold is chosen."""

from __future__ import annotations

import datetime as dt

import pytest

from idgraph.core.settings import load_settings
from training.dataset import TEST, TRAIN, VALIDATION, SplitDates
from training.examples import PANEL, labelled_candidates, panel_splits, select_examples
from training.train import _threshold_pairs

H1, H2 = "a" * 64, "b" * 64
P1, P2 = "1" * 64, "2" * 64
PAIRS = "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string"

# (case, (login, panel) of the left cookie, (login, panel) of the right, label, source)
CASES = [
    ("one-panelist", (None, P1), (None, P1), 1, "panel"),  # anonymous, same panelist
    ("panelist-and-other", (None, P1), (None, None), 0, "panel"),  # panel is complete
    ("two-panelists", (None, P1), (None, P2), 0, "panel"),
    ("two-emails", (H1, P1), (H2, P1), 1, "panel"),  # logins disagree, the panel knows
    ("login-beats-panel-miss", (H1, P1), (H1, None), 1, "panel"),  # a positive wins
    ("login-only", (H1, None), (H1, None), 1, "login"),
    ("login-negative", (H1, None), (H2, None), 0, "login"),
    ("unlabelled", (None, None), (H1, None), None, None),
]


@pytest.mark.spark
def test_panel_and_login_labels(spark):
    pairs = spark.createDataFrame([(f"{c}-l", c, f"{c}-r", c) for c, *_ in CASES], PAIRS)
    rows = [
        (f"{c}-{side}", c, login, panel)
        for c, left, right, *_ in CASES
        for side, (login, panel) in (("l", left), ("r", right))
    ]
    features = spark.createDataFrame(
        [r[:3] for r in rows], "site_id string, cookie_id string, login_hash string"
    )
    panel = spark.createDataFrame(
        [(s, c, p) for s, c, _, p in rows if p], "site_id string, cookie_id string, panel_id string"
    )
    got = {
        r["cookie_id_l"]: (r["label"], r["label_source"])
        for r in labelled_candidates(pairs, features, panel).collect()
    }
    assert got == {c: (label, source) for c, _, _, label, source in CASES if label is not None}
    # without a panel, only logins label
    logins = {r["cookie_id_l"]: r["label"] for r in labelled_candidates(pairs, features).collect()}
    assert logins == {
        "two-emails": 0,
        "login-beats-panel-miss": 1,
        "login-only": 1,
        "login-negative": 0,
    }


@pytest.mark.spark
def test_panel_splits_give_each_panelist_one_side(spark):
    ids = spark.createDataFrame([(f"{i:064x}",) for i in range(10)] * 3, "panel_id string")
    splits = {
        r["panel_id"]: r["panel_split"]
        for r in panel_splits(ids, validation_share=0.4, test_share=0.2).collect()
    }
    assert len(splits) == 10
    counts = {s: list(splits.values()).count(s) for s in (TRAIN, VALIDATION, TEST)}
    assert counts == {TRAIN: 4, VALIDATION: 4, TEST: 2}
    few = panel_splits(ids.limit(3), validation_share=0.1, test_share=0.1).collect()
    assert sorted(r["panel_split"] for r in few) == sorted([TRAIN, VALIDATION, TEST])


@pytest.mark.spark
def test_no_panelist_appears_on_two_sides(spark):
    """Every pair of a panelist lands in the panelist's split, whatever its first day; a pair of
    two panelists on different sides is dropped; login pairs still split by time."""
    d0 = dt.date(2026, 3, 1)
    dates = SplitDates(
        d0 + dt.timedelta(days=10), d0 + dt.timedelta(days=15), d0 + dt.timedelta(20)
    )
    panelists = [f"{i:064x}" for i in range(12)]
    rows = []
    for i, p in enumerate(panelists):
        for k in range(6):  # pairs first seen all over the history
            rows.append(
                (
                    f"s{i}",
                    f"c{i}-{k}",
                    "t",
                    f"x{i}-{k}",
                    d0 + dt.timedelta(days=3 * k),
                    k % 2,
                    PANEL,
                    p,
                    p if k % 2 else None,
                )
            )
    for i in range(len(panelists) - 1):  # two panelists in one pair
        rows.append((f"s{i}", f"c{i}", "t", f"y{i}", d0, 0, PANEL, panelists[i], panelists[i + 1]))
    rows.append(("s", "old", "t", "login", d0, 1, "login", None, None))
    rows.append(("s", "new", "t", "login", d0 + dt.timedelta(days=18), 0, "login", None, None))
    examples = spark.createDataFrame(
        rows,
        f"{PAIRS}, snapshot date, label int, label_source string, panel_id_l string, "
        "panel_id_r string",
    )
    selected = select_examples(examples, dates=dates).collect()
    sides: dict[str, set[str]] = {}
    for r in selected:
        for p in (r["panel_id_l"], r["panel_id_r"]):
            if p:
                sides.setdefault(p, set()).add(r["split"])
    assert sides and all(len(s) == 1 for s in sides.values())
    assert {r["split"] for r in selected if r["label_source"] == PANEL} == {TRAIN, VALIDATION, TEST}
    by_login = {r["cookie_id_l"]: r["split"] for r in selected if r["label_source"] == "login"}
    assert by_login == {"old": TRAIN, "new": TEST}
    mixed = [r for r in selected if r["cookie_id_r"].startswith("y")]
    assert all(sides[r["panel_id_l"]] == sides[r["panel_id_r"]] for r in mixed)
    assert len(mixed) < len(panelists) - 1  # some straddle two sides and are left out


def test_threshold_pairs_are_the_panel_when_it_is_big_enough():
    settings = load_settings()
    enough = {
        s: {"positives": 500, "negatives": 900, "panel_positives": 40, "panel_negatives": 120}
        for s in (TRAIN, VALIDATION, TEST)
    }
    source, note = _threshold_pairs(enough, settings)
    assert source == PANEL and "40 positive and 120 negative" in note
    enough[VALIDATION]["panel_positives"] = 3
    source, note = _threshold_pairs(enough, settings)
    assert source == "login" and "fewer than" in note
