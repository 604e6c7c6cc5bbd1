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


def main() -> None:
    """Entry point of the ``idgraph`` console script."""
    app()
