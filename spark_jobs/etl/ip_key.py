"""Where the ETL's IP hash key comes from: the settings locally, Secrets Manager in production.

The key is read once when the etl stage starts, on the driver, and reaches the Python workers
as a broadcast (``spark_jobs/etl/normalize.py``): it is in no plan, no job configuration and no
log. ``idgraph submit`` hands the job the secret's ARN (``etl.ip_hash_key_secret_arn``), and only
the job role may read the secret (``terraform/modules/emr_serverless``).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from idgraph.core.settings import AppSettings
from idgraph.core.settings.etl import SECRET_ARN_RE
from idgraph.core.stage import StageFailed

STAGE = "etl"
MIN_KEY_LENGTH = 32
"""Characters a key read from Secrets Manager must have at least (32 random bytes as hex: 64)."""


def secret_region(arn: str) -> str:
    """The region of a Secrets Manager ARN (the client must be made for that region)."""
    match = SECRET_ARN_RE.match(arn)
    if match is None:
        raise ValueError(f"not a Secrets Manager secret ARN: {arn!r}")
    return match.group(1)


def secrets_client(arn: str) -> Any:
    """A boto3 Secrets Manager client in the secret's own region."""
    import boto3

    return boto3.client("secretsmanager", region_name=secret_region(arn))


def read_ip_hash_key(client: Any, arn: str) -> SecretStr:
    """The key stored in secret ``arn`` (its current ``SecretString``), read through ``client``.

    Raises:
        StageFailed: one line naming the setting when the secret cannot be read, has no value
            yet, or holds a key shorter than :data:`MIN_KEY_LENGTH`. The value is never shown.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"etl.ip_hash_key_secret_arn ({arn})"
    try:
        response = client.get_secret_value(SecretId=arn)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        raise StageFailed(
            STAGE,
            f"cannot read the IP hash key from {where}: {code}; put a value into the secret "
            "(docs/operations.md) and check that the job role may read it",
        ) from None
    except BotoCoreError as exc:
        raise StageFailed(STAGE, f"cannot read the IP hash key from {where}: {exc}") from None
    key = response.get("SecretString") or ""
    if len(key) < MIN_KEY_LENGTH:
        raise StageFailed(
            STAGE,
            f"the IP hash key in {where} has {len(key)} characters; put {MIN_KEY_LENGTH} or "
            "more random characters into the secret",
        )
    return SecretStr(key)


def resolve_ip_hash_key(settings: AppSettings, client: Any | None = None) -> AppSettings:
    """``settings`` with ``etl.ip_hash_key`` read from ``etl.ip_hash_key_secret_arn`` if set.

    Args:
        settings: app settings; returned unchanged when no secret ARN is set.
        client: a Secrets Manager client; default a boto3 client in the secret's region.
    """
    arn = settings.etl.ip_hash_key_secret_arn
    if arn is None:
        return settings
    key = read_ip_hash_key(client if client is not None else secrets_client(arn), arn)
    etl = settings.etl.model_copy(update={"ip_hash_key": key})
    return settings.model_copy(update={"etl": etl})
