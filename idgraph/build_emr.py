"""Build what EMR runs: the wheel, a packed virtualenv for ``spark.archives``, the entry point.

``make build-emr`` runs ``python -m idgraph.build_emr --out dist``. The venv is created fresh,
gets the wheel with its Spark/ML/AWS extras pinned by ``requirements/main.lock``, and is packed
with venv-pack. pyspark's JARs are left out of the archive: the EMR release supplies the JVM side
of Spark, and they are 400+ MB of the archive otherwise.

venv-pack does not ship the interpreter itself: ``bin/python`` points at the build machine's
Python prefix, or at ``--python-prefix`` (e.g. ``/usr``) where the EMR image has Python 3.11.
Build inside the EMR Serverless base image (see docs/operations.md) so compiled wheels match
its glibc.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "idgraph", "spark_jobs", "training", "lookup_service")
VENV_ARCHIVE = "idgraph-venv.tar.gz"
# The cluster's Spark provides the JVM; shipping pyspark's own jars would double the archive.
PACK_FILTERS = [("exclude", "lib/python*/site-packages/pyspark/jars/*")]


def _run(command: Sequence[str]) -> None:
    subprocess.run(list(command), check=True)


def build_wheel(out: Path, project: Path = PROJECT) -> Path:
    """Build the project wheel from a clean copy of its sources (no build/ dirs in the tree).

    Returns:
        The wheel's path under ``out``.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="idgraph-src-") as tmp:
        src = Path(tmp)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
        for name in SOURCES:
            path = project / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=ignore)
            elif path.exists():
                shutil.copy2(path, src / name)
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), tmp])
    wheels = sorted(out.glob("idgraph-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise RuntimeError(f"pip wheel produced no idgraph wheel in {out}")
    return wheels[-1]


def build_venv(
    venv: Path,
    wheel: Path,
    *,
    extras: str = "spark,ml,aws",
    constraints: Path | None = PROJECT / "requirements" / "main.lock",
    with_deps: bool = True,
    python: str = sys.executable,
) -> Path:
    """Create a fresh venv at ``venv`` and install the wheel (and, normally, its pinned deps)."""
    if venv.exists():
        shutil.rmtree(venv)
    _run([python, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    if with_deps:
        target = f"{wheel}[{extras}]" if extras else str(wheel)
        _run([*pip, target, *(["-c", str(constraints)] if constraints else [])])
    else:
        _run([*pip, "--no-deps", str(wheel)])
    return venv


def pack_venv(venv: Path, output: Path, *, python_prefix: str | None = None) -> Path:
    """Pack ``venv`` into a ``tar.gz`` that ``spark.archives`` unpacks on every node."""
    import venv_pack

    return Path(
        venv_pack.pack(
            prefix=str(venv),
            output=str(output),
            python_prefix=python_prefix,
            force=True,
            filters=PACK_FILTERS,
        )
    )


def build(
    out: Path,
    *,
    python_prefix: str | None = None,
    with_deps: bool = True,
    extras: str = "spark,ml,aws",
) -> dict[str, Path]:
    """Build the wheel, the packed venv and a copy of the entry point into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(out)
    with tempfile.TemporaryDirectory(prefix="idgraph-emr-venv-") as tmp:
        venv = build_venv(Path(tmp) / "venv", wheel, extras=extras, with_deps=with_deps)
        archive = pack_venv(venv, out / VENV_ARCHIVE, python_prefix=python_prefix)
    entrypoint = out / "entrypoint.py"
    shutil.copy2(PROJECT / "spark_jobs" / "entrypoint.py", entrypoint)
    return {"wheel": wheel, "venv": archive, "entrypoint": entrypoint}


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m idgraph.build_emr --out dist``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("dist"), help="Output directory.")
    parser.add_argument(
        "--python-prefix", default=None, help="Python prefix on the EMR nodes, e.g. /usr."
    )
    parser.add_argument("--extras", default="spark,ml,aws", help="Extras of the wheel to install.")
    parser.add_argument(
        "--no-deps", action="store_true", help="Only the wheel (quick smoke builds, tests)."
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    built = build(
        args.out, python_prefix=args.python_prefix, with_deps=not args.no_deps, extras=args.extras
    )
    for kind, path in built.items():
        print(f"{kind:10s} {path}  ({path.stat().st_size / 1e6:,.1f} MB)")
    print(
        f"built in {time.perf_counter() - started:.0f}s; upload {args.out}/ to the artifacts prefix"
    )


if __name__ == "__main__":
    main()
