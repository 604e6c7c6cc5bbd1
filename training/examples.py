"""Training examples built one snapshot at a time into a lake table, then read once.

Training reads up to ``max_training_days`` daily snapshots. Each snapshot is handled on its
own, with a plan that touches only that day's ``candidate_pairs`` and ``cookie_features``:

1. label the day's candidate pairs from login hashes, the consented panel and the verdicts
   sent to ``POST /v1/feedback``, and keep the labelled ones (``labelled_candidates``);
   candidate pairs are already capped per blocking
   key, so an exploding block (a CGNAT address, a shared office) cannot explode here either;
2. sample the login-labelled ones down to ``max_examples_per_snapshot`` with a hash of the
   pair, so a pair kept on one day is kept on every day with at least the same rate
   (``sample_pairs``; panel and feedback pairs are all kept);
3. build the pair features of the sample from the same day's cookie features and write them
   to ``training_examples/run=<run>/snapshot=<day>/`` (``snapshot_path``).

Everything after that (counts per first-seen day, the split, one row per pair, fitting,
evaluation) reads that table (``select_examples``), so no plan ever holds a union of per-day
joins and the memory training needs grows with the examples, not with the snapshots.

A login-labelled pair's split comes from the first snapshot in which it is labelled; its
features come from its latest labelled snapshot that does not look past the end of its own
period. A panel-labelled pair's split is its panelist's (``select_examples``). A
feedback-labelled pair always trains: verdicts are sent about the links someone noticed, not
a sample of the pairs the model scores, so they may teach the model but never choose its
threshold or grade it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from idgraph.core.lake import Lake, day_str
from spark_jobs.common.schemas import PAIR_KEYS
from spark_jobs.pair_scoring.session_evidence import evidence_present
from training.dataset import TEST, TRAIN, VALIDATION, SplitDates, label_pairs

EXAMPLES_TABLE = "training_examples"
FeatureBuilder = Callable[[DataFrame, DataFrame], DataFrame]

_HASH_SCALE = float(2**31)


def run_path(lake: Lake, run: str) -> str:
    """Root of one training run's examples."""
    return lake.path(EXAMPLES_TABLE, f"run={run}")


def snapshot_path(lake: Lake, run: str, day: dt.date) -> str:
    """One snapshot's examples of one training run."""
    return lake.path(EXAMPLES_TABLE, f"run={run}", f"snapshot={day_str(day)}")


UNLABELLED_TABLE = "training_unlabelled"


def unlabelled_path(lake: Lake, run: str, day: dt.date) -> str:
    """One snapshot's sample of unlabelled candidate pairs (with features) of one run."""
    return lake.path(UNLABELLED_TABLE, f"run={run}", f"snapshot={day_str(day)}")


def read_unlabelled(spark: SparkSession, lake: Lake, run: str) -> DataFrame:
    """The run's unlabelled sample, every snapshot, with ``snapshot`` as a DATE column."""
    root = lake.path(UNLABELLED_TABLE, f"run={run}")
    return (
        spark.read.option("basePath", root)
        .parquet(root)
        .withColumn("snapshot", F.col("snapshot").cast("date"))
    )


LOGIN, PANEL, FEEDBACK = "login", "panel", "feedback"
LABEL_COLUMNS = ["label", "label_source", "panel_id_l", "panel_id_r", "feedback_weight"]
ALWAYS_KEPT = (PANEL, FEEDBACK)
"""Label sources whose pairs are never sampled away: they are few and worth the most."""


def with_label_columns(df: DataFrame) -> DataFrame:
    """``df`` with every ``LABEL_COLUMNS`` column (absent ones: login-labelled, no panelist,
    no verdict)."""
    if "label_source" not in df.columns:
        df = df.withColumn("label_source", F.lit(LOGIN))
    for side in ("l", "r"):
        if f"panel_id_{side}" not in df.columns:
            df = df.withColumn(f"panel_id_{side}", F.lit(None).cast("string"))
    if "feedback_weight" not in df.columns:
        df = df.withColumn("feedback_weight", F.lit(None).cast("double"))
    return df


