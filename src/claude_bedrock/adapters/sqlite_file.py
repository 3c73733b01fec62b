"""Which file a path names now, so a long-lived SQLite connection can tell that its database
file was deleted (``rm -rf`` of the data folder) or replaced while it was open: SQLite in WAL
mode goes on writing into the unlinked file, and those writes vanish at the next start."""

from __future__ import annotations

import os
from pathlib import Path

FileIdentity = tuple[int, int]


def file_identity(path: str | Path) -> FileIdentity | None:
    """``(device, inode)`` of the file at ``path``, or None when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
