"""Opt-outs recorded by the lookup service and drained into the lake table ``optouts``.

Table ``optouts`` (partitioned by ``dt`` = day drained): ``kind`` (``cookie`` or
``login_hash``), ``site_id``, ``cookie_id``, ``login_hash``, ``requested_at``. An opt-out is
permanent: every later stage drops the cookie, and every cookie that carries the login hash.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.common.io import path_exists
from spark_jobs.common.paths import Lake

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
