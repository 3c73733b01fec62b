"""``AnthropicBedrock``: the synchronous client, a thin shell over the sans-I/O core.

Purpose: move bytes for ``flow`` with ``httpx.Client`` and ``time.sleep``; everything else
(model choice, request building, signing, retries, decoding) is in ``core``, ``flow``,
``responses`` and ``streams``. The surface follows the Anthropic SDK's ``AnthropicBedrock``
(constructor arguments, ``messages.create`` / ``messages.stream`` / ``beta.messages.create``)
and adds ``messages.count_tokens``, ``models``, ``converse``, ``converse_stream``, ``whoami``.

Invariants:
  * Rule 1 - a driver owns at most one open response and closes it on the next ``Send``,
    at the end of the flow, and when the caller closes or abandons a stream.
  * Rule 2 - ``create(stream=True)``, ``stream()`` and ``converse_stream()`` send the
    request and read up to the first event before returning, so request errors (and
    retries) happen there, as in the Anthropic SDK.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from datetime import datetime, timezone
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
    import httpx

__all__ = ["AnthropicBedrock", "Stream", "MessageStream", "MessageStreamManager", "ConverseStream"]

T = TypeVar("T")
_WARN_FROM_METHOD = 2  # frames between a resource method's caller and ClientCore.choose_model


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _load_aws_files(env: Mapping[str, str]) -> Any:
    from claude_bedrock.client.aws_files import load_aws_files  # configparser only when needed

    return load_aws_files(env)


# --------------------------------------------------------------------------- driver


class _Exchange:
    """Performs a flow's actions with an ``httpx.Client`` (Rule 1)."""

    __slots__ = ("_http", "_sleep", "_timeout", "_response", "_chunks", "_transport")

    def __init__(self, http: httpx.Client, sleep: Callable[[float], None], timeout: httpx.Timeout) -> None:
        from claude_bedrock.client import transport  # httpx is imported on first use, not at import

        self._transport = transport
        self._http = http
        self._sleep = sleep
        self._timeout = timeout
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None

    def perform(self, action: Any) -> Any:
        transport = self._transport
        if type(action) is Send:
            self.close()
            request = transport.build_request(self._http, action, self._timeout)
            try:
                if not action.stream:
                    reply = self._http.send(request)
                    return responses.Reply(reply.status_code, reply.headers, reply.content)
                self._response = response = self._http.send(request, stream=True)
                self._chunks = response.iter_bytes()
                return _head(response)
            except transport.TransportError as exc:
                return transport.failure_of(exc)
        if type(action) is ReadChunk:
            assert self._chunks is not None
            try:
                return next(self._chunks, b"")
            except transport.TransportError as exc:
                return transport.failure_of(exc)
        if type(action) is ReadBody:
            assert self._response is not None
            try:
                return self._response.read()
            except transport.TransportError as exc:
                return transport.failure_of(exc)
        if type(action) is Sleep:
            self._sleep(action.seconds)
            return None
        raise TypeError(f"unexpected flow action {action!r}")

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = self._chunks = None


def _head(response: httpx.Response) -> Head:
    return Head(response.status_code, response.headers)


def _run(exchange: _Exchange, flow: Generator[Any, Any, T]) -> T:
    value: Any = None
    try:
        while True:
            try:
                action = flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value = exchange.perform(action)
    finally:
        exchange.close()


def _iterate(exchange: _Exchange, flow: Generator[Any, Any, None]) -> Iterator[Any]:
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
                value = exchange.perform(action)
    finally:
        flow.close()
        exchange.close()


# --------------------------------------------------------------------------- streams


