"""The invocation-log writer: a queue in front, a thread behind, batches to every sink.

    request path                         writer thread
    observer ─► submit(call, config) ─► SimpleQueue ─► batch (N records or T ms)
                (never blocks, never raises)              ├─ S3 folder: data objects, one
                                                          │  gzipped batch per (bucket, account,
                                                          │  region, hour)
                                                          ├─ CloudWatch: one append per day file
                                                          └─ index: one transaction

Invariants
    Rule 1: ``submit`` only appends to an unbounded queue: the request path never waits on disk
            and a slow disk costs memory, not records.
    Rule 2: ``close`` (the shutdown hook) drains the queue and writes everything before it
            returns; ``flush`` returns once everything submitted before it has had its write
            cycle (a failed delivery is still retried). So every call whose response was sent
            before shutdown began has its record on disk, unless a sink still fails then. A
            record submitted after ``close`` (a call the server cancelled at shutdown that ended
            after the shutdown hooks ran: uvicorn does not wait for the tasks it cancels) is
            written at once, in the caller's thread, once the writer thread has ended.
    Rule 3: a record enters the index once every file that holds it is written: a record the
            index holds is in the files too. (Two exceptions, both logged as errors: at shutdown,
            and when undelivered writes pass ``MAX_PENDING_BYTES``, a record whose files could
            not be written is indexed anyway rather than lost everywhere.)
    Rule 4: every write is a delivery of its own (an S3 object, one CloudWatch day file). A
            delivery that fails is retried, with a wait that doubles up to ``MAX_RETRY_WAIT_S``,
            until it succeeds; retries are idempotent (same object keys; a CloudWatch append
            that fails is cut back before it is retried; INSERT OR IGNORE).
    Rule 5: records carry no credentials: they are built from the call record, which holds the
            caller's ARN and never a header, key, token or signature.
    Rule 6: the thread's own retention purge runs one step per write cycle (retention Rule 4),
            taking what the queue holds between two steps without waiting for a batch to fill:
            records reach the files a step later during a purge, not after the whole purge. At
            shutdown a purge under way stops between two steps; the next one finishes it.
    Rule 7: an outage (a full or read-only data folder) is logged once, with its traceback,
            then as a one-line reminder every ``OUTAGE_REMINDER_S`` at most, and once more when
            nothing waits any more: not a line per failed write, which made a traceback per
            sink per batch and a line per retry of each waiting write (112 tracebacks and
            1,000 lines in 20 s of light load on a full disk, growing with the outage).
"""

from __future__ import annotations

import functools
import logging
import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from claude_bedrock.adapters.data_folder import make_data_folder
from claude_bedrock.adapters.invocation_log.cloudwatch import CloudWatchSink, LogEvent
from claude_bedrock.adapters.invocation_log.index import IndexEntry, InvocationIndex
from claude_bedrock.adapters.invocation_log.layout import LogLayout
from claude_bedrock.adapters.invocation_log.retention import PURGE_INTERVAL_S, Purge, PurgeResult, cutoff_for
from claude_bedrock.adapters.invocation_log.s3_folder import S3FolderSink
from claude_bedrock.domain.catalog import Catalog
from claude_bedrock.domain.json_body import json_bytes
from claude_bedrock.domain.log_text import one_line
from claude_bedrock.settings import Settings
from claude_bedrock.domain.invocation_log import (
    CLOUDWATCH_LOG_STREAM,
    CallFacts,
    DataObject,
    DeliveryConfig,
    S3Location,
    batch_object_key,
    plan_deliveries,
)

__all__ = ["InvocationLogWriter", "WriterStats"]

log = logging.getLogger("claude_bedrock.invocation_log")

#: The longest wait between two tries of a failed delivery (the first wait is the flush interval).
MAX_RETRY_WAIT_S = 30.0
#: Undelivered bytes kept for retry at most: beyond, the oldest deliveries give way (Rule 3).
MAX_PENDING_BYTES = 256 * 1024 * 1024
#: Index rows kept while the index itself fails: beyond, the oldest give way.
MAX_HELD_ROWS = 100_000
_IDLE_WAIT_S = 30.0
#: Rule 7: the least time between two reminders that the writes of an outage still fail.
OUTAGE_REMINDER_S = 60.0
#: Purge results kept in ``WriterStats.purges`` (one purge an hour: the last day's).
PURGES_KEPT = 24
_STOP = object()


