"""Hidden logins: what the graph makes of people whose logins it never sees.

Without a truth set, login hashes are the only "people" known, and they are exactly what the
graph links deterministically. So hide them: pick a seeded share of the logged-in people
(login hashes), rebuild the day as if those logins had never been sent, and ask how many of
their same-login cookie pairs the rebuilt graph still links, and what else it joins to them.
It runs on any lake, production included (``idgraph evaluate --hide-logins 0.2 --seed S``).

Protocol (docs/evaluation.md has the operator's version):

1. **Who is hidden.** A login hash is hidden when ``hide_score`` (the first 52 bits of
   SHA-256 of a seeded key and the hash, as a number in [0, 1)) is below the share, and it is
   not generic (``graph.generic_logins`` on the day's cookie features: a placeholder account
   is nobody). The choice is a pure function of (seed, hash): reproducible, independent of
   data order and partitioning, and the same hash is hidden on every day.
2. **Hide it everywhere.** A work lake gets the window's visits (``etl.feature_window_days``
   ending at D) with every hidden login hash nulled, event by event: a cookie that carried
   only hidden logins becomes anonymous, one that also carried a visible login keeps that one.
   Opted-out cookies (by cookie, or by any login of theirs) are dropped from the copy, as the
   features stage drops them, since a nulled login could no longer match its opt-out.
   Earlier days' ``session_pairs`` are copied (session evidence reads no login); everything
   else is rebuilt from the work visits: every daily aggregate of the window, D's cookie
   features, session pairs and candidates, scoring, the graph.
3. **Same model, same settings.** Scoring loads the lake's champion through the original
   registry (the work lake's settings point at it); nothing is trained, so no label sees the
   hidden logins either. The work lake sends no health metrics.
4. **Figures**, over the original day's cookies with their original login (the latest in the
   window, ``cookie_features.login_hash``, the one the graph's deterministic edges use;
   generic logins count as none): ``hidden_pairs`` are the pairs of cookies with the same
   hidden login, ``linked_pairs`` those the rebuilt graph puts in one component
   (``recovery``); ``precision`` is, among the rebuilt graph's pairs of two cookies with a
   known login at least one of which is hidden, the share with the same login;
   ``foreign_cookies`` counts, per hidden person and component of theirs, the cookies there
   with another known login. The original graph's figures are given beside them, and with a
   truth set the truth precision of every rebuilt link that involves a hidden cookie.

All figures are cluster-size sums (no pair is enumerated); the only driver collects are
one-row aggregates.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from idgraph.core.lake import Lake
from idgraph.core.model_registry import artifact_location, load_champion, tracking_uri
from idgraph.core.settings import AppSettings
from idgraph.core.stage import StageResult
from spark_jobs.common.io import (
    delete_path,
    list_partitions,
    partition_exists,
    path_exists,
    read_partition,
    read_range,
)
from spark_jobs.common.optouts import read_optouts
from spark_jobs.etl.features_job import run_features
from spark_jobs.graph.edges import generic_logins
from spark_jobs.graph.job import run_graph
from spark_jobs.pair_scoring.candidates_job import run_candidates
from spark_jobs.pair_scoring.scoring_job import run_scoring
from training.metrics import c2

log = logging.getLogger(__name__)

HIDE_KEY = "idgraph/hide-logins/v1"
KEYS = ["site_id", "cookie_id"]
# The daily stages the rebuild runs in the work lake, in order (the ETL's output is the copy).
REBUILD_STAGES: tuple[tuple[str, Callable[..., StageResult]], ...] = (
    ("features", run_features),
    ("candidates", run_candidates),
    ("scoring", run_scoring),
    ("graph", run_graph),
)
WORK_MARKER = "_hidden_logins_work_lake"  # a work lake's mark: only such a root is replaced
_GENERIC_COLUMNS = ("site_id", "cookie_id", "login_hash", "device_type", "os_family", "ua_family")


def hide_score(login: Column, *, seed: int) -> Column:
    """A login hash's place in [0, 1) under ``seed``: 52 bits of SHA-256(key, seed, hash)."""
    digest = F.sha2(F.concat(F.lit(f"{HIDE_KEY}/{seed}/"), login), 256)
    return F.conv(F.substring(digest, 1, 13), 16, 10).cast("double") / float(16**13)


