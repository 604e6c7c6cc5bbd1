"""The notebooks run top to bottom on small lakes and carry their figures inline.

``notebooks/graph_health.ipynb`` against a lake of hand-made health rows;
``notebooks/model_registry.ipynb`` against a lake whose registry holds a few real training runs
(``train_and_decide`` on seeded synthetic examples: a skipped attempt, a first champion, a
challenger kept back and a better one promoted), the cheapest lake that has every kind of
decision. Both executed with this venv's kernel; each must carry ``image/png`` outputs and, when
asked (``IDGRAPH_FIGURES_DIR``), save the same figures as PNG files.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from idgraph.core.lake import Lake
from idgraph.core.settings import GraphSettings, load_settings
from spark_jobs.common.io import write_partition
from spark_jobs.graph.gate import evaluate_gate
from spark_jobs.graph.health import health_frame, health_row, score_figures, size_figures
from training.train import train_and_decide

pytestmark = pytest.mark.spark

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
START = dt.date(2026, 3, 1)
FEATURES = ["f_signal", "f_other", "f_weak"]


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


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A kernelspec for this venv's interpreter, in a private prefix (``JUPYTER_PATH``)."""
    prefix = tmp_path_factory.mktemp("jupyter")
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name",
         "python3"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(prefix / "share" / "jupyter")


def _execute(name: str, jupyter_path: str, monkeypatch, **env: str):  # type: ignore[no-untyped-def]
    """Execute ``notebooks/<name>`` with the environment ``env``; return the executed notebook."""
    monkeypatch.setenv("JUPYTER_PATH", jupyter_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, kernel_name="python3", timeout=300).execute()
    return notebook


def _outputs(notebook) -> list:  # type: ignore[no-untyped-def]
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]


def _text(notebook) -> str:  # type: ignore[no-untyped-def]
    return "".join(o.get("text", "") for o in _outputs(notebook))


def _images(notebook) -> int:  # type: ignore[no-untyped-def]
    """How many figures the executed notebook shows inline."""
    return sum("image/png" in o.get("data", {}) for o in _outputs(notebook))


def test_health_notebook_draws_inline(
    health_lake: Lake, jupyter_path: str, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    figures = tmp_path / "figures"
    notebook = _execute(
        "graph_health.ipynb",
        jupyter_path,
        monkeypatch,
        IDGRAPH_LAKE_ROOT=health_lake.root,
        IDGRAPH_FIGURES_DIR=str(figures),
    )
    text = _text(notebook)
    assert "3 day(s) of health, 2026-03-01 .. 2026-03-03" in text
    assert "2026-03-03 gate FAILED" in text
    assert "x largest component: 33 cookies, above the cap of 32" in text
    assert "2026-03-01 gate passed" in text
    assert "no scored link to draw for 2026-03-03" in text  # no graph in this lake
    assert _images(notebook) == 3
    assert sorted(p.name for p in figures.iterdir()) == [
        "component_sizes.png",
        "daily_trends.png",
        "score_histogram.png",
    ]


def _examples(spark, *, seed: int, n: int = 3000, shuffled: bool = False):  # type: ignore[no-untyped-def]
    """Seeded examples: ``f_signal`` separates the classes, ``f_weak`` barely, ``f_other`` is
    noise; ``shuffled``: labels drawn at random outside the test split (a model that learns
    nothing, judged on the real test labels)."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.2).astype("int32")
    split = rng.choice(["train", "validation", "test"], n, p=[0.6, 0.2, 0.2])
    learned = np.where(split == "test", label, (rng.random(n) < 0.2).astype("int32"))
    return spark.createDataFrame(
        pd.DataFrame(
            {
                "site_id_l": "s1",
                "cookie_id_l": [f"l{i}" for i in range(n)],
                "site_id_r": "s2",
                "cookie_id_r": [f"r{i}" for i in range(n)],
                "f_signal": label * 3.0 + rng.normal(0, 1, n),
                "f_other": rng.normal(0, 1, n),
                "f_weak": label * 1.2 + rng.normal(0, 1, n),
                "split": split,
                "label": learned if shuffled else label,
            }
        )
    )


@pytest.fixture()
def model_lake(spark, tmp_path: Path) -> Lake:  # type: ignore[no-untyped-def]
    """Four weekly training attempts through the production path (registry and decisions)."""
    lake = Lake(str(tmp_path / "model-lake"))
    settings = load_settings(
        lake={"root": lake.root},
        training={
            "n_estimators": 30,
            "max_depth": 4,
            "num_workers": 1,
            "target_precision": 0.8,
            "min_precision": 0.5,
            "min_pr_auc": 0.3,
        },
    )
    examples = _examples(spark, seed=31)
    attempts = [
        (_examples(spark, seed=41, n=60), FEATURES),  # too few labels: nothing trained
        (examples, ["f_weak", "f_other"]),  # the first model: champion v1
        (_examples(spark, seed=31, shuffled=True), FEATURES),  # worse: v2 stays challenger
        (examples, FEATURES),  # clearly better: v3 becomes champion
    ]
    outcomes = []
    for week, (frame, features) in enumerate(attempts):
        as_of = START + dt.timedelta(days=7 * week)
        result = train_and_decide(spark, settings, as_of, examples=frame, feature_columns=features)
        outcomes.append((result.skipped, result.summary.get("promoted")))
    assert outcomes == [(True, False), (False, True), (False, False), (False, True)], outcomes
    return lake


@pytest.mark.timeout(600)
def test_model_notebook_draws_every_run_and_the_champion(
    model_lake: Lake, jupyter_path: str, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    figures = tmp_path / "figures"
    notebook = _execute(
        "model_registry.ipynb",
        jupyter_path,
        monkeypatch,
        IDGRAPH_LAKE_ROOT=model_lake.root,
        IDGRAPH_FIGURES_DIR=str(figures),
    )
    text = _text(notebook)
    assert "3 training run(s) of " in text and "champion: v3" in text
    assert "v2 as of 2026-03-15: PR-AUC" in text and "not promoted" in text
    said = [line.split() for line in text.splitlines()]
    assert ["2026-03-01", "no", "model", "trained", "no", "model"] in [s[:6] for s in said]
    assert ["2026-03-08", "promoted", "v1"] in [s[:3] for s in said]
    assert ["2026-03-15", "kept", "as", "challenger", "v2"] in [s[:5] for s in said]
    assert ["2026-03-22", "promoted", "v3"] in [s[:3] for s in said]
    assert "champion v3, threshold " in text and "f_signal" in text
    assert _images(notebook) == 3
    assert sorted(p.name for p in figures.iterdir()) == [
        "champion_feature_importance.png",
        "decisions.png",
        "training_runs.png",
    ]
