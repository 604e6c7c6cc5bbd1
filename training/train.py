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
from functools import reduce
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from idgraph.settings import AppSettings
from spark_jobs.common.io import list_partitions
from spark_jobs.common.paths import Lake
from spark_jobs.common.schemas import PAIR_KEYS
from spark_jobs.common.stage import StageResult
from spark_jobs.pair_scoring.scoring import broadcast_booster, score_pairs
from training import registry
from training.dataset import (
    SPLITS,
    TEST,
    TRAIN,
    VALIDATION,
    SplitDates,
    first_seen_counts,
    label_pairs,
    select_days,
    split_by_first_seen,
    widen_for_labels,
)
from training.metrics import bins_from_rows, choose_threshold, evaluate_scores, score_histogram
from training.model import fit_classifier, resolve_num_workers, scale_pos_weight

log = logging.getLogger(__name__)

STAGE = "train"
FeatureBuilder = Callable[[DataFrame, DataFrame], DataFrame]


def training_examples(
    labelled: DataFrame,
    features: DataFrame,
    *,
    dates: SplitDates,
    days: Sequence[dt.date],
    build_features: FeatureBuilder,
) -> DataFrame:
    """Labelled, split, featurised training examples: one row per labelled candidate pair.

    Args:
        labelled: ``label_pairs`` output: candidate pairs of several days with ``dt``.
        features: cookie features of the same days, with ``dt``.
        dates: split boundaries.
        days: the snapshot days present in ``pairs``.
        build_features: ``(pairs, cookie_features) -> pair features`` (keeps ``PAIR_KEYS``).

    Returns:
        ``PAIR_KEYS``, the feature columns, ``split``, ``label`` and ``snapshot``.
    """
    chosen = split_by_first_seen(labelled, dates=dates)
    parts = []
    for day in days:  # features of a pair come from its own snapshot day
        todays = chosen.where(F.col("snapshot") == F.lit(day))
        built = build_features(
            todays.select(*PAIR_KEYS), features.where(F.col("dt") == F.lit(day)).drop("dt")
        )
        parts.append(built.join(todays.select(*PAIR_KEYS, "split", "label", "snapshot"), PAIR_KEYS))
    return reduce(DataFrame.unionByName, parts)


def _read_days(spark: SparkSession, lake: Lake, table: str, days: Sequence[dt.date]) -> DataFrame:
    return (
        spark.read.option("basePath", lake.table(table))
        .parquet(*[lake.partition(table, d) for d in days])
        .withColumn("dt", F.col("dt").cast("date"))
    )


def _label_counts(examples: DataFrame) -> dict[str, dict[str, int]]:
    counts = {s: {"positives": 0, "negatives": 0} for s in SPLITS}
    for row in examples.groupBy("split", "label").count().collect():  # at most 6 rows
        counts[row["split"]]["positives" if row["label"] == 1 else "negatives"] = row["count"]
    return counts


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


def record_decision(spark: SparkSession, lake: Lake, record: dict[str, Any]) -> None:
    """Append one JSON line to ``<lake>/training/decisions/`` (works on s3:// too)."""
    line = json.dumps(record, sort_keys=True, default=str)
    spark.createDataFrame([(line,)], "value string").coalesce(1).write.mode("append").text(
        lake.path("training", "decisions")
    )


def train_and_decide(
    spark: SparkSession,
    settings: AppSettings,
    as_of: dt.date,
    *,
    examples: DataFrame,
    feature_columns: list[str],
) -> StageResult:
    """Fit a challenger on ``examples``, compare it with the champion, record the decision.

    Args:
        examples: ``training_examples`` output (feature columns, ``split``, ``label``).
        feature_columns: the numeric columns the model uses, in order.
    """
    cfg = settings.training
    lake = Lake(settings.lake.root)
    examples = examples.persist(StorageLevel.MEMORY_AND_DISK)
    counts = _label_counts(examples)
    record: dict[str, Any] = {"as_of": as_of.isoformat(), "labels": counts, "promoted": False}
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
    model = fit_classifier(
        examples.where(F.col("split") == TRAIN),
        feature_columns=feature_columns,
        settings=cfg,
        num_workers=workers,
        pos_weight=pos_weight,
    )
    fit_seconds = time.perf_counter() - started
    booster = model.get_booster()
    booster_raw = bytes(booster.save_raw("ubj"))

    validation = score_pairs(
        examples.where(F.col("split") == VALIDATION),
        booster=broadcast_booster(spark, booster_raw),
        feature_columns=feature_columns,
        keep=["label"],
    )
    choice = choose_threshold(
        bins_from_rows(score_histogram(validation).collect()),
        target_precision=cfg.target_precision,
    )
    test = examples.where(F.col("split") == TEST)
    challenger = _evaluate(
        spark,
        test,
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
        "challenger": challenger,
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


def run_training(spark: SparkSession, settings: AppSettings, as_of: dt.date) -> StageResult:
    """Train a challenger on the history up to ``as_of`` and decide on its promotion."""
    from spark_jobs.pair_scoring.pair_features import build_pair_features, model_features

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
    log.info("training on %d snapshots %s..%s", len(days), days[0], days[-1])
    features = _read_days(spark, lake, "cookie_features", days)
    labelled = label_pairs(_read_days(spark, lake, "candidate_pairs", days), features).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    per_day = {
        r["first_seen"]: (int(r["positives"]), int(r["negatives"]))
        for r in first_seen_counts(labelled).collect()  # one row per day at most
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
    examples = training_examples(
        labelled, features, dates=dates, days=days, build_features=build_pair_features
    )
    result = train_and_decide(
        spark,
        settings,
        as_of,
        examples=examples,
        feature_columns=model_features(cfg.excluded_features),
    )
    labelled.unpersist()
    result.summary = {
        "snapshots": len(days),
        "validation_from": dates.validation_start.isoformat(),
        "test_from": dates.test_start.isoformat(),
    } | result.summary
    return result


def main(argv: list[str] | None = None) -> None:
    """spark-submit entry point: ``--lake LAKE --as-of YYYY-MM-DD``."""
    from idgraph.pipeline import stage_main

    stage_main(
        run_training, argv, description=__doc__.splitlines()[0], date_flags=("--as-of", "--date")
    )


if __name__ == "__main__":
    main()
