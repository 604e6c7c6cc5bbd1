"""Pair evidence at event-time resolution: session hops and quiet-IP co-presence.

One browser that moves from one site to the next within seconds to minutes sends both sites'
pixels from the same IP with the same exact user agent, one right after the other. Two
housemates on the same network rarely do that in the same minute with the same browser build.
Two devices of one person (a laptop and a phone) show up on the same quiet home IP on many of
the same days. Both are invisible at the hour grain of ``cookie_features``; they are computed
here from the visits themselves, in two steps:

1. ``daily_session_pairs`` (one day of visits -> ``session_pairs/dt=D``): events are ordered
   within their (IP hash, user-agent hash) stream. An event whose immediate predecessor in its
   stream belongs to another cookie, at most ``max_gap_seconds`` earlier, is a **hop** between
   the two cookies: by construction nobody else's event with that user agent at that IP lies
   between them. Every hop is kept with its gap and with the number of distinct user agents
   the IP saw that day (its *busyness*: a home shows a handful, a carrier's CGNAT address
   hundreds). Separately, every IP seen that day with at most ``quiet_ip_max_user_agents``
   user agents and at most ``max_cookies_per_ip_day`` cookies is a **quiet IP-day**, and every
   pair of its cookies with different user agents (two devices) is **co-present** that day.
   Busier IP-days are skipped and counted, never expanded. Cost: one sort per (IP, UA) stream
   and one bounded self-join per quiet IP-day, linear in the day's events.
2. ``window_evidence`` (the window's ``session_pairs`` -> one row per pair): hop counts at
   several gaps, hops on quiet IPs, distinct hop days, the smallest gap, and the distinct days
   of quiet co-presence.

The pairs are ordered like candidate pairs, ``(site_id_l, cookie_id_l) < (site_id_r, ...)``.
Opt-outs need no handling here: a pair whose cookie left ``cookie_features`` never joins it.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.common.evidence import (
    EVIDENCE_COLUMNS,
    HOP_GAPS_SECONDS,
    NO_HOP_GAP,
    SESSION_KEY,
    evidence_present,
    session_rule_edges,
    with_evidence,
)
from spark_jobs.common.schemas import PAIR_KEYS, pair_ordered

__all__ = [
    "EVIDENCE_COLUMNS",
    "HOP_GAPS_SECONDS",
    "NO_HOP_GAP",
    "SESSION_KEY",
    "daily_session_pairs",
    "evidence_present",
    "hops",
    "copresence",
    "ip_busyness",
    "session_rule_edges",
    "skipped_ip_days",
    "window_evidence",
    "with_evidence",
]


def _ordered(site_a: Column, cookie_a: Column, site_b: Column, cookie_b: Column) -> list[Column]:
    a_first = (site_a < site_b) | ((site_a == site_b) & (cookie_a < cookie_b))
    return [
        F.when(a_first, site_a).otherwise(site_b).alias("site_id_l"),
        F.when(a_first, cookie_a).otherwise(cookie_b).alias("cookie_id_l"),
        F.when(a_first, site_b).otherwise(site_a).alias("site_id_r"),
        F.when(a_first, cookie_b).otherwise(cookie_a).alias("cookie_id_r"),
    ]


def _events(visits: DataFrame, day_col: str | None) -> DataFrame:
    day = F.col(day_col).cast("string") if day_col else F.lit("")
    return visits.select(
        day.alias("_day"),
        "site_id",
        "cookie_id",
        "ip_hash",
        F.coalesce(F.col("ua_hash"), F.lit("")).alias("ua_hash"),
        F.col("ts").cast("timestamp").alias("ts"),
    )


def ip_busyness(events: DataFrame) -> DataFrame:
    """Distinct user agents and cookies per (day, IP hash): ``_day``, ``ip_hash``, ``ip_uas``,
    ``ip_cookies``."""
    return events.groupBy("_day", "ip_hash").agg(
        F.countDistinct("ua_hash").alias("ip_uas"),
        F.countDistinct("site_id", "cookie_id").alias("ip_cookies"),
    )


def hops(events: DataFrame, *, max_gap_seconds: int) -> DataFrame:
    """Every hop: an event whose predecessor in its (IP, UA) stream is another cookie's.

    Returns:
        ``_day``, ``ip_hash``, ``PAIR_KEYS`` and ``gap_s`` (seconds, >= 0).
    """
    stream = Window.partitionBy("_day", "ip_hash", "ua_hash").orderBy("ts", "site_id", "cookie_id")
    previous = events.select(
        "_day",
        "ip_hash",
        "site_id",
        "cookie_id",
        "ts",
        F.lag("site_id").over(stream).alias("prev_site"),
        F.lag("cookie_id").over(stream).alias("prev_cookie"),
        F.lag("ts").over(stream).alias("prev_ts"),
    )
    gap = F.unix_seconds("ts") - F.unix_seconds("prev_ts")
    other = (F.col("prev_site") != F.col("site_id")) | (F.col("prev_cookie") != F.col("cookie_id"))
    return (
        previous.where(F.col("prev_cookie").isNotNull() & other)
        .withColumn("gap_s", gap)
        .where(F.col("gap_s") <= max_gap_seconds)
        .select(
            "_day",
            "ip_hash",
            *_ordered(
                F.col("prev_site"), F.col("prev_cookie"), F.col("site_id"), F.col("cookie_id")
            ),
            "gap_s",
        )
    )


def copresence(
    events: DataFrame,
    busyness: DataFrame,
    *,
    quiet_ip_max_user_agents: int,
    max_cookies_per_ip_day: int,
) -> DataFrame:
    """Pairs of cookies with different user agents on the same quiet IP on the same day.

    Returns:
        ``_day`` and ``PAIR_KEYS``, each pair once per day.
    """
    quiet = busyness.where(
        (F.col("ip_uas") <= quiet_ip_max_user_agents)
        & (F.col("ip_cookies") <= max_cookies_per_ip_day)
        & (F.col("ip_cookies") >= 2)
    ).select("_day", "ip_hash")
    members = (
        events.join(quiet, ["_day", "ip_hash"])
        .select("_day", "ip_hash", "site_id", "cookie_id", "ua_hash")
        .distinct()
    )
    left, right = (
        members.select(
            "_day",
            "ip_hash",
            F.col("site_id").alias(f"site_id_{side}"),
            F.col("cookie_id").alias(f"cookie_id_{side}"),
            F.col("ua_hash").alias(f"ua_{side}"),
        )
        for side in ("l", "r")
    )
    return (
        left.join(right, ["_day", "ip_hash"])
        .where(pair_ordered() & (F.col("ua_l") != F.col("ua_r")))
        .select("_day", *PAIR_KEYS)
        .distinct()
    )


def daily_session_pairs(
    visits: DataFrame,
    *,
    day_col: str | None = None,
    max_gap_seconds: int = 300,
    quiet_ip_max_user_agents: int = 6,
    max_cookies_per_ip_day: int = 60,
) -> DataFrame:
    """One row per (day, pair) with the day's session evidence.

    Args:
        visits: ``visits`` rows (``site_id``, ``cookie_id``, ``ts``, ``ip_hash``, ``ua_hash``).
        day_col: the column naming each row's day when ``visits`` spans several (kept as
            ``dt``); None for one day.
        max_gap_seconds: longest gap between the two events of a hop.
        quiet_ip_max_user_agents: an IP-day with at most this many user agents is quiet.
        max_cookies_per_ip_day: a quiet IP-day with more cookies is skipped (never expanded).

    Returns:
        ``[dt,] PAIR_KEYS``, ``hops_30s``, ``hops_120s``, ``hops_300s``, ``quiet_hops_300s``,
        ``hop_min_gap_s`` (null without hops), ``copresent`` (0/1), all LONG but the gap.
    """
    events = _events(visits, day_col)
    busyness = ip_busyness(events)
    hopped = hops(events, max_gap_seconds=max_gap_seconds).join(busyness, ["_day", "ip_hash"])
    quiet_ip = F.col("ip_uas") <= quiet_ip_max_user_agents

    def within(seconds: int, extra: Column | None = None) -> Column:
        hit = F.col("gap_s") <= seconds
        return F.count(F.when(hit if extra is None else hit & extra, 1)).cast("long")

    per_pair_hops = hopped.groupBy("_day", *PAIR_KEYS).agg(
        *(within(s).alias(f"hops_{s}s") for s in HOP_GAPS_SECONDS),
        within(300, quiet_ip).alias("quiet_hops_300s"),
        F.min("gap_s").cast("long").alias("hop_min_gap_s"),
    )
    present = copresence(
        events,
        busyness,
        quiet_ip_max_user_agents=quiet_ip_max_user_agents,
        max_cookies_per_ip_day=max_cookies_per_ip_day,
    ).withColumn("copresent", F.lit(1).cast("long"))
    merged = per_pair_hops.join(present, ["_day", *PAIR_KEYS], "full")
    zero = F.lit(0).cast("long")
    out = merged.select(
        F.col("_day").alias("dt"),
        *PAIR_KEYS,
        *(F.coalesce(F.col(f"hops_{s}s"), zero).alias(f"hops_{s}s") for s in HOP_GAPS_SECONDS),
        F.coalesce("quiet_hops_300s", zero).alias("quiet_hops_300s"),
        F.col("hop_min_gap_s"),
        F.coalesce("copresent", zero).alias("copresent"),
    )
    return out if day_col else out.drop("dt")


def skipped_ip_days(
    visits: DataFrame,
    *,
    quiet_ip_max_user_agents: int = 6,
    max_cookies_per_ip_day: int = 60,
) -> DataFrame:
    """IP-days left out of co-presence: quiet by user agents but with too many cookies (a
    small office, a shared tablet in a busy café). One row: ``skipped_ip_days``,
    ``skipped_cookies`` (summed over those IP-days)."""
    busy = ip_busyness(_events(visits, None)).where(
        (F.col("ip_uas") <= quiet_ip_max_user_agents)
        & (F.col("ip_cookies") > max_cookies_per_ip_day)
    )
    return busy.agg(
        F.count("*").alias("skipped_ip_days"),
        F.coalesce(F.sum("ip_cookies"), F.lit(0)).cast("long").alias("skipped_cookies"),
    )


def window_evidence(daily: DataFrame) -> DataFrame:
    """The window's evidence per pair from its days' ``session_pairs`` (with ``dt``).

    Returns:
        ``PAIR_KEYS`` and ``EVIDENCE_COLUMNS`` (LONG, never null).
    """
    hopped_day = F.when(F.col("hops_300s") > 0, F.col("dt"))
    copresent_day = F.when(F.col("copresent") > 0, F.col("dt"))
    return daily.groupBy(*PAIR_KEYS).agg(
        *(F.sum(f"hops_{s}s").cast("long").alias(f"hops_{s}s") for s in HOP_GAPS_SECONDS),
        F.sum("quiet_hops_300s").cast("long").alias("quiet_hops_300s"),
        F.countDistinct(hopped_day).cast("long").alias("hop_days"),
        F.coalesce(F.min("hop_min_gap_s"), F.lit(NO_HOP_GAP)).cast("long").alias("hop_min_gap_s"),
        F.countDistinct(copresent_day).cast("long").alias("quiet_codays"),
    )
