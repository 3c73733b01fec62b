"""Retries, Retry-After, typed stream errors and refusals before any request, against the
scripted fault server over a real socket (tests/client/fault_server.py), sync and async."""

from __future__ import annotations

import asyncio
import os
import random
import time

import httpx

import pytest

from claude_bedrock import (
    APIConnectionError,
    AnthropicBedrock,
    AsyncAnthropicBedrock,
    BadRequestError,
    InternalServerError,
    ModelNotAvailableError,
    ModelStreamError,
    PermissionDeniedError,
    RateLimitError,
    StreamServiceUnavailableError,
    ThrottlingError,
)
from claude_bedrock.client.retry import RetryPolicy

from client.fault_server import (
    Canned,
    anthropic_events,
    chunks,
    converse_frames,
    error_reply,
    invoke_ok,
    stream_error_frame,
    stream_exception,
    stream_reply,
    throttled,
)

HELLO = [{"role": "user", "content": "Hi"}]
MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def _policy(max_retries: int = 2) -> RetryPolicy:
    return RetryPolicy(uniform=random.Random(1234).uniform, max_retries=max_retries)


@pytest.fixture(params=["stdlib", "httpx"])
def make(request):
    """Builds sync clients on either transport: pooled http.client (default) or an httpx.Client."""
    opened: list[httpx.Client] = []

    def build(server, sleeps: list[float], **kwargs) -> AnthropicBedrock:
        kwargs.setdefault("retry", _policy())
        if request.param == "httpx":
            opened.append(httpx.Client())
            kwargs["http_client"] = opened[-1]
        return AnthropicBedrock(aws_access_key="AKIDFAULT", aws_secret_key="secret", aws_region="us-west-2",
                                base_url=server.url, sleep=sleeps.append, **kwargs)

    yield build
    for client in opened:
        client.close()


def _async_client(server, sleeps: list[float], **kwargs) -> AsyncAnthropicBedrock:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    kwargs.setdefault("retry", _policy())
    return AsyncAnthropicBedrock(aws_access_key="AKIDFAULT", aws_secret_key="secret", aws_region="us-west-2",
                                 base_url=server.url, sleep=sleep, **kwargs)


# --------------------------------------------------------------------------- HTTP errors


def test_faults_throttling_retried_honouring_retry_after(make, faults):
    faults.script(throttled(retry_after="0.25"), throttled(retry_after_ms="1500"), invoke_ok("finally"))
    sleeps: list[float] = []
    message = make(faults, sleeps).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert message.text == "finally"
    assert len(faults.requests) == 3 and sleeps == [0.25, 1.5]
    assert all("Signature=" in r.headers["authorization"] for r in faults.requests)


def test_faults_server_errors_exhaust_retries_with_jittered_backoff(make, faults):
    faults.script(error_reply(500, "InternalServerException", "boom"))
    sleeps: list[float] = []
    with pytest.raises(InternalServerError) as caught:
        make(faults, sleeps).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert len(faults.requests) == 3 and caught.value.code == "InternalServerException"
    expected = random.Random(1234)
    assert sleeps == [expected.uniform(0, 0.5), expected.uniform(0, 1.0)]


def test_faults_503_then_success(make, faults):
    faults.script(error_reply(503, "ServiceUnavailableException", "later"), invoke_ok())
    sleeps: list[float] = []
    assert make(faults, sleeps).messages.create(model=MODEL, max_tokens=8, messages=HELLO).text
    assert len(faults.requests) == 2 and len(sleeps) == 1


@pytest.mark.parametrize(
    ("reply", "cls"),
    [
        (error_reply(400, "ValidationException", "bad input"), BadRequestError),
        (error_reply(403, "AccessDeniedException", "denied", ("retry-after", "1")), PermissionDeniedError),
    ],
)
def test_faults_400_and_403_never_retried(make, faults, reply, cls):
    faults.script(reply, invoke_ok())
    sleeps: list[float] = []
    with pytest.raises(cls):
        make(faults, sleeps).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert len(faults.requests) == 1 and sleeps == []


def test_faults_max_retries_zero_means_one_attempt(make, faults):
    faults.script(throttled(retry_after="0"))
    sleeps: list[float] = []
    with pytest.raises(RateLimitError) as caught:
        make(faults, sleeps, retry=_policy(0)).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert len(faults.requests) == 1 and caught.value.status_code == 429 and caught.value.code == "ThrottlingException"