@dataclass
class WriterStats:
    submitted: int = 0
    written: int = 0
    batches: int = 0
    failures: int = 0
    abandoned: int = 0
    write_seconds: float = 0.0
    #: the last ``PURGES_KEPT`` purge results, oldest first (a server runs for months)
    purges: deque[Any] = field(default_factory=lambda: deque(maxlen=PURGES_KEPT))


@dataclass
class _Delivery:
    """One write to a sink, and the records (by request id) it holds."""

    what: str
    action: Callable[[], None]
    request_ids: tuple[str, ...]
    size: int
    attempts: int = 0
    next_try: float = 0.0  # time.monotonic()


class InvocationLogWriter:
    """Writes invocation-log records for one data dir. Thread-safe ``submit``; see the rules.

    Args:
        layout: where the sinks live.
        catalog: prices for the cost of each record.
        clock: epoch seconds (ingestion time, retention cutoff); tests inject one.
        flush_interval_s / batch_size: a batch is written when it holds ``batch_size`` records
            or its first record has waited ``flush_interval_s``.
        retention_days: the rolling window (0 keeps everything).
        hex_id: the id factory for batch object names.
    """

    def __init__(
        self,
        layout: LogLayout,
        *,
        catalog: Catalog,
        clock: Callable[[], float] = time.time,
        flush_interval_s: float = 0.5,
        batch_size: int = 500,
        retention_days: float = 30,
        purge_interval_s: float = PURGE_INTERVAL_S,
        hex_id: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self.layout = layout
        self.catalog = catalog
        self.clock = clock
        self.flush_interval_s = max(flush_interval_s, 0.0)
        self.batch_size = max(batch_size, 1)
        self.retention_days = retention_days
        self.purge_interval_s = purge_interval_s
        self.hex_id = hex_id
        self.stats = WriterStats()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._index: InvocationIndex | None = None
        self._pending: list[_Delivery] = []  # failed deliveries, oldest first
        self._held: dict[str, IndexEntry] = {}  # index rows waiting for their files (Rule 3)
        self._next_purge = 0.0
        self._purging: Purge | None = None  # the purge under way, a step per cycle (Rule 6)
        self._outage_since: float | None = None  # time.monotonic() of the outage's first failure (Rule 7)
        self._next_reminder = 0.0
        self._s3 = S3FolderSink(layout)
        self._cloudwatch = CloudWatchSink(layout)

    @classmethod
    def for_settings(cls, settings: Settings, *, catalog: Catalog, clock: Callable[[], float] = time.time
                     ) -> InvocationLogWriter:
        """The writer of a server: ``data_dir``, ``log_flush_interval_ms``, ``log_batch_size``,
        ``log_retention_days``."""
        return cls(
            LogLayout(Path(settings.data_dir)),
            catalog=catalog,
            clock=clock,
            flush_interval_s=settings.log_flush_interval_ms / 1000,
            batch_size=settings.log_batch_size,
            retention_days=settings.log_retention_days,
        )

    # -- the request side -------------------------------------------------------------------

    def submit(self, call: CallFacts, config: DeliveryConfig) -> None:
        """Queue one call's record (Rule 1); after ``close``, write it at once (Rule 2).
        Never raises."""
        if self._closed:
            self._write_late(call, config)
            return
        self.stats.submitted += 1
        self._queue.put((call, config))
        if self._thread is None:
            self.start()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (idempotent); it purges expired logs first."""
        with self._start_lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="invocation-log-writer", daemon=True)
            self._thread.start()

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every record submitted so far has had its write cycle; False on timeout.
        Deliveries that failed in it are still being retried when this returns (Rule 4)."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float | None = 60.0) -> None:
        """Drain, write and stop (Rule 2). Safe to call twice."""
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        self._queue.put(_STOP)
        thread.join(timeout)
        if thread.is_alive():
            log.error("invocation log writer did not finish within %ss", timeout)

    def _write_late(self, call: CallFacts, config: DeliveryConfig) -> None:
        """Rule 2: a record submitted after ``close``, written in the caller's thread (the
        writer thread, which owns the sinks and the index, has ended)."""
        with self._start_lock:
            thread = self._thread
            if thread is not None and thread.is_alive():  # close timed out: it still writes
                log.error("invocation log writer is closed; record %s not written", call.request_id)
                return
            self.stats.submitted += 1
            try:
                self._write([(call, config)], final=True)
            except Exception:  # noqa: BLE001 - never raises (Rule 1)
                log.exception("could not write the invocation log record of %s at shutdown", call.request_id)
            finally:
                if self._index is not None:
                    self._index.close()
                    self._index = None

    def purge_now(self) -> PurgeResult:
        """Run retention now, in the caller's thread (used by tests; the server purges itself)."""
        return self._purge()

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self.layout.s3_root.is_dir():  # under the lock: another server's flush may be writing one
                with self.layout.locked():
                    self._s3.remove_partial_writes()
        except OSError:
            log.exception("could not remove partial log objects")
        self._maybe_purge()
        stopping = False
        while not stopping:
            batch: list[tuple[CallFacts, DeliveryConfig]] = []
            waiters: list[threading.Event] = []
            purging = self._purging is not None  # then no wait: the next step is due (Rule 6)
            wait = 0.0 if purging else max(0.0, min(_IDLE_WAIT_S, self._next_purge - time.monotonic(),
                                                     self._next_retry()))
            try:
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                item = None
            deadline = time.monotonic() + (0.0 if purging else self.flush_interval_s)
            while item is not None:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                else:
                    batch.append(item)
                if stopping or waiters or len(batch) >= self.batch_size:
                    if not stopping:
                        break
                    item = self._next_nowait()
                    continue
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    item = None
            if batch or self._pending or self._held:
                self._write(batch)
            for waiter in waiters:
                waiter.set()
            if not stopping:  # Rule 6: at shutdown no purge step, nor a new purge
                self._maybe_purge()
        self._finish()

    def _next_retry(self) -> float:
        """Seconds until the next failed delivery is due (the idle wait when none is)."""
        if not self._pending:
            return _IDLE_WAIT_S
        return min(delivery.next_try for delivery in self._pending) - time.monotonic()

    def _next_nowait(self) -> Any:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def _finish(self) -> None:
        if self._purging is not None:  # Rule 6: the next purge finishes it
            log.info("shutdown: the invocation log purge under way stops here; the next one finishes it")
            self._purging.close()
            self._purging = None
        # Whatever slipped in after the stop marker (it should not happen) is written too.
        rest = []
        while (item := self._next_nowait()) is not None:
            if isinstance(item, threading.Event):
                item.set()
            elif item is not _STOP:
                rest.append(item)
        if rest or self._pending or self._held:
            self._write(rest, final=True)
        if self._index is not None:
            self._index.close()
            self._index = None

    def _maybe_purge(self) -> None:
        """Start the retention purge when it is due, or run the next step of the one under way."""
        if self._purging is None:
            if time.monotonic() < self._next_purge:
                return
            self._next_purge = time.monotonic() + self.purge_interval_s
            layout = self.layout
            if not (layout.index_path.exists() or layout.s3_root.exists() or layout.cloudwatch_root.exists()):
                return  # logging never delivered here: nothing to purge, and no files to create
            if self.retention_days <= 0:
                return
        try:
            if self._purging is None:
                self._purging = self._start_purge()
            if not self._purging.step():
                self._purged(self._purging.result)
                self._purging = None
        except Exception:  # noqa: BLE001 - retention must not stop delivery
            log.exception("invocation log purge failed")
            self._purging = None

    def _start_purge(self) -> Purge:
        return Purge(self.layout, cutoff_for(self.clock(), self.retention_days), self._open_index())

    def _purge(self) -> PurgeResult:
        result = self._start_purge().run()
        self._purged(result)
        return result

    def _purged(self, result: PurgeResult) -> None:
        self.stats.purges.append(result)
        if result.index_rows or result.s3_objects or result.cloudwatch_lines:
            log.info("invocation logs purged: %d records, %d objects, %d CloudWatch events older than %s days%s",
                     result.index_rows, result.s3_objects, result.cloudwatch_lines, self.retention_days,
                     f"; the index shrank by {result.index_bytes_freed} bytes" if result.index_bytes_freed else "")

    def _open_index(self) -> InvocationIndex:
        if self._index is not None and self._index.moved:  # the data folder was deleted under us
            log.warning("the invocation log index %s was deleted or replaced while in use: indexing "
                        "into a new file from now on", self._index.path)
            self._index.close()
            self._index = None
            if self._purging is not None:  # it purges the deleted folder, with the index just closed
                self._purging.close()
                self._purging = None
        if self._index is None:
            make_data_folder(self.layout.data_dir)
            self._index = InvocationIndex(self.layout.index_path)
        return self._index

    # -- one flush ----------------------------------------------------------------------------

    def _write(self, batch: list[tuple[CallFacts, DeliveryConfig]], *, final: bool = False) -> None:
        """Deliver a new batch and the failed deliveries that are due (all of them when
        ``final``), then index the records whose files are all written (Rule 3)."""
        started = time.perf_counter()
        now = time.monotonic()
        deliveries, entries = self._plan(batch)
        self._held.update(entries)
        due = [d for d in self._pending if final or d.next_try <= now] + deliveries
        self._pending = [d for d in self._pending if not (final or d.next_try <= now)]
        try:
            with self.layout.locked():
                for delivery in due:
                    self._attempt(delivery, now)
                due = []
                self._bound_pending()  # first: what it gives up is indexed in this very cycle
                self._index_ready(final)
        except OSError as exc:  # the lock itself failed (data dir gone or read-only): keep it all for later
            self.stats.failures += 1
            self._report_failure(f"the lock of the invocation log folder {self.layout.data_dir}", exc)
            for delivery in due:
                self._failed(delivery, now)
            self._bound_pending()
            if final:
                self._abandon_all()
        if self._outage_since is not None and not self._pending and not self._held:
            log.warning("invocation-log writes work again after %.0f s: every record that waited is written",
                        time.monotonic() - self._outage_since)
            self._outage_since = None
        self.stats.batches += 1
        self.stats.written += len(batch)
        self.stats.write_seconds += time.perf_counter() - started

    def _attempt(self, delivery: _Delivery, now: float) -> None:
        try:
            delivery.action()
        except Exception as exc:  # noqa: BLE001 - keep the rest of the batch going (Rule 4)
            self.stats.failures += 1
            self._report_failure(delivery.what, exc)
            self._failed(delivery, now)

    def _report_failure(self, what: str, exc: BaseException) -> None:
        """Log a failed write as Rule 7 says: the outage's first with its traceback, then a
        reminder every ``OUTAGE_REMINDER_S`` at most."""
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
            self._next_reminder = now + OUTAGE_REMINDER_S
            log.error("writing %s failed; it will be retried until it succeeds (further failures are "
                      "summed up every %.0f s)", what, OUTAGE_REMINDER_S, exc_info=exc)
        elif now >= self._next_reminder:
            self._next_reminder = now + OUTAGE_REMINDER_S
            log.warning("invocation-log writes still fail after %.0f s (writing %s: %s); %d writes and %d "
                        "records wait", now - self._outage_since, what, exc, len(self._pending), len(self._held))

    def _failed(self, delivery: _Delivery, now: float) -> None:
        delivery.attempts += 1
        delivery.next_try = now + min(MAX_RETRY_WAIT_S, max(self.flush_interval_s, 0.05) * 2 ** (delivery.attempts - 1))
        self._pending.append(delivery)

    def _index_ready(self, final: bool) -> None:
        """Index the held records that no failed delivery holds (every held one when
        ``final``: at shutdown a record is better in the index alone than nowhere)."""
        if not self._held:
            return
        blocked = {rid for delivery in self._pending for rid in delivery.request_ids}
        if final and blocked:
            log.error("%d invocation-log deliveries failed until shutdown (%s); their %d records are "
                      "only in the index", len(self._pending), ", ".join(d.what for d in self._pending[:5]),
                      len(blocked & self._held.keys()))
            self.stats.abandoned += len(self._pending)
            self._pending = []
            self._outage_since = None  # given up, as just logged: not an outage that ended
            blocked = set()
        ready = [(rid, entry) for rid, entry in self._held.items() if rid not in blocked]
        if not ready:
            return
        try:
            self._open_index().add([entry for _, entry in ready])
        except Exception as exc:  # noqa: BLE001 - held, and tried again next cycle
            self.stats.failures += 1
            if final:
                log.exception("writing %d index rows failed; they are lost", len(ready))
                self._outage_since = None  # given up, as just logged: not an outage that ended
            else:
                self._report_failure(f"{len(ready)} index rows", exc)
                self._bound_held()
                return
        for rid, _ in ready:
            del self._held[rid]

    def _bound_held(self) -> None:
        """Keep at most MAX_HELD_ROWS index rows waiting for a failing index: the oldest give
        way (their records stay in the files)."""
        excess = len(self._held) - MAX_HELD_ROWS
        if excess > 0:
            for rid in list(self._held)[:excess]:
                del self._held[rid]
            self.stats.abandoned += excess
            log.error("giving up indexing %d invocation records: the index keeps failing", excess)

    def _abandon_all(self) -> None:
        if self._pending or self._held:
            log.error("the invocation log folder could not be written at shutdown: %d deliveries and %d "
                      "index rows are lost", len(self._pending), len(self._held))
        self.stats.abandoned += len(self._pending)
        self._pending = []
        self._held = {}
        self._outage_since = None  # given up, as just logged: not an outage that ended

    def _bound_pending(self) -> None:
        """Keep at most MAX_PENDING_BYTES of failed deliveries: the oldest give way (logged);
        their records are indexed on the next cycle (Rule 3's exception)."""
        size = sum(delivery.size for delivery in self._pending)
        while size > MAX_PENDING_BYTES and self._pending:
            dropped = self._pending.pop(0)
            size -= dropped.size
            self.stats.abandoned += 1
            log.error("giving up writing %s after %d attempts: %d bytes of invocation logs wait for "
                      "failing sinks", dropped.what, dropped.attempts, size + dropped.size)

    def _plan(
        self, batch: list[tuple[CallFacts, DeliveryConfig]]
    ) -> tuple[list[_Delivery], dict[str, IndexEntry]]:
        """Build every record of the batch: the sink writes that deliver them, and their index
        rows by request id."""
        s3_groups: dict[tuple[str, str, str, str, int], list[tuple[float, bytes, str]]] = {}
        objects: dict[tuple[str, str], tuple[DataObject, str]] = {}
        events: list[tuple[LogEvent, str]] = []
        entries: dict[str, IndexEntry] = {}
        for call, config in batch:
            encoded: dict[int, bytes] = {}

            def dump(record: dict[str, Any]) -> bytes:
                if id(record) not in encoded:
                    encoded[id(record)] = json_bytes(record)
                return encoded[id(record)]

            try:  # a record that cannot be built or encoded is skipped, never the batch
                model = self.catalog.get(call.resolved_model_id) if call.resolved_model_id else None
                planned = plan_deliveries(call, config, model)
                s3_line = dump(planned.s3.record) if planned.s3 is not None and config.s3 is not None else None
                cloudwatch_message = (dump(planned.cloudwatch.record).decode()
                                      if planned.cloudwatch is not None and config.log_group else None)
                index_record = planned.index
                index_line = dump(index_record.record).decode()
            except Exception:  # noqa: BLE001
                log.exception("could not build the invocation log record of %s", call.request_id)
                continue
            rid = call.request_id
            if s3_line is not None and config.s3 is not None:
                group = (config.s3.bucket, config.s3.key_prefix, call.account_id, call.region,
                         int(call.started_at // 3600))
                s3_groups.setdefault(group, []).append((call.started_at, s3_line, rid))
            for obj in planned.objects:
                objects.setdefault((obj.location.bucket, obj.key), (obj, rid))
            if cloudwatch_message is not None and config.log_group:
                events.append((LogEvent(call.account_id, call.region, config.log_group, CLOUDWATCH_LOG_STREAM,
                                        int(call.started_at * 1000), cloudwatch_message), rid))
            entries[rid] = IndexEntry(index_record.record, index_line,
                                      tuple(o.uri for o in index_record.objects), call.started_at)

        deliveries: list[_Delivery] = []
        for (bucket, key), (obj, rid) in objects.items():
            # ``what`` is logged when the write fails: a caller's keyPrefix (any text) must not forge a line
            deliveries.append(_Delivery(f"s3://{bucket}/{one_line(key)}",
                                        functools.partial(self._s3.put, bucket, key, obj.body), (rid,), len(obj.body)))
        for (bucket, prefix, account, region, _hour), lines in s3_groups.items():
            newest = max(stamp for stamp, _, _ in lines)
            key = batch_object_key(S3Location(bucket, prefix), account, region, newest, self.hex_id())
            body = b"\n".join(line for _, line, _ in lines) + b"\n"
            deliveries.append(_Delivery(f"s3://{bucket}/{one_line(key)}",
                                        functools.partial(self._s3.put, bucket, key, body),
                                        tuple(rid for _, _, rid in lines), len(body)))
        if events:
            ingestion_ms = int(self.clock() * 1000)
            by_file: dict[Path, tuple[list[bytes], list[str]]] = {}
            for event, rid in events:
                lines_of, ids = by_file.setdefault(self._cloudwatch.day_file(event), ([], []))
                lines_of.append(self._cloudwatch.line(event, ingestion_ms))
                ids.append(rid)
            for path, (lines_of, ids) in by_file.items():
                data = b"".join(lines_of)
                deliveries.append(_Delivery(f"{len(ids)} CloudWatch events to {path.name} of "
                                            f"{path.parent.relative_to(self.layout.cloudwatch_root)}",
                                            functools.partial(self._cloudwatch.append_file, path, data), tuple(ids), len(data)))
        return deliveries, entries
