"""Publish stage: the day's identity graph into Redis as a new version, then an atomic switch.

Order of work (a failure anywhere before the switch leaves the live version untouched and
removes the partial one):

1. the graph stage's publish gate (``health/dt=D``) — refused unless ``force``;
   everything below runs under the publish lock (one publisher at a time; a short TTL
   renewed by a heartbeat, so a publisher that died frees it within
   ``redis.publish_lock_ttl_s``; the next publish removes the version it left half-written);
2. drain the service's recorded opt-outs into ``optouts/dt=D`` and drop every opted-out
   cookie (named, or seen logged in with an opted-out login hash) from the graph; drain the
   link verdicts recorded while the chain ran into ``feedback/dt=D+1`` (graph D+1 honours
   them; the drain stage of D+1 adds the later ones);
3. write version ``YYYYMMDD.<n>`` beside the live one (cookie buckets,
   then the login index and the person index), per Spark partition;
4. verify: listpack limits respected, ``HLEN`` sum equals the row count, a sample read back
   through the lookup path matches; apply opt-outs that arrived during the load;
5. compare-and-set the live pointer; the old live version becomes ``previous`` (rollback
   target), the one before it expires after ``redis.retired_ttl_s``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from idgraph.core import keyspace as ks
from idgraph.core import versions
from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings
from idgraph.core.stage import StageFailed, StageResult
from spark_jobs.common.io import partition_exists, read_partition
from spark_jobs.common.optouts import drop_opted_out, read_optouts
from spark_jobs.common.optouts_drain import apply_optouts, pending_optouts
from spark_jobs.graph import redis_loader as rl
from spark_jobs.graph import writers
from spark_jobs.graph.drain import drain_streams
from spark_jobs.graph.lock import locked_target, stage_lock

log = logging.getLogger(__name__)
STAGE = "publish"


def check_gate(spark: SparkSession, lake: Lake, day: dt.date, *, force: bool) -> str:
    """Refuse the day unless ``health/dt=D`` says the gate passed (or ``force``).

    Returns:
        A note for the summary ("passed", or what was forced through).

    Raises:
        StageFailed: gate failed or no health row, and not forced.
    """
    if not partition_exists(spark, lake, "health", day):
        if force:
            return "forced: no health partition"
        raise StageFailed(STAGE, f"gate failed: no health/dt={day} (run the graph stage first)")
    row = read_partition(spark, lake, "health", day).select("gate_passed", "gate_failures").first()
    if row is None:
        raise StageFailed(STAGE, f"gate failed: health/dt={day} is empty")
    if row["gate_passed"]:
        return "passed"
    failures = ", ".join(row["gate_failures"] or []) or "unspecified"
    if force:
        log.warning("publishing %s despite failed gate: %s", day, failures)
        return f"forced past: {failures}"
    raise StageFailed(
        STAGE,
        f"gate failed: {failures}; yesterday's version stays live (use --force to override)",
        {"gate_failures": list(row["gate_failures"] or [])},
    )


def login_cookies(graph: DataFrame, features: DataFrame) -> DataFrame:
    """Cookies an opt-out by login hash removes: the graph's cookies seen logged in with it.

    The same rule as ``spark_jobs.common.optouts.drop_opted_out`` applies to later graphs,
    so what the service removes at once stays removed.

    Args:
        graph: identity graph rows (``site_id, cookie_id``).
        features: rows with ``site_id, cookie_id, login_hash`` (null when never logged in).

    Returns:
        Distinct ``(login_hash, site_id, cookie_id)``.
    """
    logged_in = features.where(F.col("login_hash").isNotNull())
    return (
        logged_in.select("login_hash", "site_id", "cookie_id")
        .join(graph.select("site_id", "cookie_id"), ["site_id", "cookie_id"])
        .distinct()
    )


def exclude_optouts(graph: DataFrame, optouts: DataFrame, logins: DataFrame | None) -> DataFrame:
    """Drop opted-out cookies: those named directly, and those seen with an opted-out login.

    Args:
        graph: identity graph rows.
        optouts: the ``optouts`` table (``kind, site_id, cookie_id, login_hash``).
        logins: output of ``login_cookies``, or None when no login hashes are known.
    """
    kept = drop_opted_out(graph, optouts, login_col=None)
    if logins is None:
        return kept
    opted = optouts.where(F.col("kind") == "login_hash").select("login_hash").distinct()
    removed = logins.join(F.broadcast(opted), "login_hash").select("site_id", "cookie_id")
    return kept.join(removed, ["site_id", "cookie_id"], "left_anti")


def _used_memory(client: Any) -> int:
    """The server's memory for data (``used_memory_dataset``, where the server reports it):
    the query buffers of the writers' connections, which come and go during a load, are
    overhead, not what the graph costs to keep."""

    def dataset(node: dict[str, Any]) -> int:
        return int(node.get("used_memory_dataset", node["used_memory"]))

    info = client.info("memory")
    if isinstance(info, dict) and "used_memory" not in info:  # cluster: one dict per node
        return sum(dataset(node) for node in info.values())
    return dataset(info)


def publish_graph(
    spark: SparkSession,
    graph: DataFrame,
    logins: DataFrame | None,
    *,
    settings: AppSettings,
    target: versions.RedisTarget,
    day: dt.date,
    lease: versions.PublishLease | None = None,
) -> dict[str, Any]:
    """Load ``graph`` (and the login index) as a new version, verify it, switch to it.

    Args:
        spark: the session (used for parallelism only).
        graph: rows to publish (``site_id, cookie_id, unified_id, confidence``), opt-outs
            already excluded.
        logins: ``(login_hash, site_id, cookie_id)`` rows of the login index, or None.
        settings: app settings (``redis`` concern).
        target: the Redis server or cluster.
        day: the graph's day (names the version).
        lease: the publish lock already held by the caller; None: taken here.

    Returns:
        Headline figures: version, cookies, buckets, load seconds and rate, bytes/cookie,
        and ``abandoned_removed``: versions a dead publisher left half-written, now removed.

    Raises:
        StageFailed: when the lock is held elsewhere or lost, or loading or verification
            fails; the live version is untouched.
    """
    if lease is None:
        with stage_lock(spark, settings, target, day, stage=STAGE) as own:
            return publish_graph(
                spark, graph, logins, settings=settings, target=target, day=day, lease=own
            )
    cfg = settings.redis
    client = target.client()
    version: ks.GraphVersion | None = None
    abandoned: list[ks.GraphVersion] = []
    try:
        live, previous, expected = versions.read_live(client)
        for stale in versions.registered_versions(client):  # a dead publisher's leftovers
            if stale.status == "loading":  # (we hold the lock: nobody else is loading)
                removed = versions.delete_version(client, stale)
                log.warning(
                    "removed version %s, abandoned half-written by a publish that died "
                    "(started %s): %d keys",
                    stale.name,
                    stale.published_at,
                    removed,
                )
                abandoned.append(stale)
        limits = versions.configure_listpack(
            client,
            entries=cfg.listpack_entries,
            value=cfg.listpack_value,
            apply=cfg.configure_server,
        )
        partitions = cfg.load_partitions or spark.sparkContext.defaultParallelism
        household = ["household_id"] if "household_id" in graph.columns else []
        graph = graph.select(
            "site_id", "cookie_id", "unified_id", "confidence", *household
        ).persist()
        cookies = graph.count()
        logins = login_rows = logins.persist() if logins is not None else None
        n_logins = (
            login_rows.select("login_hash").distinct().count() if login_rows is not None else 0
        )
        n_people = rl.people_with_cookies(graph)
        version = ks.GraphVersion(
            name=ks.version_name(day.strftime("%Y%m%d"), int(client.incr(ks.SEQ_KEY))),
            buckets=ks.bucket_count(cookies, cfg.bucket_fill),
            login_buckets=ks.bucket_count(n_logins, cfg.bucket_fill) if n_logins else 0,
            person_buckets=ks.bucket_count(n_people, cfg.bucket_fill) if n_people else 0,
            cookies=cookies,
            day=day.isoformat(),
            status="loading",
            published_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        client.hset(ks.VERSIONS_KEY, version.name, ks.encode_version(version))
        # Probed here, once: every writer uses the same mode, and the server's one-off
        # allocations for DUMP/RESTORE stay out of the bytes-per-cookie figure.
        rdb_version = writers.restore_rdb_version(client) if cfg.write_mode == "restore" else None
        write_mode = "hset" if rdb_version is None else "restore"
        log.info("writing %s with %s", version.name, write_mode.upper())
        # Each key family is one load; what it adds to the server's memory counts in a figure:
        # the cookie buckets and the login index in redis_bytes_per_cookie (as before there
        # was a person index), the person index in one of its own (docs/redis-format.md).
        per_cookie = "redis_bytes_per_cookie"
        per_person = "person_index_bytes_per_cookie"
        loads = (
            ("cookie", rl.encode_cookies, graph, version.buckets, per_cookie),
            ("login", rl.encode_logins, login_rows, version.login_buckets, per_cookie),
            ("person", rl.encode_people, graph, version.person_buckets, per_person),
        )
        # One window per figure, opened before its first load and closed after its last:
        # a reading taken right after another load can still count that load's writers'
        # buffers out of the dataset, and would credit them to the next load.
        grown = {per_cookie: 0, per_person: 0}
        loaded: dict[str, dict[str, int]] = {}
        seconds: dict[str, float] = {}
        window: tuple[str, int] | None = None
        for kind, encode, rows, buckets, figure in loads:
            if rows is None or not buckets:
                continue
            if window is None or window[0] != figure:
                if window is not None:
                    grown[window[0]] += _used_memory(client) - window[1]
                window = (figure, _used_memory(client))
            started = time.perf_counter()
            loaded[kind] = rl.load_buckets(
                encode(rows, buckets=buckets),
                target=target,
                version=version.name,
                kind=kind,
                partitions=partitions,
                batch_fields=cfg.load_batch_fields,
                write_mode=write_mode,
                rdb_version=rdb_version,
            )
            seconds[kind] = time.perf_counter() - started
        if window is not None:
            grown[window[0]] += _used_memory(client) - window[1]
        # Verified and reported: the cookie buckets (always loaded: at least one bucket).
        stats, load_seconds = loaded["cookie"], seconds["cookie"]
        bytes_per_cookie = grown[per_cookie] / max(1, cookies)
        person_bytes_per_cookie = grown[per_person] / max(1, cookies)
        _verify(client, version, graph, stats, limits, sample=cfg.verify_sample)
        late = [e for _, e in pending_optouts(client)]
        late_removed = apply_optouts(client, version, late)
        new_live = dataclasses.replace(version, status="live")
        old_live = dataclasses.replace(live, status="previous") if live else None
        drop = [previous.name] if previous else []
        lease.check()
        if not versions.switch_live(
            client, expected=expected, live=new_live, previous=old_live, drop=drop, lock=lease
        ):
            raise StageFailed(STAGE, "the live version changed during the publish")
        version = None  # live now: nothing to clean up
        if previous is not None:
            versions.expire_version(client, previous, cfg.retired_ttl_s)
    except StageFailed:
        raise
    except versions.LockLost as exc:
        raise StageFailed(STAGE, f"{exc}; the new version is discarded") from exc
    except Exception as exc:
        if lease.lost is not None:  # the heartbeat cancelled our Spark jobs
            raise StageFailed(
                STAGE, f"lost the publish lock ({lease.lost}); the new version is discarded"
            ) from exc
        raise StageFailed(STAGE, f"loading the new version failed: {exc}") from exc
    finally:
        if version is not None:
            log.error("publish failed; removing partial version %s", version.name)
            versions.delete_version(client, version)
        for stale in abandoned:
            # The dead driver's executors (on EMR, containers YARN has not reaped yet) may
            # have gone on writing the abandoned version during our load: sweep it again.
            if late := versions.delete_version(client, stale):
                log.warning("removed %d late keys of abandoned version %s", late, stale.name)
        graph.unpersist()
        if logins is not None:
            logins.unpersist()
        client.close()
    return {
        "version": new_live.name,
        "previous": old_live.name if old_live else "-",
        "cookies": cookies,
        "buckets": new_live.buckets,
        "max_bucket": stats["max_bucket"],
        "logins_indexed": n_logins,
        "people_indexed": n_people,
        "load_seconds": round(load_seconds, 2),
        "cookies_per_s": round(cookies / max(load_seconds, 1e-9)),
        "write_mode": write_mode,
        "redis_bytes_per_cookie": round(bytes_per_cookie, 1),
        "person_index_bytes_per_cookie": round(person_bytes_per_cookie, 1),
        "optouts_applied_late": late_removed,
        "abandoned_removed": ", ".join(v.name for v in abandoned) or "-",
    }


def _verify(
    client: Any,
    version: ks.GraphVersion,
    graph: DataFrame,
    stats: dict[str, int],
    limits: dict[str, int],
    *,
    sample: int,
) -> None:
    problems = []
    if stats["max_bucket"] > limits["entries"]:
        problems.append(
            f"largest bucket {stats['max_bucket']} > hash-max-listpack-entries {limits['entries']}"
            " (raise redis.listpack_entries or lower redis.bucket_fill)"
        )
    if stats["max_value"] > limits["value"]:
        problems.append(
            f"longest value {stats['max_value']} B > hash-max-listpack-value {limits['value']}"
        )
    stored = versions.count_fields(client, version)
    if stored != version.cookies or stats["added"] != version.cookies:
        problems.append(
            f"{version.cookies} rows but {stored} fields stored ({stats['added']} acknowledged):"
            " duplicate cookies or a digest collision"
        )
    if sample and version.cookies:
        fraction = min(1.0, 4.0 * sample / version.cookies)
        rows = graph.sample(fraction=fraction, seed=7).limit(sample).collect()
        problems += versions.read_back(client, version, rows)[:5]
    if problems:
        raise StageFailed(STAGE, "verification failed: " + "; ".join(problems))


def run_publish(
    spark: SparkSession,
    settings: AppSettings,
    day: dt.date,
    *,
    force: bool = False,
    break_lock: bool = False,
) -> StageResult:
    """The publish stage of ``idgraph daily`` (see the module docstring for the steps).

    Args:
        force: publish even though the gate failed.
        break_lock: remove the publish lock first, whoever holds it (operators, after a
            publisher died; a live holder gives up at its next heartbeat).
    """
    lake = Lake(settings.lake.root)
    gate = check_gate(spark, lake, day, force=force)
    graph = read_partition(spark, lake, "identity_graph", day)
    logins = None
    if partition_exists(spark, lake, "cookie_features", day):
        features = read_partition(spark, lake, "cookie_features", day)
        logins = login_cookies(graph, features)
    # The drains rewrite lake partitions from the streams: under the lock too.
    locked = locked_target(spark, settings, day, stage=STAGE, break_lock=break_lock)
    with locked as (target, lease, broken):
        # Verdicts received while the chain of D ran: graph D never saw them, graph D+1
        # will (feedback/dt=X holds what graph X is the first to honour).
        drained, feedback = drain_streams(
            spark, settings, target, optouts_day=day, feedback_day=day + dt.timedelta(days=1)
        )
        graph = exclude_optouts(graph, read_optouts(spark, lake), logins)
        if logins is not None:  # the index only needs cookies that are published
            logins = logins.join(graph.select("site_id", "cookie_id"), ["site_id", "cookie_id"])
        summary = publish_graph(
            spark, graph, logins, settings=settings, target=target, day=day, lease=lease
        )
    summary |= {"gate": gate, "optouts_drained": drained, **feedback, "lock_broken": broken}
    return StageResult(STAGE, summary=summary, note=f"graph {summary['version']} live")