def is_hidden(login: Column, *, seed: int, share: float) -> Column:
    """True for a (non-null) login hash the seed hides at this share; generic ones aside."""
    return login.isNotNull() & (hide_score(login, seed=seed) < F.lit(float(share)))


def generic_hashes(features: DataFrame, settings: AppSettings) -> DataFrame:
    """The day's generic login hashes (``login_hash``), as the graph stage finds them."""
    gs = settings.graph
    return generic_logins(
        features.select(*_GENERIC_COLUMNS),
        max_cookies=gs.generic_login_max_cookies,
        max_devices=gs.generic_login_max_devices,
    ).select("login_hash")


def hide_visits(
    visits: DataFrame, *, generic: DataFrame, optouts: DataFrame, seed: int, share: float
) -> DataFrame:
    """``visits`` with every hidden login hash nulled and opted-out cookies dropped.

    Args:
        visits: visits rows (any days), ``VISITS`` columns plus any partition column.
        generic: ``login_hash`` of the generic logins (never hidden; small, broadcast).
        optouts: the ``optouts`` table (small, broadcast).
    """
    out_logins = optouts.where(F.col("kind") == "login_hash").select("login_hash").distinct()
    out_cookies = (
        visits.join(F.broadcast(out_logins), "login_hash")
        .select(*KEYS)
        .unionByName(optouts.where(F.col("kind") == "cookie").select(*KEYS))
        .distinct()
    )
    kept = visits.join(F.broadcast(out_cookies), KEYS, "left_anti")
    flagged = kept.join(
        F.broadcast(generic.select("login_hash", F.lit(True).alias("_generic")).distinct()),
        "login_hash",
        "left",
    )
    hide = is_hidden(F.col("login_hash"), seed=seed, share=share) & F.col("_generic").isNull()
    return flagged.select(
        *(
            F.when(hide, F.lit(None).cast("string")).otherwise(F.col(c)).alias(c)
            if c == "login_hash"
            else F.col(c)
            for c in visits.columns
        )
    )


def login_cookies(features: DataFrame, *, generic: DataFrame, seed: int, share: float) -> DataFrame:
    """One row per cookie: ``site_id``, ``cookie_id``, ``key``, ``login`` (its known login:
    null when it has none or a generic one) and ``hidden``."""
    known = features.select(*KEYS, "login_hash").join(
        F.broadcast(generic.select("login_hash", F.lit(True).alias("_generic")).distinct()),
        "login_hash",
        "left",
    )
    login = F.when(F.col("_generic").isNull(), F.col("login_hash"))
    return known.select(
        *KEYS,
        F.concat_ws("\u0001", *KEYS).alias("key"),
        login.alias("login"),
        F.coalesce(is_hidden(login, seed=seed, share=share), F.lit(False)).alias("hidden"),
    )


def _clustered(cookies: DataFrame, cluster: Column) -> DataFrame:
    return cookies.withColumn(
        "cluster",
        F.coalesce(cluster.cast("string"), F.concat(F.lit("\u0000singleton:"), F.col("key"))),
    )


def _share(a: int, b: int) -> float | None:
    return a / b if b else None


