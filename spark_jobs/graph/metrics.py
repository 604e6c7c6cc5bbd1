"""CloudWatch metrics from the day's health row (``health/dt=D``), for the degraded-day alarm.

The graph job calls ``emit_health_metrics`` once the health row is written. It sends five
datums without dimensions to ``settings.aws.metrics_namespace`` (``IDGRAPH_AWS_METRICS_NAMESPACE``,
``idgraph/graph`` on AWS, unset locally):

* ``GraphDegraded`` — 1 when the row says ``degraded`` (the Terraform alarm ``graph-degraded``
  fires on Maximum >= 1 over a day), else 0;
* ``ProbabilisticEdges`` / ``DeterministicEdges`` — the day's edge counts;
* ``GatePassed`` — 1 when the graph gate passed;
* ``ScoredWithModel`` — 1 when the day was scored with a model (``model_version`` not null).

Every datum is stamped with the time it is sent, not with the graph's day: the alarm looks at
the latest day-long period, the daily run sends a day's figures about 27 hours after that day's
midnight, a re-run or backfill can be weeks later, and CloudWatch refuses datums older than two
weeks. The day itself is in the job log (and in ``health/dt=D``).

Metrics are a side channel: failing to send them (no credentials, no endpoint, throttling) logs a
warning and never fails the day.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from idgraph.core.settings import AppSettings

log = logging.getLogger(__name__)

NAMESPACE_ENV = "IDGRAPH_AWS_METRICS_NAMESPACE"
# Short timeouts and one retry: a CloudWatch outage must not hold a finished day for minutes.
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 5
MAX_ATTEMPTS = 2  # botocore "standard" mode counts the first attempt


def _as_mapping(row: Mapping[str, Any]) -> Mapping[str, Any]:
    # A pyspark Row is a tuple with asDict(), not a Mapping; accept it as well.
    if not isinstance(row, Mapping) and hasattr(row, "asDict"):
        return dict(row.asDict())
    return row


def _count(row: Mapping[str, Any], column: str) -> float:
    value = row.get(column)
    return float(value) if value is not None else 0.0


def _flag(value: Any) -> float:
    return 1.0 if bool(value) else 0.0


def health_metric_data(
    row: Mapping[str, Any], *, day: dt.date, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """CloudWatch ``MetricData`` entries for one day's health row.

    Args:
        row: the ``health/dt=D`` row as a mapping (``Row.asDict()``; a ``Row`` is accepted too).
            Rows written before ``degraded`` existed count as not degraded.
        day: the graph's day. It is not the timestamp (see the module docstring); it only names
            the day in log messages.
        now: the timestamp of the datums (default: the current time, UTC).

    Returns:
        ``GraphDegraded``, ``ProbabilisticEdges``, ``DeterministicEdges``, ``GatePassed`` and
        ``ScoredWithModel``, unit ``Count``, without dimensions.
    """
    row = _as_mapping(row)
    stamp = now if now is not None else dt.datetime.now(dt.UTC)
    values = {
        "GraphDegraded": _flag(row.get("degraded", False)),
        "ProbabilisticEdges": _count(row, "probabilistic_edges"),
        "DeterministicEdges": _count(row, "deterministic_edges"),
        "GatePassed": _flag(row.get("gate_passed", False)),
        "ScoredWithModel": _flag(row.get("model_version") is not None),
    }
    if values["GraphDegraded"]:
        reasons = row.get("degraded_reasons") or []
        log.warning("graph of %s is degraded: %s", day, "; ".join(reasons) or "no reason given")
    return [
        {"MetricName": name, "Timestamp": stamp, "Value": value, "Unit": "Count"}
        for name, value in values.items()
    ]


def emit_health_metrics(row: Mapping[str, Any], *, day: dt.date, settings: AppSettings) -> str:
    """Send the health row's metrics to CloudWatch when a namespace is configured.

    Never raises: a failure to send is logged as a warning and reported in the returned note.

    Args:
        row: the ``health/dt=D`` row (see ``health_metric_data``).
        day: the graph's day.
        settings: ``settings.aws.metrics_namespace`` (off when unset) and ``settings.aws.region``.

    Returns:
        A one-line note for the job log, e.g. ``metrics: 5 sent to idgraph/graph``.
    """
    namespace = settings.aws.metrics_namespace
    if not namespace:
        return f"metrics: off ({NAMESPACE_ENV} unset)"
    try:
        data = health_metric_data(row, day=day)
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "cloudwatch",
            region_name=settings.aws.region,
            config=Config(
                connect_timeout=CONNECT_TIMEOUT_S,
                read_timeout=READ_TIMEOUT_S,
                retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            ),
        )
        client.put_metric_data(Namespace=namespace, MetricData=data)
    except Exception as exc:  # any failure (botocore, credentials, a bad row) must not fail the day
        log.warning("health metrics of %s not sent to %s: %s", day, namespace, exc, exc_info=True)
        return f"metrics: failed to send to {namespace} ({type(exc).__name__})"
    return f"metrics: {len(data)} sent to {namespace}"
