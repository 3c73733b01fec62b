"""The writer and its sinks on a temporary data dir: batching, draining, the three layouts,
retries, retention with an injected clock, path safety and throughput."""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest


from claude_bedrock.adapters.invocation_log import (
    CloudWatchSink,
    InvocationIndex,
    InvocationLogWriter,
    LogLayout,
    LogQuery,
    S3FolderSink,
    cutoff_for,
    purge,
)
from claude_bedrock.domain.catalog import default_catalog
from claude_bedrock.domain.invocation_log import LARGE_BODY_BYTES, DeliveryConfig, S3Location
from claude_bedrock.service.calls import CallRecord

DAY = 86_400
NOW = 1_795_716_000.0  # 2026-11-26T18:00:00Z
CONFIG = DeliveryConfig(s3=S3Location("logs-bucket", "p/"), log_group="/aws/bedrock/inv", text=True, image=True)
CATALOG = default_catalog()


def call(n: int, *, at: float = NOW, **changes) -> CallRecord:
    values = dict(
        request_id=f"req-{n:06d}",
        operation="Converse",
        account_id="111122223333",
        region="us-west-2",
        identity_arn="arn:aws:iam::111122223333:user/alice",
        model_id="global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        started_at=at,
        resolved_model_id="anthropic.claude-sonnet-4-5-20250929-v1:0",
        endpoint_type="global",
        input_body={"messages": [{"role": "user", "content": [{"text": f"question {n}"}]}]},
        output_body={"output": {"message": {"role": "assistant", "content": [{"text": "answer"}]}}},
        usage={"inputTokens": 10, "outputTokens": 20},
    )
    values.update(changes)
    return CallRecord(**values)


def make_writer(tmp_path: Path, **options) -> InvocationLogWriter:
    options.setdefault("clock", lambda: NOW)
    options.setdefault("flush_interval_s", 0.05)
    return InvocationLogWriter(LogLayout(tmp_path), catalog=CATALOG, **options)

def submit_each_flushed(writer: InvocationLogWriter, numbers: range, pause_s: float = 0.0) -> None:
    """Submit ``call(n)`` for each number, one flush (so one write cycle) each, ``pause_s`` apart."""
    for n in numbers:
        writer.submit(call(n), CONFIG)
        assert writer.flush()
        if pause_s:
            time.sleep(pause_s)



