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
            returns; ``flush`` returns once everything submitted before it is written. So every
            call whose response was sent before shutdown began has its record on disk.
    Rule 3: the index is written last in a flush: a record the index holds is in the files too.
    Rule 4: a sink that fails keeps its part of the batch for the next cycle (up to
            ``MAX_ATTEMPTS``); retries are idempotent (same object keys, INSERT OR IGNORE).
    Rule 5: records carry no credentials: they are built from the call record, which holds the
            caller's ARN and never a header, key, token or signature.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from claude_bedrock.adapters.invocation_log.cloudwatch import CloudWatchSink, LogEvent
from claude_bedrock.adapters.invocation_log.index import IndexEntry, InvocationIndex
from claude_bedrock.adapters.invocation_log.layout import LogLayout
from claude_bedrock.adapters.invocation_log.retention import PURGE_INTERVAL_S, cutoff_for, purge
from claude_bedrock.adapters.invocation_log.s3_folder import S3FolderSink
from claude_bedrock.domain.catalog import Catalog
from claude_bedrock.domain.json_body import json_bytes
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

MAX_ATTEMPTS = 5
_IDLE_WAIT_S = 30.0
_STOP = object()


@dataclass
class WriterStats:
    submitted: int = 0
    written: int = 0
    batches: int = 0
    failures: int = 0
    write_seconds: float = 0.0
    purges: list[Any] = field(default_factory=list)


@dataclass
class _Retry:
    what: str
    action: Callable[[], None]
    attempts: int = 1


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
        self._retries: list[_Retry] = []
        self._next_purge = 0.0
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
        """Queue one call's record (Rule 1). Never raises."""
        if self._closed:
            log.error("invocation log writer is closed; record %s not written", call.request_id)
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
        """Wait until every record submitted so far is written; False on timeout."""
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

    def purge_now(self) -> Any:
        """Run retention now, in the caller's thread (used by tests; the server purges itself)."""
        return self._purge()

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._s3.remove_partial_writes()
        except OSError:
            log.exception("could not remove partial log objects")
        self._maybe_purge()
        stopping = False
        while not stopping:
            batch: list[tuple[CallFacts, DeliveryConfig]] = []
            waiters: list[threading.Event] = []
            wait = max(0.0, min(_IDLE_WAIT_S, self._next_purge - time.monotonic()))
            try:
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                item = None
            deadline = time.monotonic() + self.flush_interval_s
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
            if batch or self._retries:
                self._write(batch)
            for waiter in waiters:
                waiter.set()
            self._maybe_purge()
        self._finish()

    def _next_nowait(self) -> Any:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def _finish(self) -> None:
        # Whatever slipped in after the stop marker (it should not happen) is written too.
        rest = []
        while (item := self._next_nowait()) is not None:
            if isinstance(item, threading.Event):
                item.set()
            elif item is not _STOP:
                rest.append(item)
        if rest or self._retries:
            self._write(rest)
        if self._index is not None:
            self._index.close()
            self._index = None

    def _maybe_purge(self) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + self.purge_interval_s
        layout = self.layout
        if not (layout.index_path.exists() or layout.s3_root.exists() or layout.cloudwatch_root.exists()):
            return  # logging never delivered here: nothing to purge, and no files to create
        if self.retention_days > 0:
            try:
                self._purge()
            except Exception:  # noqa: BLE001 - retention must not stop delivery
                log.exception("invocation log purge failed")

    def _purge(self) -> Any:
        result = purge(self.layout, cutoff_for(self.clock(), self.retention_days), self._open_index())
        self.stats.purges.append(result)
        if result.index_rows or result.s3_objects or result.cloudwatch_lines:
            log.info("invocation logs purged: %d records, %d objects, %d CloudWatch events older than %s days",
                     result.index_rows, result.s3_objects, result.cloudwatch_lines, self.retention_days)
        return result

    def _open_index(self) -> InvocationIndex:
        if self._index is None:
            self.layout.data_dir.mkdir(parents=True, exist_ok=True)
            self._index = InvocationIndex(self.layout.index_path)
        return self._index

    # -- one flush ----------------------------------------------------------------------------

    def _write(self, batch: list[tuple[CallFacts, DeliveryConfig]]) -> None:
        started = time.perf_counter()
        attempts = self._retries + [_Retry(what, action) for what, action in self._plan(batch)]
        self._retries = []
        try:
            with self.layout.locked():
                for attempt in attempts:
                    self._attempt(attempt)
        except OSError:  # the lock itself failed (data dir gone or read-only): keep it all for later
            log.exception("cannot lock the invocation log folder %s", self.layout.data_dir)
            self.stats.failures += 1
            self._retries = attempts
        self.stats.batches += 1
        self.stats.written += len(batch)
        self.stats.write_seconds += time.perf_counter() - started

    def _attempt(self, retry: _Retry) -> None:
        try:
            retry.action()
        except Exception:  # noqa: BLE001 - keep the rest of the batch going (Rule 4)
            self.stats.failures += 1
            if retry.attempts >= MAX_ATTEMPTS:
                log.exception("giving up writing %s after %d attempts", retry.what, retry.attempts)
            else:
                log.exception("writing %s failed (attempt %d); will retry", retry.what, retry.attempts)
                retry.attempts += 1
                self._retries.append(retry)

    def _plan(self, batch: list[tuple[CallFacts, DeliveryConfig]]) -> list[tuple[str, Callable[[], None]]]:
        """Build every record of the batch and the sink writes that deliver them (index last)."""
        s3_groups: dict[tuple[str, str, str, str, int], list[tuple[float, bytes]]] = {}
        objects: dict[tuple[str, str], DataObject] = {}
        events: list[LogEvent] = []
        entries: list[IndexEntry] = []
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
            if s3_line is not None and config.s3 is not None:
                group = (config.s3.bucket, config.s3.key_prefix, call.account_id, call.region,
                         int(call.started_at // 3600))
                s3_groups.setdefault(group, []).append((call.started_at, s3_line))
            for obj in planned.objects:
                objects.setdefault((obj.location.bucket, obj.key), obj)
            if cloudwatch_message is not None and config.log_group:
                events.append(LogEvent(call.account_id, call.region, config.log_group, CLOUDWATCH_LOG_STREAM,
                                       int(call.started_at * 1000), cloudwatch_message))
            entries.append(IndexEntry(index_record.record, index_line,
                                      tuple(o.uri for o in index_record.objects), call.started_at))

        actions: list[tuple[str, Callable[[], None]]] = []
        for (bucket, key), obj in objects.items():
            actions.append((f"s3://{bucket}/{key}", _bind(self._s3.put, bucket, key, obj.body)))
        for (bucket, prefix, account, region, _hour), lines in s3_groups.items():
            newest = max(stamp for stamp, _ in lines)
            key = batch_object_key(S3Location(bucket, prefix), account, region, newest, self.hex_id())
            body = b"\n".join(line for _, line in lines) + b"\n"
            actions.append((f"s3://{bucket}/{key}", _bind(self._s3.put, bucket, key, body)))
        if events:
            ingestion_ms = int(self.clock() * 1000)
            actions.append((f"{len(events)} CloudWatch events", lambda: self._cloudwatch.append(events, ingestion_ms)))
        if entries:
            actions.append((f"{len(entries)} index rows", lambda: self._add_to_index(entries)))
        return actions

    def _add_to_index(self, entries: list[IndexEntry]) -> None:
        self._open_index().add(entries)


def _bind(put: Callable[..., Path], bucket: str, key: str, body: bytes) -> Callable[[], None]:
    def action() -> None:
        put(bucket, key, body)

    return action