def test_faults_with_options_changes_retries_for_the_copy_only(make, faults):
    # the Anthropic SDK's client.with_options(max_retries=..., timeout=...) (alias copy)
    sleeps: list[float] = []
    client = make(faults, sleeps, retry=_policy(0))
    patient = client.with_options(max_retries=2, timeout=30)
    assert (client.max_retries, patient.max_retries) == (0, 2)
    faults.script(throttled(retry_after="0"), throttled(retry_after="0"), invoke_ok("third time"))
    assert patient.messages.create(model=MODEL, max_tokens=8, messages=HELLO).text == "third time"
    assert len(faults.requests) == 3
    faults.script(throttled(retry_after="0"), invoke_ok())
    with pytest.raises(RateLimitError):
        client.messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert len(faults.requests) == 1
    assert client.copy(max_retries=1).max_retries == 1


def test_faults_dropped_connection_retried_then_connection_error(make, faults):
    faults.script(Canned(drop=True), invoke_ok("after drop"))
    sleeps: list[float] = []
    assert make(faults, sleeps).messages.create(model=MODEL, max_tokens=8, messages=HELLO).text == "after drop"
    assert len(faults.requests) == 2
    faults.script(Canned(drop=True))
    with pytest.raises(APIConnectionError):
        make(faults, []).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert len(faults.requests) == 3


def test_faults_stream_body_cut_short_of_its_content_length_is_a_connection_error(make, faults):
    # A stream answered with a Content-Length (a proxy's doing) and cut before its end: the
    # standard library's read1 ends such a body quietly, which read as a stream of 0 events.
    head = stream_reply([]).headers
    cut = chunks(anthropic_events(["Hel"]))[0]
    faults.script(Canned(200, head, body=b"", declared_length=1024), stream_reply(chunks(anthropic_events(["Hi"]))))
    sleeps: list[float] = []
    events = list(make(faults, sleeps).messages.create(model=MODEL, max_tokens=8, messages=HELLO, stream=True))
    assert events and len(sleeps) == 1  # retried: nothing had been delivered
    faults.script(Canned(200, head, body=cut, declared_length=1024))
    with pytest.raises(APIConnectionError):
        list(make(faults, []).messages.create(model=MODEL, max_tokens=8, messages=HELLO, stream=True))


def test_faults_connection_refused_is_a_connection_error():
    sleeps: list[float] = []
    client = AnthropicBedrock(aws_access_key="A", aws_secret_key="s", base_url="http://127.0.0.1:9",
                              sleep=sleeps.append, retry=_policy(1))
    with pytest.raises(APIConnectionError):
        client.messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert len(sleeps) == 1


# --------------------------------------------------------------------------- streams


def test_faults_stream_exception_after_events_is_typed_and_not_retried(make, faults):
    frames = chunks(anthropic_events(["a", "b", "c"]))[:3] + [stream_exception("throttlingException", "slow")]
    faults.script(stream_reply(frames), stream_reply(chunks(anthropic_events(["ok"]))))
    sleeps: list[float] = []
    stream = make(faults, sleeps).messages.create(model=MODEL, max_tokens=8, messages=HELLO, stream=True)
    received = []
    with pytest.raises(ThrottlingError) as caught:
        for event in stream:
            received.append(event.type)
    assert received == ["message_start", "content_block_start", "content_block_delta"]
    error = caught.value
    assert isinstance(error, RateLimitError) and error.code == "throttlingException" and error.status_code == 429
    assert error.request_id == "00000000-1111-2222-3333-444444444444" and error.events_received == 3
    assert len(faults.requests) == 1 and sleeps == []


def test_faults_stream_throttled_before_first_event_is_retried(make, faults):
    faults.script(stream_reply([stream_exception("throttlingException", "slow")]),
                  stream_reply(chunks(anthropic_events(["Hello", " there"]))))
    sleeps: list[float] = []
    with make(faults, sleeps).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as stream:
        assert len(faults.requests) == 2  # the retry happened before stream() returned
        assert "".join(stream.text_stream) == "Hello there"
        message = stream.get_final_message()
    assert message.usage.output_tokens == 100 and message.cost.total > 0 and len(sleeps) == 1


def test_faults_stream_http_429_before_streaming_is_retried(make, faults):
    faults.script(throttled(retry_after="0.5"), stream_reply(chunks(anthropic_events(["x"]))))
    sleeps: list[float] = []
    stream = make(faults, sleeps).messages.create(model=MODEL, max_tokens=8, messages=HELLO, stream=True)
    assert [e.type for e in stream][-1] == "message_stop" and sleeps == [0.5] and len(faults.requests) == 2


