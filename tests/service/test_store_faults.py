"""Review regressions: state-store faults as a server operator meets them.

* A control-plane write that waits on another process's lock on the state database (a second
  server, an ``sqlite3`` shell) blocked the event loop for SQLite's whole busy timeout: every
  other request, InvokeModel included, stalled behind it. The admin reset (the toolkit runs it
  between tests) did the same.
* A store that could not read or write (a lock held past that timeout, a full disk, a damaged
  file) answered 500 "The server encountered an internal error." and logged a Python traceback;
  it is an InternalServerException saying the state database failed, and one log line naming
  the file and SQLite's reason.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from claude_bedrock.adapters import store as store_module
from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Settings
from tests.support.inprocess import serve_in_thread
from tests.support.servers import ACCESS_KEY, REGION, SECRET_KEY

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
BODY = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
                   "messages": [{"role": "user", "content": "hi"}]})


def _client(url: str, service: str):
    return boto3.client(service, region_name=REGION, endpoint_url=url, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY,
                        config=Config(retries={"total_max_attempts": 1}, read_timeout=60))


def _invoke_while_a_write_waits(tmp_path: Path, store_method: str, write: Callable[[str], object],
                                check: Callable[[str], object] = lambda url: None):
    """Hold another process's write lock on the state database, run ``write(url)`` in a thread
    until the store's ``store_method`` waits on that lock, then call InvokeModel. No timing:
    returns whether InvokeModel was answered while the write still waited, what ``write``
    returned, and what ``check(url)`` returns once the lock is let go."""
    app = create_app(Settings(data_dir=str(tmp_path / "data")))
    store = app.state.store
    entered, returned = threading.Event(), threading.Event()
    method = getattr(store, store_method)

    def watched(*args: object, **kwargs: object) -> object:
        entered.set()
        try:
            return method(*args, **kwargs)
        finally:
            returned.set()

    setattr(store, store_method, watched)
    outcome: list[object] = []
    try:
        with serve_in_thread(app) as url:
            with closing(sqlite3.connect(store.path, isolation_level=None)) as holder:
                holder.execute("BEGIN EXCLUSIVE")  # another process's write lock on the state database
                writer = threading.Thread(target=lambda: outcome.append(write(url)))
                writer.start()
                assert entered.wait(timeout=30)  # the write is waiting on the lock
                answer = json.loads(_client(url, "bedrock-runtime").invoke_model(modelId=MODEL, body=BODY)["body"].read())
                answered_while_waiting = not returned.is_set()
                holder.execute("ROLLBACK")
            writer.join(timeout=30)
            checked = check(url)
    finally:
        store.close()
    assert answer["type"] == "message"
    return answered_while_waiting, outcome, checked


def test_locked_store_write_does_not_stall_invoke_model(tmp_path: Path):
    # With the write on the event loop, InvokeModel was answered only once the write had given
    # up, 10 s later.
    answered_while_waiting, outcome, stored = _invoke_while_a_write_waits(
        tmp_path, "put_use_case",
        lambda url: _client(url, "bedrock").put_use_case_for_model_access(formData=b"x" * 20)[
            "ResponseMetadata"]["HTTPStatusCode"],
        lambda url: _client(url, "bedrock").get_use_case_for_model_access()["formData"])
    assert answered_while_waiting, "InvokeModel waited behind a locked control-plane write"
    assert outcome == [201] and stored == b"x" * 20


def test_admin_reset_waiting_on_a_locked_store_does_not_stall_invoke_model(tmp_path: Path):
    # The toolkit's reset (run between tests) empties the store: a write, which may wait on
    # another process's lock as any control-plane write does; it used to wait on the event loop.
    answered_while_waiting, outcome, _ = _invoke_while_a_write_waits(
        tmp_path, "reset", lambda url: httpx.post(f"{url}/_claude-bedrock/reset", timeout=60).json())
    assert answered_while_waiting, "InvokeModel waited behind the admin reset's locked write"
    assert outcome == [{"status": "reset"}]


# -- a store that cannot read or write: an AWS error, one log line -----------------------------


@pytest.fixture
def in_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A server in this process (its store reachable), SQLite's busy timeout cut to 0.2 s."""
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    app = create_app(Settings(data_dir=str(tmp_path / "data")))
    with serve_in_thread(app) as url:
        yield app, url
    app.state.store.close()


def _in_thread_client(url: str, service: str):
    return boto3.client(service, region_name=REGION, endpoint_url=url, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY, config=Config(retries={"total_max_attempts": 1}))


def _assert_one_line_error(caplog: pytest.LogCaptureFixture, path: Path, cause: str) -> None:
    """The request's error line names the file and the cause; no error line has a traceback."""
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and not [r for r in errors if r.exc_info or "\n" in r.getMessage()], errors
    request_line = [r.getMessage() for r in errors if r.name == "claude_bedrock.service"]
    assert len(request_line) == 1 and str(path) in request_line[0] and cause in request_line[0], request_line


def _assert_internal_error(excinfo: pytest.ExceptionInfo[ClientError]) -> None:
    response = excinfo.value.response
    assert response["Error"]["Code"] == "InternalServerException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "state database" in response["Error"]["Message"]
    assert "/" not in response["Error"]["Message"].replace(" (see the server log)", "")  # no path


def test_write_locked_past_the_timeout_is_an_internal_server_exception(in_thread, caplog):
    app, url = in_thread
    path = Path(app.state.store.path)
    bedrock = _in_thread_client(url, "bedrock")
    with caplog.at_level(logging.INFO), closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(ClientError) as excinfo:
            bedrock.put_model_invocation_logging_configuration(
                loggingConfig={"s3Config": {"bucketName": "my-logs"}, "textDataDeliveryEnabled": True})
        holder.execute("ROLLBACK")
    _assert_internal_error(excinfo)
    _assert_one_line_error(caplog, path, "database is locked (another process holds it")
    # The failed write left nothing behind, and the next one goes through.
    assert bedrock.get_model_invocation_logging_configuration().get("loggingConfig") is None
    bedrock.put_use_case_for_model_access(formData=b"x" * 20)
    assert bedrock.get_use_case_for_model_access()["formData"] == b"x" * 20


def test_full_disk_on_a_write_is_an_internal_server_exception(in_thread, caplog):
    app, url = in_thread
    store = app.state.store
    with store._lock:  # the file may not grow: SQLite answers as for a full disk
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")
    bedrock = _in_thread_client(url, "bedrock")
    with caplog.at_level(logging.INFO), pytest.raises(ClientError) as excinfo:
        bedrock.put_use_case_for_model_access(formData=b"x" * 16000)
    _assert_internal_error(excinfo)
    _assert_one_line_error(caplog, Path(store.path), "database or disk is full")
    with pytest.raises(ClientError) as not_found:
        bedrock.get_use_case_for_model_access()
    assert not_found.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_damaged_store_on_invoke_model_is_an_internal_server_exception(in_thread, caplog):
    app, url = in_thread
    store = app.state.store
    store.close()
    Path(store.path).write_bytes(b"not a database" * 512)  # damaged under the running server
    runtime = _in_thread_client(url, "bedrock-runtime")
    with caplog.at_level(logging.INFO), pytest.raises(ClientError) as excinfo:
        runtime.invoke_model(modelId=MODEL, body=BODY)
    _assert_internal_error(excinfo)
    _assert_one_line_error(caplog, Path(store.path), "file is not a database")
