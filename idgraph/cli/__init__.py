"""Console script ``idgraph``. Each module below registers its commands on ``app``."""

from __future__ import annotations

from idgraph.cli import (  # noqa: F401  (registration)
    explain,
    feedback,
    pipeline,
    serve,
    simulate,
    submit,
    train,
)
from idgraph.cli.app import app
from idgraph.core.settings.process_env import configure_process_env


def main() -> None:
    """Entry point of the ``idgraph`` console script."""
    configure_process_env()  # before a command imports xgboost (OpenMP) or starts a JVM
    app()