def s3_records(layout: LogLayout) -> list[dict]:
    records = []
    for path in sorted(layout.s3_root.rglob("*.json.gz")):
        if "/data/" in path.relative_to(layout.s3_root).as_posix():
            continue
        records += [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    return records


def cloudwatch_records(layout: LogLayout) -> list[dict]:
    sink = CloudWatchSink(layout)
    return [json.loads(event["message"]) for path in sink.files() for event in sink.read(path)]


def test_writer_delivers_to_all_three_sinks(tmp_path):
    writer = make_writer(tmp_path)
    writer.start()
    for n in range(3):
        writer.submit(call(n), CONFIG)
    assert writer.flush()
    layout = writer.layout
    (batch,) = [p for p in layout.s3_root.rglob("*.json.gz")]
    assert batch.relative_to(layout.s3_root).as_posix().startswith(
        "logs-bucket/p/AWSLogs/111122223333/BedrockModelInvocationLogs/us-west-2/2026/11/26/18/20261126T180000000Z_"
    )
    assert [r["requestId"] for r in s3_records(layout)] == ["req-000000", "req-000001", "req-000002"]
    (day_file,) = CloudWatchSink(layout).files()
    assert day_file.relative_to(layout.cloudwatch_root).as_posix() == (
        "111122223333/us-west-2/%2Faws%2Fbedrock%2Finv/aws%2Fbedrock%2Fmodelinvocations/2026-11-26.jsonl"
    )
    event = json.loads(day_file.read_text().splitlines()[0])
    assert set(event) == {"timestamp", "message", "ingestionTime"}
    assert event["timestamp"] == int(NOW * 1000) and event["ingestionTime"] == int(NOW * 1000)
    assert json.loads(event["message"])["requestId"] == "req-000000"
    writer.close()
    index = InvocationIndex(layout.index_path)
    assert index.count() == 3
    record = index.get("req-000001")
    assert record == s3_records(layout)[1]
    assert record["claudeBedrock"]["cost"]["total"] == "0.00033"  # 10*3 + 20*15 per million
    index.close()


def test_writer_batches_by_size_and_flushes_the_rest(tmp_path):
    writer = make_writer(tmp_path, batch_size=10, flush_interval_s=30)
    writer.start()
    for n in range(25):
        writer.submit(call(n), CONFIG)
    assert writer.flush(timeout=10)
    batches = sorted(writer.layout.s3_root.rglob("*.json.gz"))
    sizes = sorted(len(gzip.decompress(p.read_bytes()).splitlines()) for p in batches)
    assert sizes == [5, 10, 10]
    writer.close()


def test_writer_close_drains_everything_queued(tmp_path):
    writer = make_writer(tmp_path, flush_interval_s=60, batch_size=10_000)
    writer.start()
    for n in range(300):
        writer.submit(call(n), CONFIG)
    writer.close()
    assert len(s3_records(writer.layout)) == 300
    assert len(cloudwatch_records(writer.layout)) == 300
    index = InvocationIndex(writer.layout.index_path)
    assert index.count() == 300
    index.close()


def test_writer_writes_a_record_submitted_after_close_at_once(tmp_path):
    """Race regression: uvicorn cancels the calls still running when its graceful-shutdown time
    is up, then runs the shutdown hooks without waiting for them; a call that ends after the
    writer's close (its cancelled stream still writing to a slow client, a gateway closing its
    upstream) published its record to a closed writer, which dropped it with an error line."""
    writer = make_writer(tmp_path, flush_interval_s=60)
    writer.start()
    writer.submit(call(0), CONFIG)
    writer.close()
    writer.submit(call(1), CONFIG)  # the late one
    assert sorted(r["requestId"] for r in s3_records(writer.layout)) == ["req-000000", "req-000001"]
    assert sorted(r["requestId"] for r in cloudwatch_records(writer.layout)) == ["req-000000", "req-000001"]
    index = InvocationIndex(writer.layout.index_path)
    assert index.count() == 2
    index.close()
    assert writer._index is None  # nothing left open after the late write
    assert writer.stats.submitted == 2


def test_writer_never_started_writes_a_record_submitted_after_close(tmp_path):
    writer = make_writer(tmp_path)
    writer.close()
    writer.submit(call(7), CONFIG)
    assert writer._thread is None  # written in the caller's thread: no thread left with it queued
    assert [r["requestId"] for r in s3_records(writer.layout)] == ["req-000007"]


def test_writer_submit_never_waits_for_disk(tmp_path, monkeypatch):
    writer = make_writer(tmp_path, flush_interval_s=0)
    slow_put = S3FolderSink.put
    gate = threading.Event()

    def stuck(self, *args, **kwargs):
        gate.wait(timeout=30)  # the disk "hangs" until every submit has returned
        return slow_put(self, *args, **kwargs)

    monkeypatch.setattr(S3FolderSink, "put", stuck)
    writer.start()
    for n in range(50):
        writer.submit(call(n), CONFIG)  # would hang here if submit waited for the sink
    assert not gate.is_set()
    gate.set()
    writer.close()
    assert len(s3_records(writer.layout)) == 50


def index_ids(layout: LogLayout) -> list[str]:
    if not layout.index_path.exists():
        return []
    index = InvocationIndex(layout.index_path)
    try:
        return sorted(record.record["requestId"] for record in index.query(LogQuery()))
    finally:
        index.close()


def test_writer_retries_a_failed_sink_without_duplicates(tmp_path, monkeypatch):
    writer = make_writer(tmp_path)
    real_append = CloudWatchSink.append_file
    failures = []

    def flaky(path, data):
        if not failures:
            failures.append(1)
            raise OSError("disk full")
        return real_append(path, data)

    monkeypatch.setattr(CloudWatchSink, "append_file", staticmethod(flaky))
    writer.start()
    writer.submit(call(1), CONFIG)
    writer.flush()
    assert cloudwatch_records(writer.layout) == []
    assert index_ids(writer.layout) == []  # held back: its CloudWatch file is not written yet (Rule 3)
    writer.submit(call(2), CONFIG)
    writer.close()
    assert sorted(r["requestId"] for r in cloudwatch_records(writer.layout)) == ["req-000001", "req-000002"]
    assert writer.stats.failures == 1
    assert index_ids(writer.layout) == ["req-000001", "req-000002"]


def test_writer_retries_one_cloudwatch_file_alone(tmp_path, monkeypatch):
    """Audit: a batch spanning two day files with one failing appended the other one twice."""
    writer = make_writer(tmp_path)
    real_append = CloudWatchSink.append_file
    failed = []

    def second_file_fails_once(path, data):
        if path.name == "2026-11-25.jsonl" and not failed:
            failed.append(path)
            raise OSError("disk full")
        return real_append(path, data)

    monkeypatch.setattr(CloudWatchSink, "append_file", staticmethod(second_file_fails_once))
    writer.start()
    writer.submit(call(1), CONFIG)
    writer.submit(call(2, at=NOW - DAY), CONFIG)  # the day before: another file, same batch
    writer.flush()
    writer.close()
    assert failed
    assert sorted(r["requestId"] for r in cloudwatch_records(writer.layout)) == ["req-000001", "req-000002"]


def test_cloudwatch_append_that_fails_is_cut_back(tmp_path, monkeypatch):
    import os as os_module

    path = tmp_path / "2026-11-26.jsonl"
    CloudWatchSink.append_file(path, b'{"a":1}\n')
    real_write = os_module.write

    def torn(fd, data):
        real_write(fd, bytes(data[:5]))  # part of the lines reach the file, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os_module, "write", torn)
    try:
        CloudWatchSink.append_file(path, b'{"b":2}\n{"c":3}\n')
    except OSError:
        pass
    else:
        raise AssertionError("the failing write did not raise")
    monkeypatch.setattr(os_module, "write", real_write)
    assert path.read_bytes() == b'{"a":1}\n'


def test_cloudwatch_append_after_a_line_torn_by_a_kill_starts_a_line_of_its_own(tmp_path):
    """Audit regression: a SIGKILL during a large append (the kernel stops a write between two
    pages) left the day file ending in half a line; the first event appended after the restart
    was glued to it, so that event was lost from CloudWatch while the index listed it."""
    path = tmp_path / "2026-11-26.jsonl"
    path.write_bytes(b'{"timestamp":1,"message":"whole"}\n{"timestamp":2,"mess')  # the torn line
    CloudWatchSink.append_file(path, b'{"timestamp":3,"message":"after"}\n{"timestamp":4,"message":"x"}\n')
    assert [event["timestamp"] for event in CloudWatchSink.read(path)] == [1, 3, 4]
    assert path.read_bytes().endswith(b'"mess\n{"timestamp":3,"message":"after"}\n{"timestamp":4,"message":"x"}\n')


def test_index_write_that_sqlite_rolled_back_itself_raises_its_own_error(tmp_path):
    """Audit regression: SQLite ends the transaction itself on some errors (a full disk, an
    I/O error); ``add`` then ran ROLLBACK, which raised "cannot rollback - no transaction is
    active" in place of the cause ("database or disk is full" on a full data folder)."""
    import sqlite3

    index = InvocationIndex(tmp_path / "index.sqlite3")
    writer = make_writer(tmp_path)
    entries = list(writer._plan([(call(1), CONFIG)])[1].values())
    index._db.execute("CREATE TEMP TRIGGER full BEFORE INSERT ON invocations "
                      "BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END")
    with pytest.raises(sqlite3.DatabaseError, match="database or disk is full"):
        index.add(entries)
    index._db.execute("DROP TRIGGER full")
    assert index.add(entries) == 1  # the next write works
    index.close()


def test_cloudwatch_append_opens_the_day_file_in_binary_mode(tmp_path, monkeypatch):
    """Audit regression: ``os.open`` without ``O_BINARY`` opens a file in text mode on Windows,
    which wrote every line ending as ``\\r\\n`` and made ``os.write`` count translated bytes.
    Here (no ``O_BINARY``) the flag is given a bit of its own and taken off again."""
    o_binary = 1 << 30
    assert not any(getattr(os, name) & o_binary for name in dir(os) if name.startswith("O_"))
    real_open, flags_seen = os.open, []

    def windows_open(path, flags, mode=0o777):
        flags_seen.append(flags)
        return real_open(path, flags & ~o_binary, mode)

    monkeypatch.setattr(os, "O_BINARY", o_binary, raising=False)
    monkeypatch.setattr(os, "open", windows_open)
    CloudWatchSink.append_file(tmp_path / "2026-11-26.jsonl", b'{"a":1}\n')
    assert flags_seen and all(flags & o_binary for flags in flags_seen)
    assert (tmp_path / "2026-11-26.jsonl").read_bytes() == b'{"a":1}\n'


def test_writer_keeps_retrying_a_long_outage_and_indexes_after_delivery(tmp_path, monkeypatch):
    """Audit: a sink failing for 5 cycles dropped its records while the index listed them."""
    writer = make_writer(tmp_path, flush_interval_s=0.01)
    real_put = S3FolderSink.put
    outage = {"on": True, "tries": 0}

    first_key = []

    def down(self, bucket, key, body):
        if outage["on"]:
            if not first_key:
                first_key.append(key)
            if key == first_key[0]:
                outage["tries"] += 1  # the tries of one object: the old writer gave up after 5
            raise OSError("bucket folder unwritable")
        return real_put(self, bucket, key, body)

    monkeypatch.setattr(S3FolderSink, "put", down)
    monkeypatch.setattr("claude_bedrock.adapters.invocation_log.writer.MAX_RETRY_WAIT_S", 0.02)
    writer.start()
    submit_each_flushed(writer, range(8), 0.03)
    deadline = time.monotonic() + 10
    while outage["tries"] < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert outage["tries"] >= 8  # one object tried beyond the old limit of 5 attempts
    assert s3_records(writer.layout) == [] and index_ids(writer.layout) == []
    assert len(cloudwatch_records(writer.layout)) == 8  # the other sink is not held up
    outage["on"] = False
    writer.close()
    expected = [f"req-{n:06d}" for n in range(8)]
    assert sorted(r["requestId"] for r in s3_records(writer.layout)) == expected
    assert index_ids(writer.layout) == expected
    assert writer.stats.abandoned == 0


def test_writer_logs_an_outage_once_not_every_failed_write(tmp_path, monkeypatch, caplog):
    """Audit regression: on a full data folder every new batch logged a traceback per sink, the
    index one per cycle, and every retry of every waiting write a line of its own: 112
    tracebacks and 1,000 lines in 20 s of light load, growing with the outage. An outage is
    now one traceback, a reminder a minute at most, and a line when the writes work again."""
    writer = make_writer(tmp_path, flush_interval_s=0.01)
    outage = {"on": True}
    real_put, real_add = S3FolderSink.put, InvocationIndex.add

    def full(real):
        def write(self, *args, **kwargs):
            if outage["on"]:
                raise OSError(28, "No space left on device")
            return real(self, *args, **kwargs)
        return write

    monkeypatch.setattr(S3FolderSink, "put", full(real_put))
    real_append = CloudWatchSink.append_file

    def append(path, data):
        if outage["on"]:
            raise OSError(28, "No space left on device")
        return real_append(path, data)

    monkeypatch.setattr(CloudWatchSink, "append_file", staticmethod(append))
    monkeypatch.setattr(InvocationIndex, "add", full(real_add))
    monkeypatch.setattr("claude_bedrock.adapters.invocation_log.writer.MAX_RETRY_WAIT_S", 0.02)
    caplog.set_level("INFO", logger="claude_bedrock.invocation_log")
    writer.start()
    submit_each_flushed(writer, range(20), 0.02)
    during = [r for r in caplog.records if r.name == "claude_bedrock.invocation_log"]
    assert len([r for r in during if r.exc_info]) == 1, [r.getMessage() for r in during]
    assert len(during) <= 2, [r.getMessage() for r in during]
    outage["on"] = False
    writer.close()
    expected = [f"req-{n:06d}" for n in range(20)]
    assert sorted(r["requestId"] for r in s3_records(writer.layout)) == expected
    assert index_ids(writer.layout) == expected
    assert "work again" in caplog.text


def test_writer_at_shutdown_indexes_what_could_not_be_written(tmp_path, monkeypatch, caplog):
    writer = make_writer(tmp_path)

    def broken(self, bucket, key, body):
        raise OSError("bucket folder unwritable")

    monkeypatch.setattr(S3FolderSink, "put", broken)
    writer.start()
    writer.submit(call(1), CONFIG)
    writer.close()
    assert s3_records(writer.layout) == []
    assert index_ids(writer.layout) == ["req-000001"]  # in the index rather than lost everywhere
    assert writer.stats.abandoned == 1
    assert "failed until shutdown" in caplog.text
    assert "work again" not in caplog.text  # the outage did not end: its records are only in the index


def test_writer_whose_index_fails_until_shutdown_does_not_say_it_works_again(tmp_path, monkeypatch, caplog):
    writer = make_writer(tmp_path)

    def broken(self, entries):
        raise sqlite3.OperationalError("file is not a database")

    monkeypatch.setattr(InvocationIndex, "add", broken)
    writer.start()
    writer.submit(call(1), CONFIG)
    assert writer.flush()
    writer.close()
    assert "they are lost" in caplog.text and "work again" not in caplog.text


def test_writer_reminds_of_an_outage_at_most_every_reminder_period_and_logs_the_next_one_afresh(
        tmp_path, monkeypatch, caplog):
    """Rule 7 beyond its first line: a reminder while the outage lasts (not one per failed
    write), one 'work again' line when it ends, and a later outage logged with its traceback."""
    writer = make_writer(tmp_path, flush_interval_s=0.01)
    outage = {"on": True}
    real_put = S3FolderSink.put

    def put(self, *args, **kwargs):
        if outage["on"]:
            raise OSError(28, "No space left on device")
        return real_put(self, *args, **kwargs)

    monkeypatch.setattr(S3FolderSink, "put", put)
    monkeypatch.setattr("claude_bedrock.adapters.invocation_log.writer.MAX_RETRY_WAIT_S", 0.01)
    monkeypatch.setattr("claude_bedrock.adapters.invocation_log.writer.OUTAGE_REMINDER_S", 0.2)
    caplog.set_level("INFO", logger="claude_bedrock.invocation_log")
    writer.start()
    started = time.monotonic()
    submit_each_flushed(writer, range(30), 0.02)
    lasted = time.monotonic() - started
    reminders = [r for r in caplog.records if "still fail" in r.getMessage()]
    assert 1 <= len(reminders) <= lasted / 0.2 + 1 < writer.stats.failures, (len(reminders), writer.stats.failures)
    outage["on"] = False
    # the waiting writes go through, then new batches: one line, not one a batch
    submit_each_flushed(writer, range(30, 33), 0.03)
    assert caplog.text.count("work again") == 1
    outage["on"] = True
    writer.submit(call(33), CONFIG)
    assert writer.flush()
    outage["on"] = False
    writer.close()
    assert len([r for r in caplog.records if r.exc_info]) == 2  # each outage's first failure


def test_writer_whose_folder_cannot_be_locked_logs_one_traceback_and_no_recovery(tmp_path, monkeypatch, caplog):
    """A data folder that cannot be locked (gone, read-only) is an outage too (Rule 7): one
    traceback, not one a cycle; given up at shutdown, it does not end with 'work again'."""
    writer = make_writer(tmp_path, flush_interval_s=0.01)

    def locked(self):
        raise PermissionError(13, "Permission denied", str(self.data_dir))

    monkeypatch.setattr(LogLayout, "locked", locked)
    monkeypatch.setattr("claude_bedrock.adapters.invocation_log.writer.MAX_RETRY_WAIT_S", 0.01)
    writer.start()
    submit_each_flushed(writer, range(5))
    writer.close()
    assert writer.stats.failures >= 5
    assert len([r for r in caplog.records if r.exc_info]) == 1
    assert "could not be written at shutdown" in caplog.text and "work again" not in caplog.text


def test_writer_bounds_what_waits_for_a_failing_sink(tmp_path, monkeypatch):
    writer = make_writer(tmp_path)

    def broken(self, bucket, key, body):
        raise OSError("bucket folder unwritable")

    monkeypatch.setattr(S3FolderSink, "put", broken)
    monkeypatch.setattr("claude_bedrock.adapters.invocation_log.writer.MAX_PENDING_BYTES", 1)
    writer.start()
    writer.submit(call(1), CONFIG)
    writer.flush()  # the delivery given up in this cycle no longer holds its record back
    assert writer.stats.abandoned >= 1
    assert index_ids(writer.layout) == ["req-000001"]
    writer.close()


def test_writer_large_body_object_is_written_and_referenced(tmp_path):
    writer = make_writer(tmp_path)
    big = {"messages": [{"role": "user", "content": [{"text": "z" * (LARGE_BODY_BYTES + 1)}]}]}
    writer.submit(call(7, input_body=big), CONFIG)
    writer.close()
    (record,) = s3_records(writer.layout)
    uri = record["input"]["inputBodyS3Path"]
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    assert json.loads(S3FolderSink(writer.layout).read(bucket, key)) == big
    (cw,) = cloudwatch_records(writer.layout)
    assert cw["input"]["inputBodyJson"] == big  # no largeDataDeliveryS3Config: stays inline


def test_writer_retention_purges_every_sink_with_injected_clock(tmp_path):
    clock = {"now": NOW}
    writer = make_writer(tmp_path, clock=lambda: clock["now"], retention_days=30)
    writer.start()
    big = {"t": "q" * (LARGE_BODY_BYTES + 1)}
    writer.submit(call(1, at=NOW - 40 * DAY, input_body=big), CONFIG)  # expired, with a data object
    writer.submit(call(2, at=NOW - 31 * DAY), CONFIG)  # expired
    writer.submit(call(3, at=NOW - 29 * DAY), CONFIG)  # kept
    writer.submit(call(4, at=NOW), CONFIG)  # kept
    writer.flush()
    layout = writer.layout
    assert len(s3_records(layout)) == 4 and len(list(layout.s3_root.rglob("*_input.json.gz"))) == 1
    result = writer.purge_now()
    assert (result.index_rows, result.cloudwatch_lines) == (2, 2)
    assert result.s3_objects == 3  # two batches and the data object
    assert sorted(r["requestId"] for r in s3_records(layout)) == ["req-000003", "req-000004"]
    assert sorted(r["requestId"] for r in cloudwatch_records(layout)) == ["req-000003", "req-000004"]
    assert not list(layout.s3_root.rglob("*_input.json.gz"))
    old_hour = layout.s3_root / "logs-bucket/p/AWSLogs/111122223333/BedrockModelInvocationLogs/us-west-2/2026/10/17"
    assert not old_hour.exists()  # emptied folders are removed
    index = InvocationIndex(layout.index_path)
    assert [r.record["requestId"] for r in index.query(LogQuery())] == ["req-000003", "req-000004"]
    # a day later the 29-day-old record expires too
    clock["now"] = NOW + 1.5 * DAY
    assert writer.purge_now().index_rows == 1
    assert [r.record["requestId"] for r in index.query(LogQuery())] == ["req-000004"]
    index.close()
    writer.close()


def test_retention_keeps_a_record_exactly_at_the_cutoff_in_every_sink(tmp_path):
    """A record exactly ``retention_days`` old (here at a sub-millisecond time, as time.time()
    gives) is kept by the index (``ts < cutoff`` expires), and must be kept by the S3 folder and
    CloudWatch too: their names and timestamps are cut to the millisecond, and a cut time below
    the cutoff does not make the record older than it (retention Rule 1). The data object of a
    record in the last millisecond of its hour is kept as well."""
    at = NOW + 0.1234567
    last_ms = NOW + 3599.9996  # 2026-11-26T18:59:59.9996Z
    big = {"t": "q" * (LARGE_BODY_BYTES + 1)}
    clock = {"now": at + 30 * DAY}
    writer = make_writer(tmp_path, clock=lambda: clock["now"], retention_days=30)
    writer.submit(call(1, at=at), CONFIG)
    writer.flush()  # a batch object of its own, named 20261126T180000123Z_<hex>
    writer.submit(call(2, at=last_ms, input_body=big), CONFIG)
    writer.flush()
    result = writer.purge_now()
    assert (result.index_rows, result.s3_objects, result.cloudwatch_lines) == (0, 0, 0)
    layout = writer.layout
    assert sorted(r["requestId"] for r in s3_records(layout)) == ["req-000001", "req-000002"]
    assert sorted(r["requestId"] for r in cloudwatch_records(layout)) == ["req-000001", "req-000002"]
    clock["now"] = last_ms + 30 * DAY  # the second record is exactly 30 days old now
    result = writer.purge_now()
    assert (result.index_rows, result.s3_objects, result.cloudwatch_lines) == (1, 1, 1)
    assert [r["requestId"] for r in s3_records(layout)] == ["req-000002"]
    assert [r["requestId"] for r in cloudwatch_records(layout)] == ["req-000002"]
    assert len(list(layout.s3_root.rglob("*_input.json.gz"))) == 1  # its data object stays
    clock["now"] += 0.001  # a millisecond later everything has expired, in every sink alike
    result = writer.purge_now()
    assert (result.index_rows, result.s3_objects, result.cloudwatch_lines) == (1, 2, 1)  # batch, data object
    assert s3_records(layout) == [] and cloudwatch_records(layout) == []
    writer.close()


def test_writer_retention_rewrites_the_day_that_straddles_the_cutoff(tmp_path):
    writer = make_writer(tmp_path, retention_days=1)
    day_start = NOW - 18 * 3600  # 2026-11-26T00:00Z
    writer.submit(call(1, at=day_start + 60), CONFIG)
    writer.submit(call(2, at=day_start + 3 * 3600), CONFIG)
    writer.flush()
    sink = CloudWatchSink(writer.layout)
    removed = sink.purge(day_start + 3600)
    assert removed == 1
    assert [r["requestId"] for r in cloudwatch_records(writer.layout)] == ["req-000002"]
    writer.close()


def test_cloudwatch_purge_drops_the_millisecond_that_ends_at_the_cutoff_and_torn_lines(tmp_path):
    """An event whose whole millisecond ends at the cutoff is older than it (the index drops
    its record: ``ts < cutoff``), one at the cutoff is kept; a torn line (a write cut short) is
    dropped with the rewrite, and counted."""
    writer = make_writer(tmp_path, retention_days=1)
    cutoff = NOW - 17 * 3600  # 2026-11-26T01:00Z, inside the day file
    writer.submit(call(1, at=cutoff - 0.0005), CONFIG)
    writer.submit(call(2, at=cutoff), CONFIG)
    writer.flush()
    sink = CloudWatchSink(writer.layout)
    [day_file] = sink.files()
    with open(day_file, "ab") as handle:
        handle.write(b'{"timestamp": 17957')
    assert sink.purge(cutoff) == 2
    assert [r["requestId"] for r in cloudwatch_records(writer.layout)] == ["req-000002"]
    assert day_file.read_bytes().count(b"\n") == 1
    writer.close()


def test_purge_interrupted_while_rewriting_a_day_leaves_nothing_behind(tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM) during the rewrite of the day that straddles the cutoff left its
    temporary copy: a file of the day's records, expired ones too, that no reader lists and
    no later purge removed (unless it rewrote that very day again). The next purge removes it."""
    import claude_bedrock.adapters.invocation_log.cloudwatch as cloudwatch_module

    writer = make_writer(tmp_path, retention_days=0)
    day_start = NOW - 18 * 3600
    writer.submit(call(1, at=day_start + 60), CONFIG)
    writer.submit(call(2, at=day_start + 3 * 3600), CONFIG)
    writer.close()
    sink = CloudWatchSink(writer.layout)
    (day_file,) = sink.files()

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(cloudwatch_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sink.purge(day_start + 3600)
    monkeypatch.undo()
    leftovers = [p for p in day_file.parent.iterdir() if p != day_file]
    assert leftovers  # the interrupted rewrite's copy
    assert sink.purge(day_start + DAY) == 2  # the next purge: the whole day has expired
    assert not day_file.parent.exists()


def test_writer_purges_at_start(tmp_path):
    first = make_writer(tmp_path, retention_days=0)
    first.submit(call(1, at=NOW - 60 * DAY), CONFIG)
    first.close()
    assert len(s3_records(first.layout)) == 1  # retention 0 keeps everything
    second = make_writer(tmp_path, retention_days=30)
    second.start()
    second.flush()
    deadline = time.monotonic() + 5
    # Wait for the purge's result, not for the files to go: reading the folder while the purge
    # removes it raised FileNotFoundError now and then.
    while not second.stats.purges and time.monotonic() < deadline:
        time.sleep(0.02)
    assert s3_records(second.layout) == []
    second.close()


def test_s3_purge_walks_the_folder_without_listing_it_whole(tmp_path, monkeypatch):
    """The hourly purge (and the start-up clean-up) listed every object of the S3 folder in
    memory before looking at the first: a month of logs is hundreds of thousands of objects
    (20 MB per walk for 50,000). Each folder's objects are now handled as it is read."""
    import claude_bedrock.adapters.invocation_log.s3_folder as s3_module

    layout = LogLayout(tmp_path)
    region = layout.s3_root / "b" / "AWSLogs" / "1" / "BedrockModelInvocationLogs" / "r"
    for hour in range(5):
        folder = region / f"2026/11/01/{hour:02d}"
        folder.mkdir(parents=True)
        (folder / f"20261101T{hour:02d}0000000Z_{hour:016x}.json.gz").touch()
    events: list[str] = []
    real_walk, real_time = s3_module.os.walk, s3_module._object_time

    def walk(*args, **kwargs):
        for entry in real_walk(*args, **kwargs):
            events.append("read folder")
            yield entry

    def object_time(path):
        events.append("dated object")
        return real_time(path)

    folders = 1 + sum(1 for path in layout.s3_root.rglob("*") if path.is_dir())
    monkeypatch.setattr(s3_module.os, "walk", walk)
    monkeypatch.setattr(s3_module, "_object_time", object_time)
    assert S3FolderSink(layout).purge(NOW) == 5
    assert events.index("dated object") < folders, events  # before the walk has read every folder


def test_writer_removes_partial_objects_at_start(tmp_path):
    layout = LogLayout(tmp_path)
    partial = layout.s3_root / "b" / "x" / ".20261126T180000000Z_ab.json.gz.123.tmp"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\x1f\x8b")
    writer = make_writer(tmp_path)
    writer.start()
    writer.flush()
    assert not partial.exists()
    writer.close()


def test_writer_removes_partial_objects_only_under_the_log_lock(tmp_path, monkeypatch):
    # Audit regression: a server starting on a data folder another server is writing to removed
    # that server's temporary object files in the middle of its flush (outside the log lock
    # every flush holds): its rename then failed, with an error and a retry.
    layout = LogLayout(tmp_path)
    (layout.s3_root / "b").mkdir(parents=True)
    held: list[bool] = []
    remove = S3FolderSink.remove_partial_writes

    def spy(sink: S3FolderSink) -> int:
        fd = os.open(layout.lock_path, os.O_RDWR | os.O_CREAT)
        try:  # another open file description: refused while any holder has the lock
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(False)
        except BlockingIOError:
            held.append(True)
        finally:
            os.close(fd)
        return remove(sink)

    monkeypatch.setattr(S3FolderSink, "remove_partial_writes", spy)
    writer = make_writer(tmp_path)
    writer.start()
    writer.flush()
    writer.close()
    assert held == [True]


def test_writer_key_prefix_cannot_escape_the_bucket_folder(tmp_path):
    config = DeliveryConfig(s3=S3Location("b", "../../../escape"), text=True)
    writer = make_writer(tmp_path / "data")
    writer.submit(call(1), config)
    writer.close()
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name.endswith(".json.gz")]
    assert files and all((tmp_path / "data" / "s3" / "b") in p.parents for p in files)


