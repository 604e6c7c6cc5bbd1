"""Great Expectations 1.x suite for ``visits``: what a clean, privacy-safe visit looks like.

Run through :func:`spark_jobs.common.expectations.check_suite`; a failure stops the day.
Rules GX has no column expectation for (the event-time window) are Spark-SQL queries over
``{batch}`` that must return no rows.
"""

from __future__ import annotations

import datetime as dt

from spark_jobs.common.expectations import gx  # imported there, after its environment
from spark_jobs.etl.useragent import DEVICE_TYPES

SUITE_NAME = "visits"
# The network's keyed hash behind its version tag (spark_jobs/etl/normalize.py), never its text.
IPV4_PREFIX_RE = r"^v4:[0-9a-f]{64}$"
IPV6_PREFIX_RE = r"^v6:[0-9a-f]{64}$"
HEX64_RE = r"^[0-9a-f]{64}$"
NOT_NULL = ("event_id", "ts", "site_id", "cookie_id", "ip_prefix", "ip_hash", "ip_version")


def _sql_ts(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def visits_expectations(
    *, ts_start: dt.datetime, ts_end: dt.datetime
) -> list[gx.expectations.Expectation]:
    """The expectations of one day of ``visits``.

    Args:
        ts_start: earliest accepted event time (UTC, aware).
        ts_end: latest accepted event time (UTC, aware).
    """
    e = gx.expectations
    return [
        e.ExpectTableRowCountToBeBetween(min_value=1),
        *(e.ExpectColumnValuesToNotBeNull(column=c) for c in NOT_NULL),
        # As a query rather than ExpectColumnValuesToBeUnique: GX's Spark form of the latter
        # filters on a window function, which Spark's query listeners then fail to analyse.
        e.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "SELECT event_id, count(*) AS copies FROM {batch} "
                "GROUP BY event_id HAVING count(*) > 1"
            ),
            description="event_id is unique within the day",
        ),
        e.ExpectColumnValuesToBeInSet(column="ip_version", value_set=[4, 6]),
        e.ExpectColumnValuesToMatchRegexList(
            column="ip_prefix", regex_list=[IPV4_PREFIX_RE, IPV6_PREFIX_RE], match_on="any"
        ),
        e.ExpectColumnValuesToMatchRegex(column="ip_hash", regex=HEX64_RE),
        # Null (no login) passes: GX column-map expectations skip nulls.
        e.ExpectColumnValuesToMatchRegex(column="login_hash", regex=HEX64_RE),
        e.ExpectColumnValuesToBeInSet(column="device_type", value_set=list(DEVICE_TYPES)),
        e.ExpectColumnValuesToNotBeNull(column="device_type"),
        e.ExpectColumnValuesToBeBetween(column="ua_major", min_value=0),
        e.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "SELECT event_id, ts FROM {batch} "
                f"WHERE ts < TIMESTAMP '{_sql_ts(ts_start)}' OR ts > TIMESTAMP '{_sql_ts(ts_end)}'"
            ),
            description="event time within the day's accepted window",
        ),
        e.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "SELECT event_id FROM {batch} WHERE length(coalesce(url_path, '')) > 2048 "
                "OR exists(query_terms, t -> t = '' OR t <> lower(t))"
            ),
            description="url_path bounded; query terms non-empty and lowercase",
        ),
    ]
