"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shared_dir() -> Path:
    """``../shared`` beside the checkout (read-only data: vectors, docs, seed)."""
    env = os.environ.get("CLAUDE_BEDROCK_SHARED")
    return Path(env) if env else (REPO_ROOT.parent / "shared")


SHARED_DIR = _shared_dir()
VECTORS_DIR = SHARED_DIR / "vectors"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.fail(f"shared data folder not found at {SHARED_DIR} (set CLAUDE_BEDROCK_SHARED)")
    return SHARED_DIR


@pytest.fixture(scope="session")
def vectors_dir(shared_dir: Path) -> Path:
    return shared_dir / "vectors"
