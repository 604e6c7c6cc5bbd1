"""Per-cookie features from small per-day aggregates (pure DataFrame functions, no I/O).

Two steps, so that day D never rescans 30 days of raw visits:

1. ``daily_cookie_aggregates``: one row per (site_id, cookie_id) and day, from that day's
   visits only: counts that can be added up later (events, per-IP events, 24 hourly counts,
   value counts of user agent, geo, topics and terms), extremes that can be maxed/minned
   (first/last seen, the latest ua_major and login hash with their timestamps) and each IP's
   popularity that day (distinct cookies, all sites, on that IP hash).
2. ``merge_daily_aggregates``: the window's daily rows folded into ``cookie_features``.

Every array is capped, and every "top N" or "most frequent" is ordered by count descending,
then by value ascending, so a re-run gives the same table bit for bit. Daily caps are larger
than the final ones: the merge equals a direct computation over the window's visits unless a
cookie exceeds a daily cap on one day (a bot-like cookie with more than ``DAILY_MAX_IPS`` IPs
in a day, say), where the tail of that day is dropped. ``ip_hours`` is exact whenever
``daily_max_ip_hours >= max_ip_hours`` because the most recent N of the window are each among
the most recent N of their own day.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

KEYS = ["site_id", "cookie_id"]

# Caps of cookie_features (final table).
MAX_IPS = 20
MAX_PREFIXES = 10
MAX_IP_HOURS = 64
MAX_TERMS = 20
MAX_TOPICS = 10
MAX_LOGINS = 8
MAX_HOME_NETWORKS = 8
# Caps of daily_cookie_aggregates: larger than the final caps so that merging stays exact
# for ordinary cookies (see the module docstring).
DAILY_MAX_IPS = 50
DAILY_MAX_IP_HOURS = 64
DAILY_MAX_TERMS = 50
DAILY_MAX_VALUES = 20

# Categorical columns counted per day: visits column -> daily aggregate column.
VALUE_COUNTED = {
    "ua_family": "ua_family_counts",
    "ua_hash": "ua_hash_counts",
    "os_family": "os_family_counts",
    "device_type": "device_type_counts",
    "country": "country_counts",
    "city": "city_counts",
    "topic": "topic_counts",
    "query_terms": "term_counts",  # exploded: one count per term
}
# Categorical features of cookie_features that keep only the most frequent value.
MODE_FEATURES = ("ua_family", "os_family", "device_type", "country", "city", "ua_hash")

_VALUE_COUNT = T.StructType(
    [T.StructField("value", T.StringType()), T.StructField("n", T.LongType())]
)
DAILY_IP = T.StructType(
    [
        T.StructField("ip_hash", T.StringType()),
        T.StructField("ip_prefix", T.StringType()),
        T.StructField("n_events", T.LongType()),
        T.StructField("ip_popularity", T.LongType()),  # distinct cookies on this IP that day
    ]
)
DAILY_COOKIE_AGGREGATES = T.StructType(
    [
        T.StructField("site_id", T.StringType(), False),
        T.StructField("cookie_id", T.StringType(), False),
        T.StructField("n_events", T.LongType()),
        T.StructField("first_seen", T.TimestampType()),
        T.StructField("last_seen", T.TimestampType()),
        T.StructField("hour_counts", T.ArrayType(T.LongType())),  # 24 counts, UTC hours
        T.StructField("ips", T.ArrayType(DAILY_IP)),
        T.StructField(
            "ip_hours",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("ip_hash", T.StringType()),
                        T.StructField("hour_bucket", T.LongType()),
                    ]
                )
            ),
        ),
        *[T.StructField(c, T.ArrayType(_VALUE_COUNT)) for c in VALUE_COUNTED.values()],
        T.StructField(
            "ua_major_latest",
            T.StructType(
                [T.StructField("ts", T.TimestampType()), T.StructField("value", T.IntegerType())]
            ),
        ),
        T.StructField(
            "login_latest",
            T.StructType(
                [T.StructField("ts", T.TimestampType()), T.StructField("value", T.StringType())]
            ),
        ),
        T.StructField("login_hashes", T.ArrayType(T.StringType())),  # distinct, sorted
    ]
)


def _by_count_then_value(count: str, value: str):  # type: ignore[no-untyped-def]
    """Comparator for ``array_sort``: ``count`` descending, then ``value`` ascending."""

    def compare(a: Column, b: Column) -> Column:
        return (
            F.when(a[count] > b[count], -1)
            .when(a[count] < b[count], 1)
            .when(a[value] < b[value], -1)
            .when(a[value] > b[value], 1)
            .otherwise(0)
        )

    return compare


def top(entries: Column, limit: int, *, count: str = "n", value: str = "value") -> Column:
    """The ``limit`` entries with the highest ``count`` (ties: lowest ``value`` first)."""
    return F.slice(F.array_sort(entries, _by_count_then_value(count, value)), 1, limit)


def hour_bucket(ts: Column) -> Column:
    """Epoch hours (UTC) of a timestamp."""
    return F.floor(F.unix_seconds(ts) / F.lit(3600)).cast("long")


def _latest(ts: Column, value: Column) -> Column:
    """Aggregate: (ts, value) of the latest non-null ``value``; ties keep the larger value."""
    return F.max(F.when(value.isNotNull(), F.struct(ts.alias("ts"), value.alias("value"))))


def _daily_base(visits: DataFrame, keys: list[str], *, max_logins: int) -> DataFrame:
    hour = F.hour("ts")
    return visits.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("n_events"),
        F.min("ts").alias("first_seen"),
        F.max("ts").alias("last_seen"),
        F.array(*[F.count_if(hour == h) for h in range(24)]).alias("hour_counts"),
        _latest(F.col("ts"), F.col("ua_major")).alias("ua_major_latest"),
        _latest(F.col("ts"), F.col("login_hash")).alias("login_latest"),
        F.slice(F.array_sort(F.collect_set("login_hash")), 1, max_logins).alias("login_hashes"),
    )


def _daily_ips(visits: DataFrame, keys: list[str], *, max_ips: int) -> DataFrame:
    per_ip = visits.groupBy(*keys, "ip_hash").agg(
        F.max("ip_prefix").alias("ip_prefix"), F.count(F.lit(1)).alias("n_events")
    )
    # One row per (day, cookie, ip) already, so counting rows per IP counts distinct cookies.
    day = keys[: -len(KEYS)]
    popularity = per_ip.groupBy(*day, "ip_hash").agg(F.count(F.lit(1)).alias("ip_popularity"))
    entry = F.struct("ip_hash", "ip_prefix", "n_events", "ip_popularity")
    return (
        per_ip.join(popularity, [*day, "ip_hash"])
        .groupBy(*keys)
        .agg(F.collect_list(entry).alias("ips"))
        .withColumn("ips", top(F.col("ips"), max_ips, count="n_events", value="ip_hash"))
    )


def _recent_ip_hours(entries: Column, limit: int) -> Column:
    """The ``limit`` most recent (ip_hash, hour_bucket) entries (ties: lowest ip_hash)."""
    return F.slice(F.array_sort(entries, _by_count_then_value("hour_bucket", "ip_hash")), 1, limit)


def _daily_ip_hours(visits: DataFrame, keys: list[str], *, max_ip_hours: int) -> DataFrame:
    return (
        visits.select(*keys, "ip_hash", hour_bucket(F.col("ts")).alias("hour_bucket"))
        .distinct()
        .groupBy(*keys)
        .agg(F.collect_list(F.struct("ip_hash", "hour_bucket")).alias("ip_hours"))
        .withColumn("ip_hours", _recent_ip_hours(F.col("ip_hours"), max_ip_hours))
    )


def _daily_value_counts(
    visits: DataFrame, keys: list[str], *, max_terms: int, max_values: int
) -> DataFrame:
    kinds = F.array(
        *[
            F.struct(
                F.lit(col).alias("kind"),
                (F.col(col) if col == "query_terms" else F.array(F.col(col))).alias("values"),
            )
            for col in VALUE_COUNTED
        ]
    )
    counts = (
        visits.select(*keys, F.inline(kinds))
        .select(*keys, "kind", F.explode("values").alias("value"))
        .where(F.col("value").isNotNull() & (F.col("value") != ""))
        .groupBy(*keys, "kind", "value")
        .agg(F.count(F.lit(1)).alias("n"))
    )
    return counts.groupBy(*keys).agg(
        *[
            top(
                F.collect_list(F.when(F.col("kind") == col, F.struct("value", "n"))),
                max_terms if col == "query_terms" else max_values,
            ).alias(out)
            for col, out in VALUE_COUNTED.items()
        ]
    )


def daily_cookie_aggregates(
    visits: DataFrame,
    *,
    day_col: str | None = None,
    max_ips: int = DAILY_MAX_IPS,
    max_ip_hours: int = DAILY_MAX_IP_HOURS,
    max_terms: int = DAILY_MAX_TERMS,
    max_values: int = DAILY_MAX_VALUES,
    max_logins: int = MAX_LOGINS,
) -> DataFrame:
    """Visits summarised per day and (site_id, cookie_id), in ``DAILY_COOKIE_AGGREGATES``.

    Args:
        visits: ``visits`` rows (schema ``VISITS``): one day, or several days with ``day_col``.
        day_col: the partition-day column when ``visits`` holds several days; it is kept
            first in the output, and every figure (IP popularity included) is per day, so
            building N days in one pass equals N single-day builds.
        max_ips: IPs kept per cookie (most events first).
        max_ip_hours: (ip_hash, hour_bucket) entries kept per cookie (most recent first).
        max_terms: query terms kept per cookie (most frequent first).
        max_values: values kept per other categorical column (ua, os, device, geo, topic).
        max_logins: distinct login hashes kept per cookie.
    """
    keys = [day_col, *KEYS] if day_col else KEYS
    if "ua_hash" not in visits.columns:  # visits written before the column existed
        visits = visits.withColumn("ua_hash", F.lit(None).cast("string"))
    empty_counts = F.array().cast(T.ArrayType(_VALUE_COUNT))
    values = _daily_value_counts(visits, keys, max_terms=max_terms, max_values=max_values)
    out = (
        _daily_base(visits, keys, max_logins=max_logins)
        .join(_daily_ips(visits, keys, max_ips=max_ips), keys, "left")
        .join(_daily_ip_hours(visits, keys, max_ip_hours=max_ip_hours), keys, "left")
        .join(values, keys, "left")
    )
    return out.select(
        *keys[: -len(KEYS)],
        *[
            F.coalesce(F.col(f.name), empty_counts).alias(f.name)
            if f.name in VALUE_COUNTED.values()
            else F.col(f.name).cast(f.dataType).alias(f.name)
            for f in DAILY_COOKIE_AGGREGATES.fields
        ],
    )


def _merged_base(daily: DataFrame) -> DataFrame:
    zeros = F.array_repeat(F.lit(0).cast("long"), 24)
    hour_counts = F.aggregate(
        F.collect_list("hour_counts"), zeros, lambda acc, x: F.zip_with(acc, x, lambda a, b: a + b)
    )
    return daily.groupBy(*KEYS).agg(
        F.min("first_seen").alias("first_seen"),
        F.max("last_seen").alias("last_seen"),
        F.sum("n_events").alias("n_events"),
        F.count_distinct("dt").cast("int").alias("n_active_days"),
        hour_counts.alias("hour_counts"),
        F.max("ua_major_latest")["value"].alias("ua_major"),
        F.max("login_latest")["value"].alias("login_hash"),
    )


def _merged_ips(daily: DataFrame, *, max_ips: int, max_prefixes: int) -> DataFrame:
    entries = daily.select(*KEYS, F.inline("ips"))
    # Popularity is the IP's busiest day in the window, whether or not this cookie was there
    # that day: an office IP seen on a quiet Sunday is still an office IP.
    popularity = entries.groupBy("ip_hash").agg(F.max("ip_popularity").alias("ip_popularity"))
    per_ip = (
        entries.groupBy(*KEYS, "ip_hash")
        .agg(F.max("ip_prefix").alias("ip_prefix"), F.sum("n_events").alias("n_events"))
        .join(popularity, "ip_hash")
    )
    prefixes = (
        per_ip.groupBy(*KEYS, "ip_prefix")
        .agg(F.sum("n_events").alias("n_events"))
        .groupBy(*KEYS)
        .agg(F.collect_list(F.struct("ip_prefix", "n_events")).alias("ip_prefixes"))
    )
    ips = per_ip.groupBy(*KEYS).agg(
        F.count(F.lit(1)).alias("n_ips"),
        F.collect_list(F.struct("ip_hash", "ip_prefix", "n_events", "ip_popularity")).alias("ips"),
    )
    return ips.join(prefixes, KEYS).select(
        *KEYS,
        "n_ips",
        top(F.col("ips"), max_ips, count="n_events", value="ip_hash").alias("ips"),
        top(F.col("ip_prefixes"), max_prefixes, count="n_events", value="ip_prefix").alias(
            "ip_prefixes"
        ),
    )


def _merged_ip_hours(daily: DataFrame, *, max_ip_hours: int) -> DataFrame:
    return (
        daily.select(*KEYS, F.inline("ip_hours"))
        .distinct()
        .groupBy(*KEYS)
        .agg(F.collect_list(F.struct("ip_hash", "hour_bucket")).alias("ip_hours"))
        .withColumn("ip_hours", _recent_ip_hours(F.col("ip_hours"), max_ip_hours))
    )


def network_key(ip_hash: Column, ip_prefix: Column) -> Column:
    """The network an address belongs to for household purposes: the keyed hash of the full
    address for IPv4 (one home, one address), the /48 prefix for IPv6 (privacy addresses
    change every session inside the home's prefix, so the address hash means nothing)."""
    is_v6 = ip_prefix.startswith("v6:") | (  # keyed prefixes say their family
        ip_prefix.contains(":") & ~ip_prefix.startswith("v4:")  # older lakes: the network
    )
    return F.when(is_v6, F.concat(F.lit("n6:"), ip_prefix)).otherwise(
        F.concat(F.lit("n4:"), ip_hash)
    )


def _merged_home_networks(daily: DataFrame, *, max_networks: int) -> DataFrame:
    """Per cookie, the networks it used on the most days: ``network``, ``n_days``,
    ``weekend_days`` (Saturday or Sunday, UTC) and ``n_events`` over the window."""
    entries = daily.select(
        *KEYS,
        "dt",
        F.inline("ips"),
    ).select(
        *KEYS,
        network_key(F.col("ip_hash"), F.col("ip_prefix")).alias("network"),
        F.col("dt"),
        F.col("n_events"),
    )
    weekend = F.dayofweek("dt").isin(1, 7)  # 1 = Sunday, 7 = Saturday
    per_network = entries.groupBy(*KEYS, "network").agg(
        F.count_distinct("dt").alias("n_days"),
        F.count_distinct(F.when(weekend, F.col("dt"))).alias("weekend_days"),
        F.sum("n_events").alias("n_events"),
    )
    entry = F.struct(
        "network",
        F.col("n_days").cast("long").alias("n_days"),
        F.col("weekend_days").cast("long").alias("weekend_days"),
        F.col("n_events").cast("long").alias("n_events"),
    )
    return per_network.groupBy(*KEYS).agg(
        top(F.collect_list(entry), max_networks, count="n_days", value="network").alias(
            "home_networks"
        )
    )


def _merged_values(daily: DataFrame, *, max_terms: int, max_topics: int) -> DataFrame:
    kinds = F.array(
        *[
            F.struct(F.lit(col).alias("kind"), F.col(c).alias("counts"))
            for col, c in VALUE_COUNTED.items()
        ]
    )
    counts = (
        daily.select(*KEYS, F.inline(kinds))
        .select(*KEYS, "kind", F.inline("counts"))
        .groupBy(*KEYS, "kind", "value")
        .agg(F.sum("n").alias("n"))
    )

    def ranked(kind: str, limit: int) -> Column:
        return top(F.collect_list(F.when(F.col("kind") == kind, F.struct("value", "n"))), limit)

    def values(entries: Column) -> Column:
        return F.transform(entries, lambda e: e["value"])

    return counts.groupBy(*KEYS).agg(
        *[F.try_element_at(ranked(c, 1), F.lit(1))["value"].alias(c) for c in MODE_FEATURES],
        values(ranked("query_terms", max_terms)).alias("query_terms"),
        values(ranked("topic", max_topics)).alias("topics"),
    )


def merge_daily_aggregates(
    daily: DataFrame,
    *,
    max_ips: int = MAX_IPS,
    max_prefixes: int = MAX_PREFIXES,
    max_ip_hours: int = MAX_IP_HOURS,
    max_terms: int = MAX_TERMS,
    max_topics: int = MAX_TOPICS,
    max_home_networks: int = MAX_HOME_NETWORKS,
) -> DataFrame:
    """Fold the window's daily aggregates into one row per cookie (``COOKIE_FEATURES`` + extras).

    Args:
        daily: ``daily_cookie_aggregates`` rows of the window with a ``dt`` DATE column, as
            ``read_range`` returns them.
        max_ips: IPs kept (most events first); ``ip_popularity`` is the max over days.
        max_prefixes: IP prefixes kept (most events first).
        max_ip_hours: (ip_hash, hour_bucket) entries kept (most recent first).
        max_terms: query terms kept (most frequent first).
        max_topics: topics kept (most frequent first).
        max_home_networks: networks kept in ``home_networks`` (most days first).

    Returns:
        The ``COOKIE_FEATURES`` columns (``hour_profile``: 24 shares summing to 1) including
        ``n_ips``, the distinct IP hashes of the window before ``ips`` was capped, and
        ``home_networks`` (``HOME_NETWORK`` entries: the household level's evidence).
    """
    base = _merged_base(daily)
    ips = _merged_ips(daily, max_ips=max_ips, max_prefixes=max_prefixes)
    hours = _merged_ip_hours(daily, max_ip_hours=max_ip_hours)
    values = _merged_values(daily, max_terms=max_terms, max_topics=max_topics)
    networks = _merged_home_networks(daily, max_networks=max_home_networks)
    total = F.aggregate("hour_counts", F.lit(0).cast("long"), lambda acc, x: acc + x)
    empty = F.array().cast(T.ArrayType(T.StringType()))
    return (
        base.join(ips, KEYS, "left")
        .join(hours, KEYS, "left")
        .join(values, KEYS, "left")
        .join(networks, KEYS, "left")
        .select(
            *KEYS,
            "first_seen",
            "last_seen",
            "n_events",
            "n_active_days",
            "ips",
            "ip_prefixes",
            "ip_hours",
            "ua_family",
            "ua_major",
            "os_family",
            "device_type",
            "country",
            "city",
            F.transform("hour_counts", lambda x: x / total).alias("hour_profile"),
            F.coalesce("query_terms", empty).alias("query_terms"),
            F.coalesce("topics", empty).alias("topics"),
            "login_hash",
            "n_ips",
            "ua_hash",
            "home_networks",
        )
    )


def window_logins(daily: DataFrame) -> DataFrame:
    """Every (site_id, cookie_id, login_hash) of the window, with a null-login row per cookie,
    so that an opt-out by cookie or by any login hash the cookie ever carried can be matched."""
    logins = F.array_union(F.array(F.lit(None).cast("string")), F.col("login_hashes"))
    return daily.select(*KEYS, F.explode(logins).alias("login_hash")).distinct()


def drop_opted_out_cookies(
    features: DataFrame, logins: DataFrame, kept_logins: DataFrame
) -> DataFrame:
    """Remove every cookie of which some (cookie, login) row did not survive the opt-out filter.

    Args:
        features: one row per cookie.
        logins: ``window_logins`` of the window.
        kept_logins: ``logins`` after ``optouts.drop_opted_out``.
    """
    on = [logins[k] == kept_logins[k] for k in KEYS] + [
        logins["login_hash"].eqNullSafe(kept_logins["login_hash"])
    ]
    removed = logins.join(kept_logins, on, "left_anti").select(*KEYS).distinct()
    return features.join(removed, KEYS, "left_anti")


def select_columns(df: DataFrame, schema: T.StructType, extra: Sequence[str] = ()) -> DataFrame:
    """``df`` reduced to ``schema``'s columns (cast to their types) followed by ``extra``."""
    return df.select(*[F.col(f.name).cast(f.dataType) for f in schema.fields], *extra)
