"""``AsyncAnthropicBedrock``: the asyncio client, the same flows driven with ``httpx.AsyncClient``.

Purpose: the async twin of ``sync``. Only the driver (``_AsyncExchange``, ``_run``,
``_iterate``) and the stream wrappers differ; requests, signing, retries and decoding are the
same objects from ``core``, ``flow``, ``responses`` and ``streams``. The resource methods
mirror ``sync``'s one for one (same arguments, ``await``-ed).

Invariants: those of ``sync`` (one open response per driver; streams start before return).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from claude_bedrock.client import responses, streams
from claude_bedrock.client.config import ClientConfig, resolve_config
from claude_bedrock.client.core import ClientCore, EndpointChoice, ModelChoice, PreparedRequest
from claude_bedrock.client.errors import APIError
from claude_bedrock.client.flow import (
    Emit,
    Head,
    ReadBody,
    ReadChunk,
    Send,
    Sleep,
    StreamInfo,
    call_flow,
    stream_flow,
)
from claude_bedrock.client.retry import RetryPolicy
from claude_bedrock.client.sync import _WARN_FROM_METHOD, _load_aws_files, utc_now
from claude_bedrock.client.types import (
    CallerIdentity,
    ContentBlockDeltaEvent,
    ConverseResponse,
    ConverseStreamEvent,
    FoundationModel,
    Message,
    MessageStreamEvent,
    MessageTokensCount,
    ModelList,
    TextDelta,
    TextEvent,
)

if TYPE_CHECKING:
    from datetime import datetime

    import httpx

__all__ = ["AsyncAnthropicBedrock", "AsyncStream", "AsyncMessageStream", "AsyncMessageStreamManager",
           "AsyncConverseStream"]

T = TypeVar("T")


# --------------------------------------------------------------------------- driver


class _AsyncExchange:
    """Performs a flow's actions with an ``httpx.AsyncClient``."""

    __slots__ = ("_http", "_sleep", "_timeout", "_response", "_chunks", "_transport")

    def __init__(self, http: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]],
                 timeout: httpx.Timeout) -> None:
        from claude_bedrock.client import transport

        self._transport = transport
        self._http = http
        self._sleep = sleep
        self._timeout = timeout
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None

    async def perform(self, action: Any) -> Any:
        transport = self._transport
        if type(action) is Send:
            await self.close()
            request = transport.build_request(self._http, action, self._timeout)
            try:
                if not action.stream:
                    reply = await self._http.send(request)
                    return responses.Reply(reply.status_code, reply.headers, reply.content)
                self._response = response = await self._http.send(request, stream=True)
                self._chunks = response.aiter_bytes()
                return Head(response.status_code, response.headers)
            except transport.TransportError as exc:
                return transport.failure_of(exc)
        if type(action) is ReadChunk:
            assert self._chunks is not None
            try:
                return await anext(self._chunks, b"")
            except transport.TransportError as exc:
                return transport.failure_of(exc)
        if type(action) is ReadBody:
            assert self._response is not None
            try:
                return await self._response.aread()
            except transport.TransportError as exc:
                return transport.failure_of(exc)
        if type(action) is Sleep:
            await self._sleep(action.seconds)
            return None
        raise TypeError(f"unexpected flow action {action!r}")

    async def close(self) -> None:
        if self._response is not None:
            response, self._response, self._chunks = self._response, None, None
            await response.aclose()


async def _run(exchange: _AsyncExchange, flow: Generator[Any, Any, T]) -> T:
    value: Any = None
    try:
        while True:
            try:
                action = flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value = await exchange.perform(action)
    finally:
        await exchange.close()


async def _iterate(exchange: _AsyncExchange, flow: Generator[Any, Any, None]) -> AsyncIterator[Any]:
    value: Any = None
    try:
        while True:
            try:
                action = flow.send(value)
            except StopIteration:
                return
            if type(action) is Emit:
                value = None
                yield action.item
            else:
                value = await exchange.perform(action)
    finally:
        flow.close()
        await exchange.close()


