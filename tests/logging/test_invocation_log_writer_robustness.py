"""Review regressions: one record the writer cannot encode is skipped, it does not kill the
writer thread (which would lose every later record); hostile key prefixes still give file
names the file system takes."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from pathlib import Path, PureWindowsPath

import pytest

from claude_bedrock.adapters.invocation_log import InvocationLogWriter, LogLayout
from claude_bedrock.adapters.invocation_log.index import InvocationIndex, LogQuery
from claude_bedrock.adapters.invocation_log.layout import _segment
from claude_bedrock.domain.catalog import default_catalog
from claude_bedrock.domain.invocation_log import DeliveryConfig, S3Location
from claude_bedrock.service.calls import CallRecord

NOW = 1_795_716_000.0  # 2026-11-26T18:00:00Z
CONFIG = DeliveryConfig(s3=S3Location("logs-bucket", "p/"), log_group="/aws/bedrock/inv", text=True)


def call(n: int, input_body: object = None) -> CallRecord:
    return CallRecord(
        request_id=f"req-{n:06d}", operation="Converse", account_id="111122223333", region="us-west-2",
        identity_arn="arn:aws:iam::111122223333:user/alice",
        model_id="anthropic.claude-sonnet-4-5-20250929-v1:0", started_at=NOW,
        resolved_model_id="anthropic.claude-sonnet-4-5-20250929-v1:0",
        input_body=input_body if input_body is not None else {"messages": [{"role": "user", "content": "q"}]},
        output_body={"output": {}}, usage={"inputTokens": 1, "outputTokens": 1},
    )


def too_deep(depth: int = 252) -> dict:
    """A body orjson encodes alone but not inside the record (which adds levels; 255 max)."""
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def writer_for(path: Path) -> InvocationLogWriter:
    return InvocationLogWriter(LogLayout(path), catalog=default_catalog(), clock=lambda: NOW,
                               flush_interval_s=0.05)


def s3_request_ids(root: Path) -> list[str]:
    ids = []
    for path in sorted(root.rglob("*.json.gz")):
        ids += [json.loads(line)["requestId"] for line in gzip.decompress(path.read_bytes()).splitlines()]
    return ids


def test_writer_survives_a_record_it_cannot_encode(tmp_path):
    writer = writer_for(tmp_path)
    writer.start()
    writer.submit(call(1), CONFIG)
    writer.submit(call(2, input_body=too_deep()), CONFIG)  # orjson stops at 255 levels: stdlib json
    writer.submit(call(3, input_body=too_deep(5_000)), CONFIG)  # beyond both: skipped
    writer.submit(call(4), CONFIG)
    assert writer.flush(timeout=10)
    writer.submit(call(5), CONFIG)
    assert writer.flush(timeout=10), "the writer thread died"
    writer.close()
    assert sorted(s3_request_ids(tmp_path / "s3")) == ["req-000001", "req-000002", "req-000004", "req-000005"]


def test_writer_key_prefix_with_nul_or_long_segment_is_delivered(tmp_path):
    writer = writer_for(tmp_path)
    writer.submit(call(1), DeliveryConfig(s3=S3Location("logs-bucket", "a\x00b/"), text=True))
    writer.submit(call(2), DeliveryConfig(s3=S3Location("logs-bucket", "x" * 300 + "/"), text=True))
    writer.submit(call(3), DeliveryConfig(log_group="/aws/" + "g" * 500, text=True))
    writer.close()
    assert writer.stats.failures == 0
    assert sorted(s3_request_ids(tmp_path / "s3")) == ["req-000001", "req-000002"]
    assert len(list((tmp_path / "cloudwatch").rglob("*.jsonl"))) == 1


@pytest.mark.parametrize("prefix", ["..\\..\\..\\escape", "D:escape", "D:\\escape", "\\\\host\\share", "a:b\\c",
                                    'why?/*all*/"q"/<a|b>/tab\there'])
def test_key_segments_are_one_windows_file_name_each(monkeypatch, prefix):
    """Audit regression: on Windows ``\\`` separates folders and ``D:`` names a drive, so the
    key prefix ``..\\..\\..\\escape`` (any text up to 1024 characters) filed the batches outside
    the bucket folder, and ``D:escape`` on another drive; ``?`` or a tab in a prefix made every
    write of its batches fail (layout Rules 1 and 4)."""
    with monkeypatch.context() as windows:
        windows.setattr(os, "name", "nt")
        segments = [_segment(part) for part in f"{prefix}/20261126T180000000Z_ab.json.gz".split("/")]
    bucket = PureWindowsPath("C:/data/s3/logs-bucket")
    assert bucket.joinpath(*segments).relative_to(bucket).parts == tuple(segments)
    assert not [name for name in segments if re.search(r'[\\/:<>"|?*\x00-\x1f]', name)]


@pytest.mark.skipif(os.name == "nt", reason="POSIX file names")
def test_key_segments_keep_backslashes_and_colons_on_posix():
    """Rule 4 is Windows' alone: elsewhere they are ordinary characters of a file name."""
    assert _segment("a:b\\c") == "a:b\\c"


