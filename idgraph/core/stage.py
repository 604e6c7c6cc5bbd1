"""What a pipeline stage returns, so `idgraph daily` can print one summary for the day, and
the stages the spark-submit entry point (``spark_jobs/entrypoint.py``) takes and reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RESULT_MARKER = "IDGRAPH_RESULT "
"""Prefix of the entry point's one result line per stage (``IDGRAPH_RESULT {json}``)."""
DAILY = "daily"
TRAIN = "train"
DRAIN = "drain"
# Single stages, daily chain (without drain and publish: they are jobs of their own, the only
# ones given the Redis address; publish runs only after the graph stage succeeded, gate
# permitting), and weekly training.
STAGE_CHOICES = (
    "etl", "features", "candidates", "scoring", "graph", DRAIN, "publish", DAILY, TRAIN
)  # fmt: skip


class StageFailed(RuntimeError):
    """A stage refused the day (failed checks, broken identity, failed suite).

    The message says what failed in words an operator can act on.
    """

    def __init__(self, stage: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"[{stage}] {message}")
        self.stage = stage
        self.message = message
        self.details = details or {}


@dataclass
class StageResult:
    """Outcome of one stage for one day: a few headline figures for the summary."""

    stage: str
    summary: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    note: str = ""
