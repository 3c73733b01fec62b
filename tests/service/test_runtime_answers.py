"""What the runtime operations answer and record, seen from the client and the call record:
the prompt-cache headers of a whole InvokeModel, ConverseStream's padding, the streamed flag of
each operation's record, the model identifiers CountTokens takes, and the final output count."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest

from claude_bedrock.service.app import create_app
from claude_bedrock.service.chunk_frames import padding
from claude_bedrock.service.runtime import UsageTracker
from claude_bedrock.service.state import ServiceState
from claude_bedrock.settings import Settings
from claude_bedrock.wire.eventstream import decode_messages

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
BEARER = {"authorization": "Bearer any-development-key", "content-type": "application/json"}
INVOKE = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
          "messages": [{"role": "user", "content": "Tell me about volcanoes."}]}
CONVERSE = {"messages": [{"role": "user", "content": [{"text": "Tell me about volcanoes."}]}],
            "inferenceConfig": {"maxTokens": 64}}


def call(app, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
            return await client.post(path, content=json.dumps(body).encode(), headers=headers or BEARER)

    return asyncio.run(go())


@pytest.fixture
def state(tmp_path):
    state = ServiceState(Settings(data_dir=str(tmp_path)))
    yield state
    state.store.close()


def test_a_whole_invoke_that_only_writes_the_cache_reports_it_in_its_headers(state):
    """The first call of a cached prompt writes the cache and reads nothing: the cache headers
    are there, the write its count and the read 0 (as the usage says)."""
    body = {**INVOKE, "system": [{"type": "text", "text": "word " * 1500, "cache_control": {"type": "ephemeral"}}]}
    response = call(create_app(state=state), f"/model/{SONNET}/invoke", body)
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]
    assert usage["cache_creation_input_tokens"] > 0 and usage["cache_read_input_tokens"] == 0
    assert response.headers["x-amzn-bedrock-cache-write-input-token-count"] == str(usage["cache_creation_input_tokens"])
    assert response.headers["x-amzn-bedrock-cache-read-input-token-count"] == "0"


def test_converse_stream_pads_each_event_by_its_position(state):
    response = call(create_app(state=state), f"/model/{SONNET}/converse-stream", CONVERSE)
    assert response.status_code == 200, response.text
    pads = [json.loads(message.payload)["p"] for message in decode_messages(response.content)]
    assert len(pads) > 3 and pads == [padding(index) for index in range(len(pads))]


@pytest.mark.parametrize(("operation", "body", "streamed"), [
    ("invoke", INVOKE, False), ("invoke-with-response-stream", INVOKE, True),
    ("converse", CONVERSE, False), ("converse-stream", CONVERSE, True),
])
def test_a_call_record_says_whether_the_answer_was_streamed(state, operation, body, streamed):
    records: list[Any] = []
    state.observers.append(records.append)
    assert call(create_app(state=state), f"/model/{SONNET}/{operation}", body).status_code == 200
    (record,) = records
    assert record.streamed is streamed


def test_count_tokens_takes_a_foundation_model_arn(state):
    """CountTokens counts for a foundation model named by its ID or its ARN, not for a profile."""
    app = create_app(state=state)
    body = {"input": {"converse": {"messages": CONVERSE["messages"]}}}
    by_id = call(app, f"/model/{SONNET}/count-tokens", body)
    arn = f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}"
    by_arn = call(app, f"/model/{arn.replace(':', '%3A').replace('/', '%2F')}/count-tokens", body)
    assert by_id.status_code == by_arn.status_code == 200, by_arn.text
    assert by_arn.json() == by_id.json()
    profile = call(app, f"/model/global.{SONNET}/count-tokens", body)
    assert profile.status_code == 400 and "doesn't support counting tokens" in profile.json()["message"]


def test_anthropic_count_tokens_needs_no_anthropic_version(state):
    """The npm SDK's messages.countTokens sends the first-party body: model, messages, no
    anthropic_version."""
    body = {"model": SONNET, "messages": INVOKE["messages"]}
    response = call(create_app(state=state), "/v1/messages/count_tokens", body)
    assert response.status_code == 200, response.text
    assert response.json()["input_tokens"] > 0


def test_the_final_output_count_wins_over_the_tokens_seen_produced():
    """Until message_delta the output is what the content events produced; its
    ``output_tokens`` is then the count, even a smaller one (an upstream counting otherwise)."""
    usage = UsageTracker()
    usage.observe({"type": "message_start", "message": {"usage": {"input_tokens": 9, "output_tokens": 1}}})
    usage.observe({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    usage.observe({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "text_delta", "text": "many words of produced text " * 20}})
    assert usage.output > 5
    usage.observe({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}})
    assert usage.output == 5


def test_cache_counts_given_as_null_are_zero():
    """A usage whose cache counts are null (the Messages API's ``Optional[int]``: an upstream
    may send them so) counts no cache tokens, not None."""
    usage = UsageTracker()
    usage.observe({"type": "message_start", "message": {"usage": {
        "input_tokens": 9, "output_tokens": 1, "cache_read_input_tokens": None, "cache_creation_input_tokens": None}}})
    assert (usage.cache_read, usage.cache_write) == (0, 0)
    assert usage.as_dict()["cacheReadInputTokens"] == usage.as_dict()["cacheWriteInputTokens"] == 0


class _SilentEngine:
    """An engine whose answer has no event at all: a generator, or an answer all there is."""

    def __init__(self, ready: bool) -> None:
        self.ready = ready

    def stream(self, call: Any) -> Any:
        from claude_bedrock.domain.engine import ReadyEvents

        if self.ready:
            return ReadyEvents(())

        async def nothing() -> Any:
            return
            yield  # pragma: no cover - an async generator with no event

        return nothing()


@pytest.mark.parametrize("ready", [False, True])
def test_a_stream_whose_engine_gives_no_event_is_an_internal_error_before_it_opens(tmp_path, ready):
    """Nothing was sent yet: a JSON InternalServerException (500), not an opened stream."""
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=_SilentEngine(ready))
    try:
        response = call(create_app(state=state), f"/model/{SONNET}/invoke-with-response-stream", INVOKE)
    finally:
        state.store.close()
    assert response.status_code == 500
    assert response.headers["x-amzn-errortype"].startswith("InternalServerException")
    assert response.json()["message"] == "The model produced no output."


def test_the_output_so_far_is_at_least_message_starts_count():
    """Before message_delta the output is what the content produced, but never less than
    message_start's own output count (a block opened with no text yet produced nothing)."""
    usage = UsageTracker()
    usage.observe({"type": "message_start", "message": {"usage": {"input_tokens": 9, "output_tokens": 2}}})
    usage.observe({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    assert usage.output == 2


class _PacedEngine:
    """The simulator's events, each after a short wait: the writer flushes before each wait."""

    async def stream(self, call: Any) -> Any:
        from claude_bedrock.domain.simulator import SimulatorEngine

        for event in SimulatorEngine(seed=0, clock=lambda: 0.0).events(call):
            await asyncio.sleep(0.001)
            yield event


def _asgi_writes(tmp_path, engine: Any) -> list[dict[str, Any]]:
    """The body messages an InvokeModelWithResponseStream call served by ``engine`` sends, as
    the ASGI server receives them."""
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=engine)
    app = create_app(state=state)
    path = f"/model/{SONNET}/invoke-with-response-stream"
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"authorization", b"Bearer dev"), (b"host", b"localhost")], "client": ("127.0.0.1", 5000)}
    messages: list[dict[str, Any]] = []

    async def run() -> None:
        bodies = [{"type": "http.request", "body": json.dumps(INVOKE).encode(), "more_body": False}]

        async def receive() -> dict[str, Any]:
            if bodies:
                return bodies.pop()
            await asyncio.Event().wait()
            raise AssertionError  # pragma: no cover

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await app(scope, receive, send)

    try:
        asyncio.run(run())
    finally:
        state.store.close()
    return [m for m in messages if m["type"] == "http.response.body"]


