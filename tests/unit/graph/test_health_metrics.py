"""The health row's CloudWatch metrics: the datums, and sending them without ever failing a day.

Nothing here reaches AWS: sending goes to moto, or to a closed port on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import pytest
import urllib3.util.connection
from pyspark.sql import Row

from idgraph.core.settings import AwsSettings, load_settings
from spark_jobs.graph.metrics import emit_health_metrics, health_metric_data

DAY = dt.date(2024, 3, 5)
NOW = dt.datetime(2024, 3, 6, 4, 30, tzinfo=dt.UTC)
NAMESPACE = "idgraph/graph"
DEGRADED = {
    "deterministic_edges": 9_000,
    "probabilistic_edges": 1_200,
    "scored_pairs": 0,
    "model_version": None,
    "gate_passed": True,
    "degraded": True,
    "degraded_reasons": ["scored without a model although models/registry has 20240304.1"],
}
HEALTHY = {
    "deterministic_edges": 9_100,
    "probabilistic_edges": 2_500,
    "scored_pairs": 40_000,
    "model_version": "20240304.1",
    "gate_passed": True,
    "degraded": False,
    "degraded_reasons": [],
}


def _values(data: list[dict[str, Any]]) -> dict[str, float]:
    return {d["MetricName"]: d["Value"] for d in data}


def _settings(namespace: str | None) -> Any:
    return load_settings(aws={"metrics_namespace": namespace, "region": "eu-west-1"})


def test_degraded_row() -> None:
    data = health_metric_data(DEGRADED, day=DAY, now=NOW)
    assert _values(data) == {
        "GraphDegraded": 1.0,
        "ProbabilisticEdges": 1_200.0,
        "DeterministicEdges": 9_000.0,
        "GatePassed": 1.0,
        "ScoredWithModel": 0.0,
    }
    assert all(d["Unit"] == "Count" and d["Timestamp"] == NOW for d in data)
    assert all("Dimensions" not in d for d in data)  # the alarm watches the bare metric


def test_healthy_row() -> None:
    assert _values(health_metric_data(HEALTHY, day=DAY, now=NOW)) == {
        "GraphDegraded": 0.0,
        "ProbabilisticEdges": 2_500.0,
        "DeterministicEdges": 9_100.0,
        "GatePassed": 1.0,
        "ScoredWithModel": 1.0,
    }


def test_rows_without_the_degraded_columns_and_spark_rows() -> None:
    old = {k: v for k, v in HEALTHY.items() if not k.startswith("degraded")}
    assert _values(health_metric_data(old, day=DAY, now=NOW))["GraphDegraded"] == 0.0
    row = Row(**{**DEGRADED, "gate_passed": False})
    values = _values(health_metric_data(row, day=DAY, now=NOW))  # type: ignore[arg-type]
    assert values["GraphDegraded"] == 1.0 and values["GatePassed"] == 0.0


def test_datums_are_stamped_with_the_send_time() -> None:
    before = dt.datetime.now(dt.UTC)
    (first, *_) = health_metric_data(HEALTHY, day=DAY)
    assert first["Timestamp"].tzinfo is not None
    assert before <= first["Timestamp"] <= dt.datetime.now(dt.UTC)


def test_namespace_setting_empty_means_off_and_rejects_spaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IDGRAPH_AWS_METRICS_NAMESPACE", "")
    assert AwsSettings().metrics_namespace is None
    monkeypatch.setenv("IDGRAPH_AWS_METRICS_NAMESPACE", " idgraph/graph ")
    assert AwsSettings().metrics_namespace == NAMESPACE
    for bad in ("idgraph graph", "AWS/EMR"):
        with pytest.raises(ValueError, match="CloudWatch namespace"):
            AwsSettings(metrics_namespace=bad)


def test_emit_without_a_namespace_is_off_and_calls_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3

    def no_aws(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no AWS client may be created when metrics are off")

    monkeypatch.setattr(boto3, "client", no_aws)
    monkeypatch.delenv("IDGRAPH_AWS_METRICS_NAMESPACE", raising=False)
    note = emit_health_metrics(DEGRADED, day=DAY, settings=_settings(None))
    assert note == "metrics: off (IDGRAPH_AWS_METRICS_NAMESPACE unset)"


@pytest.fixture
def dummy_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Dummy credentials and no config files or instance metadata to fall back on."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH"):
        monkeypatch.delenv(key, raising=False)


@pytest.mark.usefixtures("dummy_aws")
def test_emit_sends_the_five_metrics() -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        note = emit_health_metrics(DEGRADED, day=DAY, settings=_settings(NAMESPACE))
        cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
        metrics = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert note == "metrics: 5 sent to idgraph/graph"
    assert sorted(m["MetricName"] for m in metrics) == [
        "DeterministicEdges", "GatePassed", "GraphDegraded", "ProbabilisticEdges",
        "ScoredWithModel",
    ]  # fmt: skip


@pytest.mark.usefixtures("dummy_aws")
def test_emit_with_aws_unreachable_warns_and_does_not_raise(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Port 9 (discard) on loopback is closed: the connection is refused at once.
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:9")
    hosts: list[str] = []
    connect = urllib3.util.connection.create_connection

    def loopback_only(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        hosts.append(address[0])
        if address[0] != "127.0.0.1":
            raise OSError(f"test refuses to connect to {address[0]}")
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", loopback_only)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="spark_jobs.graph.metrics"):
        note = emit_health_metrics(HEALTHY, day=DAY, settings=_settings(NAMESPACE))
    assert time.monotonic() - started < 5
    assert note.startswith("metrics: failed to send to idgraph/graph (")
    assert hosts and set(hosts) == {"127.0.0.1"}, hosts
    assert any("not sent to idgraph/graph" in r.getMessage() for r in caplog.records)