def _with_labels(
    pairs: DataFrame,
    features: DataFrame,
    panel: DataFrame | None,
    feedback: DataFrame | None = None,
) -> DataFrame:
    """Every candidate pair with ``LABEL_COLUMNS`` (``label`` null: nobody can tell)."""
    evidence = evidence_present(pairs.columns)
    labelled = label_pairs(
        pairs.select(*PAIR_KEYS, *evidence),
        features.select("site_id", "cookie_id", "login_hash"),
    )
    if panel is None:
        labelled = labelled.withColumn("panel_id_l", F.lit(None).cast("string")).withColumn(
            "panel_id_r", F.lit(None).cast("string")
        )
    else:
        for side in ("l", "r"):
            labelled = labelled.join(
                F.broadcast(
                    panel.select(
                        F.col("site_id").alias(f"site_id_{side}"),
                        F.col("cookie_id").alias(f"cookie_id_{side}"),
                        F.col("panel_id").alias(f"panel_id_{side}"),
                    )
                ),
                [f"site_id_{side}", f"cookie_id_{side}"],
                "left",
            )
    pl, pr = F.col("panel_id_l"), F.col("panel_id_r")
    panel_label = F.when(pl.isNull() & pr.isNull(), F.lit(None)).when(pl == pr, 1).otherwise(0)
    login_label = F.col("label")
    label = (
        F.when((login_label == 1) | (panel_label == 1), F.lit(1))
        .when(login_label.isNotNull() | panel_label.isNotNull(), F.lit(0))
        .cast("int")
    )
    if feedback is None:
        labelled = labelled.withColumn("_fb_label", F.lit(None).cast("int")).withColumn(
            "feedback_weight", F.lit(None).cast("double")
        )
    else:
        labelled = labelled.join(
            feedback.select(
                *PAIR_KEYS,
                F.col("label").cast("int").alias("_fb_label"),
                F.col("weight").alias("feedback_weight"),
            ),
            PAIR_KEYS,
            "left",
        )
    # The panel is consented truth and wins; a verdict wins over logins (two people sharing
    # one login, the very mistake feedback reports).
    verdict = panel_label.isNull() & F.col("_fb_label").isNotNull()
    label = F.when(verdict, F.col("_fb_label")).otherwise(label)
    source = (
        F.when(panel_label.isNotNull(), F.lit(PANEL))
        .when(verdict, F.lit(FEEDBACK))
        .otherwise(F.lit(LOGIN))
    )
    return (
        labelled.withColumn("label", label)
        .withColumn("label_source", F.when(label.isNotNull(), source))
        .withColumn("feedback_weight", F.when(verdict, F.col("feedback_weight")))
        .drop("_fb_label")
    )


def labelled_candidates(
    pairs: DataFrame,
    features: DataFrame,
    panel: DataFrame | None = None,
    feedback: DataFrame | None = None,
) -> DataFrame:
    """The labelled candidate pairs of one day: ``PAIR_KEYS``, evidence and ``LABEL_COLUMNS``.

    Logins label a pair whose two cookies both carry a login hash. The panel labels every
    pair that touches a panelist's cookie: the panel lists all of a panelist's cookies, so
    two cookies of one panelist are a positive and a panelist's cookie beside any other
    cookie is a negative. A positive from either source wins (two e-mails of one panelist,
    a login the panel missed); ``label_source`` is ``panel`` whenever the panel spoke, so the
    split can keep every pair of a panelist on the panelist's side. Where the panel is
    silent, a pair's latest feedback verdict is its label (``label_source`` ``feedback``,
    ``feedback_weight`` the sender's capped weight), over what the logins say.

    Args:
        pairs: one day's ``candidate_pairs``.
        features: the same day's ``cookie_features`` (``site_id``, ``cookie_id``,
            ``login_hash``).
        panel: ``spark_jobs.etl.panel.read_panel`` output (``site_id``, ``cookie_id``,
            ``panel_id``), small enough to broadcast; None or empty: logins only.
        feedback: ``spark_jobs.common.feedback.feedback_labels`` output (``PAIR_KEYS``,
            ``label``, ``weight``), or None.
    """
    evidence = evidence_present(pairs.columns)
    return (
        _with_labels(pairs, features, panel, feedback)
        .where(F.col("label").isNotNull())
        .select(*PAIR_KEYS, *evidence, *LABEL_COLUMNS)
    )


