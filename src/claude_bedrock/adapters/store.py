"""The embedded state store: customer state of the control plane, in one SQLite file.

What it holds, each row keyed by ``(account_id, region, ...)`` exactly as AWS scopes it:

    application_profiles  application inference profiles (CreateInferenceProfile)
    resource_tags         tags of taggable resources (TagResource; profiles' creation tags)
    model_agreements      explicit model-access decisions (Create/DeleteFoundationModelAgreement)
    use_case_forms        the model-access use-case form (PutUseCaseForModelAccess): one per
                          account, whatever the region (AWS: "once per account"), so its
                          region is ``ACCOUNT_WIDE``
    logging_configs       the loggingConfig JSON (PutModelInvocationLoggingConfiguration)

Invariants
    Rule 1: one database file, ``<data_dir>/claude-bedrock.sqlite3``, in WAL mode, so the state
            survives a restart and another process may read while we write.
    Rule 2: every write runs inside one ``BEGIN IMMEDIATE`` transaction; a failed write leaves
            nothing behind (a profile and its tags are created together or not at all).
    Rule 3: threads may share a store. Writes go through one connection, guarded by a lock;
            another process's lock on the file makes a write wait, up to SQLite's busy timeout,
            rather than fail (callers on an event loop run writes in a worker thread). Reads go
            through a second connection with its own lock, so they never wait behind a write
            (WAL lets them read the last commit meanwhile); a ``:memory:`` store has one
            connection for both. ``close`` is safe at any time: the next use reopens them.
    Rule 4: the store knows rows, not AWS: it raises ``StoreConflict`` / ``TooManyTags`` and
            the service layer turns them into AWS errors. Any SQLite failure of a read or a write
            (a lock held past the busy timeout, I/O error, read-only or full disk) is raised as
            ``StoreError``, a ``StoreUnavailable`` naming the file and the cause in one line. The caller supplies ids; the store
            supplies timestamps from its injected clock.
    Rule 5: a database file deleted while the store is open (the data folder removed under a
            running server) is followed: the next write recreates the folder and the file,
            with a warning, instead of going into the deleted file and vanishing at the next
            start. Reads keep the open file until then. Replacing the file under a running
            server (``mv``) is not supported: SQLite may replay the old file's write-ahead log
            over the new one.
    Rule 6: ``generation`` changes after every committed write: at once for this store's own,
            and for another process's on the same file (a second server on the data folder, a
            ``sqlite3`` shell) when ``look_for_external_writes`` next runs (``PRAGMA
            data_version``; the app runs it every ``EXTERNAL_CHECK_S``, in a worker thread). So
            the caches that key on it (model access, logging configuration) follow every
            writer, and reading it stays a plain attribute read.

Schema version lives in ``PRAGMA user_version``; a file written by a newer schema is refused.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from claude_bedrock.adapters.data_folder import make_data_folder
from claude_bedrock.adapters.sqlite_file import FileIdentity, file_identity, hint, write_transaction
from claude_bedrock.service.control_state import (
    AgreementRecord,
    ApplicationProfileRecord,
    StoreConflict,
    StoreUnavailable,
    TooManyTags,
)

__all__ = [
    "DATABASE_FILE_NAME",
    "SCHEMA_VERSION",
    "AgreementRecord",
    "ApplicationProfileRecord",
    "StateStore",
    "StoreConflict",
    "StoreError",
    "TooManyTags",
]

DATABASE_FILE_NAME = "claude-bedrock.sqlite3"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
#: How often a server looks for another process's writes (Rule 6), in seconds.
EXTERNAL_CHECK_S = 1.0
#: The region of account-wide rows (the use-case form).
ACCOUNT_WIDE = ""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS application_profiles (
    account_id   TEXT NOT NULL,
    region       TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    source_arn   TEXT NOT NULL,
    models_json  TEXT NOT NULL,
    client_token TEXT,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (account_id, region, profile_id),
    UNIQUE (account_id, region, name)
);
CREATE UNIQUE INDEX IF NOT EXISTS application_profiles_token
    ON application_profiles (account_id, region, client_token) WHERE client_token IS NOT NULL;
CREATE TABLE IF NOT EXISTS resource_tags (
    account_id   TEXT NOT NULL,
    region       TEXT NOT NULL,
    resource_arn TEXT NOT NULL,
    tag_key      TEXT NOT NULL,
    tag_value    TEXT NOT NULL,
    PRIMARY KEY (account_id, region, resource_arn, tag_key)
);
CREATE TABLE IF NOT EXISTS model_agreements (
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    model_id    TEXT NOT NULL,
    granted     INTEGER NOT NULL,
    offer_token TEXT,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (account_id, region, model_id)
);
CREATE TABLE IF NOT EXISTS use_case_forms (
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    form_data  BLOB NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (account_id, region)
);
CREATE TABLE IF NOT EXISTS logging_configs (
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    config_json TEXT NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (account_id, region)
);
"""

