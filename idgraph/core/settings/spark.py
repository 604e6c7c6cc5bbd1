"""How the SparkSession is built. Defaults suit a small local machine; EMR overrides nothing
here because spark-submit's own configuration wins when ``master`` is left unset."""

from __future__ import annotations

from pydantic import Field

from idgraph.core.settings.base import IdgraphSettings, settings_config


class SparkSettings(IdgraphSettings):
    """SparkSession settings (env ``IDGRAPH_SPARK_*``)."""

    model_config = settings_config("SPARK_")

    master: str | None = None
    """Spark master. Unset: use what spark-submit configured, else ``local[*]``."""

    app_name: str = "idgraph"
    """Application name shown in the Spark UI and EMR step logs."""

    driver_memory: str = "4g"
    """Driver heap for local mode (only applied when this process starts the JVM)."""

    shuffle_partitions: int = Field(default=8, ge=1)
    """``spark.sql.shuffle.partitions``; 200 (Spark's default) is wasteful on small machines."""

    checkpoint_dir: str | None = None
    """Reliable checkpoint directory; default ``<lake>/_checkpoints``."""

    extra_conf: dict[str, str] = Field(default_factory=dict)
    """Any further ``spark.*`` settings, e.g. ``{"spark.sql.adaptive.enabled": "true"}``."""

    ui_enabled: bool = False
    """Start the Spark web UI (off locally to save a port and memory)."""
