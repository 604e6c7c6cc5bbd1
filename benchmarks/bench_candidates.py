"""Candidate generation at two scales: pair volume and time must grow linearly with traffic.

Synthetic ``cookie_features`` are generated in Spark (never on the driver): people with two
devices and three site cookies each, households on a home IP, ISP prefixes of 64
households, a third of the people behind office IPs of ~300 people, phones behind a fixed
pool of 20 carrier CGNAT addresses (so those blocks grow with traffic, as real ones do),
pet search terms per person and common terms. The same generator at 4x the cookies must
give ~4x the pairs (pairs per cookie flat) and roughly 4x the time; a quadratic blocking
would show 16x on the CGNAT blocks alone.

Figures: per scale, cookies, pairs, pairs per cookie, skipped blocks/cookies, median seconds
of ``build_candidates`` written to Parquet (features generated and written beforehand), and
the ratios of the larger scale to the smaller one.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from typing import Any

from benchmarks.common import main_for, timed


def _hash_mod(*cols: Any, salt: int, mod: int) -> Any:
    from pyspark.sql import functions as F

    return F.pmod(F.xxhash64(F.lit(salt), *cols), F.lit(mod))


def synthetic_features(spark: Any, cookies: int, *, partitions: int = 8) -> Any:
    """``cookies`` rows of ``COOKIE_FEATURES``, deterministic, generated in Spark."""
    from pyspark.sql import functions as F

    from spark_jobs.common.schemas import COOKIE_FEATURES

    hour0 = 495_000  # epoch hours, late 2026
    df = spark.range(0, cookies, numPartitions=partitions).select(
        F.col("id"),
        F.floor(F.col("id") / 6).alias("person"),
        F.floor(F.col("id") / 12).alias("household"),
        (F.floor(F.col("id") / 3) % 2 == 0).alias("phone"),
    )
    home = F.concat(F.lit("h"), F.col("household").cast("string"))
    home_prefix = F.concat(F.lit("p"), F.floor(F.col("household") / 64).cast("string"))
    office = F.concat(F.lit("o"), F.floor(F.col("person") / 300).cast("string"))
    cgnat = F.concat(F.lit("m"), _hash_mod("id", salt=3, mod=20).cast("string"))

    def ip(hash_: Any, prefix: Any, popularity: int) -> Any:
        return F.struct(
            hash_.alias("ip_hash"),
            prefix.alias("ip_prefix"),
            F.lit(5).cast("long").alias("n_events"),
            F.lit(popularity).cast("long").alias("ip_popularity"),
        )

    at_office = (~F.col("phone")) & (_hash_mod("person", salt=1, mod=3) == 0)
    on_mobile = F.col("phone") & (_hash_mod("id", salt=2, mod=10) < 6)
    ips = F.filter(
        F.array(
            ip(home, home_prefix, 6),
            F.when(at_office, ip(office, F.concat(F.lit("po"), office), 900)),
            F.when(on_mobile, ip(cgnat, F.lit("pm"), 5000)),
        ),
        lambda x: x.isNotNull(),
    )

    def hour(*cols: Any, salt: int) -> Any:
        return F.struct(
            home.alias("ip_hash"),
            (F.lit(hour0) + _hash_mod(*cols, salt=salt, mod=720)).alias("hour_bucket"),
        )

    def term(*cols: Any, salt: int, prefix: str, mod: int) -> Any:
        return F.concat(F.lit(prefix), _hash_mod(*cols, salt=salt, mod=mod).cast("string"))

    given = {
        "site_id": F.concat(F.lit("site"), _hash_mod("id", salt=4, mod=40).cast("string")),
        "cookie_id": F.concat(F.lit("c"), F.col("id").cast("string")),
        "first_seen": F.timestamp_seconds(F.lit(hour0 * 3600)),
        "last_seen": F.timestamp_seconds(F.lit((hour0 + 700) * 3600)),
        "n_events": F.lit(20).cast("long"),
        "n_active_days": F.lit(5),
        "ips": ips,
        "ip_prefixes": F.transform(
            ips, lambda x: F.struct(x["ip_prefix"].alias("ip_prefix"), x["n_events"])
        ),
        # Two hours of the person (shared by their cookies) and one of the cookie's own.
        "ip_hours": F.array(hour("person", salt=5), hour("person", salt=6), hour("id", salt=7)),
        "ua_family": F.when(F.col("phone"), "Mobile Safari").otherwise("Chrome"),
        "ua_major": F.when(F.col("phone"), 17).otherwise(120),
        "os_family": F.when(F.col("phone"), "iOS").otherwise("Windows"),
        "device_type": F.when(F.col("phone"), "mobile").otherwise("desktop"),
        "country": F.lit("FR"),
        "city": F.lit("Paris"),
        "hour_profile": F.array_repeat(F.lit(1 / 24), 24),
        "query_terms": F.array(
            term("person", salt=8, prefix="pet", mod=5000),
            term("id", salt=9, prefix="common", mod=50),
        ),
        "topics": F.array(term("id", salt=10, prefix="topic", mod=12)),
    }
    return df.select(
        *(
            (given[f.name] if f.name in given else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in COOKIE_FEATURES.fields
        )
    )


def _measure(
    spark: Any, cookies: int, *, runs: int, workdir: str, partitions: int
) -> dict[str, Any]:
    from pyspark.sql import functions as F

    from idgraph.core.settings import PairSettings
    from spark_jobs.pair_scoring.candidates import block_members, blocking_report, build_candidates

    cfg = PairSettings()
    features_path, pairs_path = f"{workdir}/features-{cookies}", f"{workdir}/pairs-{cookies}"
    synthetic_features(spark, cookies, partitions=partitions).write.mode("overwrite").parquet(
        features_path
    )
    features = spark.read.parquet(features_path)

    def generate() -> None:
        build_candidates(
            features,
            max_block_size=cfg.max_block_size,
            max_pairs_per_cookie=cfg.max_pairs_per_cookie,
        ).write.mode("overwrite").parquet(pairs_path)

    median, seconds, _ = timed(generate, runs=runs)
    pairs = spark.read.parquet(pairs_path)
    n_pairs = pairs.count()
    report = blocking_report(block_members(features), max_block_size=cfg.max_block_size)
    skipped = report.agg(
        F.sum("skipped_blocks").alias("blocks"), F.sum("skipped_cookies").alias("cookies")
    ).first()
    return {
        "cookies": cookies,
        "pairs": n_pairs,
        "pairs_per_cookie": round(n_pairs / cookies, 2),
        "skipped_blocks": int(skipped["blocks"]),
        "skipped_cookie_memberships": int(skipped["cookies"]),
        "seconds_median": median,
        "seconds": seconds,
        "microseconds_per_cookie": round(median / cookies * 1e6, 1),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Benchmark figures (see the module docstring)."""
    from idgraph.core.settings import SparkSettings
    from spark_jobs.common.session import build_spark

    spark = build_spark(
        SparkSettings(
            master="local[2]",
            shuffle_partitions=2 if quick else 8,
            driver_memory="4g",
            app_name="bench-candidates",
            extra_conf={"spark.ui.showConsoleProgress": "false"},
        )
    )
    small, large = (1_000, 4_000) if quick else (100_000, 400_000)
    partitions = 2 if quick else 8
    runs = 1 if quick else 3
    workdir = tempfile.mkdtemp(prefix="idgraph-bench-candidates-")
    started = time.perf_counter()
    try:
        lower = _measure(spark, small, runs=runs, workdir=workdir, partitions=partitions)
        upper = _measure(spark, large, runs=runs, workdir=workdir, partitions=partitions)
    finally:
        spark.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "small": lower,
        "large": upper,
        "traffic_ratio": large / small,
        "pairs_ratio": round(upper["pairs"] / lower["pairs"], 2),
        "time_ratio": round(upper["seconds_median"] / lower["seconds_median"], 2),
        "runs": runs,
        "total_seconds": round(time.perf_counter() - started, 1),
        "target": "pairs and time grow ~linearly (ratio ~ traffic ratio), < 50 pairs/cookie",
    }


if __name__ == "__main__":
    main_for("candidates")
