"""Training examples: deterministic labels on candidate pairs and a time-based split.

A candidate pair is labelled by the login hashes its two cookies carry: the same hash is a
positive, two different hashes a negative, a missing hash on either side leaves it unlabelled.
Training only ever sees candidate pairs, so it sees the same population that scoring sees.

The split is by the day a pair was first labelled: pairs first seen in the last ``test_days``
are the test batch, the ``validation_days`` before them the validation set, and everything
older trains. Each pair contributes one row, taken from its latest snapshot that does not look
past the end of its own period, so no split uses information from a later one
(``training.examples.select_examples``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.common.schemas import PAIR_KEYS

TRAIN, VALIDATION, TEST = "train", "validation", "test"
SPLITS = (TRAIN, VALIDATION, TEST)


@dataclass(frozen=True)
class SplitDates:
    """First day of the validation and test periods (both inclusive) and the as-of day."""

    validation_start: dt.date
    test_start: dt.date
    as_of: dt.date

    @classmethod
    def ending(
        cls,
        as_of: dt.date,
        *,
        test_days: int,
        validation_days: int,
        first_day: dt.date | None = None,
    ) -> SplitDates:
        """The periods ending at ``as_of``: test is the last ``test_days`` days.

        With a short history (from ``first_day``), test and validation together shrink to at
        most half of it, in their configured ratio and at least a day each, so that the older
        half still trains: a two-week demo lake trains on its first week.
        """
        if first_day is not None:
            span = (as_of - first_day).days + 1
            if test_days + validation_days > span // 2:
                half = max(2, span // 2)
                test_days = max(1, round(half * test_days / (test_days + validation_days)))
                validation_days = max(1, half - test_days)
        test_start = as_of - dt.timedelta(days=test_days - 1)
        return cls(test_start - dt.timedelta(days=validation_days), test_start, as_of)


def first_seen_counts(labelled: DataFrame) -> DataFrame:
    """Labelled pairs per first-seen day (label of the latest snapshot): a small DataFrame.

    Returns:
        ``first_seen``, ``positives``, ``negatives``; one row per day at most.
    """
    per_pair = labelled.groupBy(*PAIR_KEYS).agg(
        F.min("dt").alias("first_seen"), F.max_by("label", "dt").alias("label")
    )
    return per_pair.groupBy("first_seen").agg(
        F.count(F.when(F.col("label") == 1, 1)).alias("positives"),
        F.count(F.when(F.col("label") == 0, 1)).alias("negatives"),
    )


def widen_for_labels(
    dates: SplitDates,
    counts: dict[dt.date, tuple[int, int]],
    *,
    first_day: dt.date,
    min_positives: int,
    min_negatives: int,
) -> SplitDates:
    """Move the test and validation starts back until each holds enough labelled pairs.

    New candidate pairs appear slowly once a lake is a few days old (most are first seen on its
    first day), so a fixed week can hold too few labels on a small world. Windows only grow
    backwards, and the first day always stays in training.

    Args:
        dates: the calendar windows to start from.
        counts: (positives, negatives) per first-seen day.
        first_day: the oldest snapshot day.
    """

    def enough(start: dt.date, end: dt.date) -> bool:
        pos = sum(p for d, (p, _) in counts.items() if start <= d <= end)
        neg = sum(n for d, (_, n) in counts.items() if start <= d <= end)
        return pos >= min_positives and neg >= min_negatives

    one = dt.timedelta(days=1)
    test_start = dates.test_start
    while not enough(test_start, dates.as_of) and test_start - one > first_day + one:
        test_start -= one
    validation_start = min(dates.validation_start, test_start - one)
    while not enough(validation_start, test_start - one) and validation_start - one > first_day:
        validation_start -= one
    return SplitDates(validation_start, test_start, dates.as_of)


def select_days(
    available: Sequence[dt.date], *, as_of: dt.date, history_days: int, max_days: int
) -> list[dt.date]:
    """The snapshot days to read: those within the history, evenly thinned to ``max_days``.

    Thinning walks back from the newest day with a fixed stride, so the newest day is always
    kept and every part of the history stays represented.

    Args:
        available: days for which both candidate pairs and cookie features exist.
        as_of: the training day; later days are ignored.
        history_days: how far back to look (inclusive of ``as_of``).
        max_days: the most snapshots to read.

    Returns:
        Sorted days.
    """
    first = as_of - dt.timedelta(days=history_days - 1)
    days = sorted(d for d in set(available) if first <= d <= as_of)
    if len(days) <= max_days:
        return days
    stride = -(-len(days) // max_days)  # ceiling division
    return sorted(days[::-1][::stride])


def pair_label(login_l: Column, login_r: Column) -> Column:
    """1 for the same login hash, 0 for different ones, null when either side has none."""
    return (
        F.when(login_l.isNull() | login_r.isNull(), F.lit(None))
        .when(login_l == login_r, F.lit(1))
        .otherwise(F.lit(0))
        .cast("int")
    )


def label_pairs(pairs: DataFrame, features: DataFrame) -> DataFrame:
    """Add ``login_hash_l``, ``login_hash_r`` and ``label`` to ``pairs``.

    Args:
        pairs: candidate pairs (``PAIR_KEYS``, optionally ``dt``).
        features: cookie features with ``site_id``, ``cookie_id``, ``login_hash`` (and ``dt``
            when the pairs have it: each pair is labelled by the snapshot of its own day).

    Returns:
        ``pairs`` with the two hashes and the label (null when unlabelled).
    """
    on_day = ["dt"] if "dt" in pairs.columns and "dt" in features.columns else []
    logins = features.select("site_id", "cookie_id", *on_day, "login_hash")
    for side in ("l", "r"):
        side_logins = logins.select(
            F.col("site_id").alias(f"site_id_{side}"),
            F.col("cookie_id").alias(f"cookie_id_{side}"),
            *on_day,
            F.col("login_hash").alias(f"login_hash_{side}"),
        )
        pairs = pairs.join(side_logins, [f"site_id_{side}", f"cookie_id_{side}", *on_day], "left")
    return pairs.withColumn("label", pair_label(F.col("login_hash_l"), F.col("login_hash_r")))
