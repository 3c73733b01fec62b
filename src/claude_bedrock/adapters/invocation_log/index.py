"""The invocation-log index: one SQLite file that answers ``logs list|show|tail`` and ``usage``.

    <data_dir>/invocation-logs.sqlite3, table ``invocations``: one row per record, the full
    record JSON plus the columns queries filter and sum on (time, account, model, operation,
    error code, token counts, exact cost as a decimal string).

Invariants
    Rule 1: WAL mode, ``synchronous = NORMAL``: a committed batch survives the process being
            killed; a batch being written when it dies is rolled back by SQLite on next open.
    Rule 2: ``add`` writes a whole batch in one transaction and ignores request ids it already
            holds, so retrying a batch never duplicates a record.
    Rule 3: money is summed exactly: costs are stored as decimal strings and added with
            ``Decimal`` (a SQLite aggregate), never as floats.
    Rule 4: another process may read while the server writes; readers wait on the busy timeout.
    Rule 5: ``moved`` tells that the file was deleted or replaced while open (the data folder
            removed under a running server): the writer then opens a new index rather than
            indexing into the deleted file.
    Rule 6: ``query`` streams: it reads the keys of the matches a page at a time and each
            record as it is handed out, so a reader's memory does not grow with the index (30
            days of logs are hundreds of thousands of records). No read stays open between
            records (each page is read whole): a reader that stalls, as ``logs list --json |
            less`` left open, would keep the writer from checkpointing and the WAL would grow
            with every call. It lists the rows indexed when it began. The lock is held per
            statement, never across a ``yield``.
    Rule 7: ``compact`` gives the pages of purged rows back to the file system (VACUUM) once
            they are ``COMPACT_MIN_FREE`` of the file: SQLite keeps a deleted row's page for
            reuse, so purging most of the logs would not shrink the index at all.
    Rule 8: ``journal_size_limit``: once a WAL that grew past its usual size (a long read in
            another process held back the checkpoints) is checkpointed and written from its
            start again, SQLite cuts it back to ``WAL_SIZE_LIMIT`` rather than keep its peak size.
    Rule 9: every filter of ``logs list`` but ``--request-id`` (unique) and ``--errors`` (a
            partial index) has an index that starts with its column, so a rare value is searched,
            not found by reading every record of the period. An index added since schema 1
            (``_ADDED_INDEXES``) changes nothing an older program reads, so it does not bump
            the schema version: a file that lacks one gets it when it is opened (once, in
            seconds for hundreds of thousands of records).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from claude_bedrock.adapters.sqlite_file import file_identity, write_transaction

__all__ = ["IndexEntry", "IndexMissing", "IndexedRecord", "InvocationIndex", "LogQuery", "UsageRow"]

log = logging.getLogger("claude_bedrock.invocation_log")

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
_SQLITE_MAX_INTEGER = 2**63 - 1
#: ``compact`` rewrites the file once this share of its pages is free (Rule 7).
COMPACT_MIN_FREE = 0.25
#: Rule 8: about twice the WAL SQLite checkpoints at (1,000 pages), so the usual WAL is never cut.
WAL_SIZE_LIMIT = 8 * 2**20
#: Rule 6: keys of matching rows read per statement by ``query``.
QUERY_PAGE = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS invocations (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id         TEXT NOT NULL UNIQUE,
    ts                 REAL NOT NULL,
    account_id         TEXT NOT NULL,
    region             TEXT NOT NULL,
    operation          TEXT NOT NULL,
    model_id           TEXT NOT NULL,
    resolved_model_id  TEXT,
    endpoint_type      TEXT,
    status             INTEGER,
    error_code         TEXT,
    input_tokens       INTEGER NOT NULL,
    output_tokens      INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_total         TEXT,
    latency_ms         INTEGER,
    objects_json       TEXT NOT NULL,
    record_json        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS invocations_ts ON invocations (ts);
CREATE INDEX IF NOT EXISTS invocations_account ON invocations (account_id, ts);
CREATE INDEX IF NOT EXISTS invocations_model ON invocations (model_id, ts);
CREATE INDEX IF NOT EXISTS invocations_resolved ON invocations (resolved_model_id, ts);
CREATE INDEX IF NOT EXISTS invocations_operation ON invocations (operation, ts);
CREATE INDEX IF NOT EXISTS invocations_region ON invocations (region, ts);
CREATE INDEX IF NOT EXISTS invocations_errors ON invocations (ts) WHERE error_code IS NOT NULL;
"""

