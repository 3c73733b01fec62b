"""The data folder holds every logged prompt and answer: the server creates it readable by its
owner only (0700) whatever the umask; a folder that exists keeps the mode its owner chose.
It used to be created 0755 under the usual umask, every local user able to read the logs."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from claude_bedrock.adapters.invocation_log import LogLayout
from claude_bedrock.adapters.store import StateStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


@pytest.fixture(autouse=True)
def usual_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_state_store_creates_the_data_folder_for_its_owner_only(tmp_path: Path):
    folder = tmp_path / "new" / "data"
    StateStore.open(folder).close()
    assert _mode(folder) == 0o700
    assert _mode(folder.parent) == 0o755  # parents: the usual mode


def test_the_invocation_logs_create_the_data_folder_for_its_owner_only(tmp_path: Path):
    folder = tmp_path / "logs-first"
    with LogLayout(folder).locked():  # what a flush or a purge takes first
        pass
    assert _mode(folder) == 0o700


def test_an_existing_data_folder_keeps_its_mode(tmp_path: Path):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    folder.chmod(0o750)
    StateStore.open(folder).close()
    assert _mode(folder) == 0o750


@pytest.mark.parametrize("inside", [(), ("data",), ("data", "deeper")])
def test_a_data_folder_where_a_file_is_says_which_file_is_in_the_way(tmp_path: Path, inside):
    """Audit: `--data-dir notes.txt` (or a folder under a file) was refused with
    "cannot create the data folder: File exists" (or "Not a directory"), not saying that a file
    stands where a folder was expected, nor which one."""
    from claude_bedrock.adapters.store import StoreError

    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError) as refused:
        StateStore.open(blocker.joinpath(*inside))
    assert f"cannot create the data folder: {blocker} is a file, not a folder" in str(refused.value)
    assert blocker.read_text() == "not a folder"
