"""``notebooks/graph_health.ipynb`` runs top to bottom against a small lake of health rows."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from idgraph.settings import GraphSettings
from spark_jobs.common.io import write_partition
from spark_jobs.common.paths import Lake
from spark_jobs.graph.gate import evaluate_gate
from spark_jobs.graph.health import health_frame, health_row, score_figures, size_figures

pytestmark = pytest.mark.spark

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "graph_health.ipynb"
START = dt.date(2026, 3, 1)


def _figures(day: int) -> dict:
    histogram = [
        (1, 500 + 10 * day),
        (2, 120),
        (3, 40),
        (5, 9),
        (12, 2),
        (31 + day, 1),
    ]  # day 2: 33 > cap 32
    scores = [(b, 1_000 // (b + 1)) for b in range(20)] if day else []
    return {
        **size_figures(histogram),
        "deterministic_edges": 300,
        "probabilistic_edges": 0 if day == 0 else 250,
        "cookies_deterministic": 200,
        "cookies_probabilistic": 100 if day else 0,
        "cookies_singleton": 500,
        "generic_login_hashes": 1,
        "generic_login_cookies": 45,
        "overmerge_components": day,
        "overmerge_parts": 2 * day,
        "overmerge_deterministic_only": 0,
        "scored_pairs": sum(n for _, n in scores),
        "scored_pairs_above_threshold": 250 if day else 0,
        "score_histogram": score_figures(scores, bins=20),
        "churn": None if day == 0 else 0.01 * day,
        "returning_cookies": 0 if day == 0 else 800,
        "changed_ids": 8 * day,
        "new_ids": 30,
        "model_version": None if day == 0 else "7",
        "deterministic_only": day == 0,
        "cc_implementation": "dataframe",
        "cc_iterations": 4,
        "vertex_id_collisions": 0,
        "note": "deterministic links only" if day == 0 else "",
        "degraded": False,
        "degraded_reasons": [],
    }


@pytest.fixture()
def health_lake(spark, tmp_path: Path) -> Lake:  # type: ignore[no-untyped-def]
    lake = Lake(str(tmp_path / "lake"))
    settings = GraphSettings(max_component_size=32, generic_login_max_cookies=32)
    rows = []
    for day in range(3):
        figures = _figures(day)
        rows.append((day, health_row(figures, evaluate_gate(figures, [], settings))))
    for day, row in rows:
        write_partition(health_frame(spark, row), lake, "health", START + dt.timedelta(days=day))
    return lake


def test_notebook_executes(health_lake: Lake, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The kernel must be this venv's interpreter: install its kernelspec in a private prefix.
    prefix = tmp_path / "jupyter"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ipykernel",
            "install",
            "--prefix",
            str(prefix),
            "--name",
            "python3",
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    monkeypatch.setenv("IDGRAPH_LAKE_ROOT", health_lake.root)
    monkeypatch.setenv("IDGRAPH_FIGURES_DIR", str(tmp_path / "figures"))

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, kernel_name="python3", timeout=120).execute()

    text = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert "3 day(s) of health, 2026-03-01 .. 2026-03-03" in text
    assert "2026-03-03 gate FAILED" in text
    assert "x largest component: 33 cookies, above the cap of 32" in text
    assert "2026-03-01 gate passed" in text
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "component_sizes.png",
        "daily_trends.png",
        "score_histogram.png",
    ]
