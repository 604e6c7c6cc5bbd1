"""Pair features: comparisons of the two cookies of a candidate pair.

Both sides' ``cookie_features`` are joined onto the pair with the suffixes ``_l`` / ``_r``;
each feature is a small named function returning a Column over those columns (tested
table-driven, one function at a time). Every feature is a DOUBLE and never null: a comparison
that cannot be made (a side without IPs, an unknown browser) gets the default documented on
its function, so the model sees the same encoding in training and scoring.

The features are symmetric in ``_l`` / ``_r`` (which side is "left" is only an ordering of
ids), and none reads ``login_hash``: that column is the label and is not even joined in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.common.evidence import with_evidence
from spark_jobs.common.schemas import PAIR_KEYS

SIDE_COLUMNS = [
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
    "hour_profile",
    "query_terms",
    "topics",
    "site_cookies",  # cookies of the cookie's site in this table: the site's traffic size
    "ua_hash",
    "ua_cookies",  # cookies of this table with the same exact user agent
]
assert "login_hash" not in SIDE_COLUMNS  # the label: never joined onto pairs here


def _l(name: str) -> Column:
    return F.col(f"{name}_l")


def _r(name: str) -> Column:
    return F.col(f"{name}_r")


def _nz(value: Column, default: float = 0.0) -> Column:
    return F.coalesce(value.cast("double"), F.lit(default))


def _known(*columns: Column) -> Column:
    known = columns[0].isNotNull()
    for column in columns[1:]:
        known = known & column.isNotNull()
    return known


def _or_default(condition: Column, value: Column, default: float = 0.0) -> Column:
    # Explicit rather than relying on null propagation: with ANSI off, size(null) is -1.
    return F.when(condition, _nz(value, default)).otherwise(F.lit(default))


def _jaccard(name: str) -> Column:
    left, right = _l(name), _r(name)
    ratio = F.try_divide(F.size(F.array_intersect(left, right)), F.size(F.array_union(left, right)))
    return _or_default(_known(left, right), ratio)


def _same(name: str) -> Column:
    return _or_default(_known(_l(name), _r(name)), _l(name) == _r(name))


# --- IP addresses -------------------------------------------------------------------------


def _shared_ips(side: Callable[[str], Column], other: Callable[[str], Column]) -> Column:
    """Entries of ``side``'s ``ips`` whose hash also appears on the other side."""
    other_hashes = other("ips").getField("ip_hash")
    return F.filter(side("ips"), lambda ip: F.array_contains(other_hashes, ip["ip_hash"]))


def _inverse_popularity(ip: Column) -> Column:
    return F.lit(1.0) / F.greatest(ip["ip_popularity"], F.lit(1)).cast("double")


def ip_shared() -> Column:
    """Distinct IP hashes both cookies used. Default 0."""
    both = F.array_intersect(_l("ips").getField("ip_hash"), _r("ips").getField("ip_hash"))
    return _or_default(_known(_l("ips"), _r("ips")), F.size(both))


def ip_jaccard() -> Column:
    """Jaccard of the two sets of IP hashes. Default 0."""
    left, right = _l("ips").getField("ip_hash"), _r("ips").getField("ip_hash")
    ratio = F.try_divide(F.size(F.array_intersect(left, right)), F.size(F.array_union(left, right)))
    return _or_default(_known(left, right), ratio)


def ip_shared_idf() -> Column:
    """Sum over shared IPs of 1 / popularity (most cookies on the IP in a day): a home IP
    shared by 2 cookies adds 0.5, an office IP with 400 adds 0.0025. Default 0."""

    def total(side: Callable[[str], Column], other: Callable[[str], Column]) -> Column:
        return F.aggregate(
            _shared_ips(side, other), F.lit(0.0), lambda acc, ip: acc + _inverse_popularity(ip)
        )

    # Both sides carry the same popularity per IP; averaging keeps the feature symmetric
    # even if they ever differ.
    return _or_default(_known(_l("ips"), _r("ips")), (total(_l, _r) + total(_r, _l)) / 2)


