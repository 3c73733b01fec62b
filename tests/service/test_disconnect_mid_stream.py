"""Review regression: a client that leaves mid-stream stops the stream. The ASGI server drops
writes to a closed connection silently, so without a disconnect watcher the engine ran to the
end and the call was recorded as a complete 200."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from contextlib import contextmanager
from typing import Any, AsyncIterator, Iterator
from urllib.parse import urlparse

import pytest

from claude_bedrock.domain.engine import ModelCall
from claude_bedrock.domain.errors import ThrottlingException
from claude_bedrock.domain.simulator import SimulatorEngine
from claude_bedrock.domain.tokens import count_delta
from claude_bedrock.service.app import create_app
from claude_bedrock.service.state import ServiceState
from claude_bedrock.settings import Settings

from support.inprocess import serve_in_thread

MODEL = "/model/anthropic.claude-3-haiku-20240307-v1%3A0"
INVOKE_BODY = json.dumps({"max_tokens": 1000, "messages": [{"role": "user", "content": "Tell me a long story"}],
                          "anthropic_version": "bedrock-2023-05-31"}).encode()
CONVERSE_BODY = json.dumps({"messages": [{"role": "user", "content": [{"text": "Tell me a long story"}]}],
                            "inferenceConfig": {"maxTokens": 1000}}).encode()


@contextmanager
def uvicorn_logs_to(caplog) -> Iterator[None]:
    """uvicorn's loggers do not propagate to the root: hand their records to caplog too
    (after the server configured its logging, which replaces handlers)."""
    uvicorn_logger = logging.getLogger("uvicorn")
    uvicorn_logger.addHandler(caplog.handler)
    try:
        yield
    finally:
        uvicorn_logger.removeHandler(caplog.handler)


class SlowEngine:
    """The simulator's events, 10 ms apart; counts what was pulled and whether it was closed."""

    def __init__(self) -> None:
        self.inner = SimulatorEngine(seed=0, clock=lambda: 0.0)
        self.total = self.pulled = 0
        self.closed = False
        self.events: list[dict[str, Any]] = []

    async def stream(self, call: ModelCall) -> AsyncIterator[dict[str, Any]]:
        events = self.events = self.inner.events(call)
        self.total = len(events)
        try:
            for event in events:
                await asyncio.sleep(0.01)
                self.pulled += 1
                yield event
        finally:
            self.closed = True


def _post(url: str, path: str, body: bytes) -> socket.socket:
    """A raw keep-alive POST of ``body`` to the model's ``path``, its response left unread."""
    parsed = urlparse(url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
    sock.sendall(f"POST {MODEL}{path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer dev\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return sock


def _wait_for_record(state: ServiceState) -> None:
    """Until the call is recorded (it ends after the client left), then a moment for its log."""
    deadline = time.monotonic() + 10
    while not len(state.testing.history) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)

@pytest.mark.parametrize("suffix, body", [("/invoke-with-response-stream", INVOKE_BODY),
                                          ("/converse-stream", CONVERSE_BODY)])
def test_client_leaving_mid_stream_stops_the_stream(tmp_path, caplog, suffix, body):
    engine = SlowEngine()
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=engine)
    app = create_app(state=state)
    caplog.set_level(logging.DEBUG)
    with serve_in_thread(app) as url, uvicorn_logs_to(caplog):
        sock = _post(url, suffix, body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        time.sleep(0.05)
        sock.close()
        _wait_for_record(state)
    (entry,) = state.testing.history.entries()
    assert entry.record.error_code == "ClientDisconnected"
    assert entry.record.status == 0
    assert engine.closed
    assert engine.total > 30 and engine.pulled < engine.total - 10
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not problems, [r.getMessage() for r in problems]


class FailingLateEngine:
    """Would raise an AWS error before its first event, after the client has gone (the client
    leaving ends its wait first)."""

    async def stream(self, call: ModelCall) -> AsyncIterator[dict[str, Any]]:
        await asyncio.sleep(0.3)
        raise ThrottlingException("Too many requests, please wait before trying again.")
        yield {}  # pragma: no cover - makes this an async generator


def test_error_for_a_client_that_left_before_the_stream_logs_nothing(tmp_path, caplog):
    # The client leaving ends the engine's wait for its first event (test_disconnect_during_latency):
    # the call is cut short there, before the engine's error.
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=FailingLateEngine())
    app = create_app(state=state)
    caplog.set_level(logging.DEBUG)
    with serve_in_thread(app) as url, uvicorn_logs_to(caplog):
        sock = _post(url, "/converse-stream", CONVERSE_BODY)
        time.sleep(0.1)
        sock.close()
        _wait_for_record(state)
    (entry,) = state.testing.history.entries()
    assert entry.record.error_code == "ClientDisconnected"
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not problems, [r.getMessage() for r in problems]