def test_writer_index_ignores_a_repeated_record(tmp_path):
    writer = make_writer(tmp_path)
    writer.submit(call(1), CONFIG)
    writer.flush()
    writer.submit(call(1), CONFIG)
    writer.close()
    index = InvocationIndex(writer.layout.index_path)
    assert index.count() == 1
    index.close()


def test_writer_throughput(tmp_path, capsys):
    """Prints the writer's throughput; asserts that records are written in batches."""
    writer = make_writer(tmp_path, batch_size=500, flush_interval_s=0.05)
    writer.start()
    count = 5000
    started = time.perf_counter()
    for n in range(count):
        writer.submit(call(n), CONFIG)
    writer.close()
    elapsed = time.perf_counter() - started
    index = InvocationIndex(writer.layout.index_path)
    assert index.count() == count
    index.close()
    with capsys.disabled():
        print(f"\n[writer] {count} records to 3 sinks in {elapsed:.2f}s = {count / elapsed:.0f} records/s "
              f"({writer.stats.batches} batches)")
    # Batching, not speed, is asserted (no timing assertions in the suite): 5,000 records must
    # not take anywhere near one transaction each.
    assert writer.stats.batches <= count // 10


def test_writer_keeps_a_bounded_purge_history(tmp_path):
    """A server purges once an hour for as long as it runs: the stats keep the last few."""
    from claude_bedrock.adapters.invocation_log.writer import PURGES_KEPT

    writer = make_writer(tmp_path, retention_days=30)
    writer.submit(call(1), CONFIG)
    writer.flush()
    for _ in range(PURGES_KEPT * 3):
        writer.purge_now()
    assert len(writer.stats.purges) == PURGES_KEPT
    writer.close()