def hidden_figures(cookies: DataFrame, *, cluster: Column) -> dict[str, Any]:
    """Login-based figures of a clustering for the hidden people (see the module docstring).

    Args:
        cookies: ``login_cookies`` rows (``key``, ``login``, ``hidden``).
        cluster: each cookie's component; null is a singleton.
    """
    df = _clustered(cookies, cluster)
    known, hidden = F.col("login").isNotNull(), F.col("hidden")
    by_cluster = df.groupBy("cluster").agg(
        F.count(F.when(known, 1)).alias("k"), F.count(F.when(hidden, 1)).alias("h")
    )
    parts = (
        df.where(hidden)
        .groupBy("cluster", "login")
        .agg(F.count(F.lit(1)).alias("n"))
        .join(by_cluster, "cluster")
    )
    people = parts.groupBy("login").agg(
        F.sum("n").alias("cookies"),
        F.count(F.lit(1)).alias("parts"),
        F.sum(c2(F.col("n"))).alias("linked"),
        F.sum(F.col("k") - F.col("n")).alias("foreign"),
    )
    row = (
        people.agg(
            F.count(F.lit(1)).alias("hidden_logins"),
            F.sum("cookies").alias("hidden_cookies"),
            F.sum(c2(F.col("cookies"))).alias("hidden_pairs"),
            F.sum("linked").alias("linked_pairs"),
            F.sum("foreign").alias("foreign_cookies"),
            F.count(F.when(F.col("foreign") > 0, 1)).alias("people_with_foreign"),
            F.count(F.when(F.col("cookies") >= 2, 1)).alias("people_with_pairs"),
            F.count(F.when((F.col("cookies") >= 2) & (F.col("parts") == 1), 1)).alias(
                "people_whole"
            ),
        )
        .crossJoin(
            by_cluster.agg(
                F.sum(c2(F.col("k")) - c2(F.col("k") - F.col("h"))).alias("predicted_pairs")
            )
        )
        .first()
    )
    assert row is not None
    f = {k: int(v or 0) for k, v in row.asDict().items()}
    return f | {
        "recovery": _share(f["linked_pairs"], f["hidden_pairs"]),
        "precision": _share(f["linked_pairs"], f["predicted_pairs"]),
        "people_whole_share": _share(f["people_whole"], f["people_with_pairs"]),
    }


def truth_figures(cookies: DataFrame, *, cluster: Column) -> dict[str, Any]:
    """Truth precision of every link involving a hidden cookie, and the share of hidden
    cookies linked to another cookie of their person. ``cookies``: ``login_cookies`` rows with
    ``person_id``, shared-device cookies already left out."""
    df = _clustered(cookies, cluster)
    h = F.count(F.when(F.col("hidden"), 1)).alias("h")
    n = F.count(F.lit(1)).alias("n")
    touching = c2(F.col("n")) - c2(F.col("n") - F.col("h"))
    row = (
        df.groupBy("cluster")
        .agg(n, h)
        .agg(F.sum(touching).alias("links"))
        .crossJoin(
            df.groupBy("cluster", "person_id")
            .agg(n, h)
            .agg(
                F.sum(touching).alias("correct"),
                F.sum(F.when(F.col("n") >= 2, F.col("h"))).alias("reached"),
                F.sum("h").alias("hidden_cookies"),
            )
        )
        .first()
    )
    assert row is not None
    f = {k: int(v or 0) for k, v in row.asDict().items()}
    return {
        "hidden_cookie_links": f["links"],
        "correct_links": f["correct"],
        "precision": _share(f["correct"], f["links"]),
        "hidden_cookies": f["hidden_cookies"],
        "hidden_cookies_linked_to_own_person": f["reached"],
        "reach": _share(f["reached"], f["hidden_cookies"]),
    }


def work_settings(settings: AppSettings, work_root: str, *, pin_registry: bool) -> AppSettings:
    """The rebuild's settings: the work lake as root, the original model registry (when it
    holds a champion), no health metrics; every other setting as given."""
    update: dict[str, Any] = {
        "lake": settings.lake.model_copy(update={"root": work_root}),
        "aws": settings.aws.model_copy(update={"metrics_namespace": None}),
    }
    if pin_registry:
        update["training"] = settings.training.model_copy(
            update={
                "tracking_uri": tracking_uri(settings),
                "artifact_location": artifact_location(settings),
            }
        )
    return settings.model_copy(update=update)


def _write_days(df: DataFrame, work: Lake, table: str) -> None:
    """Write rows of several days (``dt`` column) as ``table``'s partitions in the work lake."""
    (
        df.withColumn("dt", F.col("dt").cast("string"))
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy("dt")
        .parquet(work.table(table))
    )


