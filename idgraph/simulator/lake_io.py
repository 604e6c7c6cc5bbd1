"""Writing the simulator's output to a local or ``s3://`` lake through ``pyarrow.fs``."""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

GZIP_LEVEL = 1  # fast: raw files are rewritten by every run, size matters less than time


class LakeWriter:
    """Files under one lake root; ``root`` is a local path, ``file://`` or ``s3://`` URI."""

    def __init__(self, root: str) -> None:
        uri = root if "://" in root else os.path.abspath(root)
        self.fs, self.base = pafs.FileSystem.from_uri(uri)
        self.base = self.base.rstrip("/")

    def _path(self, rel: str) -> str:
        return f"{self.base}/{rel.strip('/')}"

    def reset_dir(self, rel: str) -> None:
        """Create ``rel`` or empty it, so a re-run replaces what an earlier run wrote."""
        path = self._path(rel)
        info = self.fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir_contents(path)
        else:
            self.fs.create_dir(path, recursive=True)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write one object."""
        # compression=None: pyarrow would otherwise gzip again because of the .gz suffix
        with self.fs.open_output_stream(self._path(rel), compression=None) as stream:
            stream.write(data)

    def write_gzip_parts(self, rel_dir: str, parts: Sequence[bytes]) -> int:
        """Write ``part-NNNNN.json.gz`` files, compressing in parallel; returns bytes written.

        zlib releases the GIL, so two threads use both cores; ``mtime=0`` keeps the gzip
        header free of wall-clock time, so the same seed gives byte-identical files.
        """
        with ThreadPoolExecutor(max_workers=2) as pool:
            compressed = list(
                pool.map(lambda data: gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0), parts)
            )
        for i, blob in enumerate(compressed):
            self.write_bytes(f"{rel_dir}/part-{i:05d}.json.gz", blob)
        return sum(len(b) for b in compressed)

    def write_parquet(self, rel_dir: str, table: pa.Table) -> None:
        """Replace a truth table's directory with one Parquet file."""
        self.reset_dir(rel_dir)
        pq.write_table(
            table,
            self._path(f"{rel_dir}/part-00000.parquet"),
            filesystem=self.fs,
            compression="zstd",
        )
