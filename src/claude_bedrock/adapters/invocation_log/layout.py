"""Where invocation logs live under ``--data-dir``, and the lock that orders writers and purgers.

    <data_dir>/invocation-logs.sqlite3                      the query index (WAL)
    <data_dir>/invocation-logs.lock                          flock: one flush or purge step at a time
    <data_dir>/s3/<bucket>/<key>                             one folder per bucket, S3 key layout
    <data_dir>/cloudwatch/<account>/<region>/<group>/<stream>/YYYY-MM-DD.jsonl
                                                             CloudWatch events, one JSON per line

Invariants
    Rule 1: every path is inside ``data_dir``: key segments ``.`` and ``..`` and empty ones are
            escaped (``%2E``), so a hostile ``keyPrefix`` cannot leave the bucket folder.
    Rule 2: log group and stream names are percent-encoded into one folder name each
            (``/aws/bedrock/x`` -> ``%2Faws%2Fbedrock%2Fx``; ``.`` and ``..``, which the
            log group pattern admits, as ``%2E`` and ``%2E%2E``), so names never nest or collide.
    Rule 3: every name is one the file system takes: a NUL byte is written ``%00`` and a name
            longer than 255 bytes (an S3 key segment, a 512-character log group) is cut and
            ends with a hash of the whole name, so it stays unique.
    Rule 4: on Windows, where ``\\`` separates folders too and ``:`` names a drive (``C:x``)
            or a file's stream, key segments write them ``%5C`` and ``%3A`` (Rule 1 there), and
            the other characters no Windows file name holds (``<>"|?*``, controls) ``%XX`` too.
"""

from __future__ import annotations

import hashlib
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote, unquote

from claude_bedrock.adapters.data_folder import make_data_folder

try:  # POSIX; elsewhere the lock is a no-op (one process per data dir is then the rule)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

INDEX_FILE_NAME = "invocation-logs.sqlite3"
LOCK_FILE_NAME = "invocation-logs.lock"
S3_FOLDER = "s3"
CLOUDWATCH_FOLDER = "cloudwatch"


#: The longest file name (bytes) common file systems accept.
MAX_NAME_BYTES = 255


#: The characters a Windows file name cannot hold (Rule 4); NUL is Rule 3's.
_NOT_IN_WINDOWS_NAMES = re.compile(r'[\\:<>"|?*\x01-\x1f]')


def _segment(part: str) -> str:
    if part in ("", ".", ".."):
        return part.replace(".", "%2E") or "%2F"
    if os.name == "nt":
        part = _NOT_IN_WINDOWS_NAMES.sub(lambda found: quote(found[0], safe=""), part)
    return _fit(part)


def _fit(name: str) -> str:
    """``name`` as a file name the file system takes (Rule 3)."""
    name = name.replace("\x00", "%00")
    encoded = name.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:32]
    return encoded[:200].decode("utf-8", "ignore") + "~" + digest


@dataclass(frozen=True)
class LogLayout:
    data_dir: Path

    @property
    def index_path(self) -> Path:
        return self.data_dir / INDEX_FILE_NAME

    @property
    def lock_path(self) -> Path:
        return self.data_dir / LOCK_FILE_NAME

    @property
    def s3_root(self) -> Path:
        return self.data_dir / S3_FOLDER

    @property
    def cloudwatch_root(self) -> Path:
        return self.data_dir / CLOUDWATCH_FOLDER

    def bucket_dir(self, bucket: str) -> Path:
        return self.s3_root / _segment(bucket)

    def object_path(self, bucket: str, key: str) -> Path:
        """The file holding ``s3://bucket/key`` (Rule 1)."""
        return self.bucket_dir(bucket).joinpath(*(_segment(p) for p in key.split("/")))

    def stream_dir(self, account_id: str, region: str, log_group: str, log_stream: str) -> Path:
        return (
            self.cloudwatch_root
            / _segment(account_id)
            / _segment(region)
            / _segment(quote(log_group, safe=""))
            / _segment(quote(log_stream, safe=""))
        )

    @staticmethod
    def log_group_of(folder_name: str) -> str:
        return unquote(folder_name)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the data dir's log lock (blocking) for one flush or one step of a purge."""
        make_data_folder(self.data_dir)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def remove_file(path: Path) -> int:
    """Delete one log file; 1, or 0 when it was already gone (another purge)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    return 1


def remove_empty_folder(folder: Path) -> int:
    """Remove a folder a purge emptied (under the lock: no flush is writing into it); one a
    writer has added something to since is left alone. Returns 0: no file is removed."""
    try:
        folder.rmdir()
    except OSError:
        pass
    return 0
