"""Fixtures of the infrastructure tests: the repository paths and one checkov run per session."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.unit.infra.paths import CHECKOV, ROOT, TERRAFORM


@pytest.fixture(scope="session")
def checkov_report() -> dict[str, Any]:
    """``checkov -d terraform`` once for the whole run (it takes tens of seconds)."""
    assert CHECKOV.is_file(), f"checkov missing at {CHECKOV}: run `make install-tools`"
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(TERRAFORM), "--framework", "terraform", "--output", "json",
         "--quiet", "--compact", "--skip-download"],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )  # fmt: skip
    # checkov prints one report (dict) per framework, or a list when there are several.
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    return {"returncode": proc.returncode, "reports": reports, "stderr": proc.stderr}
