"""``AnthropicBedrock``: the synchronous client's public surface.

Purpose: the Anthropic SDK's ``AnthropicBedrock`` surface (constructor arguments,
``messages.create`` / ``messages.stream`` / ``beta.messages.create``) plus
``messages.count_tokens``, ``models``, ``converse``, ``converse_stream`` and ``whoami``. Each
method asks ``operations`` for a ``Call`` (model choice, request, reply reader), runs its
``flow`` with ``driver`` over an exchange (``connections``: stdlib keep-alive connections by
default; ``httpx_transport`` when an ``httpx.Client`` is given), and wraps streams. No protocol
logic lives here.

Invariants:
  * Rule 1 - importing this module loads neither httpx nor the core: they load with the first
    client (``import claude_bedrock`` stays cheap; ``bench/client_bench.py`` measures it).
  * Rule 2 - ``create(stream=True)``, ``stream()`` and ``converse_stream()`` send the request
    and read up to the first event before returning, so request errors (and retries) happen
    there, as in the Anthropic SDK.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from copy import copy as shallow_copy
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
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

__all__ = ["AnthropicBedrock", "Stream", "MessageStream", "MessageStreamManager", "ConverseStream"]

#: ``warn_stacklevel`` for ``operations``: resource method -> caller's code.
WARN_FROM_METHOD = 2


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def load_shared_files(env: Mapping[str, str]) -> Any:
    from claude_bedrock.client.aws_files import load_aws_files  # configparser only when needed

    return load_aws_files(env)


def is_text_delta(event: Any) -> bool:
    return event.type == "content_block_delta" and event.delta.type == "text_delta"


def converse_text(event: Any) -> str | None:
    if event.type != "contentBlockDelta":
        return None
    text = (event.data.get("delta") or {}).get("text")
    return text if isinstance(text, str) else None


# --------------------------------------------------------------------------- streams


class Stream:
    """Events of ``messages.create(stream=True)`` (or ``converse_stream``); iterate it once.

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
    """``messages.stream()``: raw events plus a ``TextEvent`` after each text delta, the
    ``text_stream`` of text pieces, and the accumulated ``get_final_message()``."""

    def __init__(self, raw: Stream, accumulator: MessageAccumulator) -> None:
        self._raw = raw
        self._accumulator = accumulator
        self._events = self._stream()
        self.text_stream: Iterator[str] = (event.delta.text for event in self._events if is_text_delta(event))

    @property
    def request_id(self) -> str | None:
        return self._raw.request_id

    def _stream(self) -> Iterator[MessageStreamEvent | TextEvent]:
        for event in self._raw:
            text_event = self._accumulator.add(event)
            yield event
            if text_event is not None:
                yield text_event

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
        return self._accumulator.final_message()

    def get_final_text(self) -> str:
        return self.get_final_message().text

    def close(self) -> None:
        self._raw.close()


