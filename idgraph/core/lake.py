"""Lake layout: every table lives under one root, partitioned by ``dt=YYYY-MM-DD``.

Pure string handling so that ``s3://bucket/prefix`` and local paths behave the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


def day_str(day: dt.date) -> str:
    """ISO date string used in partition names."""
    return day.isoformat()


@dataclass(frozen=True)
class Lake:
    """Paths of every table under ``root`` (local path, ``file://`` or ``s3://``)."""

    root: str

    def path(self, *parts: str) -> str:
        """Join ``parts`` under the root with ``/`` (never ``os.path``: S3 keys are not paths)."""
        return "/".join([self.root.rstrip("/"), *(p.strip("/") for p in parts)])

    def table(self, name: str) -> str:
        """Root of a partitioned table."""
        return self.path(name)

    def partition(self, name: str, day: dt.date) -> str:
        """One day's partition of a table."""
        return self.path(name, f"dt={day_str(day)}")

    def raw_pixel(self, day: dt.date) -> str:
        """Raw JSON-lines of one day as delivered by the pixel collectors."""
        return self.path("raw", "pixel", f"dt={day_str(day)}")

    @property
    def truth(self) -> str:
        """Simulator ground truth (site_id, cookie_id, person_id, …)."""
        return self.path("truth")

    def evaluation(self, day: dt.date) -> str:
        """The figures of ``idgraph evaluate`` (and of the demo) for one day: a JSON file."""
        return self.path("evaluation", f"{day_str(day)}.json")

    @property
    def checkpoints(self) -> str:
        """Reliable checkpoint directory for iterative jobs."""
        return self.path("_checkpoints")

    @property
    def mlflow(self) -> str:
        """Default home of the MLflow SQLite store and artefacts."""
        return self.path("mlflow")

    @property
    def redis_data(self) -> str:
        """Data directory of the embedded Valkey server (local lakes only)."""
        return self.path("redis")

    @property
    def is_local(self) -> bool:
        """True when the root is on the local filesystem."""
        return "://" not in self.root or self.root.startswith("file://")

    def local_path(self, *parts: str) -> str:
        """The local filesystem path of ``parts`` (only for local lakes)."""
        if not self.is_local:
            raise ValueError(f"{self.root} is not a local lake")
        return self.path(*parts).removeprefix("file://")