def unlabelled_candidates(
    pairs: DataFrame,
    features: DataFrame,
    panel: DataFrame | None = None,
    feedback: DataFrame | None = None,
) -> DataFrame:
    """The candidate pairs neither logins, the panel nor feedback label: the population the
    model scores and links on its own. ``LABEL_COLUMNS`` are present and null."""
    evidence = evidence_present(pairs.columns)
    return (
        _with_labels(pairs, features, panel, feedback)
        .where(F.col("label").isNull())
        .select(*PAIR_KEYS, *evidence, *LABEL_COLUMNS)
    )


def pair_unit(columns: list[str] = PAIR_KEYS) -> Column:
    """A number in [0, 1) fixed by the pair's ids: the same pair draws the same on every day."""
    return F.pmod(F.xxhash64(*columns), F.lit(2**31)).cast("double") / F.lit(_HASH_SCALE)


def sample_fraction(rows: int, cap: int) -> float:
    """The share of ``rows`` to keep so that about ``cap`` remain (1.0: keep all)."""
    return 1.0 if rows <= cap else cap / rows


def sample_pairs(labelled: DataFrame, fraction: float) -> DataFrame:
    """``labelled``'s login pairs thinned to ``fraction``, positives and negatives alike (the
    class balance, and so the threshold chosen on validation, stays what it was); every
    panel and feedback pair is kept (they are few, and worth the most)."""
    if fraction >= 1.0:
        return labelled
    labelled = with_label_columns(labelled)
    return labelled.where(
        F.col("label_source").isin(*ALWAYS_KEPT) | (pair_unit() < F.lit(fraction))
    )


def snapshot_examples(
    labelled: DataFrame, features: DataFrame, *, build_features: FeatureBuilder
) -> DataFrame:
    """Pair features of one day's labelled pairs: ``PAIR_KEYS``, ``label`` and the features."""
    evidence = evidence_present(labelled.columns)
    return build_features(labelled.select(*PAIR_KEYS, *evidence, *LABEL_COLUMNS), features)


def write_snapshot(examples: DataFrame, lake: Lake, run: str, day: dt.date) -> None:
    """Write (replace) one snapshot of the run: a retried run rewrites the same files."""
    examples.write.mode("overwrite").parquet(snapshot_path(lake, run, day))


def read_run(spark: SparkSession, lake: Lake, run: str) -> DataFrame:
    """Every snapshot of the run, with ``snapshot`` as a DATE column."""
    return (
        spark.read.option("basePath", run_path(lake, run))
        .parquet(run_path(lake, run))
        .withColumn("snapshot", F.col("snapshot").cast("date"))
    )


def panel_splits(panel_ids: DataFrame, *, validation_share: float, test_share: float) -> DataFrame:
    """Each panelist's split: a fixed share of the panelists each, in the order of a hash.

    Args:
        panel_ids: one column ``panel_id`` (duplicates allowed); a panel is small.

    Returns:
        ``panel_id``, ``panel_split``. The first ``1 - validation_share - test_share`` of the
        panelists (by hash) train, the next ``validation_share`` validate, the rest test;
        every split gets at least one panelist once there are three.
    """
    order = Window.orderBy(F.xxhash64("panel_id"), "panel_id")
    ranked = (
        panel_ids.select("panel_id")
        .distinct()
        .withColumn("_i", F.row_number().over(order) - 1)
        .withColumn("_n", F.count(F.lit(1)).over(Window.partitionBy()))
    )
    n = F.col("_n")
    tests = F.greatest(F.round(n * test_share), F.when(n >= 3, 1).otherwise(0))
    validations = F.greatest(F.round(n * validation_share), F.when(n >= 2, 1).otherwise(0))
    i = F.col("_i")
    split = (
        F.when(i >= n - tests, F.lit(TEST))
        .when(i >= n - tests - validations, F.lit(VALIDATION))
        .otherwise(F.lit(TRAIN))
    )
    return ranked.select("panel_id", split.alias("panel_split"))


