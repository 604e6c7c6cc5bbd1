"""What a submission runs: the jobs for a requested stage, their arguments and their outcomes.

Both targets run the same entry point (``spark_jobs/entrypoint.py``) with the same arguments;
only how the process is started differs (``spark-submit`` here, an EMR Serverless job run there).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from idgraph.core.stage import DAILY, DRAIN, RESULT_MARKER, STAGE_CHOICES

PUBLISH = "publish"
REDIS_STAGES = (DRAIN, PUBLISH)
"""The only jobs given the Redis address (and its secret)."""


@dataclass(frozen=True)
class JobSpec:
    """One entry-point run: a stage (or the daily chain, or training) for one day."""

    stage: str
    day: dt.date
    lake: str
    force: bool = False
    break_lock: bool = False
    """Drain and publish: remove the publish lock first, whoever holds it."""
    redis_url: str | None = None
    redis_url_secret_id: str | None = None
    redis_cluster: bool = False
    region: str | None = None

    @property
    def name(self) -> str:
        """A job name unique per stage and day (EMR console, Spark UI)."""
        return f"idgraph-{self.stage}-{self.day.isoformat()}"

    def arguments(self) -> list[str]:
        """The entry point's command-line arguments, as strings."""
        args = ["--stage", self.stage, "--date", self.day.isoformat(), "--lake", self.lake]
        if self.stage in REDIS_STAGES:
            # Only drain and publish talk to Redis; the other stages never see its address.
            if self.redis_url:
                args += ["--redis-url", self.redis_url]
            if self.redis_url_secret_id:
                args += ["--redis-url-secret-id", self.redis_url_secret_id]
            if self.redis_cluster:
                args.append("--redis-cluster")
            if self.force and self.stage == PUBLISH:
                args.append("--force")
            if self.break_lock:
                args.append("--break-lock")
        if self.region and self.redis_url_secret_id and self.stage in REDIS_STAGES:
            args += ["--region", self.region]
        return args


def plan_jobs(
    stage: str,
    day: dt.date,
    lake: str,
    *,
    publish: bool = True,
    force: bool = False,
    break_lock: bool = False,
    redis_url: str | None = None,
    redis_url_secret_id: str | None = None,
    redis_cluster: bool = False,
    region: str | None = None,
) -> list[JobSpec]:
    """The jobs for a requested stage, in the order they must run.

    ``daily`` is three jobs: ``drain`` (the service's opt-outs and feedback verdicts into the
    lake, so the day's graph honours them), the chain etl → graph in one Spark session, then
    ``publish``, each submitted only once the one before succeeded. Without ``publish`` it is
    the chain alone. The publish stage itself refuses a day whose graph failed its health gate
    (unless ``force``), so a bad graph never reaches Redis.

    Both Redis jobs take the publish lock; ``break_lock`` goes to the first of them only (the
    drain of a daily plan): the publish an hour later takes the lock as usual and does not
    break that of a publish started in between.

    Raises:
        ValueError: for an unknown stage.
    """
    if stage not in STAGE_CHOICES:
        raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join(STAGE_CHOICES)}")
    common: dict[str, Any] = {
        "day": day,
        "lake": lake,
        "force": force,
        "break_lock": break_lock,
        "redis_url": redis_url,
        "redis_url_secret_id": redis_url_secret_id,
        "redis_cluster": redis_cluster,
        "region": region,
    }
    if stage == DAILY:
        if not publish:
            return [JobSpec(DAILY, **common)]
        later = common | {"break_lock": False}
        return [JobSpec(DRAIN, **common), JobSpec(DAILY, **later), JobSpec(PUBLISH, **later)]
    return [JobSpec(stage, **common)]


def parse_results(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The ``IDGRAPH_RESULT`` records printed by the entry point, in order."""
    results = []
    for line in lines:
        _, marker, payload = line.partition(RESULT_MARKER)
        if marker:
            try:
                results.append(json.loads(payload))
            except json.JSONDecodeError:
                continue  # a truncated log line; the job state still tells success or failure
    return results


@dataclass
class JobOutcome:
    """What happened to one submitted job."""

    job: JobSpec
    ok: bool
    state: str
    job_id: str = ""
    seconds: float = 0.0
    reason: str = ""
    log_location: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)


class SubmitFailed(RuntimeError):
    """A submitted job did not succeed; carries its outcome (reason and log location)."""

    def __init__(self, outcome: JobOutcome):
        super().__init__(
            f"{outcome.job.name} {outcome.state}: {outcome.reason or 'no reason given'}"
            + (f" (logs: {outcome.log_location})" if outcome.log_location else "")
        )
        self.outcome = outcome
