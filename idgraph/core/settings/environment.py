"""Which ``IDGRAPH_*`` environment variables exist: every setting, plus the few listed here.

pydantic-settings reads the variables it knows and ignores the rest, so a misspelt one
(``IDGRAPH_GRAPH_MAX_COMPONENT_SIZ=5``) would leave its setting at the default without a word.
``check_environment`` refuses any ``IDGRAPH_*`` variable that is neither a setting nor listed
in ``NOT_SETTINGS``, and names the closest setting.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from pydantic_settings import BaseSettings

ENV_PREFIX = "IDGRAPH_"

SETTINGS_JSON_ENV = "IDGRAPH_SETTINGS_JSON"
"""The settings ``idgraph serve`` validated, as JSON, for its uvicorn workers (one variable
rather than one per setting: see ``idgraph.core.settings.settings_json``)."""

NOT_SETTINGS: Mapping[str, str] = {
    SETTINGS_JSON_ENV: "set by `idgraph serve` for its workers: every setting, as JSON",
    "IDGRAPH_BENCH_RUNS": "benchmarks (etl, session): repetitions per measurement",
    "IDGRAPH_BENCH_TRAIN_LAKES": "benchmarks (training): prepared lakes, `L1:D1,L2:D2`",
    "IDGRAPH_BENCH_TRAIN_SNAPSHOTS": "benchmarks (training): snapshot counts to time",
    "IDGRAPH_BENCH_TRAIN_RUNS": "benchmarks (training): repetitions per measurement",
    "IDGRAPH_FIGURES_DIR": "notebooks/*.ipynb: also save the figures here, as PNG",
    "IDGRAPH_EXPLAIN_JSON": "notebooks/graph_health.ipynb: the explanation to draw",
}
"""The only ``IDGRAPH_*`` variables that are not settings, and what reads each (docs/cli.md)."""


class UnknownSettingError(ValueError):
    """An ``IDGRAPH_*`` environment variable that no setting reads."""


def setting_env_names(concerns: Iterable[type[BaseSettings]]) -> dict[str, str]:
    """Every settings variable, upper case, mapped to its ``concern_class.field``.

    A concern reads ``<env_prefix><FIELD>`` (``IDGRAPH_GRAPH_MAX_COMPONENT_SIZE``), case
    insensitively; the lookup service's concern has the bare prefix (``IDGRAPH_API_KEYS``).
    """
    names = {}
    for cls in concerns:
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        for field in cls.model_fields:
            names[f"{prefix}{field.upper()}"] = f"{cls.__name__}.{field}"
    return names


def unknown_variables(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """The ``IDGRAPH_*`` names in ``environ`` that are neither in ``known`` nor ``NOT_SETTINGS``."""
    allowed = {name.upper() for name in known} | set(NOT_SETTINGS)
    return sorted(
        name
        for name in environ
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in allowed
    )


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known variable most like ``name``, or None when none is close.

    Compared without the common ``IDGRAPH_`` prefix, which would make every pair look alike.
    """
    suffixes = {k.upper().removeprefix(ENV_PREFIX): k for k in known}
    match = difflib.get_close_matches(
        name.upper().removeprefix(ENV_PREFIX), list(suffixes), n=1, cutoff=0.6
    )
    return suffixes[match[0]] if match else None


def check_environment(environ: Mapping[str, str], concerns: Iterable[type[BaseSettings]]) -> None:
    """Refuse ``IDGRAPH_*`` variables that no setting reads (and that are not listed).

    Raises:
        UnknownSettingError: naming every unknown variable and, for each, the closest setting.
    """
    known = setting_env_names(concerns)
    unknown = unknown_variables(environ, known)
    if not unknown:
        return
    lines = []
    for name in unknown:
        match = closest(name, [*known, *NOT_SETTINGS])
        hint = f"did you mean {match}?" if match else "no setting is close"
        lines.append(f"{name} is not a setting: {hint}")
    raise UnknownSettingError(
        "; ".join(lines) + " (settings: idgraph/core/settings/, docs/cli.md#settings)"
    )
