"""Daily ETL and feature building."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

from idgraph.core.settings.base import IdgraphSettings, settings_config

DEV_IP_HASH_KEY = "idgraph-local-dev-key-change-me"
"""The development key: public, so the ETL refuses it for any lake but a local one."""

SECRET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:\S+$")
"""A Secrets Manager secret ARN; group 1 is its region."""


class EtlSettings(IdgraphSettings):
    """ETL settings (env ``IDGRAPH_ETL_*``)."""

    model_config = settings_config("ETL_")

    ip_hash_key: SecretStr = SecretStr(DEV_IP_HASH_KEY)
    """Key of the keyed hashes of IP addresses and networks. The ETL refuses the development
    default on any lake that is not local; production reads the key from Secrets Manager
    (``ip_hash_key_secret_arn``) instead of setting it here."""

    ip_hash_key_secret_arn: str | None = None
    """ARN of the Secrets Manager secret holding ``ip_hash_key`` (Terraform output
    ``ip_hash_key_secret_arn``). When set, the ETL reads the key from it when the stage starts
    and it replaces ``ip_hash_key``; ``idgraph submit`` passes this ARN, never the key."""

    lateness_days: int = Field(default=1, ge=0, le=30)
    """Events older than the start of D minus this many days are ``bad_ts``."""

    future_tolerance_minutes: int = Field(default=60, ge=0)
    """Events later than the end of D plus this many minutes are ``bad_ts``."""

    max_text_length: int = Field(default=2048, ge=64)
    """``user_agent`` and ``url`` longer than this are truncated (and counted)."""

    feature_window_days: int = Field(default=30, ge=1, le=400)
    """Days of visits summarised in ``cookie_features``."""

    @field_validator("ip_hash_key_secret_arn")
    @classmethod
    def _check_arn(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None  # an empty repository variable means unset
        if not SECRET_ARN_RE.match(value):
            raise ValueError(f"must be a Secrets Manager secret ARN, got {value!r}")
        return value