# --------------------------------------------------------------------------- streams


class AsyncStream:
    """Events of ``await messages.create(stream=True)``; ``async for`` over it."""

    def __init__(self, events: AsyncIterator[Any], info: StreamInfo) -> None:
        self._events = events
        self.info = info
        self._first: list[Any] = []

    @classmethod
    async def start(cls, events: AsyncIterator[Any], info: StreamInfo) -> AsyncStream:
        """Send the request and read the first event (errors and retries happen here)."""
        stream = cls(events, info)
        try:
            stream._first.append(await anext(events))
        except StopAsyncIteration:
            pass
        return stream

    @property
    def request_id(self) -> str | None:
        return self.info.request_id

    async def __aiter__(self) -> AsyncIterator[Any]:
        if self._first:
            yield self._first.pop()
        async for event in self._events:
            yield event

    async def close(self) -> None:
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncMessageStream:
    """Async ``messages.stream()``: events, ``text_stream``, ``await get_final_message()``."""

    def __init__(self, raw: AsyncStream, accumulator: streams.MessageAccumulator) -> None:
        self._raw = raw
        self._accumulator = accumulator
        self._events = self._stream()
        self.text_stream: AsyncIterator[str] = self._text()

    @property
    def request_id(self) -> str | None:
        return self._raw.request_id

    async def _stream(self) -> AsyncIterator[MessageStreamEvent | TextEvent]:
        async for event in self._raw:
            text_event = self._accumulator.add(event)
            yield event
            if text_event is not None:
                yield text_event

    async def _text(self) -> AsyncIterator[str]:
        async for event in self._events:
            if isinstance(event, ContentBlockDeltaEvent) and isinstance(event.delta, TextDelta):
                yield event.delta.text

    def __aiter__(self) -> AsyncIterator[MessageStreamEvent | TextEvent]:
        return self._events

    async def until_done(self) -> None:
        async for _ in self._events:
            pass

    @property
    def current_message_snapshot(self) -> Message | None:
        return self._accumulator.snapshot

    async def get_final_message(self) -> Message:
        await self.until_done()
        message = self._accumulator.final_message()
        if message is None:
            raise APIError("The stream ended without a message_start event.", request_id=self.request_id)
        return message

    async def get_final_text(self) -> str:
        return (await self.get_final_message()).text

    async def close(self) -> None:
        await self._raw.close()


class AsyncMessageStreamManager:
    """``async with client.messages.stream(...) as stream:``."""

    def __init__(self, start: Callable[[], Awaitable[AsyncMessageStream]]) -> None:
        self._start = start
        self._stream: AsyncMessageStream | None = None

    async def __aenter__(self) -> AsyncMessageStream:
        self._stream = await self._start()
        return self._stream

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._stream is not None:
            await self._stream.close()


class AsyncConverseStream:
    """Async ``converse_stream()``."""

    def __init__(self, raw: AsyncStream, accumulator: streams.ConverseAccumulator) -> None:
        self._raw = raw
        self._accumulator = accumulator
        self._events = self._stream()
        self.text_stream: AsyncIterator[str] = self._text()

    @property
    def request_id(self) -> str | None:
        return self._raw.request_id

    async def _stream(self) -> AsyncIterator[ConverseStreamEvent]:
        async for event in self._raw:
            self._accumulator.add(event)
            yield event

    async def _text(self) -> AsyncIterator[str]:
        async for event in self._events:
            if event.type == "contentBlockDelta":
                text = (event.data.get("delta") or {}).get("text")
                if isinstance(text, str):
                    yield text

    def __aiter__(self) -> AsyncIterator[ConverseStreamEvent]:
        return self._events

    async def until_done(self) -> None:
        async for _ in self._events:
            pass

    async def get_final_response(self) -> ConverseResponse:
        await self.until_done()
        return self._accumulator.final_response()

    async def close(self) -> None:
        await self._raw.close()

    async def __aenter__(self) -> AsyncConverseStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