def _expired_logs(tmp_path: Path, count: int, *, big_every: int = 3) -> LogLayout:
    """``count`` records 40 days old (a batch object each, some with a data object) and one of
    now, written by a writer that keeps everything."""
    writer = make_writer(tmp_path, retention_days=0)
    big = {"t": "q" * (LARGE_BODY_BYTES + 1)}
    for n in range(count):
        writer.submit(call(n, at=NOW - 40 * DAY + n * 60, **({"input_body": big} if n % big_every == 0 else {})),
                      CONFIG)
        writer.flush()
    writer.submit(call(999_999, at=NOW), CONFIG)
    writer.close()
    return writer.layout


def _assert_indexed_records_are_in_the_files(layout: LogLayout) -> None:
    """Writer Rule 3, which a purge must keep at every step: a record the index lists is in the
    S3 batches and CloudWatch, and its data objects exist."""
    s3_ids = {r["requestId"] for r in s3_records(layout)}
    cloudwatch_ids = {r["requestId"] for r in cloudwatch_records(layout)}
    index = InvocationIndex(layout.index_path)
    try:
        for indexed in index.query(LogQuery()):
            record = indexed.record
            assert record["requestId"] in s3_ids and record["requestId"] in cloudwatch_ids
            uri = record["input"].get("inputBodyS3Path")
            if uri:
                bucket, key = uri.removeprefix("s3://").split("/", 1)
                assert layout.object_path(bucket, key).is_file(), uri
    finally:
        index.close()


