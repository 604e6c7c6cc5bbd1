"""Where the data lake lives."""

from __future__ import annotations

from pydantic import field_validator

from idgraph.core.settings.base import IdgraphSettings, settings_config


class LakeSettings(IdgraphSettings):
    """The lake root: a local path, ``file://…`` or ``s3://…`` (env ``IDGRAPH_LAKE_ROOT``)."""

    model_config = settings_config("LAKE_")

    root: str = "lake"
    """Root of every table (raw/, visits/, cookie_features/, …). Local path or s3:// URI."""

    @field_validator("root")
    @classmethod
    def _normalise(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("lake root must not be empty")
        if value.startswith("s3a://"):
            value = "s3://" + value[len("s3a://") :]
        return value.rstrip("/") or "/"
