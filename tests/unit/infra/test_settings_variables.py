"""Every ``IDGRAPH_*`` variable the repository names is a setting or listed as none.

``load_settings`` refuses any other ``IDGRAPH_*`` variable, so one that a workflow, the
Terraform task definition, a test or a benchmark sets without listing it would fail at start.
Pure Python over ``git ls-files``: no Spark, milliseconds.
"""

from __future__ import annotations

import re

from idgraph.core.settings import setting_variables
from idgraph.core.settings.environment import NOT_SETTINGS
from tests.unit.infra.paths import ROOT
from tests.unit.infra.test_repository_stands_alone import tracked_files

# A whole name: a prefix (`IDGRAPH_AWS_` before an f-string's `{…}`) ends with `_` and is skipped.
_NAME = re.compile(r"\bIDGRAPH_[A-Z0-9_]*[A-Z0-9]\b(?!_|\{)")
NOT_ENVIRONMENT = {
    "IDGRAPH_RESULT": "the marker of the entry point's result lines on stdout",
    "IDGRAPH_ENVIRONMENT": "a GitHub repository variable (vars.*) the workflows read",
    "IDGRAPH_GRAPH_MAX_COMPONENT_" + "SIZ": "docs/cli.md's example of a misspelt setting",
}


def _named() -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for path in tracked_files():
        data = path.read_bytes()
        if b"\0" in data:
            continue
        for name in _NAME.findall(data.decode("utf-8", errors="replace")):
            names.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return names


def test_every_idgraph_variable_named_in_the_repository_is_known() -> None:
    named = _named()
    assert "IDGRAPH_LAKE_ROOT" in named, "the scan found nothing"
    known = set(setting_variables()) | set(NOT_SETTINGS) | set(NOT_ENVIRONMENT)
    unknown = {name: sorted(where) for name, where in named.items() if name not in known}
    assert not unknown, (
        "IDGRAPH_* names that are no setting: make them settings, or list them in "
        f"idgraph/core/settings/environment.py NOT_SETTINGS (and docs/cli.md): {unknown}"
    )


def test_the_listed_non_settings_are_used_and_documented() -> None:
    named = _named()
    cli_doc = (ROOT / "docs" / "cli.md").read_text()
    for name in NOT_SETTINGS:
        users = {
            where
            for where in named.get(name, set())
            if where != "idgraph/core/settings/environment.py" and not where.startswith("docs/")
        }
        assert users, f"{name} is listed in NOT_SETTINGS but nothing reads it"
        assert f"`{name}`" in cli_doc, f"{name} is not in docs/cli.md#settings"
