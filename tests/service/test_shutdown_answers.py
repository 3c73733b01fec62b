"""Audit regression: a whole call (InvokeModel, Converse) still running when a SIGTERM/SIGINT
shutdown's grace period ended got uvicorn's plain-text ``500 Internal Server Error``, with no
``x-amzn-RequestId`` and no AWS error type (boto3 and the anthropic SDK saw an unparseable 500),
while it was recorded as ``Cancelled`` with status 0. It is now a 503
ServiceUnavailableException (botocore's bedrock-runtime model lists it for every runtime
operation; botocore retries a 503, the anthropic SDK any 5xx), recorded as such; a stream
already started ends with a ``serviceUnavailableException`` frame.

Deterministic: the engine holds every call until it is cancelled, and the server is stopped
only once the call is held."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import threading
from typing import Any, AsyncIterator
from urllib.parse import urlparse

import pytest

from claude_bedrock.domain.engine import ModelCall
from claude_bedrock.domain.simulator import SimulatorEngine
from claude_bedrock.service.app import create_app
from claude_bedrock.service.state import ServiceState
from claude_bedrock.settings import Settings

from support.inprocess import serve_in_thread

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
GRACE_S = 0.2


class HoldingEngine:
    """The simulator's first ``events_before_hold`` events, then holds the call until cancelled."""

    def __init__(self, events_before_hold: int = 0) -> None:
        self.inner = SimulatorEngine(seed=0, clock=lambda: 0.0)
        self.events_before_hold = events_before_hold
        self.holding = threading.Event()

    async def stream(self, call: ModelCall) -> AsyncIterator[dict[str, Any]]:
        for event in self.inner.events(call)[: self.events_before_hold]:
            yield event
        self.holding.set()
        await asyncio.Event().wait()


def _stop_during_call(tmp_path, engine: HoldingEngine, call) -> tuple[Any, Any]:
    """Run ``call(url)`` in a thread, stop the server once the engine holds it; (what the call
    returned or raised, the call's record)."""
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=engine)
    outcome: list[Any] = []

    def client(url: str) -> None:
        try:
            outcome.append(call(url))
        except Exception as exc:  # noqa: BLE001 - what the client raised is the result
            outcome.append(exc)

    with serve_in_thread(create_app(state=state), timeout_graceful_shutdown=GRACE_S) as url:
        thread = threading.Thread(target=client, args=(url,), daemon=True)
        thread.start()
        assert engine.holding.wait(10)
    thread.join(10)
    (entry,) = state.testing.history.entries()
    return outcome[0], entry.record


def _boto3(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIAEXAMPLE",
                        aws_secret_access_key="secret", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


def _invoke_body() -> str:
    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                       "messages": [{"role": "user", "content": "Hello"}]})


@pytest.mark.parametrize("operation", ["invoke_model", "converse"])
def test_whole_call_cut_by_shutdown_is_a_503_boto3_parses(tmp_path, operation):
    def call(url: str) -> Any:
        client = _boto3(url)
        if operation == "converse":
            return client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hello"}]}])
        return client.invoke_model(modelId=MODEL, body=_invoke_body())

    error, record = _stop_during_call(tmp_path, HoldingEngine(), call)
    assert type(error).__name__ == "ServiceUnavailableException", error
    response = error.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert response["ResponseMetadata"]["RequestId"] == record.request_id
    assert "Retry your request" in response["Error"]["Message"]
    assert (record.status, record.error_code) == (503, "ServiceUnavailableException")


def test_whole_call_cut_by_shutdown_is_a_503_the_anthropic_sdk_parses(tmp_path):
    import anthropic

    def call(url: str) -> Any:
        client = anthropic.AnthropicBedrock(base_url=url, aws_region="us-east-1", aws_access_key="AKIAEXAMPLE",
                                            aws_secret_key="secret", max_retries=0)
        return client.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hello"}])

    error, record = _stop_during_call(tmp_path, HoldingEngine(), call)
    assert isinstance(error, anthropic.APIStatusError) and error.status_code == 503, error
    assert error.response.headers["x-amzn-requestid"] == record.request_id
    assert error.response.headers["x-amzn-errortype"].startswith("ServiceUnavailableException")
    assert (record.status, record.error_code) == (503, "ServiceUnavailableException")


def test_stream_cut_by_shutdown_ends_with_an_exception_frame(tmp_path):
    def call(url: str) -> Any:
        stream = _boto3(url).invoke_model_with_response_stream(modelId=MODEL, body=_invoke_body())["body"]
        events = []
        try:
            for event in stream:
                events.append(event)
        except Exception as exc:  # noqa: BLE001
            return events, exc
        return events, None

    (events, error), record = _stop_during_call(tmp_path, HoldingEngine(events_before_hold=3), call)
    assert [list(event) for event in events] == [["chunk"]] * 3
    assert error is not None and error.response["Error"]["Code"] == "serviceUnavailableException", error
    assert (record.status, record.error_code) == (503, "ServiceUnavailableException")
    assert [event["type"] for event in record.output_body] == ["message_start", "content_block_start",
                                                               "content_block_delta"]


class BackedUpEngine:
    """An answer whose text is more than the sockets' buffers hold, then a step that waits
    for ever: with a client that reads nothing, the writer waits on the socket while that step
    has begun (the engine's async generator is mid-step, not awaited). Notes whether its
    stream's clean-up ran (a gateway's closes its upstream response there)."""

    def __init__(self) -> None:
        self.inner = SimulatorEngine(seed=0, clock=lambda: 0.0)
        self.holding = threading.Event()
        self.closed = False

    async def stream(self, call: ModelCall) -> AsyncIterator[dict[str, Any]]:
        start, block = self.inner.events(call)[:2]
        try:
            yield start
            yield block
            yield {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x" * 8_000_000}}
            await asyncio.sleep(0.01)  # the huge frame is written meanwhile: the socket backs up
            yield {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "y"}}
            self.holding.set()  # the writer now waits on the socket, this step begun
            await asyncio.Event().wait()
        finally:
            self.closed = True


def test_stream_cut_by_shutdown_while_its_writes_wait_closes_the_engine_stream_quietly(tmp_path, caplog):
    """Regression: the server stopping while a stream's write waited on a client reading nothing,
    the engine's next step begun, left the engine's async generator mid-step: never closed (a
    gateway's upstream response stayed open), and asyncio logged "aclose(): asynchronous
    generator is already running" (a gateway: a dozen such errors and an anyio traceback)."""
    engine = BackedUpEngine()
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=engine)
    body = _invoke_body().encode()
    caplog.set_level(logging.WARNING, logger="asyncio")
    with serve_in_thread(create_app(state=state), timeout_graceful_shutdown=GRACE_S) as url:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that reads nothing
        sock.connect((urlparse(url).hostname, urlparse(url).port))
        sock.sendall(f"POST /model/{MODEL.replace(':', '%3A')}/invoke-with-response-stream HTTP/1.1\r\n"
                     f"Host: localhost\r\nAuthorization: Bearer dev\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                     + body)
        assert engine.holding.wait(10)
    sock.close()
    gc.collect()  # an unclosed generator's failed aclose() is logged when its task is collected
    assert engine.closed
    (entry,) = state.testing.history.entries()
    assert (entry.record.status, entry.record.error_code) == (503, "ServiceUnavailableException")
    problems = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert not problems, problems
