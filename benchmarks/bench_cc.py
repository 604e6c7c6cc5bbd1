"""Connected components: our large-star/small-star on Spark vs scipy on the same edges.

Two graphs: a random graph (~1M vertices, ~1M edges; quick: 2k) and a single long chain
(100k vertices; quick: 500), the worst case for round counts. Vertex ids are scattered signed
64-bit values, as the job's ``xxhash64`` ids are. For each: median wall time of the Spark run
(labels materialised), its rounds, scipy's time on the same edges in the same process, the
ratio, and whether the two partitions are identical.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as scipy_cc

from benchmarks.common import main_for, timed

log = logging.getLogger(__name__)


def _random_graph(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, m), rng.integers(0, n, m)


def _chain(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return order[:-1], order[1:]


def _scipy_labels(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    matrix = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    return scipy_cc(matrix, directed=False)[1]


def _same_partition(ids: np.ndarray, expected: np.ndarray, got: pd.DataFrame) -> bool:
    """True when the Spark labels and scipy's induce the same partition of the vertices."""
    truth = pd.DataFrame({"id": ids, "expected": expected})
    joined = truth.merge(got, on="id", how="left")
    if len(got) != len(ids) or joined["component"].isna().any():
        return False
    pairs = joined[["expected", "component"]].drop_duplicates()
    return pairs["expected"].is_unique and pairs["component"].is_unique


def _measure(spark: Any, name: str, n: int, src: np.ndarray, dst: np.ndarray, runs: int) -> dict:
    from spark_jobs.graph.connected_components import large_small_star

    rng = np.random.default_rng(7)
    ids = rng.choice(np.iinfo(np.int64).max, size=n, replace=False) * rng.choice([-1, 1], n)
    edges = spark.createDataFrame(pd.DataFrame({"src": ids[src], "dst": ids[dst]})).cache()
    vertices = spark.createDataFrame(pd.DataFrame({"id": ids})).cache()
    edges.count(), vertices.count()  # inputs in memory before the clock starts

    def spark_run() -> Any:
        result = large_small_star(edges, vertices)
        result.components.write.format("noop").mode("overwrite").save()
        return result

    median, all_seconds, result = timed(spark_run, runs=runs)
    scipy_median, _, expected = timed(lambda: _scipy_labels(n, src, dst), runs=max(runs, 3))
    got = result.components.toPandas()  # verification only, outside the timing
    figures = {
        "vertices": n,
        "edges": len(src),
        "components": int(expected.max() + 1),
        "spark_seconds": median,
        "spark_seconds_runs": all_seconds,
        "iterations": result.iterations,
        "scipy_seconds": round(scipy_median, 4),
        "ratio_to_scipy": round(median / max(scipy_median, 1e-6), 1),
        "partitions_equal": _same_partition(ids, expected, got),
    }
    edges.unpersist(), vertices.unpersist()
    log.info("%s: %s", name, figures)
    return figures


def run(quick: bool = False) -> dict:
    """Benchmark figures (see the module docstring)."""
    from idgraph.core.settings import SparkSettings
    from spark_jobs.common.session import build_spark

    spark = build_spark(
        SparkSettings(
            master="local[2]",
            shuffle_partitions=2 if quick else 4,
            driver_memory="6g",
            app_name="bench-cc",
            extra_conf={"spark.ui.showConsoleProgress": "false"},
        ),
        checkpoint_dir="/tmp/idgraph-bench-checkpoints",
    )
    if not logging.getLogger().handlers:  # show the per-round progress of the CC loop
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    runs = 1 if quick else 3
    n = 2_000 if quick else 1_000_000
    chain = 500 if quick else 100_000
    started = time.perf_counter()
    try:
        random_graph = _measure(spark, "random", n, *_random_graph(n, n, seed=1), runs=runs)
        chain_graph = _measure(spark, "chain", chain, *_chain(chain, seed=2), runs=runs)
    finally:
        spark.stop()
    return {
        "random_graph": random_graph,
        "chain": chain_graph,
        "runs": runs,
        "total_seconds": round(time.perf_counter() - started, 1),
        "target": "random graph of 1M vertices / 1M edges in <= 25 s",
    }


if __name__ == "__main__":
    main_for("cc")
