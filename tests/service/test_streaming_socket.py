"""Streams leave the server one frame per event, as produced, over a real socket.

An engine that blocks after its first events proves it without timing: the client must read
those frames while the engine is still blocked (an ASGI transport in-process would buffer)."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any, AsyncIterator
from urllib.parse import urlparse

import asyncio

import pytest

from claude_bedrock.domain.engine import ModelCall
from claude_bedrock.domain.errors import ThrottlingException
from claude_bedrock.domain.simulator import SimulatorEngine
from claude_bedrock.service.app import create_app
from claude_bedrock.service.state import ServiceState
from claude_bedrock.settings import Settings
from claude_bedrock.wire.eventstream import EventStreamDecoder, decode_chunk_payload
from claude_bedrock.wire.sigv4 import HttpRequest, sign

from support.inprocess import serve_in_thread

BODY = json.dumps({"max_tokens": 100, "messages": [{"role": "user", "content": "Hello"}],
                   "anthropic_version": "bedrock-2023-05-31"}).encode()
PATH = "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"


class GatedEngine:
    """Yields the simulator's first three events, then waits for a gate (or raises)."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.inner = SimulatorEngine(seed=0, clock=lambda: 0.0)
        self.gate = threading.Event()
        self.fail_with = fail_with

    async def stream(self, call: ModelCall) -> AsyncIterator[dict[str, Any]]:
        events = self.inner.events(call)
        for event in events[:3]:
            yield event
        while not self.gate.is_set():
            await asyncio.sleep(0.005)
        if self.fail_with is not None:
            raise self.fail_with
        for event in events[3:]:
            yield event


def _signed_post(url: str, path: str, body: bytes) -> http.client.HTTPResponse:
    parsed = urlparse(url)
    host = f"{parsed.hostname}:{parsed.port}"
    request = HttpRequest("POST", path, "", [("host", host)], body)
    from datetime import datetime, timezone

    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = dict(sign(request, "AKIDANY", "secret", "us-west-2", "bedrock", amz_date))
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    connection.request("POST", path, body=body, headers=headers)
    return connection.getresponse()


def _read_frames(response: http.client.HTTPResponse, decoder: EventStreamDecoder, count: int) -> list:
    frames = []
    while len(frames) < count:
        data = response.read1(65536)
        assert data, "stream ended early"
        decoder.feed(data)
        while (message := decoder.next_message()) is not None:
            frames.append(message)
    return frames


def test_stream_frames_arrive_before_the_engine_finishes(tmp_path):
    engine = GatedEngine()
    app = create_app(state=ServiceState(Settings(data_dir=str(tmp_path)), engine=engine))
    with serve_in_thread(app) as url:
        response = _signed_post(url, PATH, BODY)
        assert response.status == 200
        assert response.getheader("content-type") == "application/vnd.amazon.eventstream"
        assert response.getheader("x-amzn-bedrock-content-type") == "application/json"
        decoder = EventStreamDecoder()
        first = _read_frames(response, decoder, 3)  # the engine is still blocked here
        assert not engine.gate.is_set()
        types = [json.loads(decode_chunk_payload(m.payload))["type"] for m in first]
        assert types[0] == "message_start"
        engine.gate.set()
        rest = response.read()
        decoder.feed(rest)
        last = list(decoder)[-1]
        assert json.loads(decode_chunk_payload(last.payload))["type"] == "message_stop"


def test_error_after_stream_start_becomes_exception_frame(tmp_path):
    engine = GatedEngine(fail_with=ThrottlingException("Too many requests, please wait before trying again."))
    engine.gate.set()
    app = create_app(state=ServiceState(Settings(data_dir=str(tmp_path)), engine=engine))
    with serve_in_thread(app) as url:
        response = _signed_post(url, PATH, BODY)
        assert response.status == 200
        decoder = EventStreamDecoder()
        decoder.feed(response.read())
        messages = list(decoder)
    assert len(messages) == 4
    final = messages[-1]
    assert final.header(":message-type") == "exception"
    assert final.header(":exception-type") == "throttlingException"
    assert json.loads(final.payload)["message"] == "Too many requests, please wait before trying again."


def test_unexpected_engine_failure_becomes_model_stream_error_frame(tmp_path):
    engine = GatedEngine(fail_with=RuntimeError("upstream broke"))
    engine.gate.set()
    app = create_app(state=ServiceState(Settings(data_dir=str(tmp_path)), engine=engine))
    with serve_in_thread(app) as url:
        response = _signed_post(url, PATH, BODY)
        decoder = EventStreamDecoder()
        decoder.feed(response.read())
        final = list(decoder)[-1]
    assert final.header(":exception-type") == "modelStreamErrorException"
    payload = json.loads(final.payload)
    assert payload["originalStatusCode"] == 500


