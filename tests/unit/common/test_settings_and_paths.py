"""Settings validate before Spark starts; lake paths are plain strings for local and S3."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from idgraph.core.lake import Lake
from idgraph.core.settings import EtlSettings, UnknownSettingError, load_settings
from idgraph.core.settings.environment import NOT_SETTINGS


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


# Spelled in pieces so that the repository's scan of IDGRAPH_* names skips them.
TYPO = "IDGRAPH_GRAPH_MAX_COMPONENT_" + "SIZ"


def test_a_misspelt_variable_fails_and_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TYPO, "5")
    with pytest.raises(UnknownSettingError, match=f"{TYPO} is not a setting") as caught:
        load_settings()
    assert "did you mean IDGRAPH_GRAPH_MAX_COMPONENT_SIZE?" in str(caught.value)


def test_every_unknown_variable_is_named_close_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDGRAPH_" + "ZZZ", "1")  # nothing like it
    monkeypatch.setenv("idgraph_redis_" + "ulr", "redis://h:1")  # read case-insensitively too
    with pytest.raises(UnknownSettingError) as caught:
        load_settings()
    message = str(caught.value)
    assert "IDGRAPH_" + "ZZZ is not a setting: no setting is close" in message
    assert "idgraph_redis_" + "ulr is not a setting: did you mean IDGRAPH_REDIS_URL?" in message


def test_valid_variables_of_every_concern_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "IDGRAPH_LAKE_ROOT": "/env/lake",
        "IDGRAPH_SPARK_EXTRA_CONF": '{"spark.sql.adaptive.enabled": "false"}',
        "IDGRAPH_SIM_PEOPLE": "12",
        "IDGRAPH_ETL_LATENESS_DAYS": "2",
        "IDGRAPH_PAIRS_MAX_BLOCK_SIZE": "99",
        "IDGRAPH_TRAIN_SEED": "3",
        "IDGRAPH_GRAPH_MAX_COMPONENT_SIZE": "100",
        "idgraph_redis_cluster": "true",  # pydantic-settings ignores case; so does the check
        "IDGRAPH_PORT": "9090",  # the service's settings have the bare prefix
        "IDGRAPH_AWS_REGION": "us-east-2",
        **dict.fromkeys(NOT_SETTINGS, "x"),  # read by benchmarks, notebooks and serve
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.lake.root == "/env/lake"
    assert settings.spark.extra_conf == {"spark.sql.adaptive.enabled": "false"}
    assert (settings.simulator.people, settings.etl.lateness_days) == (12, 2)
    assert (settings.pairs.max_block_size, settings.training.seed) == (99, 3)
    assert settings.graph.max_component_size == 100
    assert settings.redis.cluster and settings.service.port == 9090
    assert settings.aws.region == "us-east-2"


def test_the_cli_refuses_a_misspelt_variable_before_any_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from idgraph.cli import app

    monkeypatch.setenv(TYPO, "5")
    result = CliRunner().invoke(app, ["rollback", "--lake", str(tmp_path)])
    assert result.exit_code == 2
    assert "did you mean IDGRAPH_GRAPH_MAX_COMPONENT_SIZE?" in result.output
    assert not (tmp_path / "redis").exists()  # the embedded server was never started


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