def test_writer_follows_a_data_folder_deleted_while_running(tmp_path):
    """Review regression: after ``rm -rf`` of the data folder the writer went on indexing into
    the deleted index file, so ``claude-bedrock logs`` never saw the later records."""
    data = tmp_path / "data"
    writer = writer_for(data)
    writer.start()
    writer.submit(call(1), CONFIG)
    assert writer.flush(timeout=10)
    shutil.rmtree(data)
    writer.submit(call(2), CONFIG)
    assert writer.flush(timeout=10)
    writer.close()
    index = InvocationIndex.open_existing(LogLayout(data).index_path)
    try:
        assert [hit.record["requestId"] for hit in index.query(LogQuery())] == ["req-000002"]
    finally:
        index.close()


def test_writer_dot_log_groups_stay_in_their_own_folder(tmp_path):
    """Review regression: the log group names ``..`` and ``.`` (which the logGroupName pattern
    ``[.\\-_/#A-Za-z0-9]+`` admits) were folder names as they are, so ``..`` filed the events
    of us-west-2 in the account folder as a region of their own, and ``.`` in the region folder
    as a log group named like the stream (layout Rule 2: names never nest or collide)."""
    writer = writer_for(tmp_path)
    writer.submit(call(1), DeliveryConfig(log_group="..", text=True))
    writer.submit(call(2), DeliveryConfig(log_group=".", text=True))
    writer.close()
    assert writer.stats.failures == 0
    region = tmp_path / "cloudwatch" / "111122223333" / "us-west-2"
    files = sorted(p.relative_to(tmp_path / "cloudwatch").parts for p in (tmp_path / "cloudwatch").rglob("*.jsonl"))
    assert len(files) == 2
    for parts in files:
        assert parts[:2] == ("111122223333", "us-west-2") and len(parts) == 5, parts
    assert sorted(LogLayout.log_group_of(p.parent.parent.name) for p in region.rglob("*.jsonl")) == [".", ".."]


def test_a_failed_write_under_a_hostile_key_prefix_is_logged_on_one_line(tmp_path, monkeypatch, caplog):
    """Audit: a keyPrefix is any text (1024 characters), and a failed write logs the object's
    s3:// URI: a prefix holding a line break forged a log line, an escape sequence drove the
    terminal of whoever read the server's log."""
    from claude_bedrock.adapters.invocation_log.s3_folder import S3FolderSink

    def broken(self, bucket, key, body):
        raise OSError("bucket folder unwritable")

    monkeypatch.setattr(S3FolderSink, "put", broken)
    writer = writer_for(tmp_path)
    writer.start()
    writer.submit(call(1), DeliveryConfig(s3=S3Location("logs-bucket", "p\n2026-01-01 CRITICAL forged\x1b[2J/"),
                                          text=True))
    writer.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "claude_bedrock.invocation_log"]
    assert any("p\\n2026-01-01 CRITICAL forged\\x1b[2J/" in m for m in messages), messages
    assert not [m for m in messages if not m.isprintable()], messages
