"""Fixtures of the pair-scoring tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from spark_jobs.common.schemas import COOKIE_FEATURES


@pytest.fixture
def make_features(spark) -> Callable[[Sequence[dict[str, Any]]], Any]:  # type: ignore[no-untyped-def]
    """Rows from ``cookie(...)`` -> a ``COOKIE_FEATURES`` DataFrame."""

    def build(rows: Sequence[dict[str, Any]]):  # type: ignore[no-untyped-def]
        return spark.createDataFrame(list(rows), COOKIE_FEATURES)

    return build
