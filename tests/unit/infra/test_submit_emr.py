"""``idgraph submit --target emr`` against moto's EMR Serverless and S3 (AWS is unreachable here).

moto completes every job run at once (state SUCCESS) and has no state manager for EMR
Serverless, so the failure cases set the job run's state in moto's backend, which is what the
real service would report: state FAILED plus ``stateDetails``.
"""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.emrserverless.models import EMRServerlessBackend, emrserverless_backends
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.core.settings import AwsSettings, load_settings
from idgraph.submit import SubmitFailed, Target, plan_jobs, run_jobs
from idgraph.submit.emr import job_run_request, spark_submit_parameters

REGION = "eu-west-1"
ACCOUNT = "123456789012"
DAY = dt.date(2024, 3, 5)
ROLE = f"arn:aws:iam::{ACCOUNT}:role/idgraph-dev-emr-job"
FAILURE = (
    "Job failed, please check complete logs in configured logging destination. ExitCode: 1. "
    "Last few exceptions: StageFailed: [publish] graph gate failed: churn 0.31 > 0.05"
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A mocked account: one EMR Serverless application, the artifacts and logs buckets."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        emr = boto3.client("emr-serverless", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("idgraph-dev-artifacts", "idgraph-dev-logs"):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        app_id = emr.create_application(name="idgraph-dev", releaseLabel="emr-7.9.0", type="SPARK")[
            "applicationId"
        ]
        settings = AwsSettings(
            region=REGION,
            emr_application_id=app_id,
            emr_execution_role_arn=ROLE,
            artifacts_uri="s3://idgraph-dev-artifacts/code",
            logs_uri="s3://idgraph-dev-logs/emr",
            code_version="abc123",
            redis_url_secret_id="idgraph-dev/redis-url",
            poll_seconds=0,
        )
        yield {"emr": emr, "s3": s3, "app_id": app_id, "settings": settings}


def _backend_runs(app_id: str) -> list[Any]:
    return emrserverless_backends[ACCOUNT][REGION].job_runs.get(app_id, [])


def _write_driver_stdout(s3: Any, app_id: str, run_id: str, lines: list[str]) -> None:
    key = f"emr/applications/{app_id}/jobs/{run_id}/SPARK_DRIVER/stdout.gz"
    body = gzip.compress(("\n".join(lines) + "\n").encode())
    s3.put_object(Bucket="idgraph-dev-logs", Key=key, Body=body)


def _fail_publish_runs(
    monkeypatch: pytest.MonkeyPatch, *, first_state: str = "RUNNING", details: str | None = None
) -> None:
    """Make moto start publish job runs in ``first_state`` (RUNNING, or FAILED at once)."""
    original = EMRServerlessBackend.start_job_run

    def start_job_run(self: EMRServerlessBackend, *args: Any, **kwargs: Any) -> Any:
        run = original(self, *args, **kwargs)
        if "publish" in (run.name or ""):
            run.state, run.state_details = first_state, details
        return run

    monkeypatch.setattr(EMRServerlessBackend, "start_job_run", start_job_run)


def _settle_running(app_id: str) -> None:
    for run in _backend_runs(app_id):
        if run.state == "RUNNING":
            run.state, run.state_details = "FAILED", FAILURE


def test_request_ships_the_packed_venv_and_logs_to_s3(aws: dict[str, Any]) -> None:
    settings: AwsSettings = aws["settings"]
    publish = plan_jobs("publish", DAY, "s3://idgraph-dev-lake/lake", redis_url_secret_id="x",
                        redis_cluster=True, region=REGION)[0]  # fmt: skip
    request = job_run_request(publish, settings, environ={})
    driver = request["jobDriver"]["sparkSubmit"]
    assert driver["entryPoint"] == "s3://idgraph-dev-artifacts/code/abc123/entrypoint.py"
    assert driver["entryPointArguments"] == [
        "--stage", "publish", "--date", "2024-03-05", "--lake", "s3://idgraph-dev-lake/lake",
        "--redis-url-secret-id", "x", "--redis-cluster", "--region", REGION,
    ]  # fmt: skip
    params = driver["sparkSubmitParameters"].split()
    archive = "s3://idgraph-dev-artifacts/code/abc123/idgraph-venv.tar.gz#environment"
    assert f"spark.archives={archive}" in params
    assert "spark.emr-serverless.driverEnv.PYSPARK_PYTHON=./environment/bin/python" in params
    assert "spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python" in params
    log_uri = request["configurationOverrides"]["monitoringConfiguration"]
    assert log_uri["s3MonitoringConfiguration"]["logUri"] == "s3://idgraph-dev-logs/emr/"


def test_settings_pass_through_but_secrets_do_not() -> None:
    settings = AwsSettings(artifacts_uri="s3://a/code", logs_uri="s3://l/emr")
    params = spark_submit_parameters(settings, environ={
        "IDGRAPH_ETL_LATENESS_DAYS": "2",
        "IDGRAPH_REDIS_URL": "rediss://:secret@host:6379",
        "IDGRAPH_API_KEYS": "k1,k2",
        "IDGRAPH_AWS_REGION": "eu-west-1",
        "IDGRAPH_SETTINGS_JSON": '{"service":{"api_keys":"k3"}}',  # serve's handoff: no setting
        "IDGRAPH_BENCH_RUNS": "3",
        "HOME": "/root",
    })  # fmt: skip
    assert "spark.emr-serverless.driverEnv.IDGRAPH_ETL_LATENESS_DAYS=2" in params
    assert "spark.executorEnv.IDGRAPH_ETL_LATENESS_DAYS=2" in params
    for leaked in ("secret", "k1", "k3", "IDGRAPH_AWS_REGION", "IDGRAPH_BENCH_RUNS", "HOME"):
        assert leaked not in params


