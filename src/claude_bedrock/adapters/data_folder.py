"""The data folder: created readable by its owner only.

It holds the invocation logs (every logged prompt and answer), the call history's state and
the control-plane store, so a folder the server creates is ``0700``, whatever the umask: other
local users cannot list or read it. A folder that already exists keeps its mode (its owner
chose it); the files inside follow the umask, the folder's mode being what protects them.
"""

from __future__ import annotations

import errno
from pathlib import Path

__all__ = ["FOLDER_MODE", "make_data_folder"]

FOLDER_MODE = 0o700


def make_data_folder(path: str | Path) -> None:
    """Create ``path`` (and missing parents, with the default mode) unless it exists.

    Raises:
        OSError: the folder cannot be created (NotADirectoryError naming the file that stands
            where it or one of its parents should be).
    """
    folder = Path(path)
    if folder.is_dir():
        return
    for place in (folder, *folder.parents):  # mkdir would say only "File exists"
        if place.exists():
            if not place.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{place} is a file, not a folder")
            break
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=FOLDER_MODE)
    except FileExistsError:
        if not folder.is_dir():
            raise
        return
    folder.chmod(FOLDER_MODE)  # mkdir's mode is masked by the umask