@pytest.mark.parametrize("suffix, body", [("/invoke-with-response-stream", INVOKE_BODY),
                                          ("/converse-stream", CONVERSE_BODY)])
def test_client_leaving_mid_stream_records_the_tokens_produced(tmp_path, suffix, body):
    # Bedrock bills the tokens generated up to the cut: the record counts the content deltas the
    # engine produced (not only message_start's output count, nor the whole answer's).
    engine = SlowEngine()
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=engine)
    with serve_in_thread(create_app(state=state)) as url:
        sock = _post(url, suffix, body)
        received = b""
        while received.count(b":message-type") < 8:  # a few events
            received += sock.recv(65536)
        sock.close()
        _wait_for_record(state)
    (entry,) = state.testing.history.entries()
    assert entry.record.error_code == "ClientDisconnected"
    events = engine.events
    produced = [sum(count_delta(e["delta"]) for e in events[:n] if e["type"] == "content_block_delta")
                for n in (engine.pulled - 1, engine.pulled)]  # the last one pulled may be unread
    assert entry.record.usage["outputTokens"] in produced
    assert 1 < entry.record.usage["outputTokens"] < events[-2]["usage"]["output_tokens"]


class ReadyFloodEngine:
    """A long answer whose events are all ready: the stream never waits on the engine, only on
    the socket (as a scripted reply, or any answer the testing toolkit wraps)."""

    DELTAS = 8000  # 4 KB each: far more than the socket buffers hold
    TEXT = "word " * 800

    def __init__(self) -> None:
        self.pulled = 0
        self.closed = False

    async def stream(self, call: ModelCall) -> AsyncIterator[dict[str, Any]]:
        usage = {"input_tokens": 8, "output_tokens": 1}
        events = [{"type": "message_start", "message": {"model": call.anthropic_name, "id": call.message_id,
                                                        "type": "message", "role": "assistant", "content": [],
                                                        "stop_reason": None, "stop_sequence": None,
                                                        "usage": usage}},
                  {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}]
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": self.TEXT}}
        tail = [{"type": "content_block_stop", "index": 0},
                {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                 "usage": {"output_tokens": 800 * self.DELTAS}},
                {"type": "message_stop"}]
        try:
            for event in [*events, *[delta] * self.DELTAS, *tail]:
                self.pulled += 1
                yield event
        finally:
            self.closed = True


@pytest.mark.parametrize("suffix, body", [("/invoke-with-response-stream", INVOKE_BODY),
                                          ("/converse-stream", CONVERSE_BODY)])
def test_client_leaving_a_ready_stream_stops_it(tmp_path, suffix, body):
    # Audit regression: the disconnect watcher started only when the engine made the stream
    # wait, so a stream whose events were all ready (a scripted reply, an answer the toolkit
    # wraps) went on writing to nobody once the writes unblocked, and was recorded as a
    # complete 200 (and a scripted turn was not handed back).
    engine = ReadyFloodEngine()
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=engine)
    with serve_in_thread(create_app(state=state)) as url:
        sock = _post(url, suffix, body)
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")  # the writes then wait for this reader
        sock.close()
        _wait_for_record(state)
    (entry,) = state.testing.history.entries()
    assert entry.record.error_code == "ClientDisconnected"
    assert engine.closed
    assert engine.pulled < ReadyFloodEngine.DELTAS


def test_client_gone_between_two_events_closes_the_engine_stream_after_its_step_in_flight(tmp_path):
    """The client's leaving is seen during a write (not during a wait on the engine) while the
    engine's next step has begun: that step is let finish, then the engine's stream is closed
    (an async generator cannot be closed while it runs; closing it at once failed and left it
    open)."""
    engine = SlowEngine()
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=engine)
    app = create_app(state=state)
    path = MODEL + "/invoke-with-response-stream"
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"authorization", b"Bearer dev"), (b"host", b"localhost")], "client": ("127.0.0.1", 5000)}

    async def run() -> bool:
        left = asyncio.Event()
        bodies = [{"type": "http.request", "body": INVOKE_BODY, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if bodies:
                return bodies.pop()
            await left.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and not left.is_set():
                left.set()  # the client leaves during the first write: the watch sees it now
                for _ in range(5):
                    await asyncio.sleep(0)

        await app(scope, receive, send)
        return engine.closed

    closed = asyncio.run(run())
    state.store.close()
    (entry,) = state.testing.history.entries()
    assert entry.record.error_code == "ClientDisconnected"
    assert closed and engine.pulled <= 3
