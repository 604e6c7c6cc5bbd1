"""Weekly training, the model registry, champion/challenger promotion and evaluation."""

from __future__ import annotations

from pydantic import Field

from idgraph.core.settings.base import IdgraphSettings, settings_config


class TrainingSettings(IdgraphSettings):
    """Training settings (env ``IDGRAPH_TRAIN_*``)."""

    model_config = settings_config("TRAIN_")

    tracking_uri: str | None = None
    """MLflow tracking URI. Unset: a SQLite store under the lake (``<lake>/mlflow/mlflow.db``)."""

    artifact_location: str | None = None
    """Where MLflow keeps model artefacts. Unset: ``<lake>/mlflow/artifacts``."""

    experiment_name: str = "idgraph-pair-scorer"
    """MLflow experiment that holds every training run."""

    model_name: str = "idgraph-pair-scorer"
    """Registered model name."""

    history_days: int = Field(default=180, ge=7)
    """Days of visits used for training (fewer when less history exists)."""

    max_training_days: int = Field(default=20, ge=2)
    """At most this many daily snapshots are read (evenly sampled, newest kept); consecutive
    days share 29 of their 30 feature-window days, so reading all of them adds little."""

    max_examples_per_snapshot: int = Field(default=200_000, ge=100)
    """At most this many labelled pairs per snapshot become examples (a hash of the pair picks
    them, the same on every day; positives and negatives alike). Bounds training memory on
    dense worlds where a snapshot labels hundreds of thousands of pairs."""

    keep_example_runs: int = Field(default=3, ge=1)
    """Training runs whose examples (``training_examples/run=…``) are kept for inspection;
    older runs' examples are deleted at the end of a successful run."""

    test_days: int = Field(default=7, ge=1)
    """Pairs first seen in the last this-many days form the test batch."""

    validation_days: int = Field(default=7, ge=1)
    """Pairs first seen in the days before the test batch form the validation set."""

    panel_validation_share: float = Field(default=0.4, ge=0.0, lt=1.0)
    """Share of the panelists whose pairs validate (and choose the threshold); their pairs
    never train. Panel pairs split by panelist, never by pair."""

    panel_test_share: float = Field(default=0.2, ge=0.0, lt=1.0)
    """Share of the panelists whose pairs are held out for the test report."""

    panel_weight: float = Field(default=1.0, gt=0.0)
    """Training weight of one panel-labelled example (a login-labelled one weighs 1)."""

    feedback_weight: float = Field(default=1.0, gt=0.0)
    """Training weight of one feedback verdict whose sender is under the per-key cap
    (``graph.feedback_max_share_per_key`` scales a heavier sender's verdicts down). Verdicts
    always train, never validate: they are about links someone noticed, not a sample."""

    panel_confidence_z: float = Field(default=1.645, ge=0.0)
    """On panel pairs the threshold must reach ``target_precision`` at the lower end of the
    precision's Wilson interval at this z (1.645: one-sided 95%), since a small panel's
    point estimate is noisy; 0 uses the point estimate."""

    min_panel_positives: int = Field(default=20, ge=1)
    """The threshold is chosen on the validation panelists' pairs when they hold at least this
    many positives (and ``min_panel_negatives`` negatives); otherwise on every validation
    pair, and the decision says so."""

    min_panel_negatives: int = Field(default=50, ge=1)
    """See ``min_panel_positives``."""

    reweight: bool = True
    """Without a usable panel, choose the threshold on login-labelled validation pairs
    reweighted towards the unlabelled candidate pairs the model will score (importance
    weights from a classifier telling the two apart), not on the raw login pairs."""

    unlabelled_per_snapshot: int = Field(default=2_000, ge=0)
    """Unlabelled candidate pairs sampled (by pair hash) from each of the last
    ``reweight_snapshots`` snapshots: the population the validation pairs are reweighted to."""

    reweight_snapshots: int = Field(default=7, ge=1)
    """How many of the newest snapshots give the unlabelled sample."""

    reweight_clip: float = Field(default=50.0, gt=1.0)
    """Largest importance weight, relative to the mean weight of 1 (a few pairs that look
    nothing like a login pair must not decide the threshold alone)."""

    min_effective_positives: float = Field(default=30.0, gt=0.0)
    """The reweighted threshold is used only when the validation positives' effective sample
    size ``(sum w)^2 / sum w^2`` reaches this (and the negatives' reaches
    ``min_effective_negatives``); otherwise the decision says so and the unweighted
    threshold stands."""

    min_effective_negatives: float = Field(default=30.0, gt=0.0)
    """See ``min_effective_positives``."""

    target_precision: float = Field(default=0.95, gt=0.0, lt=1.0)
    """Decision threshold is chosen on validation data to reach this precision."""

    min_positives: int = Field(default=20, ge=1)
    """Fewer labelled positives than this in any split: no model is trained (no promotion)."""

    min_negatives: int = Field(default=20, ge=1)
    """Fewer labelled negatives than this in any split: no model is trained (no promotion)."""

    n_estimators: int = Field(default=200, ge=1)
    """Boosting rounds."""

    max_depth: int = Field(default=3, ge=1, le=16)
    """Depth of each tree. Shallow: the labelled pairs are few (thousands) and skewed."""

    excluded_features: list[str] = Field(
        default_factory=lambda: [
            "same_site",
            "site_pair_bucket",
            "site_cookies_log_min",
            "site_cookies_log_max",
            "log_events_min",
            "log_events_max",
            "events_ratio",
            "active_days_min",
            "active_days_max",
        ]
    )
    """Pair features the model does not see. Labels exist only where both cookies are logged
    in, so which sites and how much activity a labelled pair has reflects who logs in where,
    not who is the same person; a model that learns them scores anonymous pairs worse (on the
    demo world, graph precision 0.897 -> 0.936 at a slightly higher recall)."""

    monotone: bool = True
    """Constrain the score to be non-decreasing in the evidence features
    (``pair_features.EVIDENCE_FEATURES``)."""

    learning_rate: float = Field(default=0.1, gt=0.0, le=1.0)
    """Shrinkage of each round."""

    num_workers: int = Field(default=0, ge=0)
    """XGBoost Spark workers (barrier tasks). 0: the local master's cores, else Spark's default
    parallelism. More workers than task slots hangs the barrier stage forever. Threads per
    worker follow ``spark.task.cpus`` (xgboost.spark refuses ``n_jobs``)."""

    seed: int = 7
    """Seed of XGBoost's row/column sampling."""

    promotion_margin: float = Field(default=0.005, ge=0.0)
    """The challenger must beat the champion's test PR-AUC by at least this much."""

    guardrail_tolerance: float = Field(default=0.02, ge=0.0)
    """No guardrail metric (precision, recall, F1 at each model's own threshold) of the
    challenger may fall more than this below the champion's."""

    min_pr_auc: float = Field(default=0.5, ge=0.0, le=1.0)
    """A first model becomes champion only with at least this test PR-AUC … (twice the ~0.25
    positive share of the labelled pairs, i.e. a no-skill model's PR-AUC; the constrained model
    gives up PR-AUC on logged-in pairs for precision on anonymous ones: 0.59-0.67 on the
    simulator, at graph precision 0.96-0.99)"""

    min_precision: float = Field(default=0.85, ge=0.0, le=1.0)
    """… and at least this test precision at its threshold (and a non-zero recall)."""
