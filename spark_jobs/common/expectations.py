"""Run a Great Expectations 1.x suite on a Spark DataFrame and stop the day if it fails.

Suites are written in Python (lists of ``gx.expectations.*``) next to the stage they guard;
this module only runs them in an ephemeral context (nothing written to disk) and turns the
result into a report an operator can read. Pass a cached DataFrame: GX computes its metrics
in several Spark jobs.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame

from idgraph.core.settings.process_env import configure_process_env
from idgraph.core.stage import StageFailed

# Before great_expectations is imported (GX_ANALYTICS_ENABLED): the suites import it from here.
configure_process_env()

import great_expectations as gx  # noqa: E402

log = logging.getLogger(__name__)


@dataclass
class SuiteReport:
    """Outcome of one suite: which expectations failed, with their observed figures."""

    suite_name: str
    success: bool
    evaluated: int
    failed: list[str] = field(default_factory=list)

    def render(self) -> str:
        """Multi-line human report."""
        head = (
            f"suite {self.suite_name}: {self.evaluated - len(self.failed)}/{self.evaluated} "
            f"expectations passed"
        )
        return "\n".join([head, *(f"  FAILED {line}" for line in self.failed)])


def _describe(result: Any) -> str:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    figures = {
        k: result.result[k]
        for k in ("observed_value", "unexpected_count", "unexpected_percent")
        if k in (result.result or {})
    }
    sample = (result.result or {}).get("partial_unexpected_list")
    if sample:
        figures["examples"] = sample[:5]
    if result.exception_info and result.exception_info.get("raised_exception"):
        figures["error"] = result.exception_info.get("exception_message")
    return f"{config.type} {kwargs} -> {figures}"


def run_suite(df: DataFrame, expectations: Sequence[Any], *, suite_name: str) -> SuiteReport:
    """Validate ``df`` against ``expectations`` and report; never raises on failure."""
    context = gx.get_context(mode="ephemeral")
    try:
        context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    except Exception:  # cosmetic: older configs lack the switch
        log.debug("could not disable GX progress bars")
    token = uuid.uuid4().hex[:8]
    source = context.data_sources.add_spark(name=f"{suite_name}-{token}")
    asset = source.add_dataframe_asset(name=suite_name)
    batch = asset.add_batch_definition_whole_dataframe(f"{suite_name}-batch")
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
    for expectation in expectations:
        suite.add_expectation(expectation)
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}-validation", data=batch, suite=suite)
    )
    result = validation.run(batch_parameters={"dataframe": df})
    failed = [_describe(r) for r in result.results if not r.success]
    return SuiteReport(
        suite_name=suite_name,
        success=bool(result.success),
        evaluated=len(result.results),
        failed=failed,
    )


def check_suite(
    df: DataFrame, expectations: Sequence[Any], *, suite_name: str, stage: str
) -> SuiteReport:
    """Validate ``df``; raise ``StageFailed`` with the readable report if anything failed.

    Args:
        df: the table to validate (cache it first: GX runs several Spark jobs).
        expectations: ``gx.expectations.*`` instances.
        suite_name: name shown in the report, e.g. ``"visits"``.
        stage: the pipeline stage that stops if the suite fails.
    """
    report = run_suite(df, expectations, suite_name=suite_name)
    if not report.success:
        raise StageFailed(stage, report.render(), {"failed": report.failed})
    log.info("%s", report.render())
    return report
