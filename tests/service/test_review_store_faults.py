"""Review regressions: state-store faults as a server operator meets them.

* A control-plane write that waits on another process's lock on the state database (a second
  server, an ``sqlite3`` shell) blocked the event loop for SQLite's whole busy timeout: every
  other request, InvokeModel included, stalled behind it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from claude_bedrock.adapters.store import DATABASE_FILE_NAME
from tests.support.servers import ACCESS_KEY, CONFIG_TOML, REGION, SECRET_KEY, RunningServer, start_server

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
BODY = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
                   "messages": [{"role": "user", "content": "hi"}]})


@pytest.fixture
def server(tmp_path: Path):
    running = start_server(tmp_path, config=CONFIG_TOML)
    yield running
    running.stop()


def _client(server: RunningServer, service: str):
    return boto3.client(service, region_name=REGION, endpoint_url=server.url, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY,
                        config=Config(retries={"total_max_attempts": 1}, read_timeout=60))


def test_review_locked_store_write_does_not_stall_invoke_model(server: RunningServer):
    bedrock, runtime = _client(server, "bedrock"), _client(server, "bedrock-runtime")
    outcome: dict[str, object] = {}
    with closing(sqlite3.connect(server.data_dir / DATABASE_FILE_NAME, isolation_level=None)) as holder:
        holder.execute("BEGIN EXCLUSIVE")  # another process's write lock on the state database

        def write() -> None:
            outcome["status"] = bedrock.put_use_case_for_model_access(formData=b"x" * 20)[
                "ResponseMetadata"]["HTTPStatusCode"]

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.5)  # the write is waiting on the lock
        started = time.monotonic()
        answer = json.loads(runtime.invoke_model(modelId=MODEL, body=BODY)["body"].read())
        invoke_s = time.monotonic() - started
        assert writer.is_alive()
        holder.execute("ROLLBACK")
    writer.join(timeout=30)
    assert answer["type"] == "message"
    assert invoke_s < 2.0, f"InvokeModel waited {invoke_s:.1f}s behind a locked control-plane write"
    assert outcome == {"status": 201}
    assert bedrock.get_use_case_for_model_access()["formData"] == b"x" * 20
