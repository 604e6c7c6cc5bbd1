"""Settings: one pydantic-settings model per concern, all env-overridable (``IDGRAPH_*``).

``load_settings`` builds and validates them together, before any Spark work starts, so a
typo in an environment variable fails in milliseconds rather than after the JVM is up: an
invalid value fails its field's validation, and an ``IDGRAPH_*`` variable that is no setting
(nor one of the few listed in ``environment.NOT_SETTINGS``) fails with the closest setting's
name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from idgraph.core.settings.aws import AwsSettings
from idgraph.core.settings.base import IdgraphSettings
from idgraph.core.settings.environment import (
    UnknownSettingError,
    check_environment,
    setting_env_names,
)
from idgraph.core.settings.etl import EtlSettings
from idgraph.core.settings.graph import GraphSettings
from idgraph.core.settings.lake import LakeSettings
from idgraph.core.settings.pairs import PairSettings
from idgraph.core.settings.redis import RedisSettings
from idgraph.core.settings.service import ServiceSettings
from idgraph.core.settings.simulator import SimulatorSettings
from idgraph.core.settings.spark import SparkSettings
from idgraph.core.settings.training import TrainingSettings

__all__ = [
    "AppSettings",
    "AwsSettings",
    "EtlSettings",
    "GraphSettings",
    "LakeSettings",
    "PairSettings",
    "RedisSettings",
    "ServiceSettings",
    "SimulatorSettings",
    "SparkSettings",
    "TrainingSettings",
    "UnknownSettingError",
    "check_settings_environment",
    "load_settings",
    "setting_variables",
    "settings_from_json",
    "settings_json",
]


class AppSettings(BaseModel):
    """Every concern's settings, as one validated object handed to jobs."""

    model_config = ConfigDict(extra="forbid")

    lake: LakeSettings = Field(default_factory=LakeSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    etl: EtlSettings = Field(default_factory=EtlSettings)
    pairs: PairSettings = Field(default_factory=PairSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    graph: GraphSettings = Field(default_factory=GraphSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)


_CONCERNS: dict[str, type[IdgraphSettings]] = {
    name: field.default_factory  # type: ignore[misc]
    for name, field in AppSettings.model_fields.items()
}


def setting_variables() -> dict[str, str]:
    """Every settings environment variable (upper case) and the field it sets."""
    return setting_env_names(_CONCERNS.values())


def check_settings_environment(environ: Mapping[str, str] | None = None) -> None:
    """Refuse an ``IDGRAPH_*`` variable that no setting reads (default: ``os.environ``).

    Raises:
        UnknownSettingError: naming each unknown variable and the closest setting.
    """
    check_environment(os.environ if environ is None else environ, _CONCERNS.values())


def load_settings(**overrides: dict[str, Any]) -> AppSettings:
    """Build every concern from the environment, then apply explicit overrides (CLI flags).

    Args:
        **overrides: per concern, a dict of field values, e.g. ``lake={"root": "/tmp/l"}``.
            ``None`` values are ignored so optional CLI flags can be passed through as-is.

    Raises:
        UnknownSettingError: an ``IDGRAPH_*`` environment variable that is no setting.
        pydantic.ValidationError: on any unknown or invalid value.
    """
    check_settings_environment()
    unknown = set(overrides) - set(_CONCERNS)
    if unknown:
        raise ValueError(f"unknown settings concern(s): {sorted(unknown)}")
    built: dict[str, Any] = {}
    for name, cls in _CONCERNS.items():
        values = {k: v for k, v in (overrides.get(name) or {}).items() if v is not None}
        built[name] = cls(**values)
    return AppSettings.model_validate(built)


def settings_json(settings: AppSettings) -> str:
    """``settings`` as JSON, secrets in clear: for a child process of ours, never for a log.

    ``idgraph serve`` hands the settings it validated (flags included) to its uvicorn workers
    this way (``environment.SETTINGS_JSON_ENV``): every field, so a worker rebuilds nothing
    from ``IDGRAPH_*`` variables.
    """

    def reveal(value: object) -> str:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        raise TypeError(f"cannot serialise {type(value).__name__}")

    return json.dumps(settings.model_dump(mode="python"), default=reveal)


def settings_from_json(text: str) -> AppSettings:
    """The settings ``settings_json`` wrote, validated again; every field comes from ``text``.

    Raises:
        pydantic.ValidationError: on a value that is no longer valid.
    """
    return AppSettings.model_validate_json(text)
