"""The S3 sink: gzipped batches and data objects as files in an S3-layout folder per bucket.

Invariants
    Rule 1: objects appear whole or not at all: each is written to a temporary file in its
            folder and renamed into place, so a crash (even SIGKILL) never leaves a truncated
            ``.json.gz`` under its final name. Leftover ``*.tmp`` files are removed by
            ``remove_partial_writes`` at start-up, under the log lock (a flush holds it while it
            writes: another server's temporary files on the same data folder are left alone).
    Rule 2: a batch object holds newline-delimited JSON records, gzipped, as AWS delivers them.
    Rule 3: purging never touches a file it cannot date: batch objects are dated by their name
            (``<YYYYMMDDTHHmmssSSSZ>_<hex>.json.gz``, the newest record in the batch), data
            objects by their ``data/YYYY/MM/DD/HH`` folder (expired once the whole hour is).
            Names are cut to the millisecond (or the hour): an object expires once the end of
            its last millisecond (hour) is no later than the cutoff, so a record at the cutoff
            itself, kept by the index, is kept here too.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
from calendar import timegm
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from claude_bedrock.adapters.invocation_log.layout import LogLayout, remove_empty_folder, remove_file

__all__ = ["S3FolderSink"]

_BATCH_NAME = re.compile(r"^(\d{8}T\d{6})(\d{3})Z_[0-9a-f]+\.json\.gz$")
_TMP_SUFFIX = ".tmp"
_HOUR_S = 3600
GZIP_LEVEL = 6


@dataclass
class S3FolderSink:
    layout: LogLayout

    def put(self, bucket: str, key: str, data: bytes, *, compress: bool = True) -> Path:
        """Write ``s3://bucket/key`` (gzipping ``data`` unless told not to); returns the file."""
        path = self.layout.object_path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0) if compress else data
        tmp = path.with_name(f".{path.name}.{os.getpid()}{_TMP_SUFFIX}")
        with open(tmp, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
        return path

    def read(self, bucket: str, key: str) -> bytes:
        """The uncompressed content of an object (tests and ``logs show --bodies``)."""
        return gzip.decompress(self.layout.object_path(bucket, key).read_bytes())

    def remove_partial_writes(self) -> int:
        removed = 0
        for path in self._files():
            if path.name.endswith(_TMP_SUFFIX):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _files(self) -> Iterator[Path]:
        """Every file, folder by folder as they are read: a month of logs is hundreds of thousands
        of objects, never listed whole in memory."""
        root = self.layout.s3_root
        if not root.is_dir():
            return
        for folder, _dirs, files in os.walk(root):
            for name in files:
                yield Path(folder, name)

    def purge(self, cutoff_s: float) -> int:
        """Delete objects whose every record is older than ``cutoff_s``; prune empty folders."""
        return sum(remove() for remove in self.purge_removals(cutoff_s))

    def purge_removals(self, cutoff_s: float) -> Iterator[Callable[[], int]]:
        """The removals of a purge, found as the folders are read (bottom-up, one at a time):
        each expired object (Rule 3), then its folder once it held nothing else (``s3/`` and the
        bucket folders stay). Each returns the objects it removed; a purge runs them in steps
        of ``STEP_FILES`` under the layout lock (retention Rule 4)."""
        root = self.layout.s3_root
        if not root.is_dir():
            return
        for folder, _dirs, files in os.walk(root, topdown=False):
            expired = 0
            for name in files:
                path = Path(folder, name)
                ends = _object_time(path)
                if ends is not None and ends <= cutoff_s:
                    expired += 1
                    yield functools.partial(remove_file, path)
            path = Path(folder)
            if expired == len(files) and path != root and path.parent != root:
                yield functools.partial(remove_empty_folder, path)

    def delete_object(self, bucket: str, key: str) -> bool:
        return bool(remove_file(self.layout.object_path(bucket, key)))


def _object_time(path: Path) -> float | None:
    """A time every record in this object precedes (Rule 3): the end of the millisecond its
    name gives, or of its data hour; None for unknown files."""
    match = _BATCH_NAME.match(path.name)
    if match:
        seconds = timegm(_struct(match.group(1)))
        return seconds + (int(match.group(2)) + 1) / 1000
    parts = path.parts
    if len(parts) >= 6 and parts[-6] == "data":
        try:
            year, month, day, hour = (int(p) for p in parts[-5:-1])
            return timegm((year, month, day, hour, 0, 0, 0, 0, 0)) + _HOUR_S
        except ValueError:
            return None
    return None


def _struct(stamp: str) -> tuple[int, ...]:
    return (int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]), int(stamp[11:13]),
            int(stamp[13:15]), 0, 0, 0)
