"""``idgraph submit``: run a stage, the daily chain or training on local Spark or EMR Serverless.

``plan_jobs`` turns a requested stage into entry-point runs; ``run_jobs`` runs them in order on
a target and stops at the first one that fails, so publish never runs after a failed chain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum

from idgraph.core.settings import AppSettings
from idgraph.submit.jobs import JobOutcome, JobSpec, SubmitFailed, parse_results, plan_jobs

__all__ = [
    "JobOutcome",
    "JobSpec",
    "SubmitFailed",
    "Target",
    "parse_results",
    "plan_jobs",
    "run_jobs",
]


class Target(StrEnum):
    """Where jobs run."""

    local = "local"
    emr = "emr"


def run_jobs(
    jobs: Sequence[JobSpec],
    target: Target,
    settings: AppSettings,
    *,
    on_start: Callable[[JobSpec], None] | None = None,
    on_state: Callable[[JobSpec, str], None] | None = None,
    echo: Callable[[str], None] | None = None,
) -> list[JobOutcome]:
    """Run ``jobs`` in order on ``target``.

    Returns:
        The outcome of every job that ran, all successful.

    Raises:
        SubmitFailed: for the first job that did not succeed (later jobs are not started);
            its outcome carries the earlier ones in ``.completed``.
    """
    outcomes: list[JobOutcome] = []
    for job in jobs:
        if on_start is not None:
            on_start(job)
        report = (lambda state, _job=job: on_state(_job, state)) if on_state else None
        if target is Target.local:
            from idgraph.submit.local import run_local

            outcome = run_local(job, settings.spark, echo=echo, on_state=report)
        else:
            from idgraph.submit.emr import run_emr

            outcome = run_emr(job, settings.aws, on_state=report, etl=settings.etl)
        outcomes.append(outcome)
        if not outcome.ok:
            failure = SubmitFailed(outcome)
            failure.completed = outcomes[:-1]  # type: ignore[attr-defined]
            raise failure
    return outcomes
