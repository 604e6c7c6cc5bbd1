"""The ETL refuses the public development IP key for any lake that is not local."""

from __future__ import annotations

import datetime as dt

import pytest

from idgraph.core.settings import load_settings
from idgraph.core.stage import StageFailed
from spark_jobs.etl.job import check_ip_hash_key, run_etl


def test_the_development_key_is_refused_on_s3() -> None:
    settings = load_settings(lake={"root": "s3://prod-bucket/lake"})
    with pytest.raises(StageFailed, match="IDGRAPH_ETL_IP_HASH_KEY") as caught:
        check_ip_hash_key(settings)
    assert "\n" not in str(caught.value)
    # run_etl refuses before touching Spark or the lake at all
    with pytest.raises(StageFailed, match="development IP hash key"):
        run_etl(None, settings, dt.date(2026, 3, 1))  # type: ignore[arg-type]


def test_a_real_key_or_a_local_lake_is_accepted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    check_ip_hash_key(
        load_settings(lake={"root": "s3://prod-bucket/lake"}, etl={"ip_hash_key": "k" * 32})
    )
    check_ip_hash_key(load_settings(lake={"root": str(tmp_path)}))
    check_ip_hash_key(load_settings(lake={"root": f"file://{tmp_path}"}))


def test_the_key_never_shows_in_the_refusal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from idgraph.core.settings.etl import DEV_IP_HASH_KEY

    monkeypatch.setenv("IDGRAPH_LAKE_ROOT", "s3://prod-bucket/lake")
    with pytest.raises(StageFailed) as caught:
        check_ip_hash_key(load_settings())
    assert DEV_IP_HASH_KEY not in str(caught.value)