def test_another_writers_flush_is_not_blocked_for_the_whole_purge(tmp_path, monkeypatch):
    """Audit regression: a purge held the log lock for its whole run (15 s to 84 s for a month of
    logs), so a flush of the server (or of another one on the same folder) waited that long.
    It now releases the lock between bounded steps: here the purge is paused right after its
    first step, and a flush completes while expired records are still there to purge."""
    import claude_bedrock.adapters.invocation_log.retention as retention

    monkeypatch.setattr(retention, "STEP_ROWS", 3, raising=False)
    layout = _expired_logs(tmp_path, 10)
    released, flushed = threading.Event(), threading.Event()
    real_locked = LogLayout.locked

    @contextmanager
    def locked(self):
        with real_locked(self):
            yield
        if threading.current_thread() is purger and not released.is_set():
            released.set()  # the purge's first hold of the lock is over: pause it there
            assert flushed.wait(10)

    monkeypatch.setattr(LogLayout, "locked", locked)
    index = InvocationIndex(layout.index_path)
    results = []
    purger = threading.Thread(target=lambda: results.append(purge(layout, cutoff_for(NOW, 30), index)))
    purger.start()
    try:
        assert released.wait(10)
        writer = make_writer(tmp_path, retention_days=0)
        writer.submit(call(77_777, at=NOW), CONFIG)
        assert writer.flush(10)
        writer.close()
        listed = index_ids(layout)
        assert "req-077777" in listed
        assert len(listed) > 2, "the flush waited for the whole purge"  # expired ones are left
    finally:
        flushed.set()
        purger.join(10)
        index.close()
    assert results[0].index_rows == 10
    assert index_ids(layout) == ["req-077777", "req-999999"]
    assert sorted(r["requestId"] for r in s3_records(layout)) == ["req-077777", "req-999999"]
    assert sorted(r["requestId"] for r in cloudwatch_records(layout)) == ["req-077777", "req-999999"]
    assert not list(layout.s3_root.rglob("*_input.json.gz"))