# --------------------------------------------------------------------------- resources


class AsyncMessages:
    """``client.messages`` (and ``client.beta.messages``), awaited."""

    def __init__(self, client: AsyncAnthropicBedrock) -> None:
        self._client = client

    async def create(
        self,
        *,
        model: str,
        max_tokens: int,
        messages: Sequence[Mapping[str, Any]],
        stream: bool = False,
        endpoint: EndpointChoice | None = None,
        betas: Sequence[str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **params: Any,
    ) -> Message | AsyncStream:
        """See ``sync.Messages.create``."""
        client = self._client
        choice = client._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)
        body = {"max_tokens": max_tokens, "messages": messages, **params}
        request = client._core.invoke_request(choice, body, stream=stream, betas=betas,
                                              extra_headers=extra_headers, extra_body=extra_body)
        if stream:
            return await client._open_stream(request, streams.InvokeStreamDecoder, timeout)
        return await client._call(request, lambda reply: responses.parse_message(reply, choice), timeout=timeout)

    def stream(
        self,
        *,
        model: str,
        max_tokens: int,
        messages: Sequence[Mapping[str, Any]],
        endpoint: EndpointChoice | None = None,
        betas: Sequence[str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **params: Any,
    ) -> AsyncMessageStreamManager:
        """See ``sync.Messages.stream`` (use with ``async with``)."""
        client = self._client
        choice = client._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)
        body = {"max_tokens": max_tokens, "messages": messages, **params}
        request = client._core.invoke_request(choice, body, stream=True, betas=betas,
                                              extra_headers=extra_headers, extra_body=extra_body)

        async def start() -> AsyncMessageStream:
            accumulator = streams.MessageAccumulator(pricing=choice.pricing, bedrock_model_id=choice.model_id)
            raw = await client._open_stream(request, streams.InvokeStreamDecoder, timeout)
            accumulator.request_id = raw.request_id
            return AsyncMessageStream(raw, accumulator)

        return AsyncMessageStreamManager(start)

    async def count_tokens(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        endpoint: EndpointChoice | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **params: Any,
    ) -> MessageTokensCount:
        """See ``sync.Messages.count_tokens``."""
        client = self._client
        choice = client._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)
        request = client._core.count_tokens_request(choice, {"messages": messages, **params},
                                                    extra_headers=extra_headers)
        return await client._call(request, responses.parse_count_tokens, timeout=timeout)


class AsyncBeta:
    def __init__(self, client: AsyncAnthropicBedrock) -> None:
        self.messages = AsyncMessages(client)


class AsyncModels:
    """``client.models``, awaited."""

    def __init__(self, client: AsyncAnthropicBedrock) -> None:
        self._client = client

    async def list(self, *, by_provider: str | None = "anthropic", **filters: str) -> ModelList:
        core = self._client._core
        return await self._client._call(
            core.list_models_request(by_provider, **filters),
            lambda reply: responses.parse_model_list(reply, core.catalog),
        )

    async def get(self, model: str) -> FoundationModel:
        core = self._client._core
        model_id = core.base_model_id(core.choose_model(model))
        return await self._client._call(
            core.get_model_request(model_id), lambda reply: responses.parse_model(reply, core.catalog)
        )


# --------------------------------------------------------------------------- client


