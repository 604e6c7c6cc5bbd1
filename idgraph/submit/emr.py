"""Run a job as an EMR Serverless job run (``--target emr``), wait for it, explain a failure.

Why EMR Serverless rather than an EMR cluster (see also ``terraform/modules/emr_serverless``):
the work is one daily chain and one weekly training run, so a cluster would sit idle most of
the day; a Serverless application scales to zero between runs, has no nodes to patch, and
gives every job run its own state, logs and IAM runtime role.
"""

from __future__ import annotations

import gzip
import os
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from idgraph.core.settings import AwsSettings, EtlSettings, setting_variables
from idgraph.submit.jobs import JobOutcome, JobSpec, parse_results

TERMINAL_STATES = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
VENV_ALIAS = "environment"  # the directory spark.archives unpacks the venv into
# Settings that must not be copied into a job run's configuration (visible in the console).
_NOT_FORWARDED = ("IDGRAPH_AWS_", "IDGRAPH_API_KEYS", "IDGRAPH_REDIS_URL", "IDGRAPH_LAKE_ROOT")
# Exact names never forwarded: the IP hash key itself (its secret's ARN is passed instead).
_NEVER_FORWARDED = frozenset({"IDGRAPH_ETL_IP_HASH_KEY", "IDGRAPH_ETL_IP_HASH_KEY_SECRET_ARN"})


class EmrConfigError(ValueError):
    """The AWS settings lack what an EMR submission needs."""


def _require(aws: AwsSettings) -> tuple[str, str, str, str]:
    missing = [
        f"IDGRAPH_AWS_{name.upper()}"
        for name in ("emr_application_id", "emr_execution_role_arn", "artifacts_uri", "logs_uri")
        if not getattr(aws, name)
    ]
    if missing:
        raise EmrConfigError(f"--target emr needs {', '.join(missing)} (Terraform outputs)")
    return (
        str(aws.emr_application_id),
        str(aws.emr_execution_role_arn),
        str(aws.artifacts_uri),
        str(aws.logs_uri),
    )


def code_prefix(aws: AwsSettings) -> str:
    """Where this code version's entry point, wheel and venv archive live."""
    return f"{aws.artifacts_uri}/{aws.code_version}"


def forwarded_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``IDGRAPH_*`` settings to hand to the job's driver, minus secrets and per-run values.

    Settings only: the few other ``IDGRAPH_*`` variables (benchmarks, notebooks, the handoff
    of ``idgraph serve``, ``environment.NOT_SETTINGS``) mean nothing to a job.
    """
    settings = setting_variables()
    return {
        key: value
        for key, value in sorted(environ.items())
        if key in settings  # upper case only, as the exclusions below
        and not key.startswith(_NOT_FORWARDED)
        and key not in _NEVER_FORWARDED
        and value
        and not any(ch.isspace() for ch in value)  # sparkSubmitParameters splits on spaces
    }


def driver_aws_env(aws: AwsSettings) -> dict[str, str]:
    """The few ``IDGRAPH_AWS_*`` settings the driver itself needs, from the submitter's settings.

    ``IDGRAPH_AWS_*`` is otherwise not forwarded (ids and ARNs stay out of the job run's
    configuration). The graph stage puts its health metrics (``spark_jobs/graph/metrics.py``)
    into ``metrics_namespace`` in ``region``; without a namespace it sends none.
    """
    if not aws.metrics_namespace:
        return {}
    return {
        "IDGRAPH_AWS_METRICS_NAMESPACE": aws.metrics_namespace,
        "IDGRAPH_AWS_REGION": aws.region,
    }


def driver_etl_env(etl: EtlSettings | None) -> dict[str, str]:
    """The ARN of the IP hash key's secret, for the driver only (the etl stage reads the key
    from it at start, ``spark_jobs/etl/ip_key.py``). The key itself is never passed."""
    if etl is None or not etl.ip_hash_key_secret_arn:
        return {}
    return {"IDGRAPH_ETL_IP_HASH_KEY_SECRET_ARN": etl.ip_hash_key_secret_arn}


def spark_submit_parameters(
    aws: AwsSettings, environ: Mapping[str, str] | None = None, etl: EtlSettings | None = None
) -> str:
    """``--conf`` settings: the packed venv via ``spark.archives`` and its Python everywhere."""
    python = f"./{VENV_ALIAS}/bin/python"
    conf = {
        "spark.archives": f"{code_prefix(aws)}/{aws.venv_archive}#{VENV_ALIAS}",
        "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON": python,
        "spark.emr-serverless.driverEnv.PYSPARK_PYTHON": python,
        "spark.executorEnv.PYSPARK_PYTHON": python,
    }
    for key, value in forwarded_env(os.environ if environ is None else environ).items():
        conf[f"spark.emr-serverless.driverEnv.{key}"] = value
        conf[f"spark.executorEnv.{key}"] = value
    for key, value in (driver_aws_env(aws) | driver_etl_env(etl)).items():
        conf[f"spark.emr-serverless.driverEnv.{key}"] = value
    conf |= aws.spark_conf
    return " ".join(f"--conf {key}={value}" for key, value in conf.items())


def job_run_request(
    job: JobSpec,
    aws: AwsSettings,
    environ: Mapping[str, str] | None = None,
    etl: EtlSettings | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``emr-serverless.start_job_run`` for ``job``."""
    application_id, role_arn, _, logs_uri = _require(aws)
    return {
        "applicationId": application_id,
        "executionRoleArn": role_arn,
        "name": job.name,
        # Idempotent submission: a retried API call does not start a second run.
        "clientToken": str(uuid.uuid4()),
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": f"{code_prefix(aws)}/entrypoint.py",
                "entryPointArguments": job.arguments(),
                "sparkSubmitParameters": spark_submit_parameters(aws, environ, etl),
            }
        },
        "configurationOverrides": {
            "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": f"{logs_uri}/"}}
        },
        "executionTimeoutMinutes": aws.job_timeout_minutes,
        "tags": {"project": "idgraph", "stage": job.stage, "date": job.day.isoformat()},
    }