def write_work_lake(
    spark: SparkSession,
    settings: AppSettings,
    work: Lake,
    day: dt.date,
    *,
    generic: DataFrame,
    seed: int,
    share: float,
) -> dict[str, int]:
    """The work lake's inputs: the window's visits without the hidden logins, and the earlier
    days' session pairs. Returns the days written."""
    lake = Lake(settings.lake.root)
    start = day - dt.timedelta(days=settings.etl.feature_window_days - 1)
    visits = read_range(spark, lake, "visits", start, day)
    _write_days(
        hide_visits(
            visits, generic=generic, optouts=read_optouts(spark, lake), seed=seed, share=share
        ),
        work,
        "visits",
    )
    if day > start:
        try:
            sessions = read_range(spark, lake, "session_pairs", start, day - dt.timedelta(days=1))
        except FileNotFoundError:
            sessions = None  # the candidates stage builds them from the work visits
        if sessions is not None:
            _write_days(sessions, work, "session_pairs")
    return {
        "visit_days": len(list_partitions(spark, work, "visits")),
        "session_days_copied": len(list_partitions(spark, work, "session_pairs")),
    }


def rebuild(
    spark: SparkSession,
    settings: AppSettings,
    day: dt.date,
    *,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run ``REBUILD_STAGES`` for ``day`` in the lake of ``settings``; their summaries.

    Raises:
        StageFailed: from the first stage that fails.
    """
    summaries: dict[str, dict[str, Any]] = {}
    for name, run in REBUILD_STAGES:
        if on_stage is not None:
            on_stage(name)
        started = time.perf_counter()
        result = run(spark, settings, day)
        seconds = round(time.perf_counter() - started, 1)
        summaries[name] = dict(result.summary) | {"seconds": seconds}
        log.info("hidden logins: rebuilt %s for %s: %s", name, day, result.summary)
    return summaries


def _day_model_version(spark: SparkSession, lake: Lake, day: dt.date) -> str | None:
    """The model that scored the day in the original lake (its health row), if known."""
    if not partition_exists(spark, lake, "health", day):
        return None
    row = read_partition(spark, lake, "health", day).first()
    version = None if row is None else row.asDict().get("model_version")
    return None if version is None else str(version)


def default_work_root(settings: AppSettings, day: dt.date, seed: int) -> str:
    """Where the rebuild writes unless told otherwise: a prefix under the lake's root that no
    daily stage reads."""
    return Lake(settings.lake.root).path("_evaluation", f"hidden-logins-{day}-seed-{seed}")


def run_hidden_logins(
    spark: SparkSession,
    settings: AppSettings,
    day: dt.date,
    *,
    share: float,
    seed: int,
    work_root: str | None = None,
    keep: bool = False,
    on_step: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Hide the logins of a seeded ``share`` of the logged-in people, rebuild ``day`` in a
    work lake with the same champion and settings, and measure (see the module docstring).

    Args:
        share: share of the (non-generic) login hashes to hide, in (0, 1).
        seed: picks the hidden logins.
        work_root: the work lake (default ``default_work_root``); replaced if it exists.
        keep: keep the work lake afterwards (it is deleted otherwise).
        on_step: progress callback ``(step, done, total)``.

    Raises:
        ValueError: on a share outside (0, 1).
        FileNotFoundError: without the day's cookie features or visits.
        StageFailed: when a rebuilt stage fails.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"--hide-logins must be a share in (0, 1), got {share}")
    started = time.perf_counter()
    lake = Lake(settings.lake.root)
    if not partition_exists(spark, lake, "cookie_features", day):
        raise FileNotFoundError(f"hidden logins need {lake.partition('cookie_features', day)}")
    work = Lake(work_root or default_work_root(settings, day, seed))
    if f"{lake.root.rstrip('/')}/".startswith(f"{work.root.rstrip('/')}/"):
        raise ValueError(f"the work lake {work.root} must not hold the lake {lake.root}")
    if path_exists(spark, work.root) and not path_exists(spark, work.path(WORK_MARKER)):
        raise ValueError(f"{work.root} exists and is not a work lake of a previous run")
    steps = ["hide logins", *(name for name, _ in REBUILD_STAGES), "figures"]

    def step(name: str) -> None:
        if on_step is not None:
            on_step(name, steps.index(name), len(steps))

    features = read_partition(spark, lake, "cookie_features", day).localCheckpoint()
    generic = generic_hashes(features, settings).localCheckpoint()
    cookies = login_cookies(features, generic=generic, seed=seed, share=share).localCheckpoint()
    champion = load_champion(settings)
    step("hide logins")
    delete_path(spark, work.root)
    spark.createDataFrame([(f"hidden logins of {day}, seed {seed}",)], "value string").coalesce(
        1
    ).write.text(work.path(WORK_MARKER))
    written = write_work_lake(spark, settings, work, day, generic=generic, seed=seed, share=share)
    rebuilt = rebuild(
        spark,
        work_settings(settings, work.root, pin_registry=champion is not None),
        day,
        on_stage=step,
    )
    step("figures")
    graph = read_partition(spark, work, "identity_graph", day).select(*KEYS, "unified_id")
    assigned = cookies.join(graph, KEYS, "left")
    counts = cookies.agg(
        F.countDistinct("login").alias("logged_in_people"),
        F.count("login").alias("cookies_with_login"),
    ).first()
    assert counts is not None
    figures = hidden_figures(assigned, cluster=F.col("unified_id"))
    selection = {k: figures.pop(k) for k in ("hidden_logins", "hidden_cookies", "hidden_pairs")}
    day_model = _day_model_version(spark, lake, day)
    result: dict[str, Any] = {
        "share": share,
        "seed": seed,
        "logged_in_people": int(counts["logged_in_people"]),
        "cookies_with_login": int(counts["cookies_with_login"]),
        "generic_logins_excluded": generic.count(),
        **selection,
        "model_version": None if champion is None else champion.version,
        "day_model_version": day_model,
        "rebuilt": figures,
        "rebuild": rebuilt | {"work_lake": written},
        "work_lake": work.root,
    }
    if champion is not None and day_model is not None and day_model != champion.version:
        result["note"] = (
            f"the day was scored with model v{day_model}; the rebuild used the champion "
            f"v{champion.version}"
        )
    if partition_exists(spark, lake, "identity_graph", day):
        original = read_partition(spark, lake, "identity_graph", day).select(
            *KEYS, F.col("unified_id").alias("original_id")
        )
        before = hidden_figures(cookies.join(original, KEYS, "left"), cluster=F.col("original_id"))
        result["original"] = {k: v for k, v in before.items() if k not in selection}
    truth_path = lake.path("truth", "cookies")
    if path_exists(spark, truth_path):
        truth = spark.read.parquet(truth_path)
        shared = (
            F.coalesce(F.col("shared_device"), F.lit(False))
            if "shared_device" in truth.columns
            else F.lit(False)
        )
        people = truth.select(*KEYS, "person_id", shared.alias("shared"))
        result["truth"] = truth_figures(
            assigned.join(people, KEYS).where(~F.col("shared")), cluster=F.col("unified_id")
        )
    if not keep:
        delete_path(spark, work.root)
    result["kept_work_lake"] = keep
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def render_hidden(figures: dict[str, Any]) -> Any:
    """A rich table of the hidden-logins figures: rebuilt graph beside the original."""
    from rich.table import Table

    table = Table(
        title=f"hidden logins: {figures['hidden_logins']:,} of {figures['logged_in_people']:,} "
        f"logged-in people (share {figures['share']}, seed {figures['seed']}), "
        f"{figures['hidden_cookies']:,} cookies, {figures['hidden_pairs']:,} same-login pairs"
    )
    table.add_column("figure")
    table.add_column("rebuilt without them", justify="right")
    table.add_column("original graph", justify="right")
    rebuilt, original = figures["rebuilt"], figures.get("original") or {}

    def cell(value: Any) -> str:
        if value is None:
            return "n/a"
        return f"{value:.4f}" if isinstance(value, float) else f"{value:,}"

    for key in (
        "recovery",
        "linked_pairs",
        "precision",
        "predicted_pairs",
        "foreign_cookies",
        "people_with_foreign",
        "people_whole_share",
    ):
        table.add_row(key, cell(rebuilt.get(key)), cell(original.get(key)))
    truth = figures.get("truth")
    if truth:
        table.add_row("truth precision of their links", cell(truth["precision"]), "")
        table.add_row("their cookies linked to their person", cell(truth["reach"]), "")
    if figures.get("note"):
        table.caption = figures["note"]
    return table
