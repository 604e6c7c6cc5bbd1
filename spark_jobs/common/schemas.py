"""Schemas of the tables that cross stage boundaries: the contracts between packages.

A stage may add columns; it may not drop or retype these. ``conform`` checks a DataFrame
against one of them at the edge where it is written.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

# Raw event fields as the ETL parses them (everything as read; validation decides).
RAW_EVENT = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("ts", T.StringType()),  # ISO string or epoch millis, parsed later
        T.StructField("site_id", T.StringType()),
        T.StructField("cookie_id", T.StringType()),
        T.StructField("ip", T.StringType()),
        T.StructField("user_agent", T.StringType()),
        T.StructField("country", T.StringType()),
        T.StructField("city", T.StringType()),
        T.StructField("url", T.StringType()),
        T.StructField("referrer", T.StringType()),
        T.StructField("login_hash", T.StringType()),
        T.StructField("consent", T.BooleanType()),
    ]
)

# visits/dt=D: clean, privacy-safe visits. No raw IP, no raw e-mail.
VISITS = T.StructType(
    [
        T.StructField("event_id", T.StringType(), False),
        T.StructField("ts", T.TimestampType(), False),  # UTC
        T.StructField("site_id", T.StringType(), False),
        T.StructField("cookie_id", T.StringType(), False),
        T.StructField("ip_prefix", T.StringType(), False),  # "v4:"/"v6:" + keyed /24 or /48 hash
        T.StructField("ip_hash", T.StringType(), False),  # keyed hash of the full address, hex
        T.StructField("ip_version", T.IntegerType(), False),  # 4 or 6
        T.StructField("ua_family", T.StringType()),  # "Chrome", "Mobile Safari", …
        T.StructField("ua_major", T.IntegerType()),
        T.StructField("os_family", T.StringType()),  # "iOS", "Windows", …
        T.StructField("device_type", T.StringType()),  # "mobile" | "tablet" | "desktop" | "other"
        # xxhash64 of the exact user-agent string (16 hex): compares UAs without keeping them.
        T.StructField("ua_hash", T.StringType()),
        T.StructField("country", T.StringType()),
        T.StructField("city", T.StringType()),
        T.StructField("url_domain", T.StringType()),
        T.StructField("url_path", T.StringType()),
        T.StructField("query_terms", T.ArrayType(T.StringType())),
        T.StructField("topic", T.StringType()),  # first path segment, a coarse content topic
        T.StructField("referrer_domain", T.StringType()),
        T.StructField("login_hash", T.StringType()),  # 64 lowercase hex or null
    ]
)

# cookie_features/dt=D: one row per (site_id, cookie_id) seen in the window ending at D.
IP_STAT = T.StructType(
    [
        T.StructField("ip_hash", T.StringType()),
        T.StructField("ip_prefix", T.StringType()),
        T.StructField("n_events", T.LongType()),
        # Most distinct cookies seen on this IP hash on any one day of the window:
        # a home IP has a handful, an office or CGNAT address hundreds.
        T.StructField("ip_popularity", T.LongType()),
    ]
)
IP_HOUR = T.StructType(
    [
        T.StructField("ip_hash", T.StringType()),
        T.StructField("hour_bucket", T.LongType()),  # epoch hours (UTC)
    ]
)
COOKIE_FEATURES = T.StructType(
    [
        T.StructField("site_id", T.StringType(), False),
        T.StructField("cookie_id", T.StringType(), False),
        T.StructField("first_seen", T.TimestampType()),
        T.StructField("last_seen", T.TimestampType()),
        T.StructField("n_events", T.LongType()),
        T.StructField("n_active_days", T.IntegerType()),
        T.StructField("ips", T.ArrayType(IP_STAT)),  # top IPs by events, capped
        T.StructField(
            "ip_prefixes",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("ip_prefix", T.StringType()),
                        T.StructField("n_events", T.LongType()),
                    ]
                )
            ),
        ),
        T.StructField("ip_hours", T.ArrayType(IP_HOUR)),  # recent (ip, hour) activity, capped
        T.StructField("ua_family", T.StringType()),  # most frequent in the window
        T.StructField("ua_major", T.IntegerType()),  # latest seen
        T.StructField("os_family", T.StringType()),
        T.StructField("device_type", T.StringType()),
        T.StructField("country", T.StringType()),
        T.StructField("city", T.StringType()),
        T.StructField("hour_profile", T.ArrayType(T.DoubleType())),  # 24 shares summing to 1
        T.StructField("query_terms", T.ArrayType(T.StringType())),  # top terms, capped
        T.StructField("topics", T.ArrayType(T.StringType())),  # top topics, capped
        T.StructField("login_hash", T.StringType()),  # latest seen, null if never logged in
        # Distinct IP hashes in the window before ``ips`` was capped: tells a cookie that
        # roams over many networks (mobile) from one that stays home, and whether the cap bit.
        T.StructField("n_ips", T.LongType()),
        T.StructField("ua_hash", T.StringType()),  # most frequent exact user agent (hashed)
    ]
)

# cookie_features.home_networks (written beside COOKIE_FEATURES; absent in older lakes): the
# networks a cookie used on the most days of the window, the household level's evidence.
# ``network`` is "v4:<ip_hash>" (the keyed hash of the address) or "v6:<the /48 prefix>".
HOME_NETWORK = T.StructType(
    [
        T.StructField("network", T.StringType()),
        T.StructField("n_days", T.LongType()),  # distinct days of the window on it
        T.StructField("weekend_days", T.LongType()),  # of them, Saturdays and Sundays (UTC)
        T.StructField("n_events", T.LongType()),
    ]
)

# candidate_pairs/dt=D: each unordered pair once, (site_id_l, cookie_id_l) < (…_r).
PAIR_KEYS = ["site_id_l", "cookie_id_l", "site_id_r", "cookie_id_r"]


def pair_ordered() -> Column:
    """True when ``(site_id_l, cookie_id_l) < (site_id_r, cookie_id_r)``: each unordered pair
    of a self-join kept once, in the order every pair table uses."""
    return (F.col("site_id_l") < F.col("site_id_r")) | (
        (F.col("site_id_l") == F.col("site_id_r")) & (F.col("cookie_id_l") < F.col("cookie_id_r"))
    )


CANDIDATE_PAIRS = T.StructType(
    [
        T.StructField("site_id_l", T.StringType(), False),
        T.StructField("cookie_id_l", T.StringType(), False),
        T.StructField("site_id_r", T.StringType(), False),
        T.StructField("cookie_id_r", T.StringType(), False),
        T.StructField("blocking_keys", T.ArrayType(T.StringType()), False),
        # Sum over the pair's blocks of 1 / (block size - 1): 1.0 for a block of two.
        T.StructField("block_weight", T.DoubleType(), False),
        T.StructField("n_blocks", T.LongType(), False),  # blocks that produced the pair
        # Session evidence over the window (pair_scoring/session_evidence.py); 0 without it.
        T.StructField("hops_30s", T.LongType(), False),
        T.StructField("hops_120s", T.LongType(), False),
        T.StructField("hops_300s", T.LongType(), False),
        T.StructField("quiet_hops_300s", T.LongType(), False),  # hops on a quiet IP-day
        T.StructField("hop_days", T.LongType(), False),
        T.StructField("hop_min_gap_s", T.LongType(), False),  # 86400 without a hop
        T.StructField("quiet_codays", T.LongType(), False),  # days co-present on a quiet IP
        # Standing among each cookie's candidates by block_weight (common/evidence.py).
        T.StructField("evidence_rank", T.LongType(), False),  # 1: a cookie's strongest pair
        T.StructField("evidence_share", T.DoubleType(), False),  # of a cookie's total weight
    ]
)

# scored_pairs/dt=D
SCORED_PAIRS = T.StructType(
    [
        T.StructField("site_id_l", T.StringType(), False),
        T.StructField("cookie_id_l", T.StringType(), False),
        T.StructField("site_id_r", T.StringType(), False),
        T.StructField("cookie_id_r", T.StringType(), False),
        T.StructField("score", T.DoubleType(), False),
        T.StructField("threshold", T.DoubleType(), False),  # the champion's decision threshold
        T.StructField("model_version", T.StringType(), False),
    ]
)

# identity_graph/dt=D (contract: docs/tables.md)
LINK_TYPES = ("deterministic", "probabilistic", "singleton")
IDENTITY_GRAPH = T.StructType(
    [
        T.StructField("site_id", T.StringType(), False),
        T.StructField("cookie_id", T.StringType(), False),
        T.StructField("unified_id", T.StringType(), False),
        # The person's household (docs/households.md), or the person alone; stable like
        # unified_id; "h" + 12 hex.
        T.StructField("household_id", T.StringType(), False),
        T.StructField("component_size", T.LongType(), False),
        T.StructField("link_type", T.StringType(), False),
        T.StructField("confidence", T.DoubleType(), False),
    ]
)

# reconciliation/dt=D (contract: docs/bad-input.md, docs/tables.md); further columns hold the
# per-reason and warning counts.
RECONCILIATION_REQUIRED = [
    "lines_read",
    "visits_written",
    "duplicates_dropped",
    "no_consent_dropped",
    "quarantined",
]


def missing_columns(df: DataFrame, schema: T.StructType) -> list[str]:
    """Columns of ``schema`` that ``df`` lacks or holds with another type."""
    # simpleString ignores nullability (an array built by split() has non-null elements):
    # the contract is about names and types, not about what Spark could prove non-null.
    have = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    return [
        f.name
        for f in schema.fields
        if f.name not in have or have[f.name] != f.dataType.simpleString()
    ]


def conform(df: DataFrame, schema: T.StructType, *, table: str) -> DataFrame:
    """Check ``df`` carries every column of ``schema`` with its type; keep extra columns.

    Raises:
        ValueError: naming the missing or mistyped columns.
    """
    bad = missing_columns(df, schema)
    if bad:
        raise ValueError(f"{table}: missing or mistyped columns {bad}")
    return df