def ip_shared_max_idf() -> Column:
    """1 / popularity of the least popular shared IP (1.0: an IP only these two use).
    Default 0 (nothing shared)."""

    def best(side: Callable[[str], Column], other: Callable[[str], Column]) -> Column:
        return F.aggregate(
            _shared_ips(side, other),
            F.lit(0.0),
            lambda acc, ip: F.greatest(acc, _inverse_popularity(ip)),
        )

    return _or_default(_known(_l("ips"), _r("ips")), F.greatest(best(_l, _r), best(_r, _l)))


def ip_shared_event_share() -> Column:
    """Smaller of the two sides' share of events on shared IPs (1.0: both live entirely on
    common IPs). Default 0."""

    def share(side: Callable[[str], Column], other: Callable[[str], Column]) -> Column:
        def events(ips: Column) -> Column:
            return F.aggregate(
                ips, F.lit(0.0), lambda acc, ip: acc + F.coalesce(ip["n_events"], F.lit(0))
            )

        return F.try_divide(events(_shared_ips(side, other)), events(side("ips")))

    return _or_default(_known(_l("ips"), _r("ips")), F.least(share(_l, _r), share(_r, _l)))


def prefix_shared() -> Column:
    """Distinct IP prefixes (/24, /48) both cookies used. Default 0."""
    both = F.array_intersect(
        _l("ip_prefixes").getField("ip_prefix"), _r("ip_prefixes").getField("ip_prefix")
    )
    return _or_default(_known(_l("ip_prefixes"), _r("ip_prefixes")), F.size(both))


def prefix_jaccard() -> Column:
    """Jaccard of the two sets of IP prefixes. Default 0."""
    left = _l("ip_prefixes").getField("ip_prefix")
    right = _r("ip_prefixes").getField("ip_prefix")
    ratio = F.try_divide(F.size(F.array_intersect(left, right)), F.size(F.array_union(left, right)))
    return _or_default(_known(left, right), ratio)


def _hour_keys(side: Callable[[str], Column], offset: int = 0) -> Column:
    # Strings, not structs: array_intersect hashes strings but compares structs pairwise.
    return F.transform(
        side("ip_hours"),
        lambda h: F.concat_ws("|", h["ip_hash"], (h["hour_bucket"] + offset).cast("string")),
    )


def co_hours_same() -> Column:
    """(IP, hour) slots in which both cookies were active. Default 0."""
    both = F.array_intersect(_hour_keys(_l), _hour_keys(_r))
    return _or_default(_known(_l("ip_hours"), _r("ip_hours")), F.size(both))


def co_hours_near(hours: int = 1) -> Column:
    """(IP, hour) slots of one cookie within ``hours`` of the other's on the same IP; the
    smaller of the two directions. Default 0."""

    def near(side: Callable[[str], Column], other: Callable[[str], Column]) -> Column:
        around = F.flatten(F.array(*(_hour_keys(other, o) for o in range(-hours, hours + 1))))
        return F.size(F.array_intersect(_hour_keys(side), around))

    return _or_default(_known(_l("ip_hours"), _r("ip_hours")), F.least(near(_l, _r), near(_r, _l)))


# --- Sessions (pair-level evidence from the visits, see session_evidence.py) -------------


def session_hops() -> Column:
    """log(1 + hops within 5 minutes): one cookie's event followed by the other's at the same
    IP with the same exact user agent, nobody else's event with that agent in between.
    Default 0."""
    return _nz(F.log1p(F.col("hops_300s")))


def session_hops_fast() -> Column:
    """log(1 + hops within 30 seconds): a browser moving straight from one site to the next.
    Default 0."""
    return _nz(F.log1p(F.col("hops_30s")))


