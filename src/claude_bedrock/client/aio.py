"""``AsyncAnthropicBedrock``: the asyncio client's public surface.

Purpose: the async twin of ``sync``: the same ``operations`` calls, driven by
``driver.run_async`` / ``iterate_async`` over ``httpx.AsyncClient`` (``httpx_transport``). Method arguments mirror
``sync`` one for one; see its docstrings. Invariants: those of ``sync`` (nothing heavy at
import; streams start before they are returned).
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from copy import copy as shallow_copy
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from claude_bedrock.client.sync import WARN_FROM_METHOD, converse_text, is_text_delta, load_shared_files, utc_now

if TYPE_CHECKING:
    from datetime import datetime

    import httpx

    from claude_bedrock.client.config import ClientConfig
    from claude_bedrock.client.core import EndpointChoice, ModelChoice
    from claude_bedrock.client.flow import StreamInfo
    from claude_bedrock.client.operations import Call
    from claude_bedrock.client.retry import RetryPolicy
    from claude_bedrock.client.streams import ConverseAccumulator, MessageAccumulator
    from claude_bedrock.client.types import (
        CallerIdentity,
        ConverseResponse,
        ConverseStreamEvent,
        FoundationModel,
        Message,
        MessageStreamEvent,
        MessageTokensCount,
        ModelList,
        TextEvent,
    )

__all__ = ["AsyncAnthropicBedrock", "AsyncStream", "AsyncMessageStream", "AsyncMessageStreamManager",
           "AsyncConverseStream"]


# --------------------------------------------------------------------------- streams


class AsyncStream:
    """Events of ``await messages.create(stream=True)``; ``async for`` over it once."""

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

    def __init__(self, raw: AsyncStream, accumulator: MessageAccumulator) -> None:
        self._raw = raw
        self._accumulator = accumulator
        self._events = self._stream()
        self.text_stream: AsyncIterator[str] = (e.delta.text async for e in self._events if is_text_delta(e))

    @property
    def request_id(self) -> str | None:
        return self._raw.request_id

    async def _stream(self) -> AsyncIterator[MessageStreamEvent | TextEvent]:
        async for event in self._raw:
            text_event = self._accumulator.add(event)
            yield event
            if text_event is not None:
                yield text_event

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
        return self._accumulator.final_message()

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

    def __init__(self, raw: AsyncStream, accumulator: ConverseAccumulator) -> None:
        self._raw = raw
        self._accumulator = accumulator
        self._events = self._stream()
        self.text_stream: AsyncIterator[str] = (t async for e in self._events if (t := converse_text(e)) is not None)

    @property
    def request_id(self) -> str | None:
        return self._raw.request_id

    async def _stream(self) -> AsyncIterator[ConverseStreamEvent]:
        async for event in self._raw:
            self._accumulator.add(event)
            yield event

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

    @overload
    async def create(
        self,
        *,
        model: str,
        max_tokens: int,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[False] = False,
        endpoint: EndpointChoice | None = None,
        betas: Sequence[str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **params: Any,
    ) -> Message: ...

    @overload
    async def create(
        self,
        *,
        model: str,
        max_tokens: int,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[True],
        endpoint: EndpointChoice | None = None,
        betas: Sequence[str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **params: Any,
    ) -> AsyncStream: ...

    @overload
    async def create(
        self,
        *,
        model: str,
        max_tokens: int,
        messages: Sequence[Mapping[str, Any]],
        stream: bool,
        endpoint: EndpointChoice | None = None,
        betas: Sequence[str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **params: Any,
    ) -> Message | AsyncStream: ...

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
        client = self._client
        call = client._ops.invoke(
            client._core, model=model, endpoint=endpoint, body={"max_tokens": max_tokens, "messages": messages, **params},
            stream=stream, betas=betas, extra_headers=extra_headers, extra_body=extra_body,
            warn_stacklevel=WARN_FROM_METHOD,
        )  # fmt: skip
        return await (client._open_stream(call, timeout) if stream else client._run(call, timeout))

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
        """Use with ``async with``; the model is checked now, the request sent on enter."""
        client = self._client
        call = client._ops.invoke(
            client._core, model=model, endpoint=endpoint, body={"max_tokens": max_tokens, "messages": messages, **params},
            stream=True, betas=betas, extra_headers=extra_headers, extra_body=extra_body,
            warn_stacklevel=WARN_FROM_METHOD,
        )  # fmt: skip

        async def start() -> AsyncMessageStream:
            raw = await client._open_stream(call, timeout)
            return AsyncMessageStream(raw, client._ops.message_accumulator(call, raw.request_id))

        return AsyncMessageStreamManager(start)

    async def count_tokens(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        endpoint: EndpointChoice | None = None,
        betas: Sequence[str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **params: Any,
    ) -> MessageTokensCount:
        client = self._client
        call = client._ops.count_tokens(client._core, model=model, endpoint=endpoint,
                                        body={"messages": messages, **params}, betas=betas,
                                        extra_headers=extra_headers, extra_body=extra_body,
                                        warn_stacklevel=WARN_FROM_METHOD)
        return await client._run(call, timeout)  # type: ignore[no-any-return]


class AsyncBeta:
    def __init__(self, client: AsyncAnthropicBedrock) -> None:
        self.messages = AsyncMessages(client)


class AsyncModels:
    """``client.models``, awaited."""

    def __init__(self, client: AsyncAnthropicBedrock) -> None:
        self._client = client

    async def list(self, *, by_provider: str | None = "anthropic", **filters: str) -> ModelList:
        client = self._client
        return await client._run(client._ops.list_models(client._core, by_provider, filters), None)  # type: ignore[no-any-return]

    async def get(self, model: str) -> FoundationModel:
        client = self._client
        return await client._run(client._ops.get_model(client._core, model), None)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- client


#: Closes in flight (``close_later``): the loop keeps only weak references to its tasks.
_CLOSING: set[asyncio.Task[None]] = set()


def close_later(http: httpx.AsyncClient) -> None:
    """Close a dropped client's own ``httpx.AsyncClient`` on the running loop, as the Anthropic
    SDK does, rather than leave its sockets to ResourceWarnings; without a running loop
    nothing can await the close."""
    if http.is_closed:
        return
    try:
        task = asyncio.get_running_loop().create_task(http.aclose())
    except RuntimeError:
        return
    _CLOSING.add(task)  # held until done, or the task could be collected before it closes
    task.add_done_callback(_CLOSING.discard)


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
        from claude_bedrock.client import connections, driver, httpx_transport, operations

        env = os.environ
        self._ops = operations
        self._driver = driver
        self._core, self._policy = operations.client_parts(
            env=env, load_files=lambda: load_shared_files(env), endpoint=endpoint, default_headers=default_headers,
            max_retries=max_retries, retry=retry, aws_access_key=aws_access_key, aws_secret_key=aws_secret_key,
            aws_session_token=aws_session_token, api_key=api_key, aws_profile=aws_profile, aws_region=aws_region,
            base_url=base_url,
        )  # fmt: skip
        self._sleep = sleep or asyncio.sleep
        self._clock: Callable[[], datetime] = utc_now
        self._timeouts = connections.timeouts_of(timeout)
        self._owns_http = http_client is None
        self._shares_with: AsyncAnthropicBedrock | None = None  # see with_options
        bundle = self._core.config.ca_bundle
        self._http = http_client or httpx_transport.async_client(
            self._timeouts, tls=None if bundle is None else connections.tls_context(bundle))
        if self._owns_http:
            weakref.finalize(self, close_later, self._http)  # dropped without close(): see there
        self.messages = AsyncMessages(self)
        self.beta = AsyncBeta(self)
        self.models = AsyncModels(self)

    def with_options(self, *, max_retries: int | None = None,
                     timeout: float | httpx.Timeout | None = None) -> AsyncAnthropicBedrock:
        """As ``AnthropicBedrock.with_options``: the copy shares credentials and connections."""
        from claude_bedrock.client.connections import timeouts_of

        clone = shallow_copy(self)
        clone._shares_with = self  # our httpx client is closed once no copy uses it
        if max_retries is not None:
            clone._policy = self._ops.with_max_retries(self._policy, max_retries)
        if timeout is not None:
            clone._timeouts = timeouts_of(timeout)
        clone.messages, clone.beta, clone.models = AsyncMessages(clone), AsyncBeta(clone), AsyncModels(clone)
        return clone

    copy = with_options

    @property
    def max_retries(self) -> int:
        return self._policy.max_retries

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
        call = self._ops.converse(self._core, model=model, endpoint=endpoint, fields={"messages": messages, **fields},
                                  stream=False, extra_headers=extra_headers, extra_body=extra_body,
                                  warn_stacklevel=WARN_FROM_METHOD)
        return await self._run(call, timeout)  # type: ignore[no-any-return]

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
        call = self._ops.converse(self._core, model=model, endpoint=endpoint, fields={"messages": messages, **fields},
                                  stream=True, extra_headers=extra_headers, extra_body=extra_body,
                                  warn_stacklevel=WARN_FROM_METHOD)
        raw = await self._open_stream(call, timeout)
        return AsyncConverseStream(raw, self._ops.converse_accumulator(call, raw.request_id))

    async def whoami(self) -> CallerIdentity:
        return await self._run(self._ops.whoami(self._core), None)  # type: ignore[no-any-return]

    def choose_model(self, model: str, endpoint: EndpointChoice | None = None) -> ModelChoice:
        return self._core.choose_model(model, endpoint, warn_stacklevel=WARN_FROM_METHOD)

    # -- relaying (the server's gateway engine) -----------------------------------------------

    async def _relay_stream(self, model_id: str, body: Mapping[str, Any], betas: Sequence[str],
                            headers: Sequence[tuple[str, str]] = ()) -> AsyncStream:
        """InvokeModelWithResponseStream for ``model_id`` as it is (no catalog check), with
        these InvokeModel ``headers`` (service tier, latency), its events as JSON objects.
        Errors as ``messages.create(stream=True)``'s."""
        call = self._ops.relay(self._core, model_id=model_id, body=body, betas=betas, headers=headers)
        return await self._open_stream(call, None)

    async def _relay_count_tokens(self, model_id: str, body: Mapping[str, Any], betas: Sequence[str],
                                  headers: Sequence[tuple[str, str]] = ()) -> int:
        """CountTokens' ``inputTokens`` for the bare ``model_id`` as it is, with these extra
        ``headers``."""
        call = self._ops.relay_count_tokens(self._core, model_id=model_id, body=body, betas=betas, headers=headers)
        counted = await self._run(call, None)
        return int(counted.input_tokens)

    # -- plumbing ---------------------------------------------------------------------------

    def _exchange(self, timeout: float | httpx.Timeout | None) -> Any:
        from claude_bedrock.client.connections import timeouts_of
        from claude_bedrock.client.httpx_transport import AsyncHttpxExchange

        return AsyncHttpxExchange(self._http, self._sleep, self._timeouts if timeout is None else timeouts_of(timeout))

    async def _run(self, call: Call, timeout: float | httpx.Timeout | None) -> Any:
        assert call.parse is not None
        flow = self._ops.call_flow(call.request, self._core.sign, call.parse, self._policy, self._clock,
                                   error_of=call.error_of)
        return await self._driver.run_async(self._exchange(timeout), flow)

    async def _open_stream(self, call: Call, timeout: float | httpx.Timeout | None) -> AsyncStream:
        assert call.decoder is not None
        info = self._ops.StreamInfo()
        flow = self._ops.stream_flow(call.request, self._core.sign, call.decoder, self._policy, self._clock, info)
        return await AsyncStream.start(self._driver.iterate_async(self._exchange(timeout), flow), info)

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncAnthropicBedrock:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