#: Rule 9: indexes added since schema 1, built when a file without them is opened.
_ADDED_INDEXES = ("invocations_region",)

_COLUMNS = ("request_id, ts, account_id, region, operation, model_id, resolved_model_id, endpoint_type, status, "
            "error_code, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_total, "
            "latency_ms, objects_json, record_json")


class IndexMissing(Exception):
    """There is no index file in the data dir (logging never delivered anything there)."""


@dataclass(frozen=True)
class IndexEntry:
    """One record to index: the record, its JSON text, its data objects, its exact time."""

    record: dict[str, Any]
    record_json: str
    object_uris: tuple[str, ...]
    epoch_s: float


@dataclass(frozen=True)
class IndexedRecord:
    seq: int
    epoch_s: float
    record: dict[str, Any]


@dataclass(frozen=True)
class LogQuery:
    """Filters of ``logs list`` / ``logs tail`` / ``usage``; None means no filter."""

    account_id: str | None = None
    #: The region of the call (the record's ``region``: the caller's).
    region: str | None = None
    #: Matches the model ID as sent or the resolved catalog model ID.
    model: str | None = None
    operation: str | None = None
    since: float | None = None
    until: float | None = None
    request_id: str | None = None
    errors_only: bool = False
    after_seq: int | None = None
    #: Only rows indexed up to this one (``logs tail``: its backlog ends where following starts).
    up_to_seq: int | None = None


@dataclass(frozen=True)
class UsageRow:
    day: str
    model_id: str
    endpoint_type: str | None  # None: the model was not resolved (the call failed before)
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost: Decimal