def test_the_writer_writes_its_records_between_the_steps_of_its_own_purge(tmp_path, monkeypatch):
    """Audit regression: the server's writer purged at start-up (and daily) in one go, its
    records waiting in memory meanwhile. It now writes what it was given between two steps."""
    import claude_bedrock.adapters.invocation_log.retention as retention

    monkeypatch.setattr(retention, "STEP_ROWS", 2, raising=False)
    layout = _expired_logs(tmp_path, 10)
    purges_when_written = []
    real_write = InvocationLogWriter._write

    def write(self, batch, **options):
        if any(facts.request_id == "req-000042" for facts, _ in batch):
            purges_when_written.append(len(self.stats.purges))
        return real_write(self, batch, **options)

    monkeypatch.setattr(InvocationLogWriter, "_write", write)
    writer = make_writer(tmp_path, retention_days=30)
    writer.submit(call(42, at=NOW), CONFIG)
    writer.start()  # purges at start, one step before the first write cycle
    for _ in range(100):  # a flush is a write cycle, and a purge step
        if writer.stats.purges:
            break
        assert writer.flush(10)
    writer.close()
    assert purges_when_written == [0]  # written while the start-up purge was under way
    (result,) = writer.stats.purges
    assert result.index_rows == 10
    assert index_ids(layout) == ["req-000042", "req-999999"]
    assert sorted(r["requestId"] for r in s3_records(layout)) == ["req-000042", "req-999999"]