class Stream:
    """Events of ``messages.create(stream=True)``; iterate it, then it is exhausted.

    The request was sent and the first event read when this object was made (Rule 2).
    """

    def __init__(self, events: Iterator[Any], info: StreamInfo) -> None:
        self._events = events
        self.info = info
        self._first: list[Any] = []
        try:
            self._first.append(next(events))
        except StopIteration:
            pass

    @property
    def request_id(self) -> str | None:
        return self.info.request_id

    def __iter__(self) -> Iterator[Any]:
        if self._first:
            yield self._first.pop()
        yield from self._events

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MessageStream:
    """``messages.stream()``: raw events plus ``TextEvent`` after each text delta, the
    ``text_stream`` of text pieces, and the accumulated ``get_final_message()``."""

    def __init__(self, raw: Stream, accumulator: streams.MessageAccumulator) -> None:
        self._raw = raw
        self._accumulator = accumulator
        self._events = self._stream()
        self.text_stream: Iterator[str] = self._text()

    @property
    def request_id(self) -> str | None:
        return self._raw.request_id

    def _stream(self) -> Iterator[MessageStreamEvent | TextEvent]:
        for event in self._raw:
            text_event = self._accumulator.add(event)
            yield event
            if text_event is not None:
                yield text_event

    def _text(self) -> Iterator[str]:
        for event in self._events:
            if isinstance(event, ContentBlockDeltaEvent) and isinstance(event.delta, TextDelta):
                yield event.delta.text

    def __iter__(self) -> Iterator[MessageStreamEvent | TextEvent]:
        return self._events

    def until_done(self) -> None:
        for _ in self._events:
            pass

    @property
    def current_message_snapshot(self) -> Message | None:
        return self._accumulator.snapshot

    def get_final_message(self) -> Message:
        self.until_done()
        message = self._accumulator.final_message()
        if message is None:
            raise APIError("The stream ended without a message_start event.", request_id=self.request_id)
        return message

    def get_final_text(self) -> str:
        return self.get_final_message().text

    def close(self) -> None:
        self._raw.close()


class MessageStreamManager:
    """Context manager returned by ``messages.stream()``; the request starts on ``__enter__``."""

    def __init__(self, start: Callable[[], MessageStream]) -> None:
        self._start = start
        self._stream: MessageStream | None = None

    def __enter__(self) -> MessageStream:
        self._stream = self._start()
        return self._stream

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._stream is not None:
            self._stream.close()


class ConverseStream:
    """``converse_stream()``: ``ConverseStreamEvent`` items, ``text_stream``, and the
    accumulated ``get_final_response()``."""

    def __init__(self, raw: Stream, accumulator: streams.ConverseAccumulator) -> None:
        self._raw = raw
        self._accumulator = accumulator
        self._events = self._stream()
        self.text_stream: Iterator[str] = self._text()

    @property
    def request_id(self) -> str | None:
        return self._raw.request_id

    def _stream(self) -> Iterator[ConverseStreamEvent]:
        for event in self._raw:
            self._accumulator.add(event)
            yield event

    def _text(self) -> Iterator[str]:
        for event in self._events:
            if event.type == "contentBlockDelta":
                text = (event.data.get("delta") or {}).get("text")
                if isinstance(text, str):
                    yield text

    def __iter__(self) -> Iterator[ConverseStreamEvent]:
        return self._events

    def until_done(self) -> None:
        for _ in self._events:
            pass

    def get_final_response(self) -> ConverseResponse:
        self.until_done()
        return self._accumulator.final_response()

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> ConverseStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- resources