def session_quiet_hops() -> Column:
    """log(1 + hops within 5 minutes on a quiet IP-day, one with few user agents): a home
    rather than a carrier's CGNAT address full of the same phone. Default 0."""
    return _nz(F.log1p(F.col("quiet_hops_300s")))


def session_hop_days() -> Column:
    """Distinct days with a hop between the two cookies. Default 0."""
    return _nz(F.col("hop_days"))


def session_hop_closeness() -> Column:
    """60 / (60 + smallest hop gap in seconds): 1.0 for a hop within the same second, 0.5 at a
    minute. Default 0 (no hop)."""
    gap = F.col("hop_min_gap_s").cast("double")
    return _or_default(F.col("hops_300s") > 0, F.lit(60.0) / (F.lit(60.0) + gap))


def quiet_ip_codays() -> Column:
    """Distinct days both cookies, on different user agents (two devices), were seen on the
    same quiet IP. Default 0."""
    return _nz(F.col("quiet_codays"))


def candidate_rank_inverse() -> Column:
    """1 / the pair's better rank among its two cookies' candidates by blocking weight (1.0:
    the strongest candidate of one of them). Default 0 (unknown)."""
    rank = F.col("evidence_rank").cast("double")
    return _or_default(rank > 0, F.lit(1.0) / rank)


def candidate_weight_share() -> Column:
    """The larger of the pair's shares of one cookie's total blocking weight (1.0: that
    cookie's only candidate). Default 0."""
    return _nz(F.col("evidence_share"))


# --- Device and geography ----------------------------------------------------------------


def same_ua_family() -> Column:
    """1.0 when both browser families are known and equal, else 0.0."""
    return _same("ua_family")


def same_os_family() -> Column:
    """1.0 when both OS families are known and equal, else 0.0."""
    return _same("os_family")


def same_device_type() -> Column:
    """1.0 when both device types are known and equal, else 0.0."""
    return _same("device_type")


def ua_major_distance() -> Column:
    """|major version difference| of the same browser family (an update between a reset
    cookie and its successor is 1). Default -1: different or unknown family or version."""
    comparable = _known(_l("ua_major"), _r("ua_major"), _l("ua_family")) & (
        _l("ua_family") == _r("ua_family")
    )
    return _or_default(comparable, F.abs(_l("ua_major") - _r("ua_major")), -1.0)


def same_ua_exact() -> Column:
    """1.0 when both exact user-agent strings (hashed) are known and equal, else 0.0: the same
    browser sends the same string to every site; housemates on the same browser family often
    differ in OS minor or device model."""
    return _same("ua_hash")


def same_ua_log_cookies() -> Column:
    """log(1 + cookies with that exact user agent) when both cookies share it: a rare UA
    shared says more than the newest iPhone's. Default -1 (different or unknown)."""
    shared = _known(_l("ua_hash"), _l("ua_cookies")) & (_l("ua_hash") == _r("ua_hash"))
    return _or_default(shared, F.log1p(_l("ua_cookies")), -1.0)


def same_country() -> Column:
    """1.0 when both countries are known and equal, else 0.0."""
    return _same("country")


def same_city() -> Column:
    """1.0 when both (country, city) are known and equal, else 0.0."""
    return _same("country") * _same("city")


# --- Behaviour ---------------------------------------------------------------------------


def hour_profile_cosine() -> Column:
    """Cosine similarity of the 24-hour activity profiles. Default 0 (unknown or empty)."""

    def dot(a: Column, b: Column) -> Column:
        products = F.zip_with(a, b, lambda x, y: F.coalesce(x * y, F.lit(0.0)))
        return F.aggregate(products, F.lit(0.0), lambda acc, v: acc + v)

    left, right = _l("hour_profile"), _r("hour_profile")
    cosine = F.try_divide(dot(left, right), F.sqrt(dot(left, left)) * F.sqrt(dot(right, right)))
    return _or_default(_known(left, right), cosine)


