"""The publish gate: does today's graph look healthy enough to replace yesterday's?

Pure Python over the day's health figures, so every check is unit-testable without Spark. The
publish step reads the outcome from ``health/dt=D`` (``gate_passed``, ``gate_failures``) and
keeps yesterday's graph live when it failed, unless forced.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from idgraph.core.settings import GraphSettings


@dataclass(frozen=True)
class GateOutcome:
    """Result of the gate: failures say exactly which check failed and by how much."""

    passed: bool
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def evaluate_gate(
    metrics: Mapping[str, Any],
    history_volumes: Sequence[int],
    settings: GraphSettings,
    *,
    problems: Sequence[str] = (),
    degraded: Sequence[str] = (),
    visits: int | None = None,
    history_visits: Sequence[int] = (),
) -> GateOutcome:
    """Run every configured check on the day's health figures.

    Args:
        metrics: at least ``largest_component``, ``churn`` (None without a previous day) and
            ``scored_pairs``.
        history_volumes: ``scored_pairs`` of recent earlier days (most recent
            ``gate_history_days``); days without a model (0 pairs) do not count.
        settings: the graph settings holding the limits.
        problems: what the graph stage found wrong with its own output (feedback pairs still
            joined, cookies lost); each fails the gate.
        degraded: why the day is degraded (``health.degraded_reasons``); each one fails the
            gate, so a degraded graph is published only with ``--force``.
        visits: the day's clean visits (``reconciliation.visits_written``), None when unknown.
            Zero (a quiet day: the graph is the window's earlier days only) always fails.
        history_visits: clean visits of recent earlier days; a day below their median
            x (1 - ``gate_volume_band``) fails once ``gate_min_history`` days are known.

    Returns:
        ``GateOutcome``; ``passed`` is false when any check failed. Skipped checks leave a note.
    """
    failures: list[str] = []
    notes: list[str] = []

    largest = int(metrics["largest_component"])
    if largest > settings.max_component_size:
        failures.append(
            f"largest component: {largest:,} cookies, above the cap of "
            f"{settings.max_component_size:,}"
        )

    churn = metrics.get("churn")
    if churn is None:
        notes.append("churn check skipped: no graph for the previous day")
    elif churn > settings.gate_max_churn:
        failures.append(
            f"ID churn: {churn:.2%} of returning cookies changed ID, above the limit of "
            f"{settings.gate_max_churn:.2%}"
        )

    volume = int(metrics["scored_pairs"])
    with_model = [int(v) for v in history_volumes if v and v > 0]
    if len(with_model) < settings.gate_min_history:
        notes.append(
            f"scored-pair volume check skipped: {len(with_model)} earlier day(s) with scored "
            f"pairs in the history, {settings.gate_min_history} needed"
        )
    else:
        median = statistics.median(with_model)
        low = median * (1 - settings.gate_volume_band)
        high = median * (1 + settings.gate_volume_band)
        if not low <= volume <= high:
            failures.append(
                f"scored-pair volume: {volume:,} pairs, outside {low:,.0f}..{high:,.0f} "
                f"(median {median:,.0f} of the last {len(with_model)} days "
                f"± {settings.gate_volume_band:.0%})"
            )

    failures.extend(_visit_volume(visits, history_visits, settings))
    failures.extend(f"stage failed: {p}" for p in problems)
    failures.extend(f"degraded: {reason}" for reason in degraded)
    return GateOutcome(passed=not failures, failures=failures, notes=notes)


def _visit_volume(visits: int | None, history: Sequence[int], settings: GraphSettings) -> list[str]:
    """The visit-volume check: a quiet day, or a drop below the band of recent days."""
    if visits is None:
        return []
    if visits == 0:
        return [
            "visit volume: no visits today (the raw partition holds no lines); the graph "
            "only repeats the feature window's earlier days"
        ]
    known = [v for v in history if v > 0]
    if len(known) < settings.gate_min_history:
        return []
    median = statistics.median(known)
    low = median * (1 - settings.gate_volume_band)
    if visits < low:
        return [
            f"visit volume: {visits:,} visits, below {low:,.0f} (median {median:,.0f} of the "
            f"last {len(known)} days - {settings.gate_volume_band:.0%})"
        ]
    return []