class Messages:
    """``client.messages`` (and ``client.beta.messages``)."""

    def __init__(self, client: AnthropicBedrock) -> None:
        self._client = client

    def create(
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
    ) -> Message | Stream:
        """InvokeModel (``stream=False``: a ``Message``) or InvokeModelWithResponseStream
        (``stream=True``: a ``Stream`` of events). ``params`` are the other Messages fields
        (``system``, ``temperature``, ``tools``, ``thinking``...)."""
        client = self._client
        choice = client._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)
        body = {"max_tokens": max_tokens, "messages": messages, **params}
        request = client._core.invoke_request(choice, body, stream=stream, betas=betas,
                                              extra_headers=extra_headers, extra_body=extra_body)
        if stream:
            return client._open_stream(request, streams.InvokeStreamDecoder, timeout)
        return client._call(request, lambda reply: responses.parse_message(reply, choice), timeout=timeout)

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
    ) -> MessageStreamManager:
        """``with client.messages.stream(...) as stream:`` ``stream.text_stream``,
        ``stream.get_final_message()``."""
        client = self._client
        choice = client._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)
        body = {"max_tokens": max_tokens, "messages": messages, **params}
        request = client._core.invoke_request(choice, body, stream=True, betas=betas,
                                              extra_headers=extra_headers, extra_body=extra_body)

        def start() -> MessageStream:
            accumulator = streams.MessageAccumulator(pricing=choice.pricing, bedrock_model_id=choice.model_id)
            raw = client._open_stream(request, streams.InvokeStreamDecoder, timeout)
            accumulator.request_id = raw.request_id
            return MessageStream(raw, accumulator)

        return MessageStreamManager(start)

    def count_tokens(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        endpoint: EndpointChoice | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **params: Any,
    ) -> MessageTokensCount:
        """Bedrock CountTokens for an InvokeModel body (``system``, ``tools``...). The path
        carries the bare foundation-model ID, as Bedrock requires."""
        client = self._client
        choice = client._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)
        request = client._core.count_tokens_request(choice, {"messages": messages, **params},
                                                    extra_headers=extra_headers)
        return client._call(request, responses.parse_count_tokens, timeout=timeout)


class Beta:
    """``client.beta``: ``beta.messages.create(betas=[...])``."""

    def __init__(self, client: AnthropicBedrock) -> None:
        self.messages = Messages(client)


class Models:
    """``client.models``: the Bedrock control plane's foundation models."""

    def __init__(self, client: AnthropicBedrock) -> None:
        self._client = client

    def list(self, *, by_provider: str | None = "anthropic", **filters: str) -> ModelList:
        """ListFoundationModels (``byProvider=anthropic`` by default; other filters by wire
        name, e.g. ``byOutputModality="TEXT"``), each with the catalog's availability."""
        core = self._client._core
        return self._client._call(
            core.list_models_request(by_provider, **filters),
            lambda reply: responses.parse_model_list(reply, core.catalog),
        )

    def get(self, model: str) -> FoundationModel:
        """GetFoundationModel; ``model`` may be an alias, a profile ID or a base ID."""
        core = self._client._core
        model_id = core.base_model_id(core.choose_model(model))
        return self._client._call(core.get_model_request(model_id), lambda reply: responses.parse_model(reply, core.catalog))


# --------------------------------------------------------------------------- client