def query_terms_jaccard() -> Column:
    """Jaccard of the two cookies' top query terms. Default 0."""
    return _jaccard("query_terms")


def query_terms_shared() -> Column:
    """Distinct query terms both cookies searched. Default 0."""
    both = F.array_intersect(_l("query_terms"), _r("query_terms"))
    return _or_default(_known(_l("query_terms"), _r("query_terms")), F.size(both))


def topics_jaccard() -> Column:
    """Jaccard of the two cookies' top content topics. Default 0."""
    return _jaccard("topics")


def log_events_min() -> Column:
    """log(1 + events) of the less active cookie. Default 0."""
    return _or_default(
        _known(_l("n_events"), _r("n_events")), F.log1p(F.least(_l("n_events"), _r("n_events")))
    )


def log_events_max() -> Column:
    """log(1 + events) of the more active cookie. Default 0."""
    return _or_default(
        _known(_l("n_events"), _r("n_events")), F.log1p(F.greatest(_l("n_events"), _r("n_events")))
    )


def events_ratio() -> Column:
    """Events of the less active cookie / events of the more active one. Default 0."""
    ratio = F.try_divide(
        F.least(_l("n_events"), _r("n_events")).cast("double"),
        F.greatest(_l("n_events"), _r("n_events")).cast("double"),
    )
    return _or_default(_known(_l("n_events"), _r("n_events")), ratio)


def active_days_min() -> Column:
    """Active days of the less regular cookie. Default 0."""
    return _or_default(
        _known(_l("n_active_days"), _r("n_active_days")),
        F.least(_l("n_active_days"), _r("n_active_days")),
    )


def active_days_max() -> Column:
    """Active days of the more regular cookie. Default 0."""
    return _or_default(
        _known(_l("n_active_days"), _r("n_active_days")),
        F.greatest(_l("n_active_days"), _r("n_active_days")),
    )


def _overlap_seconds() -> Column:
    # Positive: both were alive at the same time; negative: one started after the other ended.
    return F.unix_seconds(F.least(_l("last_seen"), _r("last_seen"))) - F.unix_seconds(
        F.greatest(_l("first_seen"), _r("first_seen"))
    )


def _seen_known() -> Column:
    return _known(_l("first_seen"), _l("last_seen"), _r("first_seen"), _r("last_seen"))


def seen_overlap_days() -> Column:
    """Days during which both cookies were alive (first to last seen). Default 0."""
    return _or_default(_seen_known(), F.greatest(_overlap_seconds(), F.lit(0)) / 86400.0)


def seen_gap_days() -> Column:
    """Days between one cookie's last visit and the other's first, when they do not overlap
    (a reset cookie starts as the old one stops: a small gap). Default 0."""
    return _or_default(_seen_known(), F.greatest(-_overlap_seconds(), F.lit(0)) / 86400.0)


def seen_overlap_share() -> Column:
    """Overlap of the lifetimes / the shorter lifetime. Default 0."""

    def span(side: Callable[[str], Column]) -> Column:
        return F.unix_seconds(side("last_seen")) - F.unix_seconds(side("first_seen"))

    share = F.try_divide(
        F.greatest(_overlap_seconds(), F.lit(0)).cast("double"),
        F.least(span(_l), span(_r)).cast("double"),
    )
    # Zero-length lives divide by zero: the default, not least()'s skip-the-null answer.
    return _or_default(_seen_known(), F.least(F.coalesce(share, F.lit(0.0)), F.lit(1.0)))


# --- Sites -------------------------------------------------------------------------------


def same_site() -> Column:
    """1.0 for two cookies of the same site (a reset cookie, another device), else 0.0."""
    return _same("site_id")


def site_pair_bucket(buckets: int = 64) -> Column:
    """The unordered pair of sites hashed into ``buckets`` values (0..buckets-1): lets the
    model learn site-pair effects without one column per pair."""
    pair = F.xxhash64(
        F.least(_l("site_id"), _r("site_id")), F.greatest(_l("site_id"), _r("site_id"))
    )
    return _nz(F.pmod(pair, F.lit(buckets)))


