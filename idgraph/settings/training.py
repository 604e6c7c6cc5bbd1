"""Weekly training and the model registry."""

from __future__ import annotations

from pydantic import Field

from idgraph.settings.base import IdgraphSettings, settings_config


class TrainingSettings(IdgraphSettings):
    """Training settings (env ``IDGRAPH_TRAIN_*``)."""

    model_config = settings_config("TRAIN_")

    tracking_uri: str | None = None
    """MLflow tracking URI. Unset: a SQLite store under the lake (``<lake>/mlflow/mlflow.db``)."""

    model_name: str = "idgraph-pair-scorer"
    """Registered model name."""

    history_days: int = Field(default=180, ge=7)
    """Days of visits used for training (fewer when less history exists)."""

    target_precision: float = Field(default=0.95, gt=0.0, lt=1.0)
    """Decision threshold is chosen on validation data to reach this precision."""