class AnthropicBedrock:
    """Claude on Bedrock, synchronous. See ``docs/client.md`` for the resolution rules.

    Args:
        aws_access_key / aws_secret_key / aws_session_token: explicit SigV4 credentials.
        aws_region: region to sign for (else ``AWS_REGION``, else us-east-1).
        aws_profile: a profile of ``~/.aws/credentials`` / ``~/.aws/config``.
        api_key: a Bedrock API key (bearer), instead of SigV4.
        base_url: endpoint of runtime, control plane and STS (our server serves all three).
        endpoint: default endpoint type for model aliases: "global" or "regional" (default:
            global when the model has one).
        max_retries: retries after the first attempt (default 2).
        timeout: seconds (or an ``httpx.Timeout``) per request; default 600, connect 5.
        http_client: an ``httpx.Client`` to use (the caller closes it).
        default_headers: headers added to every request.
        retry: a ``RetryPolicy`` (overrides ``max_retries``); ``sleep``: replaces
            ``time.sleep`` between attempts (both mainly for tests).
    """

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
        http_client: httpx.Client | None = None,
        default_headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        from claude_bedrock.client import transport  # the HTTP library loads with the first client

        env = os.environ
        config = resolve_config(
            env=env, load_files=lambda: _load_aws_files(env),
            aws_access_key=aws_access_key, aws_secret_key=aws_secret_key, aws_session_token=aws_session_token,
            api_key=api_key, aws_profile=aws_profile, aws_region=aws_region, base_url=base_url,
        )  # fmt: skip
        self._core = ClientCore(config, endpoint=endpoint, default_headers=default_headers)
        self._policy = retry or RetryPolicy(uniform=random.Random().uniform, max_retries=max_retries)
        self._sleep = sleep or time.sleep
        self._clock: Callable[[], datetime] = utc_now
        self._timeout = transport.timeout_of(timeout)
        self._owns_http = http_client is None
        self._http = http_client or transport.sync_client(self._timeout)
        self.messages = Messages(self)
        self.beta = Beta(self)
        self.models = Models(self)

    @property
    def config(self) -> ClientConfig:
        return self._core.config

    @property
    def aws_region(self) -> str:
        return self._core.region

    @property
    def base_url(self) -> str:
        return self._core.config.runtime_url

    def converse(
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
        """Converse. ``fields``: ``system``, ``inference_config``, ``tool_config``,
        ``additional_model_request_fields``... (``core.CONVERSE_FIELDS``)."""
        choice = self._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)
        request = self._core.converse_request(choice, {"messages": messages, **fields}, stream=False,
                                              extra_headers=extra_headers, extra_body=extra_body)
        return self._call(request, lambda reply: responses.parse_converse(reply, choice), timeout=timeout)

    def converse_stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        endpoint: EndpointChoice | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **fields: Any,
    ) -> ConverseStream:
        """ConverseStream: a ``ConverseStream`` of ``ConverseStreamEvent``."""
        choice = self._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)
        request = self._core.converse_request(choice, {"messages": messages, **fields}, stream=True,
                                              extra_headers=extra_headers, extra_body=extra_body)
        raw = self._open_stream(request, streams.ConverseStreamDecoder, timeout)
        accumulator = streams.ConverseAccumulator(pricing=choice.pricing, bedrock_model_id=choice.model_id,
                                                  request_id=raw.request_id)
        return ConverseStream(raw, accumulator)

    def whoami(self) -> CallerIdentity:
        """STS GetCallerIdentity for the configured credentials."""
        return self._call(self._core.caller_identity_request(), responses.parse_caller_identity,
                          error_of=responses.error_from_xml_reply)

    def choose_model(self, model: str, endpoint: EndpointChoice | None = None) -> ModelChoice:
        """The Bedrock model ID a call with ``model`` would send (no request)."""
        return self._core.choose_model(model, endpoint, warn_stacklevel=_WARN_FROM_METHOD)

    # -- plumbing ---------------------------------------------------------------------------

    def _exchange(self, timeout: float | httpx.Timeout | None) -> _Exchange:
        if timeout is None:
            return _Exchange(self._http, self._sleep, self._timeout)
        from claude_bedrock.client.transport import timeout_of

        return _Exchange(self._http, self._sleep, timeout_of(timeout))

    def _call(self, request: PreparedRequest, parse: Callable[[responses.Reply], T], *,
              timeout: float | httpx.Timeout | None = None,
              error_of: Callable[[responses.Reply], Any] = responses.error_from_reply) -> T:
        flow = call_flow(request, self._core.sign, parse, self._policy, self._clock, error_of=error_of)
        return _run(self._exchange(timeout), flow)

    def _open_stream(self, request: PreparedRequest, decoder: Callable[[str | None], Any],
                     timeout: float | httpx.Timeout | None) -> Stream:
        info = StreamInfo()
        flow = stream_flow(request, self._core.sign, decoder, self._policy, self._clock, info)
        return Stream(_iterate(self._exchange(timeout), flow), info)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> AnthropicBedrock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
