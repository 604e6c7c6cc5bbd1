"""The model registry (MLflow): where models, their thresholds and promotions live.

Layout: one experiment (``settings.training.experiment_name``) holds a run per training; each
run logs params, metrics, the decision and the booster twice — as an MLflow xgboost model
(``model/``, registered as a new version of ``settings.training.model_name``) and as a bare
``booster/booster.ubj`` that plain ``xgboost.Booster`` loads. The model version carries the
``threshold`` and ``feature_columns`` tags the scorer needs. Aliases: ``challenger`` points at
the newest trained version, ``champion`` at the version the daily scoring uses.

The tracking store defaults to SQLite under the lake (``<lake>/mlflow/mlflow.db``, artefacts in
``<lake>/mlflow/artifacts``); any tracking URI (a server, Databricks) can be configured instead.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings, TrainingSettings

if TYPE_CHECKING:
    import xgboost as xgb
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"
GUARDRAILS = ("precision", "recall", "f1")


@dataclass
class Champion:
    """The model the daily scoring uses."""

    booster: xgb.Booster
    threshold: float
    version: str
    feature_columns: list[str]
    run_id: str | None = None


@dataclass
class Decision:
    """The outcome of one champion/challenger comparison."""

    promoted: bool
    reason: str
    challenger: dict[str, float] = field(default_factory=dict)
    champion: dict[str, float] | None = None


def _local_store(lake: Lake) -> str:
    return os.path.abspath(lake.local_path("mlflow"))


def tracking_uri(settings: AppSettings) -> str:
    """The configured tracking URI, or the SQLite store under a local lake."""
    if settings.training.tracking_uri:
        return settings.training.tracking_uri
    lake = Lake(settings.lake.root)
    if not lake.is_local:
        raise ValueError(
            "the lake is not local: set IDGRAPH_TRAIN_TRACKING_URI to an MLflow tracking server"
        )
    return f"sqlite:///{_local_store(lake)}/mlflow.db"


def artifact_location(settings: AppSettings) -> str:
    """Where the experiment keeps artefacts: configured, else ``<lake>/mlflow/artifacts``."""
    if settings.training.artifact_location:
        return settings.training.artifact_location
    lake = Lake(settings.lake.root)
    if lake.is_local:
        return f"file://{_local_store(lake)}/artifacts"
    return lake.path("mlflow", "artifacts")


def _store_missing(settings: AppSettings) -> bool:
    """True for the default local store before anything was ever trained (no DB file)."""
    if settings.training.tracking_uri:
        return False
    lake = Lake(settings.lake.root)
    return lake.is_local and not os.path.exists(os.path.join(_local_store(lake), "mlflow.db"))


def connect(settings: AppSettings, *, create: bool = True) -> MlflowClient:
    """Point MLflow at the configured store and return a client (creating the local dir)."""
    import mlflow

    uri = tracking_uri(settings)
    if uri.startswith("sqlite:///") and create:
        os.makedirs(os.path.dirname(uri.removeprefix("sqlite:///")), exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(client: MlflowClient, settings: AppSettings) -> str:
    """The training experiment's id, created with the configured artefact location."""
    name = settings.training.experiment_name
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(client.create_experiment(name, artifact_location=artifact_location(settings)))


def alias_version(client: MlflowClient, model_name: str, alias: str) -> Any | None:
    """The model version an alias points at, or None (no model, or no such alias)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None


def load_version(client: MlflowClient, settings: AppSettings, version: Any) -> Champion:
    """Load a registered version's booster, threshold and feature columns."""
    import mlflow.xgboost

    name = settings.training.model_name
    booster = mlflow.xgboost.load_model(f"models:/{name}/{version.version}")
    return Champion(
        booster=booster,
        threshold=float(version.tags["threshold"]),
        version=str(version.version),
        feature_columns=json.loads(version.tags["feature_columns"]),
        run_id=version.run_id,
    )


def load_champion(settings: AppSettings) -> Champion | None:
    """The current champion, or None when no model was ever promoted."""
    if _store_missing(settings):
        return None
    client = connect(settings, create=False)
    version = alias_version(client, settings.training.model_name, CHAMPION)
    return None if version is None else load_version(client, settings, version)


def load_model_version(settings: AppSettings, version: str) -> Champion | None:
    """A registered version by its number (the ``model_version`` a day was scored with), or
    None when the registry does not hold it (a lost or a different registry)."""
    from mlflow.exceptions import MlflowException

    if _store_missing(settings):
        return None
    client = connect(settings, create=False)
    try:
        found = client.get_model_version(settings.training.model_name, str(version))
    except MlflowException:
        return None
    return load_version(client, settings, found)


def passes_minimum(metrics: dict[str, float], settings: TrainingSettings) -> str | None:
    """Why ``metrics`` fail the minimum quality, or None when they pass."""
    if metrics["pr_auc"] < settings.min_pr_auc:
        return f"test PR-AUC {metrics['pr_auc']:.4f} < minimum {settings.min_pr_auc}"
    if metrics["precision"] < settings.min_precision:
        return f"test precision {metrics['precision']:.4f} < minimum {settings.min_precision}"
    if metrics["recall"] <= 0:
        return "no test positive reaches the threshold (recall 0)"
    return None


def decide(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    settings: TrainingSettings,
) -> Decision:
    """Promote or not, from both models' metrics on the same test batch.

    The challenger must pass the minimum quality; with a champion it must also beat the
    champion's PR-AUC by ``promotion_margin`` while no guardrail (precision, recall, F1 at each
    model's own threshold) falls more than ``guardrail_tolerance`` below the champion's.
    """
    failed = passes_minimum(challenger, settings)
    if failed:
        return Decision(False, f"challenger below minimum quality: {failed}", challenger, champion)
    if champion is None:
        return Decision(True, "first model passing the minimum quality", challenger, None)
    gain = challenger["pr_auc"] - champion["pr_auc"]
    if gain < settings.promotion_margin:
        return Decision(
            False,
            f"PR-AUC gain {gain:+.4f} below the margin {settings.promotion_margin}",
            challenger,
            champion,
        )
    for metric in GUARDRAILS:
        drop = champion[metric] - challenger[metric]
        if drop > settings.guardrail_tolerance:
            return Decision(
                False,
                f"guardrail {metric} regresses by {drop:.4f} "
                f"(tolerance {settings.guardrail_tolerance})",
                challenger,
                champion,
            )
    return Decision(True, f"PR-AUC gain {gain:+.4f}, no guardrail regressed", challenger, champion)


def set_alias(client: MlflowClient, model_name: str, alias: str, version: str) -> None:
    """Point ``alias`` at ``version``."""
    client.set_registered_model_alias(model_name, alias, version)