def site_cookies_log_min() -> Column:
    """log(1 + cookies) of the smaller site of the pair (its traffic size). Default 0."""
    return _or_default(
        _known(_l("site_cookies"), _r("site_cookies")),
        F.log1p(F.least(_l("site_cookies"), _r("site_cookies"))),
    )


def site_cookies_log_max() -> Column:
    """log(1 + cookies) of the larger site of the pair. Default 0."""
    return _or_default(
        _known(_l("site_cookies"), _r("site_cookies")),
        F.log1p(F.greatest(_l("site_cookies"), _r("site_cookies"))),
    )


COMPARISONS: dict[str, Callable[..., Column]] = {
    "ip_shared": ip_shared,
    "ip_jaccard": ip_jaccard,
    "ip_shared_idf": ip_shared_idf,
    "ip_shared_max_idf": ip_shared_max_idf,
    "ip_shared_event_share": ip_shared_event_share,
    "prefix_shared": prefix_shared,
    "prefix_jaccard": prefix_jaccard,
    "co_hours_same": co_hours_same,
    "co_hours_near": co_hours_near,
    "session_hops": session_hops,
    "session_hops_fast": session_hops_fast,
    "session_quiet_hops": session_quiet_hops,
    "session_hop_days": session_hop_days,
    "session_hop_closeness": session_hop_closeness,
    "quiet_ip_codays": quiet_ip_codays,
    "candidate_rank_inverse": candidate_rank_inverse,
    "candidate_weight_share": candidate_weight_share,
    "same_ua_family": same_ua_family,
    "same_os_family": same_os_family,
    "same_device_type": same_device_type,
    "ua_major_distance": ua_major_distance,
    "same_ua_exact": same_ua_exact,
    "same_ua_log_cookies": same_ua_log_cookies,
    "same_country": same_country,
    "same_city": same_city,
    "hour_profile_cosine": hour_profile_cosine,
    "query_terms_jaccard": query_terms_jaccard,
    "query_terms_shared": query_terms_shared,
    "topics_jaccard": topics_jaccard,
    "log_events_min": log_events_min,
    "log_events_max": log_events_max,
    "events_ratio": events_ratio,
    "active_days_min": active_days_min,
    "active_days_max": active_days_max,
    "seen_overlap_days": seen_overlap_days,
    "seen_gap_days": seen_gap_days,
    "seen_overlap_share": seen_overlap_share,
    "same_site": same_site,
    "site_pair_bucket": site_pair_bucket,
    "site_cookies_log_min": site_cookies_log_min,
    "site_cookies_log_max": site_cookies_log_max,
}

FEATURE_COLUMNS: list[str] = list(COMPARISONS)
"""Every comparison column, in order: every one DOUBLE and never null."""

EVIDENCE_FEATURES: frozenset[str] = frozenset(
    {
        "ip_shared",
        "ip_jaccard",
        "ip_shared_idf",
        "ip_shared_max_idf",
        "ip_shared_event_share",
        "prefix_shared",
        "prefix_jaccard",
        "co_hours_same",
        "co_hours_near",
        "session_hops",
        "session_hops_fast",
        "session_quiet_hops",
        "session_hop_days",
        "session_hop_closeness",
        "quiet_ip_codays",
        "candidate_rank_inverse",
        "candidate_weight_share",
        "same_ua_family",
        "same_os_family",
        "same_device_type",
        "same_ua_exact",
        "same_country",
        "same_city",
        "hour_profile_cosine",
        "query_terms_jaccard",
        "query_terms_shared",
        "topics_jaccard",
    }
)
"""Comparisons where more agreement is never evidence against the same person.

The model is constrained to be non-decreasing in them: the labelled pairs (both cookies logged
in) are a small, skewed sample, and without the constraint trees learn its quirks (a dip in
score at some IP overlap) that do not hold for the anonymous pairs the model mostly scores.
"""


