"""The weekly champion/challenger job: ``idgraph train --lake LAKE --as-of D``.

Reads up to ``history_days`` of ``candidate_pairs`` and ``cookie_features`` snapshots, labels
candidate pairs from login hashes, splits them by time (``training.dataset``), fits a
``SparkXGBClassifier``, picks the threshold on validation data for the target precision, then
scores the test batch with the challenger and the current champion through the same scorer the
daily job uses, and promotes only on a clear, guarded win. Every decision goes to MLflow (run
tags and metrics) and, as one JSON line, to ``<lake>/training/decisions/``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from idgraph.core import model_registry as registry
from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings
from idgraph.core.stage import StageFailed, StageResult
from spark_jobs.common.feedback import feedback_labels
from spark_jobs.common.io import delete_path, list_children, list_partitions, read_partition
from spark_jobs.common.schemas import PAIR_KEYS
from spark_jobs.etl.panel import read_panel
from spark_jobs.pair_scoring.pair_features import build_pair_features, model_features
from spark_jobs.pair_scoring.scoring import broadcast_booster, score_pairs
from training import examples as ex
from training import reweight as rw
from training.dataset import (
    SPLITS,
    TEST,
    TRAIN,
    VALIDATION,
    SplitDates,
    first_seen_counts,
    select_days,
    widen_for_labels,
)
from training.failure import explain_failure
from training.metrics import (
    ThresholdChoice,
    bins_from_rows,
    choose_threshold,
    evaluate_scores,
    precision_at,
    score_histogram,
)
from training.model import fit_classifier, resolve_num_workers, scale_pos_weight

log = logging.getLogger(__name__)

STAGE = "train"


def _read_days(spark: SparkSession, lake: Lake, table: str, days: Sequence[dt.date]) -> DataFrame:
    return (
        spark.read.option("basePath", lake.table(table))
        .parquet(*[lake.partition(table, d) for d in days])
        .withColumn("dt", F.col("dt").cast("date"))
    )


def _label_counts(examples: DataFrame) -> dict[str, dict[str, int]]:
    """Positives and negatives per split, in all and of panel- and feedback-labelled pairs."""
    counts = {
        s: {
            "positives": 0,
            "negatives": 0,
            "panel_positives": 0,
            "panel_negatives": 0,
            "feedback_positives": 0,
            "feedback_negatives": 0,
        }
        for s in SPLITS
    }
    rows = examples.groupBy("split", "label", "label_source").count().collect()  # <= 18 rows
    for row in rows:
        kind = "positives" if row["label"] == 1 else "negatives"
        counts[row["split"]][kind] += row["count"]
        if row["label_source"] in ex.ALWAYS_KEPT:
            counts[row["split"]][f"{row['label_source']}_{kind}"] += row["count"]
    return counts


def _threshold_pairs(counts: dict[str, dict[str, int]], settings: AppSettings) -> tuple[str, str]:
    """Which validation pairs choose the threshold: (``panel`` or ``login``, why)."""
    cfg = settings.training
    val = counts[VALIDATION]
    if val["panel_positives"] >= cfg.min_panel_positives and (
        val["panel_negatives"] >= cfg.min_panel_negatives
    ):
        return ex.PANEL, (
            f"chosen on the held-out panelists' {val['panel_positives']} positive and "
            f"{val['panel_negatives']} negative pairs"
        )
    return ex.LOGIN, (
        f"chosen on every validation pair ({val['positives']} positives, {val['negatives']} "
        f"negatives): the held-out panelists have {val['panel_positives']} positive and "
        f"{val['panel_negatives']} negative pairs, fewer than {cfg.min_panel_positives} and "
        f"{cfg.min_panel_negatives}"
    )


def _too_few(counts: dict[str, dict[str, int]], settings: AppSettings) -> str | None:
    short = [
        f"{split}: {c['positives']} positives / {c['negatives']} negatives"
        for split, c in counts.items()
        if c["positives"] < settings.training.min_positives
        or c["negatives"] < settings.training.min_negatives
    ]
    if not short:
        return None
    return (
        f"too few labelled pairs to train (need {settings.training.min_positives} positives and "
        f"{settings.training.min_negatives} negatives per split): " + "; ".join(short)
    )


def _evaluate(
    spark: SparkSession,
    examples: DataFrame,
    *,
    booster_raw: bytes,
    feature_columns: list[str],
    threshold: float,
) -> dict[str, float]:
    scored = score_pairs(
        examples,
        booster=broadcast_booster(spark, booster_raw),
        feature_columns=feature_columns,
        keep=["label"],
    )
    return evaluate_scores(scored, threshold=threshold)


def _reweighted_choice(
    spark: SparkSession,
    settings: AppSettings,
    examples: DataFrame,
    unlabelled: DataFrame,
    *,
    booster_raw: bytes,
    feature_columns: list[str],
    num_workers: int,
    unweighted: ThresholdChoice,
) -> tuple[ThresholdChoice | None, dict[str, Any]]:
    """The threshold on the validation pairs weighted towards ``unlabelled`` (see
    ``training.reweight``), or None when the weights' effective sample size is too small to
    trust; and what was measured, for the decision record."""
    cfg = settings.training
    domain = rw.fit_domain_classifier(
        rw.domain_training_set(
            examples.where((F.col("split") == TRAIN) & (F.col("label_source") == ex.LOGIN)),
            unlabelled,
            feature_columns,
        ),
        feature_columns=feature_columns,
        num_workers=num_workers,
        seed=cfg.seed,
    )
    validation = score_pairs(
        examples.where(F.col("split") == VALIDATION),
        booster=broadcast_booster(spark, domain),
        feature_columns=feature_columns,
        keep=["label", *feature_columns],
        score_col="_p_unlabelled",
    ).withColumn(rw.ODDS_COL, rw.odds("_p_unlabelled"))
    scored = score_pairs(
        validation,
        booster=broadcast_booster(spark, booster_raw),
        feature_columns=feature_columns,
        keep=["label", rw.ODDS_COL],
    )
    weighted = rw.clip_and_normalise(scored, clip=cfg.reweight_clip).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        sizes = rw.effective_sizes(weighted)
        bins = bins_from_rows(score_histogram(weighted, weight_col=rw.WEIGHT_COL).collect())
    finally:
        weighted.unpersist()
    choice = choose_threshold(bins, target_precision=cfg.target_precision)
    record: dict[str, Any] = {
        "unlabelled": unlabelled.count(),
        "positives": sizes.positives,
        "negatives": sizes.negatives,
        "effective_positives": sizes.effective_positives,
        "effective_negatives": sizes.effective_negatives,
        "clipped": sizes.clipped,
        "unweighted_threshold": unweighted.threshold,
        "weighted_precision_at_unweighted": round(precision_at(bins, unweighted.threshold), 4),
        "weighted_threshold": choice.threshold,
        "weighted_reached": choice.reached,
    }
    trusted = (
        sizes.effective_positives >= cfg.min_effective_positives
        and sizes.effective_negatives >= cfg.min_effective_negatives
    )
    record["used"] = trusted
    if not trusted:
        record["note"] = (
            f"the reweighted validation pairs are worth only {sizes.effective_positives:.0f} "
            f"positives and {sizes.effective_negatives:.0f} negatives (need "
            f"{cfg.min_effective_positives:.0f} and {cfg.min_effective_negatives:.0f}): the "
            f"reweighted threshold {choice.threshold:.4f} is not trusted, the unweighted one "
            "stands"
        )
    log.info("reweighting: %s", record)
    return (choice if trusted else None), record


def record_decision(spark: SparkSession, lake: Lake, record: dict[str, Any]) -> None:
    """Append one JSON line to ``<lake>/training/decisions/`` (works on s3:// too).

    A failure is recorded even when Spark itself is what failed: a local lake then gets the
    line written directly; elsewhere the line is logged at ERROR (the job log keeps it).
    """
    line = json.dumps(record, sort_keys=True, default=str)
    try:
        spark.createDataFrame([(line,)], "value string").coalesce(1).write.mode("append").text(
            lake.path("training", "decisions")
        )
    except Exception:
        if not lake.is_local:
            log.error("could not record the training decision: %s", line)
            raise
        folder = Path(lake.local_path("training", "decisions"))
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-direct-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}.txt"
        (folder / name).write_text(line + "\n")


def train_and_decide(
    spark: SparkSession,
    settings: AppSettings,
    as_of: dt.date,
    *,
    examples: DataFrame,
    feature_columns: list[str],
    extra_record: dict[str, Any] | None = None,
    unlabelled: DataFrame | None = None,
) -> StageResult:
    """Fit a challenger on ``examples``, compare it with the champion, record the decision.

    Args:
        examples: ``examples.select_examples`` output (feature columns, ``split``, ``label``).
        feature_columns: the numeric columns the model uses, in order.
        extra_record: more fields for the decision record (the run id, per-snapshot counts).
        unlabelled: a sample of unlabelled candidate pairs with the same features: without a
            usable panel, the validation pairs are reweighted towards it to choose the
            threshold (``training.reweight``).
    """
    cfg = settings.training
    lake = Lake(settings.lake.root)
    examples = ex.with_label_columns(examples).persist(StorageLevel.MEMORY_AND_DISK)
    counts = _label_counts(examples)
    record: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "labels": counts,
        "promoted": False,
        **(extra_record or {}),
    }
    summary: dict[str, Any] = {
        f"{s}_pairs": counts[s]["positives"] + counts[s]["negatives"] for s in SPLITS
    } | {"train_positives": counts[TRAIN]["positives"]}
    too_few = _too_few(counts, settings)
    if too_few:
        examples.unpersist()
        record["reason"] = too_few
        record_decision(spark, lake, record)
        log.warning("%s", too_few)
        return StageResult(STAGE, summary | {"promoted": False}, skipped=True, note=too_few)

    pos_weight = scale_pos_weight(counts[TRAIN]["positives"], counts[TRAIN]["negatives"])
    workers = resolve_num_workers(spark, cfg.num_workers)
    started = time.perf_counter()
    weight = (
        F.when(F.col("label_source") == ex.PANEL, F.lit(cfg.panel_weight))
        .when(
            F.col("label_source") == ex.FEEDBACK,
            F.lit(cfg.feedback_weight) * F.coalesce(F.col("feedback_weight"), F.lit(1.0)),
        )
        .otherwise(1.0)
    )
    model = fit_classifier(
        examples.where(F.col("split") == TRAIN).withColumn("weight", weight),
        feature_columns=feature_columns,
        settings=cfg,
        num_workers=workers,
        pos_weight=pos_weight,
        weight_col="weight",
    )
    fit_seconds = time.perf_counter() - started
    booster = model.get_booster()
    booster_raw = bytes(booster.save_raw("ubj"))

    threshold_source, threshold_note = _threshold_pairs(counts, settings)
    validation_pairs = examples.where(F.col("split") == VALIDATION)

    def choose(pairs: DataFrame, z: float) -> ThresholdChoice:
        scored = score_pairs(
            pairs,
            booster=broadcast_booster(spark, booster_raw),
            feature_columns=feature_columns,
            keep=["label"],
        )
        return choose_threshold(
            bins_from_rows(score_histogram(scored).collect()),
            target_precision=cfg.target_precision,
            confidence_z=z,
        )

    choice = None
    if threshold_source == ex.PANEL:
        choice = choose(
            validation_pairs.where(F.col("label_source") == ex.PANEL), cfg.panel_confidence_z
        )
        if not choice.reached:
            threshold_source, choice = ex.LOGIN, None
            threshold_note = (
                f"{threshold_note} could not bear out precision {cfg.target_precision} at "
                f"z={cfg.panel_confidence_z} at any threshold: chosen on every validation pair"
            )
    reweighting: dict[str, Any] | None = None
    if choice is None:
        choice = choose(validation_pairs, 0.0)
        if cfg.reweight and unlabelled is not None:
            weighted, reweighting = _reweighted_choice(
                spark,
                settings,
                examples,
                unlabelled,
                booster_raw=booster_raw,
                feature_columns=feature_columns,
                num_workers=workers,
                unweighted=choice,
            )
            if weighted is not None:
                choice, threshold_source = weighted, rw.REWEIGHTED
                threshold_note = (
                    f"chosen on the validation pairs reweighted towards {reweighting['unlabelled']}"
                    f" unlabelled candidate pairs (effective "
                    f"{reweighting['effective_positives']:.0f} positives, "
                    f"{reweighting['effective_negatives']:.0f} negatives; unweighted it would "
                    f"be {reweighting['unweighted_threshold']:.4f})"
                )
            else:
                threshold_note = f"{threshold_note}; {reweighting['note']}"
    log.info("threshold %.4f (%s): %s", choice.threshold, threshold_source, threshold_note)
    test = examples.where(F.col("split") == TEST)
    challenger = _evaluate(
        spark,
        test,
        booster_raw=booster_raw,
        feature_columns=feature_columns,
        threshold=choice.threshold,
    )
    panel_test = None
    if counts[TEST]["panel_positives"] and counts[TEST]["panel_negatives"]:
        panel_test = _evaluate(
            spark,
            test.where(F.col("label_source") == ex.PANEL),
            booster_raw=booster_raw,
            feature_columns=feature_columns,
            threshold=choice.threshold,
        )

    client = registry.connect(settings)
    champion_version = registry.alias_version(client, cfg.model_name, registry.CHAMPION)
    champion_metrics = None
    if champion_version is not None:
        champ = registry.load_version(client, settings, champion_version)
        if set(champ.feature_columns) <= set(examples.columns):
            champion_metrics = _evaluate(
                spark,
                test,
                booster_raw=bytes(champ.booster.save_raw("ubj")),
                feature_columns=champ.feature_columns,
                threshold=champ.threshold,
            )
        else:
            log.warning("champion v%s needs features no longer built", champ.version)
    decision = registry.decide(challenger, champion_metrics, cfg)
    if champion_version is not None and champion_metrics is None and decision.promoted:
        decision.reason += " (champion could not be scored on today's features)"

    params = {
        "as_of": as_of.isoformat(),
        "num_workers": workers,
        "scale_pos_weight": round(pos_weight, 4),
        "n_estimators": cfg.n_estimators,
        "max_depth": cfg.max_depth,
        "learning_rate": cfg.learning_rate,
        "target_precision": cfg.target_precision,
        "history_days": cfg.history_days,
        "feature_count": len(feature_columns),
        "excluded_features": ",".join(cfg.excluded_features),
        "monotone": cfg.monotone,
        "panel_weight": cfg.panel_weight,
        "threshold_source": threshold_source,
    }
    if reweighting is not None:
        params |= {
            "threshold_effective_positives": reweighting["effective_positives"],
            "threshold_effective_negatives": reweighting["effective_negatives"],
        }
    version = _log_run(
        client,
        settings,
        booster=booster,
        params=params,
        feature_columns=feature_columns,
        threshold=choice.threshold,
        validation_precision=choice.precision,
        validation_recall=choice.recall,
        counts=counts,
        decision=decision,
        champion_version=None if champion_version is None else str(champion_version.version),
        fit_seconds=fit_seconds,
    )
    examples.unpersist()
    record |= {
        "promoted": decision.promoted,
        "reason": decision.reason,
        "model_version": version,
        "champion_version": None if champion_version is None else str(champion_version.version),
        "threshold": choice.threshold,
        "threshold_reached_on_validation": choice.reached,
        "threshold_source": threshold_source,
        "threshold_note": threshold_note,
        "reweighting": reweighting,
        "challenger": challenger,
        "challenger_on_panel_test": panel_test,
        "champion": champion_metrics,
        "fit_seconds": round(fit_seconds, 1),
    }
    record_decision(spark, lake, record)
    log.info(
        "model v%s: %s (%s)",
        version,
        "PROMOTED" if decision.promoted else "kept as challenger",
        decision.reason,
    )
    return StageResult(
        STAGE,
        summary
        | {
            "model_version": version,
            "threshold": round(choice.threshold, 4),
            "threshold_from": threshold_source,
            "panel_test_precision": None
            if panel_test is None
            else round(panel_test["precision"], 4),
            "panel_test_recall": None if panel_test is None else round(panel_test["recall"], 4),
            "test_pr_auc": round(challenger["pr_auc"], 4),
            "test_precision": round(challenger["precision"], 4),
            "test_recall": round(challenger["recall"], 4),
            "champion_pr_auc": None
            if champion_metrics is None
            else round(champion_metrics["pr_auc"], 4),
            "promoted": decision.promoted,
            "decision": decision.reason,
            "fit_seconds": round(fit_seconds, 1),
        },
    )


def _log_run(
    client: Any,
    settings: AppSettings,
    *,
    booster: Any,
    params: dict[str, Any],
    feature_columns: list[str],
    threshold: float,
    validation_precision: float,
    validation_recall: float,
    counts: dict[str, dict[str, int]],
    decision: registry.Decision,
    champion_version: str | None,
    fit_seconds: float,
) -> str:
    """Log the run, register the booster as a new version, set the aliases; return version."""
    import mlflow
    import mlflow.xgboost

    cfg = settings.training
    metrics: dict[str, float] = {
        "threshold": threshold,
        "validation_precision": validation_precision,
        "validation_recall": validation_recall,
        "fit_seconds": fit_seconds,
    }
    metrics |= {f"challenger_{k}": float(v) for k, v in decision.challenger.items()}
    metrics |= {f"champion_{k}": float(v) for k, v in (decision.champion or {}).items()}
    for split, c in counts.items():
        metrics |= {f"{split}_{k}": float(v) for k, v in c.items()}
    with mlflow.start_run(experiment_id=registry.experiment_id(client, settings)):
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tags(
            {
                "decision": "promoted" if decision.promoted else "not promoted",
                "decision_reason": decision.reason,
                "champion_version_before": champion_version or "none",
                "threshold_source": str(params.get("threshold_source", "")),
            }
        )
        mlflow.log_dict(
            {"feature_columns": feature_columns, "threshold": threshold}, "model_meta.json"
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "booster.ubj"
            booster.save_model(str(path))
            mlflow.log_artifact(str(path), artifact_path="booster")
        info = mlflow.xgboost.log_model(
            booster,
            name="model",
            model_format="ubj",
            registered_model_name=cfg.model_name,
            pip_requirements=["xgboost-cpu==3.2.0"],  # skip slow requirement inference
            metadata={"threshold": threshold, "feature_columns": feature_columns},
        )
    version = str(info.registered_model_version)
    tags = {
        "threshold": repr(threshold),
        "feature_columns": json.dumps(feature_columns),
        "as_of": params["as_of"],
        "decision": decision.reason,
    }
    for key, value in tags.items():
        client.set_model_version_tag(cfg.model_name, version, key, value)
    registry.set_alias(client, cfg.model_name, registry.CHALLENGER, version)
    if decision.promoted:
        registry.set_alias(client, cfg.model_name, registry.CHAMPION, version)
    return version


class TrainingFailed(StageFailed):
    """Training stopped; ``str()`` is one readable line (what failed, what to change)."""


def new_run_id(as_of: dt.date) -> str:
    """A training run's id: the UTC start time, then the as-of day (sorts by start)."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}_as-of-{as_of.isoformat()}"


def build_snapshot_examples(
    spark: SparkSession,
    lake: Lake,
    *,
    run: str,
    days: Sequence[dt.date],
    max_examples: int,
    build_features: ex.FeatureBuilder,
    panel: DataFrame | None = None,
    feedback: DataFrame | None = None,
    on_snapshot: Callable[[int, int, dt.date, dict[str, int]], None] | None = None,
    unlabelled_days: Sequence[dt.date] = (),
    max_unlabelled: int = 0,
) -> dict[str, dict[str, int]]:
    """Write each snapshot's labelled, sampled, featurised pairs to the run's table.

    One snapshot at a time, each its own Spark jobs over that day's partitions only.

    Args:
        panel: the consented panel's cookies (``read_panel``), or None.
        feedback: the verdicts as labels (``feedback_labels``), or None.
        unlabelled_days: the snapshots that also write a sample of about ``max_unlabelled``
            unlabelled candidate pairs (``examples.unlabelled_path``), for the reweighting.

    Returns:
        Per snapshot day (ISO): ``labelled`` (before sampling; ``panel_labelled`` of them by
        the panel, ``feedback_labelled`` by a verdict), ``positives`` and ``negatives``
        written, and ``unlabelled`` sampled.
    """
    counts: dict[str, dict[str, int]] = {}
    for i, day in enumerate(days):
        pairs = read_partition(spark, lake, "candidate_pairs", day)
        features = read_partition(spark, lake, "cookie_features", day)
        labelled = ex.labelled_candidates(pairs, features, panel, feedback).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        row = labelled.agg(
            F.count(F.lit(1)).alias("all"),
            F.count(F.when(F.col("label_source") == ex.PANEL, 1)).alias("panel"),
            F.count(F.when(F.col("label_source") == ex.FEEDBACK, 1)).alias("feedback"),
        ).first()
        assert row is not None
        total, by_panel, by_feedback = int(row["all"]), int(row["panel"]), int(row["feedback"])
        fraction = ex.sample_fraction(total - by_panel - by_feedback, max_examples)
        ex.write_snapshot(
            ex.snapshot_examples(
                ex.sample_pairs(labelled, fraction), features, build_features=build_features
            ),
            lake,
            run,
            day,
        )
        labelled.unpersist()
        written = ex.snapshot_counts(spark.read.parquet(ex.snapshot_path(lake, run, day)))
        unlabelled = 0
        if max_unlabelled and day in unlabelled_days:
            unlabelled = _write_unlabelled(
                spark,
                lake,
                run=run,
                day=day,
                pairs=pairs,
                features=features,
                panel=panel,
                feedback=feedback,
                labelled=total,
                cap=max_unlabelled,
                build_features=build_features,
            )
        counts[day.isoformat()] = {
            "labelled": total,
            "panel_labelled": by_panel,
            "feedback_labelled": by_feedback,
            **written,
            "unlabelled": unlabelled,
        }
        log.info(
            "snapshot %d/%d %s: %d labelled pairs (%d by the panel, %d by feedback), %d written "
            "(%d positives, %d negatives)%s",
            i + 1,
            len(days),
            day,
            total,
            by_panel,
            by_feedback,
            written["positives"] + written["negatives"],
            written["positives"],
            written["negatives"],
            "" if fraction >= 1.0 else f", sampled {fraction:.3f}",
        )
        if on_snapshot is not None:
            on_snapshot(i, len(days), day, counts[day.isoformat()])
    return counts


def _write_unlabelled(
    spark: SparkSession,
    lake: Lake,
    *,
    run: str,
    day: dt.date,
    pairs: DataFrame,
    features: DataFrame,
    panel: DataFrame | None,
    feedback: DataFrame | None,
    labelled: int,
    cap: int,
    build_features: ex.FeatureBuilder,
) -> int:
    """Write a pair-hash sample of about ``cap`` of the day's unlabelled candidate pairs,
    with their features; return how many were written."""
    fraction = ex.sample_fraction(max(0, pairs.count() - labelled), cap)
    sample = ex.unlabelled_candidates(pairs, features, panel, feedback)
    if fraction < 1.0:
        sample = sample.where(ex.pair_unit() < F.lit(fraction))
    path = ex.unlabelled_path(lake, run, day)
    ex.snapshot_examples(sample, features, build_features=build_features).write.mode(
        "overwrite"
    ).parquet(path)
    return spark.read.parquet(path).count()


def _prune_runs(spark: SparkSession, lake: Lake, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` runs' examples; return the deleted run ids."""
    runs = [n for n in list_children(spark, lake.table(ex.EXAMPLES_TABLE)) if n.startswith("run=")]
    doomed = runs[: max(0, len(runs) - keep)]
    for name in doomed:
        delete_path(spark, lake.path(ex.EXAMPLES_TABLE, name))
        delete_path(spark, lake.path(ex.UNLABELLED_TABLE, name))
    return [name.removeprefix("run=") for name in doomed]


def run_training(
    spark: SparkSession,
    settings: AppSettings,
    as_of: dt.date,
    *,
    on_snapshot: Callable[[int, int, dt.date, dict[str, int]], None] | None = None,
) -> StageResult:
    """Train a challenger on the history up to ``as_of`` and decide on its promotion.

    Args:
        on_snapshot: called with (index, snapshots, day, counts) after each snapshot's
            examples are written (progress display).

    Raises:
        TrainingFailed: anything went wrong (out of memory, unreadable input, …); the failure
            is recorded in ``training/decisions`` first, and the message is one line naming
            what ran out and the setting to raise.
    """
    run = new_run_id(as_of)
    try:
        return _run_training(spark, settings, as_of, run=run, on_snapshot=on_snapshot)
    except Exception as exc:
        line = explain_failure(exc, settings)
        log.error("%s", line)
        record = {"as_of": as_of.isoformat(), "run": run, "promoted": False, "failed": True}
        record_decision(spark, Lake(settings.lake.root), record | {"reason": line})
        raise TrainingFailed(STAGE, line) from exc


def _run_training(
    spark: SparkSession,
    settings: AppSettings,
    as_of: dt.date,
    *,
    run: str,
    on_snapshot: Callable[[int, int, dt.date, dict[str, int]], None] | None,
) -> StageResult:
    cfg = settings.training
    lake = Lake(settings.lake.root)
    available = set(list_partitions(spark, lake, "candidate_pairs")) & set(
        list_partitions(spark, lake, "cookie_features")
    )
    days = select_days(
        sorted(available),
        as_of=as_of,
        history_days=cfg.history_days,
        max_days=cfg.max_training_days,
    )
    if not days:
        note = f"no candidate_pairs + cookie_features snapshots up to {as_of}: nothing to train on"
        return StageResult(STAGE, {"snapshots": 0}, skipped=True, note=note)
    log.info("training run %s on %d snapshots %s..%s", run, len(days), days[0], days[-1])
    panel = read_panel(spark, lake, as_of).persist(StorageLevel.MEMORY_AND_DISK)
    panel_row = panel.agg(
        F.count(F.lit(1)).alias("cookies"), F.countDistinct("panel_id").alias("panelists")
    ).first()
    assert panel_row is not None
    panel_cookies, panelists = int(panel_row["cookies"]), int(panel_row["panelists"])
    log.info("panel: %d cookies of %d panelists", panel_cookies, panelists)
    verdicts = feedback_labels(
        spark, lake, as_of, max_share_per_key=settings.graph.feedback_max_share_per_key
    ).persist(StorageLevel.MEMORY_AND_DISK)
    verdict_row = verdicts.agg(
        F.count(F.lit(1)).alias("n"),
        F.count(F.when(F.col("label") == 1, 1)).alias("same"),
        F.sum("weight").alias("weight"),
    ).first()
    assert verdict_row is not None
    feedback_record = {
        "verdicts": int(verdict_row["n"]),
        "same_person": int(verdict_row["same"]),
        "different_people": int(verdict_row["n"]) - int(verdict_row["same"]),
        "weight": round(float(verdict_row["weight"] or 0.0), 3),
    }
    log.info("feedback: %s", feedback_record)
    per_snapshot = build_snapshot_examples(
        spark,
        lake,
        run=run,
        days=days,
        max_examples=cfg.max_examples_per_snapshot,
        build_features=build_pair_features,
        panel=panel if panel_cookies else None,
        feedback=verdicts if feedback_record["verdicts"] else None,
        on_snapshot=on_snapshot,
        unlabelled_days=days[-cfg.reweight_snapshots :] if cfg.reweight else (),
        max_unlabelled=cfg.unlabelled_per_snapshot,
    )
    panel.unpersist()
    verdicts.unpersist()
    feedback_record["labelled"] = sum(c["feedback_labelled"] for c in per_snapshot.values())
    sampled = sum(c["unlabelled"] for c in per_snapshot.values())
    table = ex.read_run(spark, lake, run)
    per_day = {
        r["first_seen"]: (int(r["positives"]), int(r["negatives"]))
        # one row per day at most
        for r in first_seen_counts(
            # the time split is the login pairs' (panel pairs split by panelist)
            table.where(F.col("label_source") == ex.LOGIN).select(
                *PAIR_KEYS, "label", F.col("snapshot").alias("dt")
            )
        ).collect()
    }
    dates = widen_for_labels(
        SplitDates.ending(
            as_of,
            test_days=cfg.test_days,
            validation_days=cfg.validation_days,
            first_day=days[0],
        ),
        per_day,
        first_day=days[0],
        min_positives=cfg.min_positives,
        min_negatives=cfg.min_negatives,
    )
    log.info("split: validation from %s, test from %s", dates.validation_start, dates.test_start)
    result = train_and_decide(
        spark,
        settings,
        as_of,
        examples=ex.select_examples(
            table,
            dates=dates,
            panel_validation_share=cfg.panel_validation_share,
            panel_test_share=cfg.panel_test_share,
        ),
        feature_columns=model_features(cfg.excluded_features),
        unlabelled=ex.read_unlabelled(spark, lake, run) if sampled else None,
        extra_record={
            "run": run,
            "snapshots": per_snapshot,
            "panel": {"cookies": panel_cookies, "panelists": panelists},
            "feedback": feedback_record,
        },
    )
    pruned = _prune_runs(spark, lake, cfg.keep_example_runs)
    if pruned:
        log.info("deleted the examples of %d older training run(s)", len(pruned))
    result.summary = {
        "run": run,
        "snapshots": len(days),
        "panelists": panelists,
        "feedback_verdicts": feedback_record["verdicts"],
        "examples_written": sum(c["positives"] + c["negatives"] for c in per_snapshot.values()),
        "validation_from": dates.validation_start.isoformat(),
        "test_from": dates.test_start.isoformat(),
    } | result.summary
    return result
