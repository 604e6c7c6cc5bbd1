"""Daily ETL and feature building."""

from __future__ import annotations

from pydantic import Field, SecretStr

from idgraph.settings.base import IdgraphSettings, settings_config

DEV_IP_HASH_KEY = "idgraph-local-dev-key-change-me"
"""The development key: public, so the ETL refuses it for any lake but a local one."""


class EtlSettings(IdgraphSettings):
    """ETL settings (env ``IDGRAPH_ETL_*``)."""

    model_config = settings_config("ETL_")

    ip_hash_key: SecretStr = SecretStr(DEV_IP_HASH_KEY)
    """Key of the keyed hash of full IP addresses. Production sets it from a secret; the ETL
    refuses the development default on any lake that is not local."""

    lateness_days: int = Field(default=1, ge=0, le=30)
    """Events older than the start of D minus this many days are ``bad_ts``."""

    future_tolerance_minutes: int = Field(default=60, ge=0)
    """Events later than the end of D plus this many minutes are ``bad_ts``."""

    max_text_length: int = Field(default=2048, ge=64)
    """``user_agent`` and ``url`` longer than this are truncated (and counted)."""

    feature_window_days: int = Field(default=30, ge=1, le=400)
    """Days of visits summarised in ``cookie_features``."""