class _DecimalSum:
    """SQLite aggregate: exact sum of decimal strings (Rule 3)."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total += Decimal(value)

    def finalize(self) -> str:
        return str(self.total)


class InvocationIndex:
    """The index file; safe to share between threads (one connection behind a lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._file = file_identity(self.path)
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        self._db.create_aggregate("decimal_sum", 1, _DecimalSum)  # type: ignore[arg-type]
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self._db.close()
            raise sqlite3.DatabaseError(f"{self.path}: index schema {version} is newer than this program's")
        if version < SCHEMA_VERSION:
            self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};COMMIT;")
        elif self._lacks_added_indexes():
            self._add_indexes()

    def _add_indexes(self) -> None:
        """Rule 9's upgrade, which a reader may be unable to make (a read-only file, or another
        process building them past the busy timeout): the file is then read without them."""
        try:
            self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
        except sqlite3.OperationalError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            log.warning("%s: could not add the newer indexes (%s); reading it without them", self.path, exc)

    def _lacks_added_indexes(self) -> bool:
        marks = ", ".join("?" * len(_ADDED_INDEXES))
        found = self._db.execute(f"SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ({marks})",
                                 _ADDED_INDEXES).fetchone()[0]
        return found < len(_ADDED_INDEXES)

    @classmethod
    def open_existing(cls, path: str | Path) -> InvocationIndex:
        """Open an index that must exist (the CLI); raises IndexMissing otherwise."""
        if not Path(path).is_file():
            raise IndexMissing(f"no invocation log index at {path}")
        return cls(path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def moved(self) -> bool:
        """The file at ``path`` is no longer the one opened: deleted or replaced since."""
        return file_identity(self.path) != self._file

    # -- writing --------------------------------------------------------------------------

    def add(self, entries: Sequence[IndexEntry]) -> int:
        """Insert a batch in one transaction (Rule 2); returns how many rows were new."""
        rows = [_row(entry) for entry in entries]
        with self._lock:
            before = self._db.total_changes
            with write_transaction(self._db) as db:
                db.executemany(f"INSERT OR IGNORE INTO invocations ({_COLUMNS}) VALUES ({', '.join('?' * 18)})", rows)
            return self._db.total_changes - before

    def purge(self, cutoff_s: float, *, limit: int) -> tuple[int, list[str]]:
        """Delete rows older than ``cutoff_s``, the oldest ``limit`` of them at most (a step of a
        purge); returns (rows deleted, their data object URIs)."""
        # the oldest rows: walked in the order of the ts index, ``limit`` read
        expired = "seq IN (SELECT seq FROM invocations WHERE ts < ? ORDER BY ts, seq LIMIT ?)"
        params = (cutoff_s, limit)
        with self._lock, write_transaction(self._db) as db:
            uris: list[str] = []
            for (objects,) in db.execute(
                f"SELECT objects_json FROM invocations WHERE {expired} AND objects_json != '[]'", params
            ):
                uris.extend(json.loads(objects))
            deleted = db.execute(f"DELETE FROM invocations WHERE {expired}", params).rowcount
        return deleted, uris

    def compact(self) -> int:
        """VACUUM when ``COMPACT_MIN_FREE`` of the file is free pages (Rule 7); returns the bytes
        given back (0: not needed, or not possible now: a full disk, the file busy; the next
        purge tries again). Call it under the layout lock, as a purge: writers wait."""
        with self._lock:
            pages, free, page_size = (self._db.execute(f"PRAGMA {name}").fetchone()[0]
                                      for name in ("page_count", "freelist_count", "page_size"))
            if not pages or free < pages * COMPACT_MIN_FREE:
                return 0
            try:
                self._db.execute("VACUUM")
            except sqlite3.OperationalError:
                return 0
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file shrinks here (WAL)
            after = self._db.execute("PRAGMA page_count").fetchone()[0]
        return max(pages - after, 0) * page_size

    # -- reading --------------------------------------------------------------------------

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM invocations").fetchone()[0]

    def get(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT record_json FROM invocations WHERE request_id = ?", (request_id,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def query(self, query: LogQuery, *, limit: int | None = None, newest: bool = False) -> Iterator[IndexedRecord]:
        """Records matching ``query`` in time order (in index order with ``after_seq``), read as
        they are consumed (Rule 6). In time order, those indexed when it begins (or up to
        ``query.up_to_seq``); in index order, those indexed meanwhile come last. ``limit`` keeps
        the first matches, or with ``newest`` the newest ones, still yielded oldest first."""
        if limit is not None and limit <= 0:
            return
        after: tuple[float, int] | None = None  # the key the matches start after, in time order
        if query.after_seq is None:
            if query.up_to_seq is None:  # not those indexed while the caller reads
                query = replace(query, up_to_seq=self.last_seq())
            if limit is not None and newest:
                after = self._newest(query, limit)
                limit = None if after is not None else limit
        for seq, ts in self._keys(query, after, limit):
            with self._lock:
                row = self._db.execute("SELECT record_json FROM invocations WHERE seq = ?", (seq,)).fetchone()
            if row is not None:  # else purged since its page was read
                yield IndexedRecord(seq, ts, json.loads(row[0]))

    def _keys(self, query: LogQuery, after: tuple[float, int] | None,
              limit: int | None) -> Iterator[tuple[int, float]]:
        """(seq, ts) of the matches of ``query`` (after the key ``after`` in time order), ``limit``
        at most: ``QUERY_PAGE`` at a time, each page read whole (Rule 6); a page starts after
        the last key of the one before."""
        while limit is None or limit > 0:
            page = QUERY_PAGE if limit is None else min(QUERY_PAGE, limit)
            with self._lock:
                keys = self._db.execute(*_key_page(query, after, page)).fetchall()
            yield from keys
            if len(keys) < page:
                return
            limit = None if limit is None else limit - page
            if query.after_seq is not None:
                query = replace(query, after_seq=keys[-1][0])
            else:
                after = keys[-1][1], keys[-1][0]

    def _newest(self, query: LogQuery, limit: int) -> tuple[float, int] | None:
        """The key just before the newest ``limit`` matches of ``query`` (None: fewer match)."""
        where, params = _where(query)
        with self._lock:
            first = self._db.execute(
                f"SELECT ts, seq FROM invocations {where} ORDER BY ts DESC, seq DESC LIMIT 1 OFFSET ?",
                [*params, min(limit, _SQLITE_MAX_INTEGER) - 1],
            ).fetchone()
        return None if first is None else (first[0], first[1] - 1)

    def last_seq(self) -> int:
        with self._lock:
            return self._db.execute("SELECT coalesce(max(seq), 0) FROM invocations").fetchone()[0]

    def usage(self, query: LogQuery) -> list[UsageRow]:
        """Tokens and exact cost per UTC day, model (resolved ID, else as sent) and endpoint type."""
        where, params = _where(query)
        sql = (
            "SELECT date(ts, 'unixepoch') AS day, coalesce(resolved_model_id, model_id) AS model, "
            "endpoint_type AS endpoint, count(*), sum(input_tokens), sum(output_tokens), "
            "sum(cache_read_tokens), sum(cache_write_tokens), decimal_sum(cost_total) "
            f"FROM invocations {where} GROUP BY day, model, endpoint ORDER BY day, model, endpoint"
        )
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [UsageRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], Decimal(r[8])) for r in rows]

    def integrity_ok(self) -> bool:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _key_page(query: LogQuery, after: tuple[float, int] | None, page: int) -> tuple[str, list[Any]]:
    """The SELECT of the keys of the next ``page`` matches of ``query`` after the key ``after``.
    In time order a model is matched by a UNION of its two columns' walks, each in index order:
    with ``OR`` SQLite read and sorted every remaining match of the model for each page."""
    if query.after_seq is not None:
        where, where_params = _where(query)
        return f"SELECT seq, ts FROM invocations {where} ORDER BY seq LIMIT ?", [*where_params, page]
    arms: list[str] = []
    params: list[Any] = []
    for column in ("model_id", "resolved_model_id") if query.model is not None else (None,):
        clauses, arm_params = _clauses(replace(query, model=None))
        if column is not None:
            clauses.append(f"{column} = ?")
            arm_params.append(query.model)
        if after is not None:
            clauses.append("ts >= ? AND NOT (ts = ? AND seq <= ?)")
            arm_params += [after[0], after[0], after[1]]
        arms.append(f"SELECT seq, ts FROM invocations {_joined(clauses)}")
        params += arm_params
    return " UNION ".join(arms) + " ORDER BY ts, seq LIMIT ?", [*params, page]


