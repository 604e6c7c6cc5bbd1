"""The ETL's keyed IP hashes: the pandas UDF (key from a broadcast, nothing in the plan) against
the built-in composition it replaced (``sha2(concat(unhex(pad), …))``, pads in the plan).

One simulated day (~200k raw lines; quick: ~2k) is parsed and cached once, then each way
computes the IP fields of every line and Spark aggregates the hashes (``max`` of each, so
nothing is pruned). Reported: median seconds of each, the extra seconds and microseconds per
line of the UDF, in one local[2] session (the JVM start is outside the timing).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from benchmarks.common import main_for, timed
from idgraph.core.settings import SparkSettings
from idgraph.simulator import simulate
from spark_jobs.common.session import build_spark
from spark_jobs.etl import normalize
from spark_jobs.etl.parse import parse_lines

DAY = dt.date(2026, 11, 18)
LINES_PER_PERSON_DAY = 9.4
KEY = b"benchmark-key-0123456789abcdef0123456789abcdef"


def _builtin_hmac(value: Column, key: bytes) -> Column:
    """The replaced form: HMAC-SHA256 from built-ins, the key's pads as literals."""
    inner_pad, outer_pad = normalize.hmac_pads(key)
    inner = F.unhex(F.sha2(F.concat(F.unhex(F.lit(inner_pad)), F.encode(value, "UTF-8")), 256))
    return F.sha2(F.concat(F.unhex(F.lit(outer_pad)), inner), 256)


def _builtin_fields(parsed: DataFrame) -> DataFrame:
    """The replaced output: the same parsing, the network in clear, the built-in HMAC."""
    fields = normalize.ip_text_fields(parsed, column="ip")
    return fields.select(
        F.col("_ip_network").alias("ip_prefix"),
        _builtin_hmac(F.col("_ip_canonical"), KEY).alias("ip_hash"),
    )


def _force(df: DataFrame) -> None:
    df.agg(F.max("ip_hash"), F.max("ip_prefix"), F.count("ip_hash")).collect()


def run(quick: bool = False) -> dict[str, Any]:
    """Time both ways of hashing one simulated day's IPs."""
    events = 2_000 if quick else 200_000
    runs = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="bench-ip-hash-") as tmp:
        spark = build_spark(
            SparkSettings(master="local[2]", shuffle_partitions=2, driver_memory="2g"),
            checkpoint_dir=f"{tmp}/_checkpoints",
        )
        try:
            simulate(tmp, DAY, 1, round(events / LINES_PER_PERSON_DAY), 3)
            lines = spark.read.text(f"{tmp}/raw/pixel/dt={DAY}").repartition(2)
            parsed = parse_lines(lines).select("ip").cache()
            n = parsed.count()
            key = spark.sparkContext.broadcast(KEY)
            _force(normalize.with_ip_fields(parsed, column="ip", key=key))  # warm the workers
            udf_median, udf_runs, _ = timed(
                lambda: _force(normalize.with_ip_fields(parsed, column="ip", key=key)), runs=runs
            )
            old_median, old_runs, _ = timed(lambda: _force(_builtin_fields(parsed)), runs=runs)
            # The new way's parsing alone (the hash dropped), to split parsing from hashing.
            parse_median, _, _ = timed(
                lambda: (
                    normalize.with_ip_fields(parsed, column="ip", key=key)
                    .agg(F.max("ip_version"), F.count("ip_version"))
                    .collect()
                ),
                runs=runs,
            )
        finally:
            spark.stop()
    return {
        "lines": n,
        "runs": runs,
        "pandas_udf_seconds": round(udf_median, 2),
        "pandas_udf_runs": udf_runs,
        "builtin_seconds": round(old_median, 2),
        "builtin_runs": old_runs,
        "ip_parsing_without_hash_seconds": round(parse_median, 2),
        "extra_seconds": round(udf_median - old_median, 2),
        "extra_us_per_line": round((udf_median - old_median) / n * 1e6, 2),
    }


if __name__ == "__main__":
    main_for("ip_hash")