def _call_app(app, body: bytes, send) -> None:
    """Call the app directly (no server) with a signed InvokeModelWithResponseStream."""
    from datetime import datetime, timezone

    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = [("host", "127.0.0.1:8787")]
    headers += sign(HttpRequest("POST", PATH, "", headers, body), "AKIDANY", "secret", "us-west-2", "bedrock",
                    amz_date)
    scope = {"type": "http", "method": "POST", "path": PATH.replace("%3A", ":"), "raw_path": PATH.encode(),
             "query_string": b"", "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
             "client": ("127.0.0.1", 1)}
    incoming = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        if incoming:
            return incoming.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    asyncio.run(app(scope, receive, send))


def _frames_per_write(tmp_path, body: bytes, **settings: Any) -> list[int]:
    """The event-stream frames in each body write of the app's answer."""
    writes: list[bytes] = []
    ends: list[bool] = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body":
            assert message.get("body"), "every body write carries frames (the end rides on the last)"
            writes.append(message["body"])
            ends.append(not message.get("more_body", False))

    _call_app(create_app(Settings(data_dir=str(tmp_path), **settings)), body, send)
    assert ends[-1] and not any(ends[:-1])  # the last frames end the response, in one write
    frames_per_write = []
    for data in writes:
        decoder = EventStreamDecoder()
        decoder.feed(data)
        frames_per_write.append(len(list(decoder)))
    return frames_per_write


def test_a_short_ready_answer_leaves_in_one_write(tmp_path):
    """An answer that is ready at once and short (MAX_EVENTS_WITH_FIRST) goes in one write with
    its first event, which ends the response (not one write per frame)."""
    from claude_bedrock.service.stream_runtime import MAX_EVENTS_WITH_FIRST

    frames_per_write = _frames_per_write(tmp_path, BODY)
    assert len(frames_per_write) == 1 and 5 < frames_per_write[0] <= MAX_EVENTS_WITH_FIRST + 1, frames_per_write


def test_a_long_ready_answer_leaves_in_writes_of_at_most_64_frames(tmp_path):
    from claude_bedrock.service.stream_runtime import MAX_FRAMES_PER_WRITE

    words = " ".join(f"word{n}" for n in range(600))  # echoed back in pieces of a few words
    body = json.dumps({"max_tokens": 4000, "anthropic_version": "bedrock-2023-05-31",
                       "messages": [{"role": "user", "content": words}]}).encode()
    frames_per_write = _frames_per_write(tmp_path, body, simulator_mode="echo")
    assert frames_per_write[0] == 1
    assert sum(frames_per_write) > 2 * MAX_FRAMES_PER_WRITE, frames_per_write  # a long answer...
    assert max(frames_per_write) == MAX_FRAMES_PER_WRITE  # ...in full writes, the last one partial
    assert all(n == MAX_FRAMES_PER_WRITE for n in frames_per_write[1:-1]), frames_per_write


@pytest.mark.parametrize("long_answer", [False, True], ids=["short: one write", "long: first alone, then the rest"])
def test_a_client_gone_when_the_rest_of_a_ready_answer_is_written_is_recorded(tmp_path, long_answer):
    """The rest of a ready answer leaves in the stream's last write (with the first event when
    the answer is short): a client found gone then is recorded as such (status 0,
    ClientDisconnected), like one that leaves mid-stream."""
    from claude_bedrock.service.http import ClientDisconnected

    body = BODY
    if long_answer:
        words = " ".join(f"word{n}" for n in range(600))
        body = json.dumps({"max_tokens": 4000, "anthropic_version": "bedrock-2023-05-31",
                           "messages": [{"role": "user", "content": words}]}).encode()
    app = create_app(Settings(data_dir=str(tmp_path), simulator_mode="echo"))
    bodies: list[bytes] = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body":
            if not message.get("more_body", False):  # the last write: the client is gone
                raise ClientDisconnected()
            bodies.append(message["body"])

    _call_app(app, body, send)
    (entry,) = app.state.testing.history.entries()
    assert (entry.record.status, entry.record.error_code) == (0, "ClientDisconnected")
    assert bool(bodies) == long_answer  # the long answer's first event (and full writes) went out
