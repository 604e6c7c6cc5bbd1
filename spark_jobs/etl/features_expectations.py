"""Great Expectations 1.x suite for ``cookie_features``: what a valid feature table looks like.

Array-valued rules (hour profile, caps) have no column expectation in GX, so they are written
as ``UnexpectedRowsExpectation`` Spark-SQL queries over ``{batch}``; each must return no rows.
"""

from __future__ import annotations

from spark_jobs.common.expectations import gx  # imported there, after its environment
from spark_jobs.etl import features as feats

SUITE_NAME = "cookie_features"
HOUR_PROFILE_TOLERANCE = 1e-6


def _no_rows(where: str, description: str) -> gx.expectations.UnexpectedRowsExpectation:
    return gx.expectations.UnexpectedRowsExpectation(
        unexpected_rows_query=f"SELECT site_id, cookie_id FROM {{batch}} WHERE {where}",
        description=description,
    )


def cookie_features_expectations(
    *,
    window_days: int,
    max_ips: int = feats.MAX_IPS,
    max_prefixes: int = feats.MAX_PREFIXES,
    max_ip_hours: int = feats.MAX_IP_HOURS,
    max_terms: int = feats.MAX_TERMS,
    max_topics: int = feats.MAX_TOPICS,
) -> list[gx.expectations.Expectation]:
    """The expectations of a ``cookie_features`` partition built with these caps.

    Args:
        window_days: the feature window; ``n_active_days`` cannot exceed it.
        max_ips: cap on ``ips``.
        max_prefixes: cap on ``ip_prefixes``.
        max_ip_hours: cap on ``ip_hours``.
        max_terms: cap on ``query_terms``.
        max_topics: cap on ``topics``.
    """
    e = gx.expectations
    tol = HOUR_PROFILE_TOLERANCE
    return [
        e.ExpectCompoundColumnsToBeUnique(column_list=["site_id", "cookie_id"]),
        e.ExpectColumnValuesToNotBeNull(column="site_id"),
        e.ExpectColumnValuesToNotBeNull(column="cookie_id"),
        e.ExpectColumnValuesToNotBeNull(column="first_seen"),
        e.ExpectColumnValuesToNotBeNull(column="last_seen"),
        e.ExpectColumnValuesToNotBeNull(column="n_events"),
        e.ExpectColumnValuesToBeBetween(column="n_events", min_value=1),
        e.ExpectColumnValuesToBeBetween(column="n_active_days", min_value=1, max_value=window_days),
        e.ExpectColumnValuesToBeBetween(column="n_ips", min_value=1),
        e.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="last_seen", column_B="first_seen", or_equal=True
        ),
        # Nulls are allowed (never logged in); anything present is a lowercase SHA-256.
        e.ExpectColumnValuesToMatchRegex(column="login_hash", regex=r"^[0-9a-f]{64}$"),
        e.ExpectColumnValuesToBeInSet(
            column="device_type", value_set=["mobile", "tablet", "desktop", "other"]
        ),
        _no_rows(
            "hour_profile IS NULL OR size(hour_profile) != 24"
            " OR exists(hour_profile, x -> x IS NULL OR x < 0)"
            f" OR abs(aggregate(hour_profile, 0D, (acc, x) -> acc + x) - 1) > {tol}",
            "hour_profile has 24 non-negative shares summing to 1",
        ),
        _no_rows(
            f"size(ips) NOT BETWEEN 1 AND {max_ips}"
            f" OR size(ip_prefixes) NOT BETWEEN 1 AND {max_prefixes}"
            f" OR size(ip_hours) NOT BETWEEN 1 AND {max_ip_hours}"
            f" OR size(query_terms) > {max_terms} OR size(topics) > {max_topics}",
            "every capped array is within its cap (and IP arrays are not empty)",
        ),
        _no_rows(
            "exists(ips, i -> i.ip_hash IS NULL OR i.n_events < 1 OR i.ip_popularity < 1)",
            "every IP entry has a hash, at least one event and a popularity of at least 1",
        ),
        _no_rows(
            "aggregate(ips, 0L, (acc, i) -> acc + i.n_events) > n_events",
            "events counted on the top IPs never exceed the cookie's events",
        ),
    ]