def test_faults_model_stream_error_keeps_modelled_fields(make, faults):
    frames = chunks(anthropic_events(["a"]))[:2] + [
        stream_exception("modelStreamErrorException", "model failed", originalStatusCode=500, originalMessage="x")
    ]
    faults.script(stream_reply(frames))
    with make(faults, []).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as stream:
        with pytest.raises(ModelStreamError) as caught:
            stream.get_final_message()
    assert (caught.value.status_code, caught.value.original_status_code, caught.value.message) == (
        424, 500, "model failed")


def test_faults_generic_error_frame_is_typed_by_code(make, faults):
    frames = chunks(anthropic_events(["a"]))[:1] + [stream_error_frame("ServiceUnavailableException", "down")]
    faults.script(stream_reply(frames))
    stream = make(faults, []).messages.create(model=MODEL, max_tokens=8, messages=HELLO, stream=True)
    with pytest.raises(StreamServiceUnavailableError):
        list(stream)


def test_faults_converse_stream_exception_is_typed(make, faults):
    frames = converse_frames(["a", "b"])[:2] + [stream_exception("throttlingException", "slow")]
    faults.script(stream_reply(frames))
    stream = make(faults, []).converse_stream(model=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
    with pytest.raises(ThrottlingError):
        list(stream)
    assert len(faults.requests) == 1


# --------------------------------------------------------------------------- no request at all


def test_faults_forbidden_alias_refused_before_any_request(faults):
    client = AnthropicBedrock(aws_access_key="A", aws_secret_key="s", aws_region="eu-west-1", base_url=faults.url)
    with pytest.raises(ModelNotAvailableError):
        client.messages.create(model="claude-opus-4-1", max_tokens=8, messages=HELLO)  # us only
    with pytest.raises(ModelNotAvailableError):
        client.messages.create(model="claude-3-5-haiku", max_tokens=8, messages=HELLO, stream=True)
    with pytest.raises(ModelNotAvailableError):
        client.messages.count_tokens(model="claude-opus-4", messages=HELLO)
    with pytest.raises(ModelNotAvailableError):
        client.converse(model="claude-unknown", messages=[])
    with pytest.raises(ValueError):  # ModelNotAvailableError is a ValueError
        client.messages.stream(model="claude-3-7-sonnet", endpoint="global", max_tokens=8, messages=HELLO)
    assert faults.requests == []


def test_faults_arn_reaches_the_server_as_one_path_segment(make, faults):
    arn = "arn:aws:bedrock:us-west-2:111122223333:application-inference-profile/a1b2c3d4e5f6"
    make(faults, []).messages.create(model=arn, max_tokens=8, messages=HELLO)
    target = faults.requests[0].target
    assert target == ("/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A111122223333%3Aapplication-inference-profile"
                      "%2Fa1b2c3d4e5f6/invoke")


# --------------------------------------------------------------------------- connection pool


@pytest.mark.parametrize("idle_check_after_s", [0.0, 60.0], ids=["polled-before-reuse", "replaced-on-failure"])
def test_faults_pool_reuses_keep_alive_connections_and_replaces_stale_ones(faults, monkeypatch, idle_check_after_s):
    from claude_bedrock.client import connections

    monkeypatch.setattr(connections, "IDLE_CHECK_AFTER_S", idle_check_after_s)
    client = AnthropicBedrock(aws_access_key="A", aws_secret_key="s", base_url=faults.url, max_retries=0)
    faults.script(Canned(**{**invoke_ok().__dict__, "keep_alive": True}))
    for _ in range(3):
        client.messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert len({r.connection for r in faults.requests}) == 1
    faults.script(Canned(**{**invoke_ok("first").__dict__, "keep_alive": True, "close_after": True}),
                  invoke_ok("second"))
    assert client.messages.create(model=MODEL, max_tokens=8, messages=HELLO).text == "first"
    time.sleep(0.05)  # the server has closed the pooled connection by now
    assert client.messages.create(model=MODEL, max_tokens=8, messages=HELLO).text == "second"
    first, second = faults.requests
    assert first.connection != second.connection
    client.close()


def test_faults_abandoned_stream_does_not_poison_the_pool(faults):
    client = AnthropicBedrock(aws_access_key="A", aws_secret_key="s", base_url=faults.url, max_retries=0)
    faults.script(Canned(**{**stream_reply(chunks(anthropic_events(["a", "b", "c"]))).__dict__, "keep_alive": True}),
                  invoke_ok("clean"))
    stream = client.messages.create(model=MODEL, max_tokens=8, messages=HELLO, stream=True)
    next(iter(stream))
    stream.close()
    assert client.messages.create(model=MODEL, max_tokens=8, messages=HELLO).text == "clean"
    assert faults.requests[0].connection != faults.requests[1].connection


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_faults_forked_child_never_shares_the_parents_pooled_connections(faults):
    # A client made before a fork (gunicorn --preload, multiprocessing) must not let parent and
    # child speak on one inherited keep-alive socket: each would read the other's answers.
    client = AnthropicBedrock(aws_access_key="A", aws_secret_key="s", base_url=faults.url, max_retries=0)
    faults.script(Canned(**{**invoke_ok("mine").__dict__, "keep_alive": True}))
    client.messages.create(model=MODEL, max_tokens=8, messages=HELLO)  # leaves one idle socket
    pid = os.fork()
    if pid == 0:  # the child: one call, its answer told by the exit status
        try:
            os._exit(0 if client.messages.create(model=MODEL, max_tokens=8, messages=HELLO).text == "mine" else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    parent_first, child = faults.requests
    assert child.connection != parent_first.connection
    assert client.messages.create(model=MODEL, max_tokens=8, messages=HELLO).text == "mine"
    assert faults.requests[-1].connection == parent_first.connection  # the parent keeps its socket
    client.close()


# --------------------------------------------------------------------------- async


def test_faults_async_retries_and_stream_errors(faults):
    async def scenario() -> None:
        sleeps: list[float] = []
        async with _async_client(faults, sleeps) as client:
            faults.script(throttled(retry_after="0.25"), invoke_ok("async ok"))
            assert (await client.messages.create(model=MODEL, max_tokens=8, messages=HELLO)).text == "async ok"
            assert sleeps == [0.25] and len(faults.requests) == 2

            faults.script(stream_reply([stream_exception("serviceUnavailableException", "busy")]),
                          stream_reply(chunks(anthropic_events(["retried"]))))
            async with client.messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as stream:
                assert "".join([t async for t in stream.text_stream]) == "retried"
            assert len(faults.requests) == 2 and len(sleeps) == 2

            faults.script(stream_reply(chunks(anthropic_events(["a", "b"]))[:4]
                                       + [stream_exception("throttlingException", "slow")]))
            stream = await client.messages.create(model=MODEL, max_tokens=8, messages=HELLO, stream=True)
            seen = []
            with pytest.raises(ThrottlingError) as caught:
                async for event in stream:
                    seen.append(event)
            assert len(seen) == 4 and caught.value.events_received == 4 and len(faults.requests) == 1

            faults.script(error_reply(400, "ValidationException", "bad"))
            with pytest.raises(BadRequestError):
                await client.messages.create(model=MODEL, max_tokens=8, messages=HELLO)
            assert len(faults.requests) == 1

            faults.script(invoke_ok())
            with pytest.raises(ModelNotAvailableError):
                await client.messages.create(model="claude-opus-4-1", endpoint="global", max_tokens=8, messages=HELLO)
            assert faults.requests == []

            patient = client.with_options(max_retries=1)
            faults.script(throttled(retry_after="0"), invoke_ok("copy ok"))
            assert (await patient.messages.create(model=MODEL, max_tokens=8, messages=HELLO)).text == "copy ok"
            assert len(faults.requests) == 2 and client.max_retries == 2

    asyncio.run(scenario())


@pytest.mark.skipif(not hasattr(os, "dup2"), reason="os.dup2")
def test_pool_tells_an_open_idle_connection_from_a_closed_one_at_a_descriptor_past_1023():
    """A busy process's sockets get descriptors from 1024 on, which ``select.select`` refuses
    (ValueError): every pooled connection there looked closed, and none was reused (the pyvers
    helper found it by reading)."""
    import resource
    import socket

    from claude_bedrock.client.connections import Connection

    high = 1100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= high:
        if hard != resource.RLIM_INFINITY and hard <= high:
            pytest.skip(f"no descriptor number {high} can be opened here (limit {hard})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (high + 1, hard))
    ours, peer = socket.socketpair()
    os.dup2(ours.fileno(), high)
    ours.close()
    try:
        connection = Connection(socket.socket(fileno=high), None)
        connection.idle_since = time.monotonic() - 3600
        assert connection.looks_open()
        peer.close()
        assert not connection.looks_open()
        connection.close()
    finally:
        peer.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
