"""Settings: one pydantic-settings model per concern, all env-overridable (``IDGRAPH_*``).

``load_settings`` builds and validates them together, before any Spark work starts, so a
typo in an environment variable fails in milliseconds rather than after the JVM is up.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from idgraph.settings.aws import AwsSettings
from idgraph.settings.etl import EtlSettings
from idgraph.settings.graph import GraphSettings
from idgraph.settings.lake import LakeSettings
from idgraph.settings.pairs import PairSettings
from idgraph.settings.redis import RedisSettings
from idgraph.settings.service import ServiceSettings
from idgraph.settings.simulator import SimulatorSettings
from idgraph.settings.spark import SparkSettings
from idgraph.settings.training import TrainingSettings

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
    "load_settings",
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


_CONCERNS: dict[str, type[BaseModel]] = {
    name: field.default_factory  # type: ignore[misc]
    for name, field in AppSettings.model_fields.items()
}


def load_settings(**overrides: dict[str, Any]) -> AppSettings:
    """Build every concern from the environment, then apply explicit overrides (CLI flags).

    Args:
        **overrides: per concern, a dict of field values, e.g. ``lake={"root": "/tmp/l"}``.
            ``None`` values are ignored so optional CLI flags can be passed through as-is.

    Raises:
        pydantic.ValidationError: on any unknown or invalid value.
    """
    unknown = set(overrides) - set(_CONCERNS)
    if unknown:
        raise ValueError(f"unknown settings concern(s): {sorted(unknown)}")
    built: dict[str, Any] = {}
    for name, cls in _CONCERNS.items():
        values = {k: v for k, v in (overrides.get(name) or {}).items() if v is not None}
        built[name] = cls(**values)
    return AppSettings.model_validate(built)
