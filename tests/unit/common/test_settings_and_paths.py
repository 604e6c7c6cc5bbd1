"""Settings validate before Spark starts; lake paths are plain strings for local and S3."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from idgraph.settings import EtlSettings, load_settings
from spark_jobs.common.paths import Lake


def test_env_overrides_and_cli_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDGRAPH_ETL_LATENESS_DAYS", "3")
    monkeypatch.setenv("IDGRAPH_LAKE_ROOT", "/env/lake")
    settings = load_settings(lake={"root": "s3a://bucket/lake/"})
    assert settings.etl.lateness_days == 3
    assert settings.lake.root == "s3://bucket/lake"


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError):
        EtlSettings(no_such_field=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unknown settings concern"):
        load_settings(nope={"x": 1})


def test_invalid_env_value_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDGRAPH_ETL_LATENESS_DAYS", "-1")
    with pytest.raises(ValidationError):
        load_settings()


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ("/data/lake", "/data/lake/visits/dt=2026-11-20"),
        ("s3://bucket/lake", "s3://bucket/lake/visits/dt=2026-11-20"),
        ("file:///tmp/l/", "file:///tmp/l/visits/dt=2026-11-20"),
    ],
)
def test_partition_paths(root: str, expected: str) -> None:
    lake = Lake(load_settings(lake={"root": root}).lake.root)
    assert lake.partition("visits", dt.date(2026, 11, 20)) == expected


def test_local_path_only_for_local_lakes() -> None:
    assert Lake("file:///tmp/l").local_path("redis") == "/tmp/l/redis"
    with pytest.raises(ValueError):
        Lake("s3://b/l").local_path("redis")


def test_conform_ignores_nullability_but_not_types(spark) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from spark_jobs.common.schemas import missing_columns

    schema = T.StructType([T.StructField("terms", T.ArrayType(T.StringType()))])
    df = spark.createDataFrame([("a b",)], "s string")
    assert missing_columns(df.select(F.split("s", " ").alias("terms")), schema) == []
    assert missing_columns(df.select(F.array(F.lit(1)).alias("terms")), schema) == ["terms"]
    assert missing_columns(df, schema) == ["terms"]
