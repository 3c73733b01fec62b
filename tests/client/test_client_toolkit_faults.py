"""Injected faults on the real server (the testing toolkit's admin API): throttling, a 5xx,
stream exception frames and a dropped stream, seen through the client, sync and async."""

from __future__ import annotations

import asyncio
import random

import pytest

from claude_bedrock import (
    APIConnectionError,
    AnthropicBedrock,
    AsyncAnthropicBedrock,
    InternalServerError,
    ModelStreamError,
    RateLimitError,
    ThrottlingError,
)
from claude_bedrock.client.retry import RetryPolicy
from claude_bedrock.testing.admin import BedrockAdmin
from support.servers import ACCESS_KEY, REGION, SECRET_KEY

HELLO = [{"role": "user", "content": "Hello, world"}]
MODEL = "claude-sonnet-4-5"


@pytest.fixture
def admin(server):
    with BedrockAdmin(server.url) as made:
        made.clear_faults()
        made.clear_calls()
        yield made
        made.clear_faults()


def _client(server, sleeps: list[float], max_retries: int = 2) -> AnthropicBedrock:
    return AnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION,
                            base_url=server.url, sleep=sleeps.append,
                            retry=RetryPolicy(uniform=random.Random(5).uniform, max_retries=max_retries))


def test_toolkit_injected_throttling_is_retried_until_success(server, admin):
    admin.inject_fault("ThrottlingException", count=2, operation="InvokeModel")
    sleeps: list[float] = []
    message = _client(server, sleeps).messages.create(model=MODEL, max_tokens=16, messages=HELLO)
    assert message.text and len(sleeps) == 2
    calls = admin.calls(operation="InvokeModel")
    assert [c.error_code for c in calls] == ["ThrottlingException", "ThrottlingException", None]


def test_toolkit_count_tokens_throttling_is_retried_until_counted(server, admin):
    admin.inject_fault("ThrottlingException", count=2, operation="CountTokens")
    sleeps: list[float] = []
    counted = _client(server, sleeps).messages.count_tokens(model=MODEL, messages=HELLO)
    assert counted.input_tokens > 0 and len(sleeps) == 2
    calls = admin.calls(operation="CountTokens")
    assert [(c.error_code, c.injected_fault) for c in calls] == [("ThrottlingException",) * 2] * 2 + [(None, None)]
    assert calls[-1].usage["inputTokens"] == counted.input_tokens


def test_toolkit_count_tokens_server_error_beyond_retries_raises(server, admin):
    admin.inject_fault("InternalServerException", count=5, operation="CountTokens", message="counter down")
    with pytest.raises(InternalServerError) as caught:
        _client(server, [], max_retries=1).messages.count_tokens(model=MODEL, messages=HELLO)
    assert (caught.value.status_code, caught.value.code) == (500, "InternalServerException")
    assert "counter down" in str(caught.value)
    assert len(admin.calls(operation="CountTokens")) == 2 and admin.faults()[0]["fired"] == 2


def test_toolkit_injected_throttling_beyond_retries_raises_rate_limit(server, admin):
    admin.inject_fault("ThrottlingException", count=5, operation="InvokeModel")
    with pytest.raises(RateLimitError) as caught:
        _client(server, [], max_retries=1).messages.create(model=MODEL, max_tokens=16, messages=HELLO)
    assert caught.value.code == "ThrottlingException" and caught.value.request_id
    assert len(admin.calls(operation="InvokeModel")) == 2


def test_toolkit_stream_throttled_before_streaming_is_retried(server, admin):
    admin.inject_fault("ThrottlingException", count=1, operation="InvokeModelWithResponseStream")
    sleeps: list[float] = []
    with _client(server, sleeps).messages.stream(model=MODEL, max_tokens=16, messages=HELLO) as stream:
        assert stream.get_final_message().text
    assert len(sleeps) == 1 and len(admin.calls(operation="InvokeModelWithResponseStream")) == 2


@pytest.mark.parametrize(
    ("exception", "cls"), [("throttlingException", ThrottlingError), ("modelStreamErrorException", ModelStreamError)]
)
def test_toolkit_stream_exception_frame_mid_stream_is_typed(server, admin, exception, cls):
    admin.inject_fault("stream_error", exception=exception, after_events=3, operation="InvokeModelWithResponseStream")
    sleeps: list[float] = []
    stream = _client(server, sleeps).messages.create(model=MODEL, max_tokens=64, messages=HELLO, stream=True)
    seen = []
    with pytest.raises(cls) as caught:
        for event in stream:
            seen.append(event.type)
    assert seen[0] == "message_start" and len(seen) == 3 == caught.value.events_received
    assert caught.value.code == exception and sleeps == []  # never retried once events were delivered


@pytest.mark.parametrize("operation", ["InvokeModelWithResponseStream", "ConverseStream"])
def test_toolkit_throttling_frame_before_the_first_event_is_retried(server, admin, operation):
    # after_events=0: a 200 whose first frame is the exception (docs/client.md, Retries).
    admin.inject_fault("stream_error", exception="throttlingException", after_events=0, count=1, operation=operation)
    sleeps: list[float] = []
    client = _client(server, sleeps)
    if operation == "ConverseStream":
        stream = client.converse_stream(model=MODEL, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    else:
        stream = client.messages.create(model=MODEL, max_tokens=16, messages=HELLO, stream=True)
    assert list(stream) and len(sleeps) == 1
    calls = admin.calls(operation=operation)
    assert [(c.status, c.error_code) for c in calls] == [(429, "ThrottlingException"), (200, None)]
    assert calls[0].injected_fault == "stream_error:throttlingException@0"


@pytest.mark.parametrize("after_events", [2, 0])
def test_toolkit_dropped_stream_is_a_connection_error(server, admin, after_events):
    admin.inject_fault("drop_connection", after_events=after_events, operation="InvokeModelWithResponseStream",
                       count=3)
    with pytest.raises(APIConnectionError):
        list(_client(server, []).messages.create(model=MODEL, max_tokens=64, messages=HELLO, stream=True))
    assert admin.last_call().injected_fault == f"drop_connection@{after_events}"


def test_toolkit_async_converse_stream_exception_and_retry(server, admin):
    async def scenario() -> None:
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        async with AsyncAnthropicBedrock(
            aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION, base_url=server.url,
            sleep=sleep, retry=RetryPolicy(uniform=random.Random(5).uniform),
        ) as client:  # fmt: skip
            admin.inject_fault("InternalServerException", count=1, operation="Converse")
            response = await client.converse(model=MODEL, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
            assert response.text and len(sleeps) == 1
            admin.inject_fault("stream_error", exception="throttlingException", after_events=2,
                               operation="ConverseStream")
            stream = await client.converse_stream(model=MODEL, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
            with pytest.raises(ThrottlingError):
                async for _ in stream:
                    pass

    asyncio.run(scenario())
