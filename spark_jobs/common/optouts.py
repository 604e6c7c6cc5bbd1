"""Opt-outs recorded by the lookup service and drained into the lake table ``optouts``.

Table ``optouts`` (partitioned by ``dt`` = day drained): ``kind`` (``cookie`` or
``login_hash``), ``site_id``, ``cookie_id``, ``login_hash``, ``requested_at``. An opt-out is
permanent: every later stage drops the cookie, and every cookie that carries the login hash.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from idgraph.core.lake import Lake
from spark_jobs.common.io import path_exists

OPTOUTS = T.StructType(
    [
        T.StructField("kind", T.StringType(), False),
        T.StructField("site_id", T.StringType()),
        T.StructField("cookie_id", T.StringType()),
        T.StructField("login_hash", T.StringType()),
        T.StructField("requested_at", T.TimestampType()),
    ]
)


def read_optouts(spark: SparkSession, lake: Lake) -> DataFrame:
    """Every opt-out ever drained (an empty frame when there are none)."""
    root = lake.table("optouts")
    if not path_exists(spark, root):
        return spark.createDataFrame([], OPTOUTS)
    return spark.read.option("basePath", root).parquet(root).select(*OPTOUTS.fieldNames())


def drop_opted_out(
    df: DataFrame,
    optouts: DataFrame,
    *,
    site_col: str = "site_id",
    cookie_col: str = "cookie_id",
    login_col: str | None = "login_hash",
) -> DataFrame:
    """Rows of ``df`` whose cookie, or whose login hash, has not opted out.

    Both checks are left-anti joins against small broadcast tables (opt-outs are rare).
    """
    cookies = (
        optouts.where(F.col("kind") == "cookie")
        .select(F.col("site_id").alias("_o_site"), F.col("cookie_id").alias("_o_cookie"))
        .distinct()
    )
    out = df.join(
        F.broadcast(cookies),
        (df[site_col] == F.col("_o_site")) & (df[cookie_col] == F.col("_o_cookie")),
        "left_anti",
    )
    if login_col is not None:
        logins = (
            optouts.where(F.col("kind") == "login_hash")
            .select(F.col("login_hash").alias("_o_login"))
            .distinct()
        )
        out = out.join(F.broadcast(logins), out[login_col] == F.col("_o_login"), "left_anti")
    return out


def people_of(requests: DataFrame, graph: DataFrame, logins: DataFrame) -> DataFrame:
    """The opt-out rows that keep the whole people of ``requests`` out of every later graph.

    An opt-out names a cookie, or a login hash (every cookie seen with it). Its people are
    the unified ids of those cookies in ``graph``; each of their cookies gets a ``cookie``
    row, and each login hash they carried gets a ``login_hash`` row, so a new cookie that
    logs in with it later is dropped too. A login hash that some cookie of another person
    also carries (generic, or split off by over-merge protection) is not the person's
    alone: it gets no row, and the other person stays. Every row keeps the
    ``requested_at`` of the request that brought it in (the earliest, when several did).

    Args:
        requests: opt-out rows (``OPTOUTS``) as the service recorded them.
        graph: identity graph rows (``site_id, cookie_id, unified_id``) the requests are
            read against (the one the service answered from, and the newest one).
        logins: ``site_id, cookie_id, login_hash`` of the same days (``cookie_features``).

    Returns:
        ``requests`` and the rows they bring in, one per cookie or login hash, in ``OPTOUTS``
        columns.
    """
    keys = ["site_id", "cookie_id"]
    cookies = graph.select(*keys, "unified_id").distinct()
    carried = (
        logins.where(F.col("login_hash").isNotNull())
        .select(*keys, "login_hash")
        .join(cookies.select(*keys), keys)
        .distinct()
    )
    named = (
        requests.where(F.col("kind") == "cookie")
        .select(*keys, "requested_at")
        .unionByName(
            requests.where(F.col("kind") == "login_hash")
            .select("login_hash", "requested_at")
            .join(carried, "login_hash")
            .select(*keys, "requested_at")
        )
    )
    people = named.join(cookies, keys).select("unified_id", "requested_at")
    members = (
        people.join(cookies, "unified_id")
        .select(*keys, "requested_at")
        .unionByName(named)
        .groupBy(*keys)
        .agg(F.min("requested_at").alias("requested_at"))
    )
    own_logins = (
        carried.join(members.withColumn("_member", F.lit(True)), keys, "left")
        .groupBy("login_hash")
        .agg(
            F.count(F.when(F.col("_member").isNull(), 1)).alias("_others"),
            F.min("requested_at").alias("requested_at"),
        )
        .where(F.col("_others") == 0)
    )
    rows = [
        requests.select(*OPTOUTS.fieldNames()),
        members.select(
            F.lit("cookie").alias("kind"),
            *keys,
            F.lit(None).cast("string").alias("login_hash"),
            "requested_at",
        ),
        own_logins.select(
            F.lit("login_hash").alias("kind"),
            F.lit(None).cast("string").alias("site_id"),
            F.lit(None).cast("string").alias("cookie_id"),
            "login_hash",
            "requested_at",
        ),
    ]
    out = rows[0]
    for more in rows[1:]:
        out = out.unionByName(more)
    identity = ["kind", "site_id", "cookie_id", "login_hash"]  # one row each, earliest time
    return out.groupBy(*identity).agg(F.min("requested_at").alias("requested_at"))
