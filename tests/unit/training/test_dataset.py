"""Labels from login hashes, the time-based split and snapshot sampling."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from training.dataset import (
    SplitDates,
    first_seen_counts,
    label_pairs,
    select_days,
    widen_for_labels,
)
from training.examples import (
    labelled_candidates,
    sample_fraction,
    sample_pairs,
    select_examples,
    snapshot_examples,
)

D = dt.date(2026, 3, 1)
H1, H2 = "a" * 64, "b" * 64


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


# (case, login hash left, right, expected label): one DataFrame, one Spark job for all.
LABEL_CASES = [
    ("same", H1, H1, 1),  # same login: the same person, deterministically
    ("different", H1, H2, 0),  # two different logins: different people
    ("right-missing", H1, None, None),  # one side anonymous: unknown, not a negative
    ("left-missing", None, H2, None),
    ("both-missing", None, None, None),
]


@pytest.mark.spark
def test_label_from_login_hashes(spark):
    pairs = spark.createDataFrame(
        [(f"{case}-l", case, f"{case}-r", case) for case, *_ in LABEL_CASES],
        "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string",
    )
    features = spark.createDataFrame(
        [
            row
            for case, left, right, _ in LABEL_CASES
            for row in ((f"{case}-l", case, left), (f"{case}-r", case, right))
        ],
        "site_id string, cookie_id string, login_hash string",
    )
    got = {r["cookie_id_l"]: r["label"] for r in label_pairs(pairs, features).collect()}
    assert got == {case: expected for case, _, _, expected in LABEL_CASES}


@pytest.mark.spark
def test_label_uses_the_snapshot_of_the_pairs_own_day(spark):
    pairs = spark.createDataFrame(
        [("s1", "c1", "s2", "c2", day(0)), ("s1", "c1", "s2", "c2", day(1))],
        "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string, dt date",
    )
    features = spark.createDataFrame(
        [
            ("s1", "c1", H1, day(0)),
            ("s2", "c2", None, day(0)),  # not logged in yet on day 0
            ("s1", "c1", H1, day(1)),
            ("s2", "c2", H1, day(1)),
        ],
        "site_id string, cookie_id string, login_hash string, dt date",
    )
    got = {r["dt"]: r["label"] for r in label_pairs(pairs, features).collect()}
    assert got == {day(0): None, day(1): 1}


@pytest.mark.parametrize(
    ("n_available", "max_days", "expected_count"),
    [(5, 10, 5), (30, 10, 10), (30, 30, 30), (200, 20, 20)],
)
def test_select_days_thins_evenly_and_keeps_the_newest(n_available, max_days, expected_count):
    available = [day(i) for i in range(n_available)]
    as_of = available[-1]
    got = select_days(available, as_of=as_of, history_days=400, max_days=max_days)
    assert len(got) == expected_count
    assert got[-1] == as_of
    assert got == sorted(got)


def test_select_days_respects_history_and_as_of():
    available = [day(i) for i in range(40)]
    got = select_days(available, as_of=day(30), history_days=10, max_days=100)
    assert got == [day(i) for i in range(21, 31)]


@pytest.mark.parametrize(
    ("span", "test_days", "validation_days"),
    [(30, 7, 7), (14, 4, 3), (4, 1, 1)],
)
def test_split_dates_shrink_with_short_history(span, test_days, validation_days):
    as_of = day(span - 1)
    dates = SplitDates.ending(as_of, test_days=7, validation_days=7, first_day=day(0))
    assert (as_of - dates.test_start).days + 1 == test_days
    assert (dates.test_start - dates.validation_start).days == validation_days


# (pair id, snapshots in which it was labelled, with the label, and a feature value per day;
# expected split / snapshot / label / feature). Unlabelled days never reach the table.
SPLIT_CASES = [
    ("old", {0: 1, 3: 1, 9: 1}, ("train", 3, 1)),  # day 9 is after train's end: not used
    ("old-relabelled-late", {1: 0, 8: 1}, ("train", 1, 0)),
    ("validation", {6: 1, 7: 1, 9: 1}, ("validation", 7, 1)),
    ("test", {8: 0, 9: 0}, ("test", 9, 0)),
]


@pytest.mark.spark
def test_select_examples_takes_each_pairs_latest_snapshot_within_its_period(spark):
    # 10 days: train < day 6, validation days 6-7, test days 8-9.
    dates = SplitDates(validation_start=day(6), test_start=day(8), as_of=day(9))
    rows = [
        ("s", name, "t", "x", day(d), label, float(d))
        for name, snaps, _ in SPLIT_CASES
        for d, label in snaps.items()
    ]
    examples = spark.createDataFrame(
        rows,
        "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string, "
        "snapshot date, label int, x double",
    )
    got = {
        r["cookie_id_l"]: (r["split"], (r["snapshot"] - D).days, r["label"])
        for r in select_examples(examples, dates=dates).collect()
    }
    assert got == {name: want for name, _, want in SPLIT_CASES}
    xs = {r["cookie_id_l"]: r["x"] for r in select_examples(examples, dates=dates).collect()}
    assert xs["old"] == 3.0  # the features travel with the chosen snapshot's row


@pytest.mark.spark
def test_snapshot_examples_label_and_featurise_one_day(spark):
    pairs = spark.createDataFrame(
        [("s1", "c1", "s2", "c2"), ("s1", "c1", "s2", "c3"), ("s1", "c1", "s2", "c4")],
        "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string",
    )
    features = spark.createDataFrame(
        [
            ("s1", "c1", H1, 1.0),
            ("s2", "c2", H1, 2.0),
            ("s2", "c3", H2, 20.0),
            ("s2", "c4", None, 5.0),  # anonymous: unlabelled, never an example
        ],
        "site_id string, cookie_id string, login_hash string, x double",
    )

    def build(p, f):  # a stand-in feature builder: the sum of both cookies' x
        left = f.select(
            F.col("site_id").alias("site_id_l"),
            F.col("cookie_id").alias("cookie_id_l"),
            F.col("x").alias("x_l"),
        )
        right = f.select(
            F.col("site_id").alias("site_id_r"),
            F.col("cookie_id").alias("cookie_id_r"),
            F.col("x").alias("x_r"),
        )
        joined = p.join(left, ["site_id_l", "cookie_id_l"]).join(
            right, ["site_id_r", "cookie_id_r"]
        )
        return joined.select(*p.columns, (F.col("x_l") + F.col("x_r")).alias("x_sum"))

    labelled = labelled_candidates(pairs, features)
    got = {
        r["cookie_id_r"]: (r["label"], r["x_sum"])
        for r in snapshot_examples(labelled, features, build_features=build).collect()
    }
    assert got == {"c2": (1, 3.0), "c3": (0, 21.0)}


@pytest.mark.spark
def test_sampling_keeps_the_same_pairs_on_every_day_and_about_the_share_asked(spark):
    pairs = spark.range(20_000).selectExpr(
        "'s' as site_id_l",
        "cast(id as string) as cookie_id_l",
        "'t' as site_id_r",
        "'x' as cookie_id_r",
        "cast(id % 4 = 0 as int) as label",
    )
    assert sample_fraction(20_000, 50_000) == 1.0
    fraction = sample_fraction(20_000, 5_000)
    small = {r["cookie_id_l"] for r in sample_pairs(pairs, fraction).collect()}
    larger = {r["cookie_id_l"] for r in sample_pairs(pairs, 0.5).collect()}
    assert 4_500 <= len(small) <= 5_500
    assert small <= larger  # a pair kept at a low rate is kept at every higher rate
    positives = sum(int(c) % 4 == 0 for c in small)
    assert 0.2 <= positives / len(small) <= 0.3  # the class balance is kept


def test_windows_widen_backwards_until_they_hold_enough_labels():
    counts = {
        day(0): (500, 900),
        day(5): (3, 9),
        day(6): (4, 2),
        day(7): (3, 8),
        day(8): (2, 1),
        day(9): (6, 7),
    }
    start = SplitDates(validation_start=day(8), test_start=day(9), as_of=day(9))
    got = widen_for_labels(start, counts, first_day=day(0), min_positives=8, min_negatives=8)
    assert got.test_start == day(8)  # days 8-9: 8 positives, 8 negatives
    assert got.validation_start == day(5)  # days 5-7: 10 positives, 19 negatives


def test_windows_never_take_the_first_day():
    counts = {day(0): (500, 900), day(3): (1, 1)}
    start = SplitDates(validation_start=day(2), test_start=day(3), as_of=day(3))
    got = widen_for_labels(start, counts, first_day=day(0), min_positives=8, min_negatives=8)
    assert got.validation_start > day(0)  # too few labels is then reported, not hidden


@pytest.mark.spark
def test_first_seen_counts_use_the_latest_label(spark):
    labelled = spark.createDataFrame(
        [
            ("s", "a", "t", "x", day(0), None),
            ("s", "a", "t", "x", day(2), 1),
            ("s", "b", "t", "x", day(1), 0),
        ],
        "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string, "
        "dt date, label int",
    )
    got = {
        r["first_seen"]: (r["positives"], r["negatives"])
        for r in first_seen_counts(labelled).collect()
    }
    assert got == {day(0): (1, 0), day(1): (0, 1)}
