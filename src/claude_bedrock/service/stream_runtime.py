"""The streaming operations' shared writer, and InvokeModelWithResponseStream.

``stream_response`` turns an engine's events into event-stream frames on the socket (one
``chunk`` frame per event here; ConverseStream, in ``service/converse_runtime.py``, renders its
own frames through it). Loaded with the first streaming call: a server that only answers
InvokeModel never imports the event-stream encoder.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Callable, Sequence

from claude_bedrock.domain.engine import ModelCall, ReadyEvents
from claude_bedrock.domain.identity_memo import IdentityMemo
from claude_bedrock.domain.errors import (
    BedrockError,
    DropConnection,
    ErrorAsFirstFrame,
    InternalServerException,
    ModelStreamErrorException,
)
from claude_bedrock.domain.validation import parse_json_body
from claude_bedrock.service import errors as awserrors
from claude_bedrock.service.chunk_frames import chunk_frame
from claude_bedrock.service.http import ClientDisconnected, Send, encode_headers
from claude_bedrock.service.ready import END, Pending, next_ready
from claude_bedrock.service.runtime import (
    Invocation,
    UsageTracker,
    base_headers,
    check_invoke_headers,
    elapsed_ms,
    finish_record,
    prepare_call,
    reported_settings,
    stopping_error,
)
from claude_bedrock.wire import eventstream

log = logging.getLogger("claude_bedrock.runtime")

EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
#: Frames ready at once are written together, up to this many per socket write.
MAX_FRAMES_PER_WRITE = 64
#: A whole answer (``ReadyEvents``) of at most this many events after the first is written
#: with the first event; a longer one lets the first leave alone, then renders the rest
#: (rendering 32 uncached frames takes about 0.1 ms).
MAX_EVENTS_WITH_FIRST = 32

#: The events that carry a whole answer's usage (its content deltas count only while it has
#: no ``message_delta``: a whole answer's rest always has one).
_USAGE_EVENTS = frozenset({"message_start", "message_delta"})
#: The usage events of the shared answers engines hand out (``ReadyEvents``' tails).
_SHARED_USAGE_EVENTS: IdentityMemo[tuple[dict[str, Any], ...]] = IdentityMemo(256)


async def _first_event(inv: Invocation, events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    """The engine's first event; waiting for it (injected latency, time to first token), the
    client leaving ends the wait (``ClientDisconnected``: nothing was sent)."""
    if type(events) is ReadyEvents:  # the whole answer exists: no stepping by hand
        ready = events.next_now()
        if ready is None:
            raise InternalServerException("The model produced no output.")
        return ready
    first = next_ready(events)
    if isinstance(first, Pending):
        with inv.disconnect:
            first = await first
    if first is END:
        raise InternalServerException("The model produced no output.")
    return first


def _invocation_metrics(usage: UsageTracker, latency_ms: int, first_byte_ms: int) -> dict[str, int]:
    metrics = {
        "inputTokenCount": usage.input,
        "outputTokenCount": usage.output,
        "invocationLatency": latency_ms,
        "firstByteLatency": first_byte_ms,
    }
    if usage.cache_read or usage.cache_write:
        metrics["cacheReadInputTokenCount"] = usage.cache_read
        metrics["cacheWriteInputTokenCount"] = usage.cache_write
    return metrics


async def _start_stream(inv: Invocation, send: Send, extra: list[tuple[str, str]],
                        settings: tuple[ModelCall, Sequence[tuple[str, str]]] | None) -> None:
    """Start the response. ``settings``: the call and the service tier and latency it asked
    for, which the headers report as the engine served them (``reported_settings``: known once
    its first event came)."""
    headers = base_headers(inv) + [("content-type", EVENTSTREAM_CONTENT_TYPE)] + extra
    if settings is not None:
        call, asked = settings  # unpacked: a call with *settings costs 1K instructions more
        headers += reported_settings(call, asked)
    await send({"type": "http.response.start", "status": 200, "headers": encode_headers(headers)})


async def _send_frame(send: Send, frame: bytes) -> None:
    await send({"type": "http.response.body", "body": frame, "more_body": True})


def _stream_error(exc: BaseException) -> BedrockError:
    if isinstance(exc, BedrockError) and exc.stream_member:
        return exc
    log.exception("engine failed mid-stream", exc_info=exc)
    return ModelStreamErrorException(
        "The model encountered an error while streaming.", originalStatusCode=500, originalMessage=str(exc)
    )


async def _send_exception_frame(send: Send, inv: Invocation, exc: BaseException) -> None:
    error = _stream_error(exc)
    inv.record.status = error.status
    inv.record.error_code = error.code
    inv.record.error_message = error.message
    frame = eventstream.exception_frame(error.stream_member or "internalServerException",
                                        awserrors.stream_exception_payload(error))
    await _send_frame(send, frame)


def _drop(inv: Invocation, usage: UsageTracker, sent: list[dict[str, Any]]) -> None:
    inv.record.status = 0
    inv.record.error_code = "ConnectionDropped"
    inv.record.error_message = "connection dropped mid-stream (injected)"
    finish_record(inv, usage, sent, streamed=True)


def _client_left(inv: Invocation, usage: UsageTracker, sent: list[dict[str, Any]]) -> None:
    inv.record.status = 0
    inv.record.error_code = "ClientDisconnected"
    inv.record.error_message = "the client closed the connection mid-stream"
    finish_record(inv, usage, sent, streamed=True)


async def _abandon(events: AsyncIterator[dict[str, Any]], item: Any, cancel: BaseException | None = None) -> None:
    """Close the engine's stream (a gateway's: its upstream response) once nobody will read it:
    the client has left, or the server is stopping (``cancel``: the call's task was cancelled).
    A step already in flight (an async generator cannot be closed while it runs) finishes first
    when the client left; when the server stops, it gets the cancellation (``Pending.end``): the
    step may wait long (an upstream's next bytes) and the server waits no more."""
    try:
        if isinstance(item, Pending):
            await (item if cancel is None else item.end(cancel))
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
    except Exception:  # noqa: BLE001 - the stream is abandoned: its errors have no reader
        log.debug("abandoned stream failed while closing", exc_info=True)


#: A stream's renderer: the frames of some events, in order (it may keep state across calls).
#: The batch is a tuple only when it is an engine's shared answer (``ReadyEvents``' tail).
Render = Callable[[Sequence[dict[str, Any]], UsageTracker], list[bytes]]


def _observe(usage: UsageTracker, events: Sequence[dict[str, Any]]) -> None:
    """Observe the usage of the rest of a whole answer (``ReadyEvents``), which ends with its
    ``message_delta``."""
    if type(events) is tuple:  # an engine's shared answer: its usage events are looked up
        shared = _SHARED_USAGE_EVENTS.get(events)
        if shared is None:
            shared = _SHARED_USAGE_EVENTS.put(
                events, tuple(event for event in events if event.get("type") in _USAGE_EVENTS)
            )
        events = shared
    for event in events:
        if event.get("type") in _USAGE_EVENTS:
            usage.observe(event)


async def _flush(send: Send, frames: list[bytes], *, last: bool = False) -> None:
    """Write ``frames``, up to MAX_FRAMES_PER_WRITE per write; with ``last``, the final write
    also ends the response (no separate empty write). The list is emptied first: a write that
    fails is never repeated by a later flush."""
    if len(frames) <= MAX_FRAMES_PER_WRITE:  # one write at most: the usual case
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        frames.clear()
        if data or last:
            await send({"type": "http.response.body", "body": data, "more_body": not last})
        return
    batch = frames[:]
    frames.clear()
    writes = [b"".join(batch[start:start + MAX_FRAMES_PER_WRITE])
              for start in range(0, len(batch), MAX_FRAMES_PER_WRITE)]
    if last and not writes:
        writes.append(b"")
    final = len(writes) - 1 if last else -1
    for index, data in enumerate(writes):
        await send({"type": "http.response.body", "body": data, "more_body": index != final})


async def stream_response(
    inv: Invocation,
    send: Send,
    events: AsyncIterator[dict[str, Any]],
    extra_headers: list[tuple[str, str]],
    render: Render,
    logged: list[Any],
    settings: tuple[ModelCall, Sequence[tuple[str, str]]] | None = None,
) -> None:
    """Write a stream: one frame (or more, for ConverseStream) per engine event.

    Errors before the first event are raised (a JSON error response), but ``ErrorAsFirstFrame``
    and ``DropConnection`` (injected faults: the stream opens, then carries the error or is
    cut); after it, they become an exception frame. The first event's frames leave at once, alone (time to first event);
    after that, frames of events that are ready at the same instant leave in one write;
    nothing waits for a later event (see ``service/ready.py``). When the engine's whole answer
    exists already (``ReadyEvents``), the rest of it is rendered in one go, and written with
    the first event when it is short (``MAX_EVENTS_WITH_FIRST``). ``settings`` (InvokeModel's
    stream): the call and its asked service tier and latency, reported in the headers as
    ``reported_settings`` says.
    """
    try:
        first = await _first_event(inv, events)
    except (ErrorAsFirstFrame, DropConnection) as fault:  # injected at event 0: the stream opens on it
        inv.record.first_byte_ms = elapsed_ms(inv.started)
        await _start_stream(inv, send, extra_headers, settings)
        if isinstance(fault, DropConnection):
            _drop(inv, UsageTracker(), logged)
            raise
        await _send_exception_frame(send, inv, fault.error)
        finish_record(inv, UsageTracker(), logged, streamed=True)
        await _flush(send, [], last=True)
        return
    inv.record.first_byte_ms = elapsed_ms(inv.started)
    usage = UsageTracker()
    await _start_stream(inv, send, extra_headers, settings)
    pending: list[bytes] = []
    item: Any = first
    try:
        usage.observe(first)
        pending = render([first], usage)
        if type(events) is ReadyEvents:
            rest = events.take_rest()
            # A short whole answer leaves in one write (rendering it delays the first event by
            # microseconds and saves a socket write); a long one lets the first event go first.
            if len(rest) > MAX_EVENTS_WITH_FIRST:
                await _flush(send, pending)
            _observe(usage, rest)
            pending += render(rest, usage)
        else:
            await _flush(send, pending)
            while True:
                item = next_ready(events)
                if isinstance(item, Pending):
                    await _flush(send, pending)
                    with inv.disconnect:
                        item = await item
                if item is END:
                    break
                usage.observe(item)
                pending.extend(render([item], usage))
                if len(pending) >= MAX_FRAMES_PER_WRITE:
                    # A long answer whose events need no wait must still stop when its client
                    # leaves: writes to a lost connection return at once (the ASGI server drops
                    # them), so the loop is let run once per write to see the disconnect.
                    inv.disconnect.start()
                    await _flush(send, pending)
                    await asyncio.sleep(0)
    except DropConnection:
        await _flush(send, pending)
        _drop(inv, usage, logged)
        raise
    except ClientDisconnected:  # nobody to write to: stop pulling events, no exception frame
        _client_left(inv, usage, logged)
        if not inv.disconnect.cut:  # a wait cut short ended the engine's stream already
            await _abandon(events, item)
        raise
    except asyncio.CancelledError as cancel:  # the server is stopping (``app._runtime``): an error the clients retry
        finish_record(inv, usage, logged, streamed=True)
        # The cancellation may come during a write, the engine's next step begun (``item``, not
        # awaited yet): the engine's stream is ended first, as the writes may wait on a client
        # that reads nothing until the process ends.
        await _abandon(events, item, cancel)
        try:
            await _flush(send, pending)
            await _send_exception_frame(send, inv, stopping_error())
            await _flush(send, [], last=True)
        except ClientDisconnected:  # gone meanwhile: cut as it is
            _client_left(inv, usage, logged)
        raise
    except Exception as exc:  # noqa: BLE001 - every failure after the start becomes a frame
        await _flush(send, pending)
        await _send_exception_frame(send, inv, exc)
    finish_record(inv, usage, logged, streamed=True)
    try:  # the last frames leave with the end of the response, in one write
        await _flush(send, pending, last=True)
    except ClientDisconnected:  # gone before the end: recorded as such
        _client_left(inv, usage, logged)
        raise


async def invoke_model_with_response_stream(inv: Invocation, send: Send) -> None:
    echoed = check_invoke_headers(inv.request, guardrails=inv.state.gateway_id is None)
    body = parse_json_body(inv.request.body)
    inv.record.input_body = body
    call = await prepare_call(inv, body, echoed)
    chunks: list[dict[str, Any]] = []

    cache = inv.state.chunk_frames

    def render(batch: Sequence[dict[str, Any]], usage: UsageTracker) -> list[bytes]:
        index = len(chunks)
        if not batch or batch[-1].get("type") != "message_stop":
            chunks.extend(batch)
            return cache.frames(batch, index)
        # message_stop ends every stream (Engine.stream) and carries this call's metrics.
        stop = dict(batch[-1])
        stop["amazon-bedrock-invocationMetrics"] = _invocation_metrics(
            usage, elapsed_ms(inv.started), inv.record.first_byte_ms or 0
        )
        frames = cache.frames(batch, index, len(batch) - 1)
        chunks.extend(batch)
        chunks[-1] = stop
        frames.append(chunk_frame(stop, len(chunks) - 1))  # a new dict every time: nothing to cache
        return frames

    events = inv.state.events(call, inv.record)
    extra_headers = [("x-amzn-bedrock-content-type", "application/json")]
    await stream_response(inv, send, events, extra_headers, render, chunks, (call, echoed))
