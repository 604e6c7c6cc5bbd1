"""What a pipeline stage returns, so `idgraph daily` can print one summary for the day."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