def test_a_paced_stream_makes_no_empty_writes(tmp_path):
    """Waiting on the engine, the writer flushes what is pending: nothing pending is no write
    (an empty body message costs a trip through the ASGI server for nothing)."""
    writes = _asgi_writes(tmp_path, _PacedEngine())
    assert len(writes) > 5 and not writes[-1]["more_body"]
    assert [m for m in writes[:-1] if not m["body"]] == []


class _ReadyGenerator:
    """The simulator's events from an async generator that never waits (not a ReadyEvents)."""

    async def stream(self, call: Any) -> Any:
        from claude_bedrock.domain.simulator import SimulatorEngine

        for event in SimulatorEngine(seed=0, clock=lambda: 0.0).events(call):
            yield event


def test_a_streams_first_event_leaves_alone_even_when_the_rest_is_ready(tmp_path):
    """Time to first event: the first event's frame is written at once, by itself; the ready
    events after it follow together."""
    writes = _asgi_writes(tmp_path, _ReadyGenerator())
    first = decode_messages(writes[0]["body"])
    assert len(first) == 1
    chunk = json.loads(base64.b64decode(json.loads(first[0].payload)["bytes"]))
    assert chunk["type"] == "message_start"
    assert len(decode_messages(b"".join(m["body"] for m in writes[1:]))) > 3


def test_the_logged_stream_ends_with_the_message_stop_chunk_as_sent(state):
    """The record of a stream holds the chunks sent, the last one message_stop with its
    invocation metrics (what AWS logs for InvokeModelWithResponseStream)."""
    records: list[Any] = []
    state.observers.append(records.append)
    response = call(create_app(state=state), f"/model/{SONNET}/invoke-with-response-stream", INVOKE)
    assert response.status_code == 200
    sent = [json.loads(base64.b64decode(json.loads(m.payload)["bytes"])) for m in decode_messages(response.content)]
    (record,) = records
    assert record.output_body == sent
    assert "amazon-bedrock-invocationMetrics" in record.output_body[-1]