def model_features(excluded: Iterable[str] = ()) -> list[str]:
    """The model's input columns: ``FEATURE_COLUMNS`` without ``excluded``, in order.

    Raises:
        ValueError: when ``excluded`` names a column that is not a comparison.
    """
    excluded = set(excluded)
    unknown = excluded - set(FEATURE_COLUMNS)
    if unknown:
        raise ValueError(f"unknown pair features to exclude: {sorted(unknown)}")
    return [c for c in FEATURE_COLUMNS if c not in excluded]


def monotone_constraints(features: Sequence[str]) -> str:
    """XGBoost ``monotone_constraints`` for ``features``: 1 for evidence, 0 for the rest."""
    return "(" + ",".join("1" if f in EVIDENCE_FEATURES else "0" for f in features) + ")"


def feature_columns(*, co_activity_hours: int = 1, site_pair_buckets: int = 64) -> list[Column]:
    """Every comparison as a named DOUBLE column over ``*_l`` / ``*_r`` columns."""
    params: dict[str, dict[str, int]] = {
        "co_hours_near": {"hours": co_activity_hours},
        "site_pair_bucket": {"buckets": site_pair_buckets},
    }
    return [
        fn(**params.get(name, {})).cast("double").alias(name) for name, fn in COMPARISONS.items()
    ]


def _side(features: DataFrame, suffix: str) -> DataFrame:
    return features.select(
        F.col("site_id").alias(f"site_id{suffix}"),
        F.col("cookie_id").alias(f"cookie_id{suffix}"),
        *(F.col(c).alias(f"{c}{suffix}") for c in SIDE_COLUMNS),
    )


def with_sides(pairs: DataFrame, features: DataFrame) -> DataFrame:
    """``pairs`` with both cookies' comparison inputs joined as ``<column>_l`` / ``_r``.

    Pairs whose cookie is missing from ``features`` are dropped (inner join).
    """
    site_cookies = features.groupBy("site_id").agg(F.count("*").alias("site_cookies"))
    if "ua_hash" not in features.columns:  # features built before the column existed
        features = features.withColumn("ua_hash", F.lit(None).cast("string"))
    ua_cookies = (
        features.where(F.col("ua_hash").isNotNull())
        .groupBy("ua_hash")
        .agg(F.count("*").alias("ua_cookies"))
    )
    sized = features.join(F.broadcast(site_cookies), "site_id").join(ua_cookies, "ua_hash", "left")
    return pairs.join(_side(sized, "_l"), ["site_id_l", "cookie_id_l"]).join(
        _side(sized, "_r"), ["site_id_r", "cookie_id_r"]
    )


def build_pair_features(
    pairs: DataFrame,
    features: DataFrame,
    *,
    co_activity_hours: int = 1,
    site_pair_buckets: int = 64,
) -> DataFrame:
    """Pair features for candidate pairs.

    Args:
        pairs: rows with ``PAIR_KEYS`` (other columns, e.g. ``blocking_keys``, are kept) and
            the session evidence columns of ``candidate_pairs`` (missing ones: no evidence).
        features: ``cookie_features`` of the same day (schema ``COOKIE_FEATURES``).
        co_activity_hours: window of ``co_hours_near``.
        site_pair_buckets: number of hashed buckets of ``site_pair_bucket``.

    Returns:
        ``pairs``' columns plus ``FEATURE_COLUMNS`` (DOUBLE, never null). ``login_hash`` is
        not read: join it separately for labels.
    """
    pairs = with_evidence(pairs)
    kept = [c for c in pairs.columns if c not in PAIR_KEYS]
    return with_sides(pairs, features).select(
        *PAIR_KEYS,
        *kept,
        *feature_columns(co_activity_hours=co_activity_hours, site_pair_buckets=site_pair_buckets),
    )
