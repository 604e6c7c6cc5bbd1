"""The IP hash key comes from Secrets Manager in production: the resolver reads it through a
client it is given, and ``idgraph submit`` hands the job the secret's ARN, never the key.

The client here is botocore's real Secrets Manager client with a ``Stubber`` answering for
AWS (no AWS is reached): the request the code makes is checked against what the stub expects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from idgraph.core.settings import AwsSettings, load_settings
from idgraph.core.settings.etl import DEV_IP_HASH_KEY
from idgraph.core.stage import StageFailed
from idgraph.submit.emr import spark_submit_parameters
from spark_jobs.etl.ip_key import resolve_ip_hash_key, secret_region
from spark_jobs.etl.job import run_etl

ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:idgraph-prod/etl-ip-hash-key-AbCdEf"
KEY = "0f" * 32  # what an operator puts into the secret: 32 random bytes as hex


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = botocore.session.get_session().create_client(
        "secretsmanager",
        region_name=secret_region(ARN),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _s3_settings() -> Any:
    return load_settings(
        lake={"root": "s3://idgraph-prod-lake/lake"}, etl={"ip_hash_key_secret_arn": ARN}
    )


def test_the_key_is_read_from_the_secret_and_replaces_the_default(stubbed) -> None:  # type: ignore[no-untyped-def]
    client, stub = stubbed
    stub.add_response(
        "get_secret_value",
        {"ARN": ARN, "Name": "idgraph-prod/etl-ip-hash-key", "SecretString": KEY},
        {"SecretId": ARN},
    )
    settings = _s3_settings()
    assert settings.etl.ip_hash_key.get_secret_value() == DEV_IP_HASH_KEY
    resolved = resolve_ip_hash_key(settings, client)
    assert resolved.etl.ip_hash_key.get_secret_value() == KEY
    assert KEY not in repr(resolved) and KEY not in str(resolved.model_dump())
    assert settings.etl.ip_hash_key.get_secret_value() == DEV_IP_HASH_KEY  # not mutated


def test_a_secret_without_a_value_fails_in_one_line_naming_the_setting(stubbed) -> None:  # type: ignore[no-untyped-def]
    client, stub = stubbed
    stub.add_client_error(
        "get_secret_value",
        service_error_code="ResourceNotFoundException",
        service_message="Secrets Manager can't find the specified secret value for staging "
        "label: AWSCURRENT",
        expected_params={"SecretId": ARN},
    )
    with pytest.raises(StageFailed, match="etl.ip_hash_key_secret_arn") as caught:
        resolve_ip_hash_key(_s3_settings(), client)
    message = str(caught.value)
    assert "ResourceNotFoundException" in message and ARN in message and "\n" not in message


def test_a_short_key_in_the_secret_is_refused_without_showing_it(stubbed) -> None:  # type: ignore[no-untyped-def]
    client, stub = stubbed
    stub.add_response("get_secret_value", {"SecretString": "tooshort-key"}, {"SecretId": ARN})
    with pytest.raises(StageFailed, match="12 characters") as caught:
        resolve_ip_hash_key(_s3_settings(), client)
    assert "tooshort-key" not in str(caught.value)


def test_without_an_arn_no_secret_is_read(stubbed) -> None:  # type: ignore[no-untyped-def]
    client, _ = stubbed  # no response queued: any call would raise
    settings = load_settings(lake={"root": "s3://l/lake"}, etl={"ip_hash_key": "k" * 40})
    assert resolve_ip_hash_key(settings, client) is settings


def test_the_arn_setting_is_checked_and_names_the_region() -> None:
    assert secret_region(ARN) == "eu-central-1"
    assert load_settings(etl={"ip_hash_key_secret_arn": ""}).etl.ip_hash_key_secret_arn is None
    with pytest.raises(ValidationError, match="Secrets Manager secret ARN"):
        load_settings(etl={"ip_hash_key_secret_arn": "idgraph-prod/etl-ip-hash-key"})


def test_run_etl_refuses_the_default_on_s3_in_one_line_before_any_spark_work() -> None:
    settings = load_settings(lake={"root": "s3://idgraph-prod-lake/lake"})
    with pytest.raises(StageFailed) as caught:
        run_etl(None, settings, dt.date(2026, 3, 1))  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    assert "IDGRAPH_ETL_IP_HASH_KEY_SECRET_ARN (etl.ip_hash_key_secret_arn)" in message
    assert DEV_IP_HASH_KEY not in message


def test_submit_passes_the_arn_to_the_driver_and_never_the_key() -> None:
    aws = AwsSettings(artifacts_uri="s3://a/code", logs_uri="s3://l/emr")
    etl = load_settings(etl={"ip_hash_key_secret_arn": ARN, "ip_hash_key": KEY}).etl
    environ = {
        "IDGRAPH_ETL_IP_HASH_KEY": KEY,
        "IDGRAPH_ETL_IP_HASH_KEY_SECRET_ARN": ARN,
        "IDGRAPH_ETL_LATENESS_DAYS": "2",
    }
    params = spark_submit_parameters(aws, environ=environ, etl=etl).split()
    assert f"spark.emr-serverless.driverEnv.IDGRAPH_ETL_IP_HASH_KEY_SECRET_ARN={ARN}" in params
    assert not [p for p in params if p.startswith("spark.executorEnv.IDGRAPH_ETL_IP_HASH_KEY")]
    assert "spark.executorEnv.IDGRAPH_ETL_LATENESS_DAYS=2" in params  # other settings still go
    assert KEY not in " ".join(params)
    assert "IDGRAPH_ETL_IP_HASH_KEY=" not in " ".join(params)
    # Without an ARN nothing about the key is passed at all.
    assert "IP_HASH_KEY" not in spark_submit_parameters(aws, environ={}, etl=None)