log = logging.getLogger("claude_bedrock.store")

#: ``StateStore._file`` of a file that replaced the checked one and failed its check: no file has it.
_UNCHECKED: FileIdentity = (-1, -1)

#: Every table, in the order ``reset`` clears them.
_TABLES = ("resource_tags", "application_profiles", "model_agreements", "use_case_forms", "logging_configs")




class StoreError(StoreUnavailable):
    """The database cannot be used (unreadable file, newer schema, no folder, or a failed read
    or write: Rule 4)."""


class StateStore:
    """SQLite-backed ``ControlStore``, shareable between threads. Use ``open(data_dir)`` or a path.

    Args:
        path: the database file, or ``":memory:"`` for a throw-away store.
        clock: seconds since the epoch, for ``created_at`` / ``updated_at``.

    Raises:
        StoreError: the file is not a usable database or was written by a newer schema.
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        self._clock = clock
        #: Guards the write connection (Rule 3), and everything of a ``:memory:`` store.
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None
        #: Guards the read connection; taken after ``_lock`` when both are held.
        self._read_lock = self._lock if self.path == ":memory:" else threading.Lock()
        self._reader: sqlite3.Connection | None = None
        #: The file ``_migrate`` last checked (Rule 5); None in memory.
        self._file: FileIdentity | None = None
        #: Bumped by every committed write, this store's or another process's (Rule 6), under
        #: ``_generation_lock`` (writes and the look for others' run in different threads).
        self.generation = 0
        self._generation_lock = threading.Lock()
        self._readers_opened = 0  # data_version values compare within one connection only
        self._seen_version: tuple[int, int] | None = None  # (_readers_opened, data_version)
        try:
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._unusable(exc) from None
        except StoreError:
            self.close()
            raise

    @classmethod
    def open(cls, data_dir: str | Path, *, clock: Callable[[], float] = time.time) -> StateStore:
        """Open (creating the folder and file if needed) ``<data_dir>/claude-bedrock.sqlite3``.

        Raises: StoreError when the folder cannot be created or the file cannot be used.
        """
        folder = Path(data_dir)
        try:
            make_data_folder(folder)
        except OSError as exc:
            raise StoreError(f"{folder}: cannot create the data folder: {exc.strerror or exc}") from None
        return cls(folder / DATABASE_FILE_NAME, clock=clock)

    def _migrate(self) -> None:
        """Check the file as found (damage, schema version), then create what it lacks: at
        start, and again for a file that replaced it (Rule 5)."""
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            # Damage inside the file would otherwise surface later, as failed calls.
            problem = self._db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if problem != "ok":
                problem = " ".join(line for line in problem.splitlines() if not line.startswith("***"))
                raise StoreError(f"{self.path}: the state database is damaged ({problem}); move it away "
                                 "to start with an empty state")
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: schema version {version} is newer than this program's ({SCHEMA_VERSION})"
                )
            with write_transaction(self._db) as db:
                _create_schema(db)
            self._file = None if self.path == ":memory:" else file_identity(self.path)

    @property
    def shared(self) -> bool:
        """Whether other processes can write this store's file (not ``:memory:``)."""
        return self.path != ":memory:"

    def look_for_external_writes(self) -> None:
        """Bump ``generation`` when another connection committed since the last look (Rule 6).
        May wait for the read lock: call it from a worker thread on a server. A store whose
        read connection is not open (closed, or never read) has cached nothing to refresh, and
        the look does not open it: a look still running at shutdown leaves no connection behind."""
        if not self.shared:
            return
        with self._read_lock:
            if self._reader is None:
                return
            try:
                db = self._read_db
                seen = (self._readers_opened, db.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.DatabaseError:  # unreadable now: the next read says why; look again later
                return
            if seen != self._seen_version:
                self._seen_version = seen
                self._bump()

    def _bump(self) -> None:
        with self._generation_lock:
            self.generation += 1

    def _unusable(self, exc: sqlite3.DatabaseError) -> StoreError:
        return StoreError(f"{self.path}: cannot use the state database: {exc}{hint(exc, self.path)}")

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        """The write connection, (re)opened on demand: a closed store reopens on its next use,
        so the order of shutdown hooks never matters. Call with ``_lock`` held."""
        if self._connection is None:
            connection = self._connect()
            if self.path != ":memory:":
                connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            self._connection = connection
        return self._connection

    @property
    def _read_db(self) -> sqlite3.Connection:
        """The read connection (Rule 3), opened on demand. Call with ``_read_lock`` held."""
        if self.path == ":memory:":
            return self._db
        if self._reader is None:
            self._reader = self._connect()
            self._readers_opened += 1
        return self._reader

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return connection

    def _follow_file(self) -> None:
        """Rule 5: reopen (and recreate) the database when its file is no longer the one
        ``_migrate`` checked, and check it as at start; until a check passes, every write tries
        again (and fails). Call with the lock held."""
        if self._file is None or file_identity(self.path) == self._file:
            return
        log.warning("the state database %s was deleted or replaced while in use: using a new file "
                    "from now on (state written before is not in it)", self.path)
        self.close()
        try:
            make_data_folder(Path(self.path).parent)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot recreate the data folder: {exc.strerror or exc}") from None
        # Not followed until checked: the new file may reuse the deleted file's inode number.
        self._file = _UNCHECKED
        try:
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction of the store's data (Rule 5 first); bumps ``generation``."""
        with self._lock:
            try:
                self._follow_file()
                with write_transaction(self._db) as db:
                    yield db
            except sqlite3.DatabaseError as exc:
                raise self._unusable(exc) from None
            self._bump()

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._read_lock:
            try:
                return self._read_db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._unusable(exc) from None

    def close(self) -> None:
        """Close the connections (checkpointing the WAL); a later call reopens them."""
        with self._lock, self._read_lock:
            for connection in (self._reader, self._connection):
                if connection is not None:
                    connection.close()
            self._reader = self._connection = None

    def reset(self) -> None:
        """Delete every row of every table (for tests); the schema stays."""
        with self._write() as db:
            for table in _TABLES:
                db.execute(f"DELETE FROM {table}")

    # -- application inference profiles -----------------------------------------------------

    def create_application_profile(
        self,
        *,
        account_id: str,
        region: str,
        profile_id: str,
        name: str,
        description: str | None,
        source_arn: str,
        models: tuple[str, ...],
        client_token: str | None,
        tags: Mapping[str, str],
        max_tags: int,
    ) -> tuple[ApplicationProfileRecord, bool]:
        """Insert a profile and its tags in one transaction.

        Returns:
            ``(record, created)``. When ``client_token`` matches an earlier creation in the same
            account and region, that earlier record is returned with ``created`` False and
            nothing changes (the idempotent retry of botocore's ``clientRequestToken``).

        Raises:
            StoreConflict: ``"name"`` is taken in this account and region, or ``"profile_id"``.
            TooManyTags: more than ``max_tags`` tags.
        """
        now = self._clock()
        with self._write() as db:
            if client_token is not None:
                row = db.execute(
                    f"SELECT {_PROFILE_COLUMNS} FROM application_profiles "
                    "WHERE account_id = ? AND region = ? AND client_token = ?",
                    (account_id, region, client_token),
                ).fetchone()
                if row is not None:
                    return _profile(row), False
            taken = db.execute(
                "SELECT name = ? FROM application_profiles WHERE account_id = ? AND region = ? "
                "AND (name = ? OR profile_id = ?) ORDER BY 1 DESC",
                (name, account_id, region, name, profile_id),
            ).fetchone()
            if taken is not None:
                raise StoreConflict("name" if taken[0] else "profile_id")
            record = ApplicationProfileRecord(
                account_id, region, profile_id, name, description, source_arn, tuple(models),
                client_token, now, now,
            )
            db.execute(
                f"INSERT INTO application_profiles ({_PROFILE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (account_id, region, profile_id, name, description, source_arn, json.dumps(list(models)),
                 client_token, now, now),
            )
            self._merge_tags(db, account_id, region, record.arn, tags, max_tags)
            return record, True

    def get_application_profile(
        self, account_id: str, region: str, profile_id: str
    ) -> ApplicationProfileRecord | None:
        rows = self._read(
            f"SELECT {_PROFILE_COLUMNS} FROM application_profiles "
            "WHERE account_id = ? AND region = ? AND profile_id = ?",
            (account_id, region, profile_id),
        )
        return _profile(rows[0]) if rows else None

    def list_application_profiles(self, account_id: str, region: str) -> list[ApplicationProfileRecord]:
        """Profiles of one account and region, oldest first (ties by id), a stable order."""
        rows = self._read(
            f"SELECT {_PROFILE_COLUMNS} FROM application_profiles WHERE account_id = ? AND region = ? "
            "ORDER BY created_at, profile_id",
            (account_id, region),
        )
        return [_profile(row) for row in rows]

    def delete_application_profile(self, account_id: str, region: str, profile_id: str) -> bool:
        """Delete the profile and its tags; False when there was no such profile."""
        arn = f"arn:aws:bedrock:{region}:{account_id}:application-inference-profile/{profile_id}"
        with self._write() as db:
            deleted = db.execute(
                "DELETE FROM application_profiles WHERE account_id = ? AND region = ? AND profile_id = ?",
                (account_id, region, profile_id),
            ).rowcount
            db.execute(
                "DELETE FROM resource_tags WHERE account_id = ? AND region = ? AND resource_arn = ?",
                (account_id, region, arn),
            )
        return deleted > 0

    # -- tags ---------------------------------------------------------------------------------

    def get_tags(self, account_id: str, region: str, resource_arn: str) -> dict[str, str]:
        rows = self._read(
            "SELECT tag_key, tag_value FROM resource_tags WHERE account_id = ? AND region = ? "
            "AND resource_arn = ? ORDER BY tag_key",
            (account_id, region, resource_arn),
        )
        return dict(rows)

    def tag_resource(
        self, account_id: str, region: str, resource_arn: str, tags: Mapping[str, str], max_tags: int
    ) -> None:
        """Add or overwrite tags. Raises TooManyTags (nothing changes) past ``max_tags``."""
        with self._write() as db:
            self._merge_tags(db, account_id, region, resource_arn, tags, max_tags)

    def untag_resource(self, account_id: str, region: str, resource_arn: str, keys: list[str]) -> None:
        """Remove the given tag keys; unknown keys are ignored."""
        with self._write() as db:
            db.executemany(
                "DELETE FROM resource_tags WHERE account_id = ? AND region = ? AND resource_arn = ? "
                "AND tag_key = ?",
                [(account_id, region, resource_arn, key) for key in keys],
            )

    @staticmethod
    def _merge_tags(
        db: sqlite3.Connection,
        account_id: str,
        region: str,
        resource_arn: str,
        tags: Mapping[str, str],
        max_tags: int,
    ) -> None:
        db.executemany(
            "INSERT INTO resource_tags VALUES (?,?,?,?,?) ON CONFLICT (account_id, region, resource_arn, "
            "tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            [(account_id, region, resource_arn, key, value) for key, value in tags.items()],
        )
        count = db.execute(
            "SELECT COUNT(*) FROM resource_tags WHERE account_id = ? AND region = ? AND resource_arn = ?",
            (account_id, region, resource_arn),
        ).fetchone()[0]
        if count > max_tags:
            raise TooManyTags(resource_arn, max_tags)  # rolls the transaction back

    # -- model agreements ---------------------------------------------------------------------

    def get_agreement(self, account_id: str, region: str, model_id: str) -> AgreementRecord | None:
        rows = self._read(
            "SELECT account_id, region, model_id, granted, offer_token, updated_at FROM model_agreements "
            "WHERE account_id = ? AND region = ? AND model_id = ?",
            (account_id, region, model_id),
        )
        return _agreement(rows[0]) if rows else None

    def list_agreements(self, account_id: str, region: str) -> list[AgreementRecord]:
        rows = self._read(
            "SELECT account_id, region, model_id, granted, offer_token, updated_at FROM model_agreements "
            "WHERE account_id = ? AND region = ? ORDER BY model_id",
            (account_id, region),
        )
        return [_agreement(row) for row in rows]

    def set_agreement(
        self, account_id: str, region: str, model_id: str, *, granted: bool, offer_token: str | None
    ) -> AgreementRecord:
        """Record that access to ``model_id`` was granted (agreement created) or revoked."""
        now = self._clock()
        with self._write() as db:
            db.execute(
                "INSERT INTO model_agreements VALUES (?,?,?,?,?,?) ON CONFLICT (account_id, region, model_id) "
                "DO UPDATE SET granted = excluded.granted, offer_token = excluded.offer_token, "
                "updated_at = excluded.updated_at",
                (account_id, region, model_id, int(granted), offer_token, now),
            )
        return AgreementRecord(account_id, region, model_id, granted, offer_token, now)

    # -- use-case form ------------------------------------------------------------------------

    def get_use_case(self, account_id: str) -> bytes | None:
        """The account's form, whichever region it was submitted from (the newest, should a
        file written before forms were account-wide hold several)."""
        rows = self._read(
            "SELECT form_data FROM use_case_forms WHERE account_id = ? ORDER BY updated_at DESC LIMIT 1",
            (account_id,),
        )
        return bytes(rows[0][0]) if rows else None

    def put_use_case(self, account_id: str, form_data: bytes) -> None:
        """Replace the account's form: one row, region ``""`` (account-wide)."""
        now = self._clock()
        with self._write() as db:
            db.execute("DELETE FROM use_case_forms WHERE account_id = ?", (account_id,))
            db.execute("INSERT INTO use_case_forms VALUES (?,?,?,?)", (account_id, ACCOUNT_WIDE, form_data, now))

    # -- invocation logging configuration ---------------------------------------------------

    def get_logging_config(self, account_id: str, region: str) -> dict[str, Any] | None:
        """The stored ``loggingConfig`` object, or None when logging is not configured."""
        rows = self._read(
            "SELECT config_json FROM logging_configs WHERE account_id = ? AND region = ?", (account_id, region)
        )
        return json.loads(rows[0][0]) if rows else None

    def put_logging_config(self, account_id: str, region: str, config: Mapping[str, Any]) -> None:
        now = self._clock()
        with self._write() as db:
            db.execute(
                "INSERT INTO logging_configs VALUES (?,?,?,?) ON CONFLICT (account_id, region) "
                "DO UPDATE SET config_json = excluded.config_json, updated_at = excluded.updated_at",
                (account_id, region, json.dumps(config, separators=(",", ":")), now),
            )

    def delete_logging_config(self, account_id: str, region: str) -> bool:
        """Forget the configuration; False when there was none."""
        with self._write() as db:
            deleted = db.execute(
                "DELETE FROM logging_configs WHERE account_id = ? AND region = ?", (account_id, region)
            ).rowcount
        return deleted > 0

    def logging_configs(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every configured ``(account_id, region, loggingConfig)``, e.g. to start sinks at boot."""
        rows = self._read("SELECT account_id, region, config_json FROM logging_configs ORDER BY 1, 2", ())
        return [(account, region, json.loads(text)) for account, region, text in rows]


def _create_schema(db: sqlite3.Connection) -> None:
    """Every table and index (those missing), and the schema version; inside a transaction."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


_PROFILE_COLUMNS = (
    "account_id, region, profile_id, name, description, source_arn, models_json, client_token, "
    "created_at, updated_at"
)


def _profile(row: tuple[Any, ...]) -> ApplicationProfileRecord:
    account_id, region, profile_id, name, description, source_arn, models_json, token, created, updated = row
    return ApplicationProfileRecord(
        account_id, region, profile_id, name, description, source_arn, tuple(json.loads(models_json)),
        token, created, updated,
    )


def _agreement(row: tuple[Any, ...]) -> AgreementRecord:
    account_id, region, model_id, granted, offer_token, updated_at = row
    return AgreementRecord(account_id, region, model_id, bool(granted), offer_token, updated_at)
