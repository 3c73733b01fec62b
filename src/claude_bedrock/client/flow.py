"""The sequence of one API call - attempts, retries, stream decoding - written once.

Purpose: httpx's ``auth_flow`` idea applied to a whole call. A flow is a generator that
*yields actions* and *receives outcomes*; it never touches a socket, a clock or a sleep.
The sync shell drives it with ``httpx.Client`` and ``time.sleep``, the async shell with
``httpx.AsyncClient`` and ``asyncio.sleep``; the protocol logic exists once.

Actions (yielded) and what the driver sends back::

    Send(request, headers, stream=False) -> Reply(status, headers, body) | TransportFailure
    Send(request, headers, stream=True)  -> Head(status, headers)        | TransportFailure
    READ_BODY                            -> bytes (rest of the body)     | TransportFailure
    READ_CHUNK                           -> bytes (b"" at the end)       | TransportFailure
    Sleep(seconds)                       -> None
    Emit(item)                           -> None   (stream flows: hand ``item`` to the caller)

Invariants:
  * Rule 1 - every attempt is signed afresh at ``clock()`` (retries must not replay an old
    X-Amz-Date); the driver closes a previous streamed response when it performs the next
    ``Send`` and when the flow ends.
  * Rule 2 - a stream is retried only before its first ``Emit``; after that every error
    reaches the caller (a partial answer is never silently restarted).
  * Rule 3 - errors leave the flow as the typed exceptions of ``errors``; a
    ``TransportFailure`` becomes ``APIConnectionError`` / ``APITimeoutError`` chained to
    the library's exception.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar, Union

from claude_bedrock.client.core import PreparedRequest
from claude_bedrock.client.errors import APIConnectionError, APIStatusError, APITimeoutError, StreamError
from claude_bedrock.client.responses import Reply, error_from_reply, request_id_of
from claude_bedrock.client.retry import RetryPolicy

__all__ = [
    "READ_BODY", "READ_CHUNK", "Action", "Emit", "Head", "ReadBody", "ReadChunk", "Send", "Sleep",
    "StreamInfo", "TransportFailure", "call_flow", "stream_flow",
]  # fmt: skip

T = TypeVar("T")
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Send:
    request: PreparedRequest
    headers: Headers
    stream: bool


class ReadChunk:
    __slots__ = ()


class ReadBody:
    __slots__ = ()


READ_CHUNK = ReadChunk()
READ_BODY = ReadBody()


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Emit:
    item: Any


@dataclass(frozen=True, slots=True)
class Head:
    """The status and headers of a streamed response (its body is read with READ_CHUNK)."""

    status: int
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """The HTTP library failed: ``retryable`` for network errors and timeouts."""

    error: BaseException
    retryable: bool
    timeout: bool = False


Action = Union[Send, ReadChunk, ReadBody, Sleep, Emit]


class StreamDecoder(Protocol):
    def feed(self, data: bytes) -> None: ...
    def next_event(self) -> Any: ...
    def close(self) -> None: ...


@dataclass(slots=True)
class StreamInfo:
    """What a stream flow learned about its response, for the caller's stream object."""

    request_id: str | None = None
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    attempts: int = 0


Signer = Callable[[PreparedRequest, datetime], Headers]


def _connection_error(failure: TransportFailure) -> APIConnectionError:
    cls = APITimeoutError if failure.timeout else APIConnectionError
    detail = str(failure.error) or type(failure.error).__name__
    error = cls(f"{'Request timed out' if failure.timeout else 'Connection error'}: {detail}", cause=failure.error)
    error.__cause__ = failure.error
    return error


def call_flow(
    request: PreparedRequest,
    sign: Signer,
    parse: Callable[[Reply], T],
    policy: RetryPolicy,
    clock: Callable[[], datetime],
    *,
    error_of: Callable[[Reply], APIStatusError] = error_from_reply,
) -> Generator[Action, Any, T]:
    """One non-streamed call: send, retry per ``policy``, return ``parse(reply)``.

    Raises:
        APIStatusError: the final error reply (``error_of`` picks the class).
        APIConnectionError: the final transport failure.
    """
    retry = 0
    while True:
        outcome = yield Send(request, sign(request, clock()), False)
        if isinstance(outcome, TransportFailure):
            delay = policy.delay_after_connection_error(retry, outcome.retryable)
            if delay is None:
                raise _connection_error(outcome)
        elif outcome.status >= 300:
            delay = policy.delay_after_status(retry, outcome.status, outcome.headers, clock())
            if delay is None:
                raise error_of(outcome)
        else:
            return parse(outcome)
        yield Sleep(delay)
        retry += 1


def stream_flow(
    request: PreparedRequest,
    sign: Signer,
    make_decoder: Callable[[str | None], StreamDecoder],
    policy: RetryPolicy,
    clock: Callable[[], datetime],
    info: StreamInfo,
) -> Generator[Action, Any, None]:
    """One streamed call: ``Emit`` each decoded event; retry only before the first (Rule 2).

    Raises:
        StreamError: an exception frame (typed by its member).
        APIStatusError: an error reply before the stream started.
        APIConnectionError: a transport failure.
        APIResponseValidationError: undecodable stream bytes.
    """
    retry = 0
    while True:
        info.attempts += 1
        outcome = yield Send(request, sign(request, clock()), True)
        if isinstance(outcome, TransportFailure):
            delay = policy.delay_after_connection_error(retry, outcome.retryable)
            if delay is None:
                raise _connection_error(outcome)
            yield Sleep(delay)
            retry += 1
            continue
        info.status, info.headers = outcome.status, outcome.headers
        info.request_id = request_id_of(outcome.headers)
        if outcome.status >= 300:
            body = yield READ_BODY
            reply = Reply(outcome.status, outcome.headers, body if isinstance(body, bytes) else b"")
            delay = policy.delay_after_status(retry, reply.status, reply.headers, clock())
            if delay is None:
                raise error_from_reply(reply)
        else:
            decoder = make_decoder(info.request_id)
            delay = yield from _decode(decoder, policy, retry)
            if delay is None:
                return
        yield Sleep(delay)
        retry += 1


def _decode(decoder: StreamDecoder, policy: RetryPolicy, retry: int) -> Generator[Action, Any, float | None]:
    """Read and emit events to the end; return a retry delay, or None when the stream ended."""
    delivered = 0
    while True:
        chunk = yield READ_CHUNK
        if isinstance(chunk, TransportFailure):
            delay = policy.delay_after_connection_error(retry, chunk.retryable) if not delivered else None
            if delay is None:
                raise _connection_error(chunk)
            return delay
        if not chunk:
            decoder.close()
            return None
        decoder.feed(chunk)
        while True:
            try:
                event = decoder.next_event()
            except StreamError as exc:
                delay = policy.delay_after_stream_error(retry, exc.code, delivered)
                if delay is None:
                    raise
                return delay
            if event is None:
                break
            delivered += 1
            yield Emit(event)