def _where(query: LogQuery) -> tuple[str, list[Any]]:
    clauses, params = _clauses(query)
    return _joined(clauses), params


def _joined(clauses: list[str]) -> str:
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""


def _clauses(query: LogQuery) -> tuple[list[str], list[Any]]:
    # Following (``after_seq``), the few new rows are walked by seq: the filter columns are
    # written ``+column``, which SQLite never picks an index for; else it would read and sort
    # the whole history of a model or account at every poll of ``logs tail``.
    col = "+" if query.after_seq is not None else ""
    clauses: list[str] = []
    params: list[Any] = []
    simple = (
        (f"{col}account_id = ?", query.account_id),
        (f"{col}region = ?", query.region),
        (f"{col}operation = ?", query.operation),
        (f"{col}request_id = ?", query.request_id),
        (f"{col}ts >= ?", query.since),
        (f"{col}ts < ?", query.until),
        ("seq > ?", query.after_seq),
        ("+seq <= ?", query.up_to_seq),  # ``+``: a bound that must not make SQLite walk rows by seq
    )
    for clause, value in simple:
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if query.model is not None:
        clauses.append(f"({col}model_id = ? OR {col}resolved_model_id = ?)")
        params += [query.model, query.model]
    if query.errors_only:
        clauses.append(f"{col}error_code IS NOT NULL")
    return clauses, params


def _row(entry: IndexEntry) -> tuple[Any, ...]:
    record = entry.record
    record_input = record.get("input", {})
    extension = record.get("claudeBedrock", {})
    cost = extension.get("cost")
    return (
        record["requestId"],
        entry.epoch_s,
        record["accountId"],
        record["region"],
        record["operation"],
        record["modelId"],
        extension.get("resolvedModelId"),
        extension.get("endpointType"),
        extension.get("status"),
        record.get("errorCode"),
        record_input.get("inputTokenCount", 0),
        record.get("output", {}).get("outputTokenCount", 0),
        record_input.get("cacheReadInputTokenCount", 0),
        record_input.get("cacheWriteInputTokenCount", 0),
        None if cost is None else cost["total"],
        extension.get("latencyMs"),
        json.dumps(list(entry.object_uris)),
        entry.record_json,
    )