def test_metrics_namespace_and_region_reach_the_driver_only_when_set() -> None:
    """The graph stage puts its health metrics there (spark_jobs/graph/metrics.py)."""
    off = AwsSettings(artifacts_uri="s3://a/code", logs_uri="s3://l/emr", region="us-east-2")
    assert "IDGRAPH_AWS_" not in spark_submit_parameters(off, environ={})
    on = off.model_copy(update={"metrics_namespace": "idgraph/graph"})
    params = spark_submit_parameters(on, environ={}).split()
    assert "spark.emr-serverless.driverEnv.IDGRAPH_AWS_METRICS_NAMESPACE=idgraph/graph" in params
    assert "spark.emr-serverless.driverEnv.IDGRAPH_AWS_REGION=us-east-2" in params
    assert not [p for p in params if p.startswith("spark.executorEnv.IDGRAPH_AWS_")]
    assert not [p for p in params if "ARN" in p or "APPLICATION" in p or "URI" in p]


def test_daily_chain_succeeds_and_reads_driver_results(aws: dict[str, Any]) -> None:
    jobs = plan_jobs("daily", DAY, "s3://idgraph-dev-lake/lake")
    seen: list[tuple[str, str]] = []

    def on_state(job: Any, state: str) -> None:
        seen.append((job.stage, state))
        run_id = _backend_runs(aws["app_id"])[-1].id
        _write_driver_stdout(aws["s3"], aws["app_id"], run_id, [
            "some driver chatter",
            f'IDGRAPH_RESULT {{"stage": "{job.stage}", "ok": true, "summary": {{"rows": 7}}, '
            '"error": null}',
        ])  # fmt: skip

    settings = load_settings(aws=aws["settings"].model_dump())
    outcomes = run_jobs(jobs, Target.emr, settings, on_state=on_state)

    assert [o.job.stage for o in outcomes] == ["drain", "daily", "publish"]
    assert all(o.ok and o.state == "SUCCESS" for o in outcomes)
    assert seen == [("drain", "SUCCESS"), ("daily", "SUCCESS"), ("publish", "SUCCESS")]
    assert outcomes[1].results == [
        {"stage": "daily", "ok": True, "summary": {"rows": 7}, "error": None}
    ]
    runs = aws["emr"].list_job_runs(applicationId=aws["app_id"])["jobRuns"]
    names = sorted(r["name"] for r in runs)
    assert names == [
        "idgraph-daily-2024-03-05", "idgraph-drain-2024-03-05", "idgraph-publish-2024-03-05"
    ]  # fmt: skip
    stored = aws["emr"].get_job_run(applicationId=aws["app_id"], jobRunId=outcomes[2].job_id)
    assert stored["jobRun"]["executionRole"] == ROLE


def test_failed_step_stops_the_chain_with_reason_and_logs(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_publish_runs(monkeypatch)
    states: list[str] = []

    def on_state(job: Any, state: str) -> None:
        states.append(f"{job.stage}:{state}")
        _settle_running(aws["app_id"])  # the run finishes between two polls

    settings = load_settings(aws=aws["settings"].model_dump())
    with pytest.raises(SubmitFailed) as info:
        run_jobs(plan_jobs("daily", DAY, "s3://l/lake"), Target.emr, settings, on_state=on_state)

    outcome = info.value.outcome
    assert states == ["drain:SUCCESS", "daily:SUCCESS", "publish:RUNNING", "publish:FAILED"]
    assert outcome.job.stage == "publish" and outcome.state == "FAILED" and not outcome.ok
    assert outcome.reason == FAILURE
    assert outcome.log_location == (
        f"s3://idgraph-dev-logs/emr/applications/{aws['app_id']}/jobs/{outcome.job_id}/SPARK_DRIVER/"
    )
    assert [o.job.stage for o in info.value.completed] == ["drain", "daily"]  # type: ignore[attr-defined]


def test_cli_exits_non_zero_and_prints_reason_and_log_location(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    _fail_publish_runs(monkeypatch, first_state="FAILED", details=FAILURE)
    settings: AwsSettings = aws["settings"]
    for key, value in settings.model_dump(exclude={"spark_conf"}).items():
        monkeypatch.setenv(f"IDGRAPH_AWS_{key.upper()}", str(value))
    summary = tmp_path / "summary.md"
    result = CliRunner().invoke(app, [
        "submit", "--stage", "daily", "--date", "2024-03-05", "--target", "emr",
        "--lake", "s3://idgraph-dev-lake/lake", "--summary-md", str(summary),
    ], terminal_width=400)  # fmt: skip

    assert result.exit_code == 1, result.output
    assert "idgraph-publish-2024-03-05 FAILED" in result.output
    assert "churn 0.31 > 0.05" in result.output
    assert f"s3://idgraph-dev-logs/emr/applications/{aws['app_id']}/jobs/" in result.output
    text = summary.read_text()
    assert "| daily | daily | SUCCESS |" in text and "graph gate failed" in text


def test_cli_refuses_emr_without_terraform_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDGRAPH_AWS_EMR_APPLICATION_ID", raising=False)
    result = CliRunner().invoke(app, [
        "submit", "--stage", "etl", "--date", "2024-03-05", "--target", "emr", "--lake", "s3://l/x",
    ], terminal_width=400)  # fmt: skip
    assert result.exit_code == 2
    assert "IDGRAPH_AWS_EMR_APPLICATION_ID" in result.output
