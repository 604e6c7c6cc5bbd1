"""Partition I/O: dynamic overwrite replaces only the day written."""

from __future__ import annotations

import datetime as dt

import pytest

from idgraph.core.lake import Lake
from spark_jobs.common.io import list_partitions, read_partition, read_range, write_partition

pytestmark = pytest.mark.spark

D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


def test_rewrite_of_a_day_leaves_other_days(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(str(tmp_path))
    write_partition(spark.createDataFrame([(1,), (2,)], "x int"), lake, "t", D1)
    write_partition(spark.createDataFrame([(3,)], "x int"), lake, "t", D2)
    write_partition(spark.createDataFrame([(9,)], "x int"), lake, "t", D1)  # re-run of D1

    assert list_partitions(spark, lake, "t") == [D1, D2]
    assert [r.x for r in read_partition(spark, lake, "t", D1).collect()] == [9]
    rows = read_range(spark, lake, "t", D1, D2).orderBy("x").collect()
    assert [(r.x, r.dt) for r in rows] == [(3, D2), (9, D1)]


def test_read_range_without_partitions_is_an_error(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError):
        read_range(spark, Lake(str(tmp_path)), "t", D1, D2)
