"""The secret that signs the simulator's thinking blocks: one per data folder, kept across restarts.

``<data_dir>/thinking-signing.key`` holds ``KEY_BYTES`` random bytes, created on first use with
permissions 0600 (owner only). Keeping it in the data folder keeps conversations recorded
against a server valid after a restart; a new data folder, or deleting the file, makes earlier
thinking blocks foreign (refused when sent back, as blocks from another deployment would be).
The key is never logged. ``admin reset`` leaves it alone: it is not customer state.

Raises ``StoreError`` (the data folder's error, reported by ``serve`` as "cannot use data dir")
when the folder or the file cannot be used.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from claude_bedrock.adapters.store import StoreError

__all__ = ["KEY_BYTES", "KEY_FILE_NAME", "load_signing_key"]

KEY_FILE_NAME = "thinking-signing.key"
KEY_BYTES = 32


def load_signing_key(data_dir: str | Path) -> bytes:
    """The data folder's signing key, created (with the folder) when there is none yet."""
    folder = Path(data_dir)
    path = folder / KEY_FILE_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _create(path)
        key = path.read_bytes()
    except OSError as exc:
        raise StoreError(f"{path}: cannot use the thinking signing key: {exc.strerror or exc}") from None
    if len(key) != KEY_BYTES:
        raise StoreError(f"{path}: the thinking signing key is damaged ({len(key)} bytes, expected "
                         f"{KEY_BYTES}); delete it to make a new one (earlier thinking blocks are then refused)")
    return key


def _create(path: Path) -> None:
    """Write a new key whole, then link it into place: a second process starting on the same
    folder at the same moment reads one complete key, whichever won."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(KEY_BYTES))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # the other process's key stands
        except OSError:  # a file system without hard links: a plain rename
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
