"""The layering of docs/architecture.md, checked by import-linter (``[tool.importlinter]``).

``core`` <- stages <- runner, CLI and service: the contracts hold on the real tree, and an
upward import (here, a core module importing the pipeline runner, or the service importing a
Spark stage) breaks the contract it crosses. No JVM: import-linter reads the source only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("idgraph", "spark_jobs", "training", "lookup_service")
LAYERS = "core <- stages <- runner and CLI"
SERVICE = "the lookup service depends on core only"
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the packages under ``root`` (its pyproject.toml's contracts)."""
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo"],
        cwd=root,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy_tree(dest: Path) -> Path:
    """The packages and the contracts, copied under ``dest`` (no caches, no data)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_real_tree_keeps_every_contract() -> None:
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{LAYERS} KEPT" in done.stdout
    assert f"{SERVICE} KEPT" in done.stdout
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "upward", "contract"),
    [
        ("idgraph/core/lake.py", "import idgraph.pipeline", LAYERS),
        ("idgraph/core/keyspace.py", "import spark_jobs.graph.publish", LAYERS),
        ("spark_jobs/pair_scoring/scoring_job.py", "import training.train", "within the stages"),
        ("lookup_service/store.py", "import spark_jobs.graph.redis_loader", SERVICE),
    ],
)
def test_an_upward_import_breaks_the_contract(
    tmp_path: Path, module: str, upward: str, contract: str
) -> None:
    tree = _copy_tree(tmp_path)
    assert _lint_imports(tree).returncode == 0  # the copy alone is clean
    target = tree / module
    target.write_text(target.read_text() + f"\n{upward}  # upward: must break {contract!r}\n")
    done = _lint_imports(tree)
    assert done.returncode != 0, done.stdout
    broken = [line for line in done.stdout.splitlines() if line.endswith(" BROKEN")]
    assert any(line.startswith(contract) for line in broken), done.stdout
    # The report names the offending import, so the failure says what to move.
    assert module.removesuffix(".py").replace("/", ".") in done.stdout
