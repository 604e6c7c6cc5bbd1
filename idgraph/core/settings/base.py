"""Shared base for every settings model: env prefix ``IDGRAPH_``, unknown keys rejected."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


def settings_config(prefix: str = "") -> SettingsConfigDict:
    """Return the config every concern uses: ``IDGRAPH_<PREFIX>`` env vars, ``extra="forbid"``.

    Args:
        prefix: the concern's own prefix after ``IDGRAPH_`` (e.g. ``"ETL_"``), or empty.
    """
    return SettingsConfigDict(
        env_prefix=f"IDGRAPH_{prefix}",
        extra="forbid",
        validate_default=True,
        use_attribute_docstrings=True,
    )


class IdgraphSettings(BaseSettings):
    """Base class; subclasses set ``model_config = settings_config("CONCERN_")``."""

    model_config = settings_config()