def select_examples(
    examples: DataFrame,
    *,
    dates: SplitDates,
    panel_validation_share: float = 0.4,
    panel_test_share: float = 0.2,
) -> DataFrame:
    """One row per pair with its split, from the labelled examples of every snapshot.

    Login-labelled pairs split by time: train, validation or test by the first snapshot in
    which the pair was labelled, its row from its latest snapshot on or before the end of its
    period. Panel-labelled pairs split by panelist (``panel_splits``), never by pair: all of a
    panelist's pairs are on one side, its row from the latest snapshot, and a pair of two
    panelists on different sides is left out. Feedback-labelled pairs always train, with
    their row from the latest snapshot.

    Args:
        examples: ``read_run`` output (``PAIR_KEYS``, ``snapshot``, ``LABEL_COLUMNS``,
            features).
        dates: the period boundaries.

    Returns:
        ``examples``' columns plus ``first_seen`` and ``split``.
    """
    examples = with_label_columns(examples)
    per_pair = Window.partitionBy(*PAIR_KEYS)
    by_time = (
        F.when(F.col("first_seen") < F.lit(dates.validation_start), F.lit(TRAIN))
        .when(F.col("first_seen") < F.lit(dates.test_start), F.lit(VALIDATION))
        .otherwise(F.lit(TEST))
    )
    splits = panel_splits(
        examples.select(F.col("panel_id_l").alias("panel_id"))
        .union(examples.select(F.col("panel_id_r").alias("panel_id")))
        .where(F.col("panel_id").isNotNull()),
        validation_share=panel_validation_share,
        test_share=panel_test_share,
    )
    for side in ("l", "r"):
        examples = examples.join(
            F.broadcast(
                splits.select(
                    F.col("panel_id").alias(f"panel_id_{side}"),
                    F.col("panel_split").alias(f"_split_{side}"),
                )
            ),
            f"panel_id_{side}",
            "left",
        )
    sl, sr = F.col("_split_l"), F.col("_split_r")
    panel_split = F.when(sl.isNotNull() & sr.isNotNull() & (sl != sr), F.lit(None)).otherwise(
        F.coalesce(sl, sr)
    )
    is_panel = F.col("label_source") == PANEL
    is_feedback = F.col("label_source") == FEEDBACK
    period_end = (
        F.when(is_panel | is_feedback, F.lit(dates.as_of))
        .when(F.col("split") == TRAIN, F.lit(dates.validation_start - dt.timedelta(days=1)))
        .when(F.col("split") == VALIDATION, F.lit(dates.test_start - dt.timedelta(days=1)))
        .otherwise(F.lit(dates.as_of))
    )
    within = (
        examples.withColumn("first_seen", F.min("snapshot").over(per_pair))
        .withColumn(
            "split",
            F.when(is_panel, panel_split).when(is_feedback, F.lit(TRAIN)).otherwise(by_time),
        )
        .where(F.col("split").isNotNull() & (F.col("snapshot") <= period_end))
        .drop("_split_l", "_split_r")
    )
    return (
        within.withColumn("chosen", F.max("snapshot").over(per_pair))
        .where(F.col("snapshot") == F.col("chosen"))
        .drop("chosen")
    )


def snapshot_counts(examples: DataFrame) -> dict[str, int]:
    """Positives and negatives of one written snapshot (one small aggregate)."""
    row = examples.agg(
        F.count(F.when(F.col("label") == 1, 1)).alias("positives"),
        F.count(F.when(F.col("label") == 0, 1)).alias("negatives"),
    ).first()
    assert row is not None
    return {"positives": int(row["positives"]), "negatives": int(row["negatives"])}
