"""sqlite_file.write_transaction: what the index and the state store rely on after a failure."""

from __future__ import annotations

import sqlite3

import pytest

from claude_bedrock.adapters.sqlite_file import write_transaction


def test_a_commit_that_fails_is_rolled_back_so_the_next_write_can_begin() -> None:
    # A deferred constraint fails at COMMIT and SQLite leaves the transaction open: every later
    # BEGIN IMMEDIATE then failed with "cannot start a transaction within a transaction".
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), write_transaction(db) as tx:
        tx.execute("INSERT INTO child VALUES (1)")
    assert not db.in_transaction
    with write_transaction(db) as tx:
        tx.execute("INSERT INTO parent VALUES (1)")
    assert db.execute("SELECT count(*) FROM child").fetchone() == (0,)  # the failed write is undone
    db.close()