def test_a_purge_stopped_between_steps_is_consistent_and_finished_by_the_next(tmp_path, monkeypatch):
    """Every step leaves what a finished purge with an older cutoff leaves (index rows go
    before their files): a purge stopped (or killed) between two steps lists nothing whose
    files are gone, and the next purge removes the rest, empty folders included."""
    import claude_bedrock.adapters.invocation_log.retention as retention
    from claude_bedrock.adapters.invocation_log import Purge

    monkeypatch.setattr(retention, "STEP_ROWS", 2)
    monkeypatch.setattr(retention, "STEP_FILES", 1)
    layout = _expired_logs(tmp_path, 6, big_every=1)
    cutoff = cutoff_for(NOW, 30)
    index = InvocationIndex(layout.index_path)
    try:
        removed = []
        for steps in (1, 2):  # stopped in the index rows, then after them
            run = Purge(layout, cutoff, index)
            for _ in range(steps):
                assert run.step()
            run.close()
            assert not run.step()
            removed.append((run.result.index_rows, run.result.s3_objects))
            _assert_indexed_records_are_in_the_files(layout)
            if steps == 1:
                assert len(index_ids(layout)) == 5  # 2 of the 6 expired ones are gone
        assert removed == [(2, 2), (4, 4)]  # with their data objects
        run = Purge(layout, cutoff, index)
        while run.result.s3_objects == 0:  # stopped in the S3 sweep, after its first batch object
            assert run.step()
        run.close()
        assert run.result.s3_objects == 1
        _assert_indexed_records_are_in_the_files(layout)
        result = purge(layout, cutoff, index)
    finally:
        index.close()
    assert result.index_rows == 0 and result.s3_objects == 5  # the rest of the 6 batch objects
    assert index_ids(layout) == ["req-999999"]
    assert [r["requestId"] for r in s3_records(layout)] == ["req-999999"]
    assert [r["requestId"] for r in cloudwatch_records(layout)] == ["req-999999"]
    assert not list(layout.s3_root.rglob("*_input.json.gz"))
    old_day = layout.s3_root / "logs-bucket/p/AWSLogs/111122223333/BedrockModelInvocationLogs/us-west-2/2026/10/17"
    assert not old_day.exists()  # its emptied folders are removed too
    _assert_indexed_records_are_in_the_files(layout)


