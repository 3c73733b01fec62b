"""What the data folder's SQLite files (state store, invocation-log index) share:

* ``file_identity``: which file a path names now, so a long-lived SQLite connection can tell
  that its database file was deleted (``rm -rf`` of the data folder) or replaced while it was
  open: SQLite in WAL mode goes on writing into the unlinked file, and those writes vanish at
  the next start.
* ``hint``: what SQLite's error words mean for an operator.
* ``write_transaction``: one write transaction, rolled back on any failure, without hiding the
  failure when SQLite rolled it back itself.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FileIdentity = tuple[int, int]


def file_identity(path: str | Path) -> FileIdentity | None:
    """``(device, inode)`` of the file at ``path``, or None when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def hint(exc: sqlite3.DatabaseError, path: str | Path) -> str:
    """What SQLite's words mean for the user, when that is known (``""`` otherwise), to append
    to its message. "unable to open" in a folder that cannot be written: WAL needs to create its
    ``-wal`` / ``-shm`` files beside the database, even to read it."""
    text = str(exc)
    if "locked" in text:
        return " (another process holds it: a second server on this data folder?)"
    folder = Path(path).parent
    if "unable to open" in text and folder.is_dir() and not os.access(folder, os.W_OK):
        return f" (the data folder {folder} is not writable)"
    if "readonly" in text:
        return " (the file or its folder is read-only)"
    return ""


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (``BEGIN IMMEDIATE``), committed on success and rolled back on any
    exception. SQLite ends the transaction itself after some errors (a full disk, an I/O error,
    ``RAISE(ROLLBACK)``): a ROLLBACK then would raise "cannot rollback - no transaction is active"
    in place of the cause. A COMMIT that fails leaves it open: it is rolled back too, or every
    later BEGIN would fail."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