class MessageStreamManager:
    """Returned by ``messages.stream()``; the request starts on ``__enter__``."""

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

    def __init__(self, raw: Stream, accumulator: ConverseAccumulator) -> None:
        self._raw = raw
        self._accumulator = accumulator
        self._events = self._stream()
        self.text_stream: Iterator[str] = (t for e in self._events if (t := converse_text(e)) is not None)

    @property
    def request_id(self) -> str | None:
        return self._raw.request_id

    def _stream(self) -> Iterator[ConverseStreamEvent]:
        for event in self._raw:
            self._accumulator.add(event)
            yield event

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

    @overload
    def create(
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
    def create(
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
    ) -> Stream: ...

    @overload
    def create(
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
    ) -> Message | Stream: ...

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
        (``system``, ``temperature``, ``tools``, ``thinking``, ``metadata``...)."""
        client = self._client
        call = client._ops.invoke(
            client._core, model=model, endpoint=endpoint, body={"max_tokens": max_tokens, "messages": messages, **params},
            stream=stream, betas=betas, extra_headers=extra_headers, extra_body=extra_body,
            warn_stacklevel=WARN_FROM_METHOD,
        )  # fmt: skip
        return client._open_stream(call, timeout) if stream else client._run(call, timeout)

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
        """``with client.messages.stream(...) as stream:`` then ``stream.text_stream``,
        ``stream.get_final_message()``. The model is checked now, the request sent on enter."""
        client = self._client
        call = client._ops.invoke(
            client._core, model=model, endpoint=endpoint, body={"max_tokens": max_tokens, "messages": messages, **params},
            stream=True, betas=betas, extra_headers=extra_headers, extra_body=extra_body,
            warn_stacklevel=WARN_FROM_METHOD,
        )  # fmt: skip

        def start() -> MessageStream:
            raw = client._open_stream(call, timeout)
            return MessageStream(raw, client._ops.message_accumulator(call, raw.request_id))

        return MessageStreamManager(start)

    def count_tokens(
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
        """Bedrock CountTokens for the InvokeModel body these arguments make (``system``,
        ``tools``...; ``betas`` go into its ``anthropic_beta``, as for ``create``). The path
        carries the bare foundation-model ID, as Bedrock requires."""
        client = self._client
        call = client._ops.count_tokens(client._core, model=model, endpoint=endpoint,
                                        body={"messages": messages, **params}, betas=betas,
                                        extra_headers=extra_headers, extra_body=extra_body,
                                        warn_stacklevel=WARN_FROM_METHOD)
        return client._run(call, timeout)  # type: ignore[no-any-return]


class Beta:
    """``client.beta``: ``beta.messages.create(betas=[...])``."""

    def __init__(self, client: AnthropicBedrock) -> None:
        self.messages = Messages(client)


class Models:
    """``client.models``: the Bedrock control plane's foundation models."""

    def __init__(self, client: AnthropicBedrock) -> None:
        self._client = client

    def list(self, *, by_provider: str | None = "anthropic", **filters: str) -> ModelList:
        """ListFoundationModels (``byProvider=anthropic`` by default; other filters by Python or
        wire name, e.g. ``by_inference_type="ON_DEMAND"`` or ``byOutputModality="TEXT"``; an
        unknown filter is a ``TypeError``), each with the catalog's availability."""
        client = self._client
        return client._run(client._ops.list_models(client._core, by_provider, filters), None)  # type: ignore[no-any-return]

    def get(self, model: str) -> FoundationModel:
        """GetFoundationModel; ``model`` may be an alias, an Anthropic name, a profile or base ID."""
        client = self._client
        return client._run(client._ops.get_model(client._core, model), None)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- client


class AnthropicBedrock:
    """Claude on Bedrock, synchronous. Resolution rules: ``docs/client.md``.

    Args:
        aws_access_key / aws_secret_key / aws_session_token: explicit SigV4 credentials.
        aws_region: region to sign for (else ``AWS_REGION``, else us-east-1).
        aws_profile: a profile of ``~/.aws/credentials`` / ``~/.aws/config``.
        api_key: a Bedrock API key (bearer), instead of SigV4.
        base_url: endpoint of runtime, control plane and STS (our server serves all three).
        endpoint: default endpoint type for model aliases, "global" or "regional" (default:
            global when the model has one).
        max_retries: retries after the first attempt (default 2).
        timeout: seconds to wait for each read (default 600; connecting: 5), or an
            ``httpx.Timeout``; also accepted per call.
        http_client: an ``httpx.Client`` to send with (proxies, custom TLS, mock transports;
            the caller closes it). Default: pooled keep-alive ``http.client`` connections.
        default_headers: headers added to every request.
        retry: a ``RetryPolicy`` (replaces ``max_retries``); ``sleep`` replaces ``time.sleep``
            between attempts (both mainly for tests).
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
        from claude_bedrock.client import connections, driver, operations  # Rule 1: with the first client

        env = os.environ
        self._ops = operations
        self._driver = driver
        self._core, self._policy = operations.client_parts(
            env=env, load_files=lambda: load_shared_files(env), endpoint=endpoint, default_headers=default_headers,
            max_retries=max_retries, retry=retry, aws_access_key=aws_access_key, aws_secret_key=aws_secret_key,
            aws_session_token=aws_session_token, api_key=api_key, aws_profile=aws_profile, aws_region=aws_region,
            base_url=base_url,
        )  # fmt: skip
        self._sleep = sleep or time.sleep
        self._clock: Callable[[], datetime] = utc_now
        self._timeouts = connections.timeouts_of(timeout)
        self._http = http_client
        self._pool = connections.ConnectionPool(ca_bundle=self._core.config.ca_bundle) if http_client is None else None
        self.messages = Messages(self)
        self.beta = Beta(self)
        self.models = Models(self)

    def with_options(self, *, max_retries: int | None = None,
                     timeout: float | httpx.Timeout | None = None) -> AnthropicBedrock:
        """This client with other ``max_retries`` / ``timeout`` defaults, as the Anthropic SDK's
        ``client.with_options(...)``: the copy shares credentials and connections (closing
        either closes them)."""
        clone = shallow_copy(self)
        if max_retries is not None:
            clone._policy = self._ops.with_max_retries(self._policy, max_retries)
        if timeout is not None:
            from claude_bedrock.client import connections

            clone._timeouts = connections.timeouts_of(timeout)
        clone.messages, clone.beta, clone.models = Messages(clone), Beta(clone), Models(clone)
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
        call = self._ops.converse(self._core, model=model, endpoint=endpoint, fields={"messages": messages, **fields},
                                  stream=False, extra_headers=extra_headers, extra_body=extra_body,
                                  warn_stacklevel=WARN_FROM_METHOD)
        return self._run(call, timeout)  # type: ignore[no-any-return]

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
        call = self._ops.converse(self._core, model=model, endpoint=endpoint, fields={"messages": messages, **fields},
                                  stream=True, extra_headers=extra_headers, extra_body=extra_body,
                                  warn_stacklevel=WARN_FROM_METHOD)
        raw = self._open_stream(call, timeout)
        return ConverseStream(raw, self._ops.converse_accumulator(call, raw.request_id))

    def whoami(self) -> CallerIdentity:
        """STS GetCallerIdentity for the configured credentials."""
        return self._run(self._ops.whoami(self._core), None)  # type: ignore[no-any-return]

    def choose_model(self, model: str, endpoint: EndpointChoice | None = None) -> ModelChoice:
        """The Bedrock model ID (and pricing) a call with ``model`` would use; no request."""
        return self._core.choose_model(model, endpoint, warn_stacklevel=WARN_FROM_METHOD)

    # -- plumbing ---------------------------------------------------------------------------

    def _exchange(self, timeout: float | httpx.Timeout | None) -> Any:
        """The I/O object of one call: pooled ``http.client`` connections, or the caller's
        ``httpx.Client`` when one was given."""
        from claude_bedrock.client import connections

        timeouts = self._timeouts if timeout is None else connections.timeouts_of(timeout)
        if self._pool is not None:
            return connections.PooledExchange(self._pool, self._sleep, timeouts)
        from claude_bedrock.client.httpx_transport import HttpxExchange

        return HttpxExchange(self._http, self._sleep, timeouts)

    def _run(self, call: Call, timeout: float | httpx.Timeout | None) -> Any:
        assert call.parse is not None
        flow = self._ops.call_flow(call.request, self._core.sign, call.parse, self._policy, self._clock,
                                   error_of=call.error_of)
        return self._driver.run_sync(self._exchange(timeout), flow)

    def _open_stream(self, call: Call, timeout: float | httpx.Timeout | None) -> Stream:
        assert call.decoder is not None
        info = self._ops.StreamInfo()
        flow = self._ops.stream_flow(call.request, self._core.sign, call.decoder, self._policy, self._clock, info)
        return Stream(self._driver.iterate_sync(self._exchange(timeout), flow), info)

    def close(self) -> None:
        """Close pooled connections (a caller's ``http_client`` is left to the caller)."""
        if self._pool is not None:
            self._pool.close()

    def __enter__(self) -> AnthropicBedrock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