def driver_log_prefix(aws: AwsSettings, job_run_id: str) -> str:
    """Where EMR Serverless writes the driver's stdout/stderr for a job run."""
    return f"{aws.logs_uri}/applications/{aws.emr_application_id}/jobs/{job_run_id}/SPARK_DRIVER/"


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def read_driver_results(s3: Any, log_prefix: str) -> list[dict[str, Any]]:
    """The entry point's result records from the driver's ``stdout.gz``; [] if not written."""
    bucket, key = _split_s3(log_prefix + "stdout.gz")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return []
    return parse_results(gzip.decompress(body).decode("utf-8", "replace").splitlines())


def wait_for_job_run(
    client: Any,
    application_id: str,
    job_run_id: str,
    *,
    poll_seconds: float,
    on_state: Callable[[str], None] | None = None,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """Poll ``get_job_run`` until the run reaches a terminal state; return the job run."""
    started = time.monotonic()
    while True:
        run = client.get_job_run(applicationId=application_id, jobRunId=job_run_id)["jobRun"]
        if on_state is not None:
            on_state(run["state"])
        if run["state"] in TERMINAL_STATES:
            return dict(run)
        if timeout_seconds is not None and time.monotonic() - started > timeout_seconds:
            client.cancel_job_run(applicationId=application_id, jobRunId=job_run_id)
            raise TimeoutError(f"job run {job_run_id} still {run['state']}; cancelled")
        time.sleep(poll_seconds)


def run_emr(
    job: JobSpec,
    aws: AwsSettings,
    *,
    client: Any = None,
    s3: Any = None,
    on_state: Callable[[str], None] | None = None,
    etl: EtlSettings | None = None,
) -> JobOutcome:
    """Start ``job`` as an EMR Serverless job run and wait for it.

    Ctrl-C cancels the run rather than leaving it billing in the background.
    """
    import boto3

    client = client or boto3.client("emr-serverless", region_name=aws.region)
    s3 = s3 or boto3.client("s3", region_name=aws.region)
    request = job_run_request(job, aws, etl=etl)
    started = time.perf_counter()
    job_run_id = client.start_job_run(**request)["jobRunId"]
    try:
        run = wait_for_job_run(
            client,
            request["applicationId"],
            job_run_id,
            poll_seconds=aws.poll_seconds,
            on_state=on_state,
            # EMR cancels at executionTimeoutMinutes; give it a margin to report that itself.
            timeout_seconds=aws.job_timeout_minutes * 60 + 600,
        )
    except KeyboardInterrupt:
        client.cancel_job_run(applicationId=request["applicationId"], jobRunId=job_run_id)
        raise
    logs = driver_log_prefix(aws, job_run_id)
    ok = run["state"] == "SUCCESS"
    return JobOutcome(
        job=job,
        ok=ok,
        state=run["state"],
        job_id=job_run_id,
        seconds=round(time.perf_counter() - started, 1),
        reason="" if ok else str(run.get("stateDetails") or "no stateDetails from EMR"),
        log_location=logs,
        results=read_driver_results(s3, logs),
    )
