"""Job submission to AWS: where EMR Serverless runs the jobs and where their code and logs live.

The values come from Terraform outputs (``terraform output``) and reach CI as repository
variables; locally they are only needed for ``idgraph submit --target emr``.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from idgraph.core.settings.base import IdgraphSettings, settings_config


def _s3_prefix(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().rstrip("/")
    if not value.startswith("s3://") or len(value) <= len("s3://"):
        raise ValueError(f"must be an s3:// URI, got {value!r}")
    return value


class AwsSettings(IdgraphSettings):
    """EMR Serverless / AWS settings (env ``IDGRAPH_AWS_*``)."""

    model_config = settings_config("AWS_")

    region: str = "eu-west-1"
    """AWS region of the EMR Serverless application and buckets."""

    emr_application_id: str | None = None
    """EMR Serverless application id (Terraform output ``emr_application_id``)."""

    emr_execution_role_arn: str | None = None
    """Job runtime role the jobs run as (Terraform output ``emr_job_role_arn``)."""

    artifacts_uri: str | None = None
    """``s3://`` prefix holding ``entrypoint.py``, the wheel and the packed venv, per version."""

    logs_uri: str | None = None
    """``s3://`` prefix EMR Serverless writes driver/executor logs under."""

    code_version: str = "current"
    """Sub-prefix of ``artifacts_uri`` to run (CI uploads each commit under its SHA)."""

    venv_archive: str = "idgraph-venv.tar.gz"
    """File name of the packed virtualenv under the artifacts prefix (``spark.archives``)."""

    redis_url_secret_id: str | None = None
    """Secrets Manager id of the full ``rediss://`` URL (with auth token) the publish stage uses."""

    metrics_namespace: str | None = None
    """CloudWatch namespace for the daily graph's health metrics (Terraform output
    ``graph_metrics_namespace``, e.g. ``idgraph/graph``); unset locally, which sends none."""

    poll_seconds: float = Field(default=15.0, ge=0.0)
    """How often ``idgraph submit`` polls a running job."""

    job_timeout_minutes: int = Field(default=180, ge=5)
    """EMR Serverless run timeout per job; the service cancels the job after it."""

    spark_conf: dict[str, str] = Field(default_factory=dict)
    """Extra ``--conf`` settings for EMR jobs, e.g. executor sizes for a backfill."""

    @field_validator("artifacts_uri", "logs_uri")
    @classmethod
    def _check_s3(cls, value: str | None) -> str | None:
        return _s3_prefix(value)

    @field_validator("metrics_namespace")
    @classmethod
    def _check_namespace(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None  # an empty repository variable means "off", like unset
        if any(ch.isspace() for ch in value) or value.startswith("AWS/"):
            # It travels to the driver inside sparkSubmitParameters, which splits on spaces.
            raise ValueError(
                f"must be a CloudWatch namespace without spaces, not under AWS/, got {value!r}"
            )
        return value