def test_index_purge_with_a_limit_removes_the_oldest_rows_and_gives_their_objects(tmp_path):
    layout = _expired_logs(tmp_path, 5, big_every=2)  # data objects for req 0, 2, 4
    index = InvocationIndex(layout.index_path)
    try:
        rows, uris = index.purge(cutoff_for(NOW, 30), limit=3)
        assert rows == 3 and len(uris) == 2 and all("/req-00000" in uri for uri in uris)
        assert sorted(uri.rsplit("/", 1)[1] for uri in uris) == ["req-000000_input.json.gz",
                                                                  "req-000002_input.json.gz"]
        assert index.purge(cutoff_for(NOW, 30), limit=3)[0] == 2
        assert index.purge(cutoff_for(NOW, 30), limit=3) == (0, [])
    finally:
        index.close()
    assert index_ids(layout) == ["req-999999"]


def test_the_writer_stops_its_purge_between_two_steps_at_shutdown(tmp_path, monkeypatch):
    """A server stopping during a long purge waited for all of it (``close`` gives up after
    60 s): it now stops between two steps, and the next purge finishes the work."""
    import claude_bedrock.adapters.invocation_log.retention as retention
    from claude_bedrock.adapters.invocation_log import Purge
    from claude_bedrock.adapters.invocation_log.writer import _STOP

    monkeypatch.setattr(retention, "STEP_ROWS", 1)
    layout = _expired_logs(tmp_path, 10)
    writer = make_writer(tmp_path, retention_days=30)
    real_step = Purge.step
    steps = []

    def step(self):
        steps.append(self)
        if len(steps) == 1:
            writer._queue.put(_STOP)  # the shutdown arrives during the start-up purge's first step
        return real_step(self)

    monkeypatch.setattr(Purge, "step", step)
    writer.start()
    writer.close()
    assert len(steps) == 1 and steps[0].done and steps[0].result.index_rows == 1
    assert not writer.stats.purges
    assert len(index_ids(layout)) == 10  # 9 expired ones wait for the next purge
    writer = make_writer(tmp_path, retention_days=30)
    assert writer.purge_now().index_rows == 9
    assert index_ids(layout) == ["req-999999"]


def test_a_record_older_than_the_cutoff_flushed_between_steps_is_not_listed_without_its_files(tmp_path, monkeypatch):
    """Review regression: ``logs purge --older-than-days 0`` beside a running server (cutoff:
    now). A call that started before the cutoff and ended after the purge's index rows were
    done was flushed between two steps; the time-dated sweep then removed its S3 batch and
    CloudWatch line while the index kept listing it (writer Rule 3 broken: 'rows before
    files' held for the rows there when the purge began only). Rows flushed since, older than
    the cutoff, now go (with their data objects) in the step that removes files."""
    import claude_bedrock.adapters.invocation_log.retention as retention
    from claude_bedrock.adapters.invocation_log import Purge

    monkeypatch.setattr(retention, "STEP_ROWS", 2)
    layout = _expired_logs(tmp_path, 3)
    index = InvocationIndex(layout.index_path)
    try:
        run = Purge(layout, NOW + 1, index)  # older than 0 days, a second after the newest record
        while run.result.index_rows < 4:  # the index rows' steps: all four records, then one more look
            assert run.step()
        assert run.step()  # the last index step (fewer rows than a step: the rows are done)
        assert run.result.index_rows == 4 and run.result.s3_objects == 1  # req-000000's data object
        late = make_writer(tmp_path, retention_days=0)  # the server, flushing a call that began before
        late.submit(call(5, at=NOW - 60, input_body={"t": "q" * (LARGE_BODY_BYTES + 1)}), CONFIG)
        late.close()
        assert "req-000005" in index_ids(layout)
        run.run()
        _assert_indexed_records_are_in_the_files(layout)
        assert run.result.index_rows == 5
    finally:
        index.close()
    assert index_ids(layout) == []
    assert s3_records(layout) == [] and cloudwatch_records(layout) == []
    assert not list(layout.s3_root.rglob("*_input.json.gz"))  # its data object went with its row


def test_a_data_folder_deleted_during_the_writers_purge_ends_it_without_a_failure(tmp_path, monkeypatch, caplog):
    """Review regression: the writer's purge, run a step per cycle, kept the index it began
    with; after ``rm -rf`` of the data folder the next flush closed that index (and opened a
    new one), and the purge's next step failed on the closed one ('invocation log purge
    failed' and a traceback). The purge of a deleted folder now ends there: nothing is left."""
    import shutil

    import claude_bedrock.adapters.invocation_log.retention as retention
    from claude_bedrock.adapters.invocation_log import Purge

    monkeypatch.setattr(retention, "STEP_ROWS", 1)
    data = tmp_path / "data"
    _expired_logs(data, 6)
    writer = make_writer(data, retention_days=30)
    real_step = Purge.step

    def step(self):
        if self.result.index_rows == 2 and data.exists():  # a purge under way: the folder goes
            shutil.rmtree(data)
            writer.submit(call(8, at=NOW), CONFIG)  # and the next cycle indexes into a new one
        return real_step(self)

    monkeypatch.setattr(Purge, "step", step)
    caplog.set_level("INFO", logger="claude_bedrock.invocation_log")
    writer.start()
    for _ in range(100):  # a flush is a write cycle, and a purge step
        assert writer.flush(10)
        if writer._purging is None:
            break
    writer.close()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], [r.getMessage() for r in caplog.records]
    assert index_ids(LogLayout(data)) == ["req-000008"]