class AsyncAnthropicBedrock:
    """Claude on Bedrock, asyncio. Arguments as ``AnthropicBedrock``; ``http_client`` is an
    ``httpx.AsyncClient`` and ``sleep`` an async callable (default ``asyncio.sleep``)."""

    def __init__(
        self,
        *,
        aws_secret_key: str | None = None,
        aws_access_key: str | None = None,
        aws_region: str | None = None,
        aws_profile: str | None = None,
        aws_session_token: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        endpoint: EndpointChoice | None = None,
        max_retries: int = 2,
        timeout: float | httpx.Timeout | None = None,
        http_client: httpx.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        from claude_bedrock.client import transport

        env = os.environ
        config = resolve_config(
            env=env, load_files=lambda: _load_aws_files(env),
            aws_access_key=aws_access_key, aws_secret_key=aws_secret_key, aws_session_token=aws_session_token,
            api_key=api_key, aws_profile=aws_profile, aws_region=aws_region, base_url=base_url,
        )  # fmt: skip
        self._core = ClientCore(config, endpoint=endpoint, default_headers=default_headers)
        self._policy = retry or RetryPolicy(uniform=random.Random().uniform, max_retries=max_retries)
        self._sleep = sleep or asyncio.sleep
        self._clock: Callable[[], datetime] = utc_now
        self._timeout = transport.timeout_of(timeout)
        self._owns_http = http_client is None
        self._http = http_client or transport.async_client(self._timeout)
        self.messages = AsyncMessages(self)
        self.beta = AsyncBeta(self)
        self.models = AsyncModels(self)

    @property
    def config(self) -> ClientConfig:
        return self._core.config

    @property
    def aws_region(self) -> str:
        return self._core.region

    @property
    def base_url(self) -> str:
        return self._core.config.runtime_url

    async def converse(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        endpoint: EndpointChoice | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **fields: Any,
    ) -> ConverseResponse:
        """See ``AnthropicBedrock.converse``."""
        choice = self._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)
        request = self._core.converse_request(choice, {"messages": messages, **fields}, stream=False,
                                              extra_headers=extra_headers, extra_body=extra_body)
        return await self._call(request, lambda reply: responses.parse_converse(reply, choice), timeout=timeout)

    async def converse_stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        endpoint: EndpointChoice | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **fields: Any,
    ) -> AsyncConverseStream:
        """See ``AnthropicBedrock.converse_stream``."""
        choice = self._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)
        request = self._core.converse_request(choice, {"messages": messages, **fields}, stream=True,
                                              extra_headers=extra_headers, extra_body=extra_body)
        raw = await self._open_stream(request, streams.ConverseStreamDecoder, timeout)
        accumulator = streams.ConverseAccumulator(pricing=choice.pricing, bedrock_model_id=choice.model_id,
                                                  request_id=raw.request_id)
        return AsyncConverseStream(raw, accumulator)

    async def whoami(self) -> CallerIdentity:
        return await self._call(self._core.caller_identity_request(), responses.parse_caller_identity,
                                error_of=responses.error_from_xml_reply)

    def choose_model(self, model: str, endpoint: EndpointChoice | None = None) -> ModelChoice:
        return self._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)

    # -- plumbing ---------------------------------------------------------------------------

    def _exchange(self, timeout: float | httpx.Timeout | None) -> _AsyncExchange:
        if timeout is None:
            return _AsyncExchange(self._http, self._sleep, self._timeout)
        from claude_bedrock.client.transport import timeout_of

        return _AsyncExchange(self._http, self._sleep, timeout_of(timeout))

    async def _call(self, request: PreparedRequest, parse: Callable[[responses.Reply], T], *,
                    timeout: float | httpx.Timeout | None = None,
                    error_of: Callable[[responses.Reply], Any] = responses.error_from_reply) -> T:
        flow = call_flow(request, self._core.sign, parse, self._policy, self._clock, error_of=error_of)
        return await _run(self._exchange(timeout), flow)

    async def _open_stream(self, request: PreparedRequest, decoder: Callable[[str | None], Any],
                           timeout: float | httpx.Timeout | None) -> AsyncStream:
        info = StreamInfo()
        flow = stream_flow(request, self._core.sign, decoder, self._policy, self._clock, info)
        return await AsyncStream.start(_iterate(self._exchange(timeout), flow), info)

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncAnthropicBedrock:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
