"""bedrock-runtime operations: InvokeModel, InvokeModelWithResponseStream, Converse,
ConverseStream and CountTokens.

Every response is rendered from the one stream of Anthropic events an engine yields:

    engine.stream(call) ──► Render (one per output form) ──► bytes on the socket
                              ├─ InvokeJsonRender     (MessageAccumulator -> JSON + headers)
                              ├─ InvokeStreamRender   (one ``chunk`` frame per event)
                              ├─ ConverseJsonRender   (ConverseResponseBuilder)
                              └─ ConverseStreamRender (ConverseStreamRenderer, one frame per event)

Errors raised before the first event become ordinary JSON error responses; errors after a
stream has started become the matching exception frame (wire-protocol reference 2.3, 2.4).

Converse, ConverseStream and CountTokens (whose input passes through the Converse translator)
live in ``service/converse_runtime.py``, loaded on their first call.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

from claude_bedrock.domain import tokens
from claude_bedrock.domain.catalog import Resolution
from claude_bedrock.domain.engine import ModelCall
from claude_bedrock.domain.errors import (
    BedrockError,
    DropConnection,
    InternalServerException,
    ModelStreamErrorException,
    ValidationException,
)
from claude_bedrock.domain.message import MessageAccumulator
from claude_bedrock.domain.validation import parse_json_body, validate_messages_request
from claude_bedrock.service.calls import CallRecord
from claude_bedrock.service.http import (
    ClientDisconnected,
    Request,
    Send,
    encode_headers,
    json_bytes,
    send_response,
)
from claude_bedrock.service.chunk_frames import chunk_frame
from claude_bedrock.service.ready import END, Pending, next_ready
from claude_bedrock.service.state import ServiceState
from claude_bedrock.service import errors as awserrors
from claude_bedrock.wire import eventstream

log = logging.getLogger("claude_bedrock.runtime")

EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
#: Frames ready at once are written together, up to this many per socket write.
MAX_FRAMES_PER_WRITE = 64

_REQUEST_METADATA_HEADER = "x-amzn-bedrock-request-metadata"


@dataclass
class Invocation:
    """Everything a handler needs once the caller and the model are known."""

    state: ServiceState
    request: Request
    record: CallRecord
    resolution: Resolution
    started: float
    #: Starts watching for the client leaving (idempotent). A stream calls it before its first
    #: wait: while frames are ready, nothing needs watching (``app._watch_disconnect``).
    watch_disconnect: Callable[[], None] = lambda: None


def _message_id(request_id: str) -> str:
    """``msg_bdrk_01`` + 24 characters, unique per call (derived from the request ID)."""
    return "msg_bdrk_01" + request_id.replace("-", "")[:24].upper()




def elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


#: The events that carry usage (``UsageTracker.observe`` ignores the others).
_USAGE_EVENTS = frozenset({"message_start", "message_delta"})


class UsageTracker:
    """Token counts as they appear in message_start / message_delta events."""

    __slots__ = ("input", "output", "cache_read", "cache_write", "cache_5m", "cache_1h")

    def __init__(self) -> None:
        self.input = self.output = self.cache_read = self.cache_write = 0
        self.cache_5m = self.cache_1h = 0

    def observe(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start":
            self._take(event["message"].get("usage") or {})
        elif kind == "message_delta":
            usage = event.get("usage") or {}
            if "output_tokens" in usage:
                self.output = usage["output_tokens"]

    def observe_message(self, message: dict[str, Any]) -> None:
        """Take the final counts of a whole (accumulated) message: its ``usage`` is
        ``message_start``'s updated by ``message_delta``'s, as the body reports it."""
        self._take(message.get("usage") or {})

    def _take(self, usage: dict[str, Any]) -> None:
        self.input = usage.get("input_tokens", 0)
        self.cache_read = usage.get("cache_read_input_tokens", 0) or 0
        self.cache_write = usage.get("cache_creation_input_tokens", 0) or 0
        breakdown = usage.get("cache_creation") or {}
        self.cache_5m = breakdown.get("ephemeral_5m_input_tokens", 0)
        self.cache_1h = breakdown.get("ephemeral_1h_input_tokens", 0)
        self.output = usage.get("output_tokens", 0)

    def as_dict(self) -> dict[str, int]:
        return {
            "inputTokens": self.input,
            "outputTokens": self.output,
            "cacheReadInputTokens": self.cache_read,
            "cacheWriteInputTokens": self.cache_write,
            "cacheWrite5mInputTokens": self.cache_5m,
            "cacheWrite1hInputTokens": self.cache_1h,
        }


# --------------------------------------------------------------------------- preparation


def request_metadata(request: Request) -> dict[str, str] | None:
    raw = request.header(_REQUEST_METADATA_HEADER)
    if raw is None:
        return None
    if len(raw) > 8500:
        raise ValidationException("requestMetadata must be at most 8500 characters.")
    try:
        value = json.loads(raw)
    except ValueError:
        return {"value": raw}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {"value": raw}


def prepare_call(inv: Invocation, body: dict[str, Any]) -> ModelCall:
    """Validate an Anthropic body for the resolved model and build the engine call."""
    model = inv.resolution.model
    validated = validate_messages_request(body, model, count_input_tokens=tokens.count_request)
    inv.state.note_deprecated(model)
    return ModelCall(
        request=validated.body,
        model_id=model.model_id,
        anthropic_name=model.anthropic_name,
        message_id=_message_id(inv.record.request_id),
        account_id=inv.record.account_id,
        region=inv.record.region,
        operation=inv.record.operation,
        betas=validated.betas,
        input_tokens=validated.input_tokens,
    )


async def _first_event(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    try:
        return await events.__anext__()
    except StopAsyncIteration:
        raise InternalServerException("The model produced no output.") from None


def finish_record(inv: Invocation, usage: UsageTracker, output: Any, streamed: bool) -> None:
    record = inv.record
    record.latency_ms = elapsed_ms(inv.started)
    record.usage = usage.as_dict()
    record.output_body = output
    record.streamed = streamed


def base_headers(inv: Invocation) -> list[tuple[str, str]]:
    return [("x-amzn-requestid", inv.record.request_id)]


# --------------------------------------------------------------------------- InvokeModel


async def invoke_model(inv: Invocation, send: Send) -> None:
    body = parse_json_body(inv.request.body)
    inv.record.input_body = body
    call = prepare_call(inv, body)
    accumulator = MessageAccumulator()
    async for event in inv.state.events(call, inv.record):
        accumulator.add(event)
    message = accumulator.message()
    usage = UsageTracker()
    usage.observe_message(message)
    finish_record(inv, usage, message, streamed=False)
    payload = json_bytes(message)
    headers = base_headers(inv) + [
        ("content-type", "application/json"),
        ("x-amzn-bedrock-invocation-latency", str(inv.record.latency_ms)),
        ("x-amzn-bedrock-input-token-count", str(usage.input)),
        ("x-amzn-bedrock-output-token-count", str(usage.output)),
        ("content-length", str(len(payload))),
    ]
    if usage.cache_read or usage.cache_write:
        headers.append(("x-amzn-bedrock-cache-read-input-token-count", str(usage.cache_read)))
        headers.append(("x-amzn-bedrock-cache-write-input-token-count", str(usage.cache_write)))
    await send_response(send, 200, headers, payload)


# --------------------------------------------------------------------------- streams


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


async def _start_stream(inv: Invocation, send: Send, extra: list[tuple[str, str]]) -> None:
    headers = base_headers(inv) + [("content-type", EVENTSTREAM_CONTENT_TYPE)] + extra
    await send({"type": "http.response.start", "status": 200, "headers": encode_headers(headers)})


async def _send_frame(send: Send, frame: bytes) -> None:
    await send({"type": "http.response.body", "body": frame, "more_body": True})


async def _end_stream(send: Send) -> None:
    await send({"type": "http.response.body", "body": b"", "more_body": False})


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


async def _abandon(events: AsyncIterator[dict[str, Any]], item: Any) -> None:
    """Close the engine's stream once the client has left. A step already in flight finishes
    first: an async generator cannot be closed while it runs."""
    try:
        if isinstance(item, Pending):
            await item
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
    except Exception:  # noqa: BLE001 - the stream is abandoned: its errors have no reader
        log.debug("abandoned stream failed while closing", exc_info=True)


async def stream_response(
    inv: Invocation,
    send: Send,
    events: AsyncIterator[dict[str, Any]],
    extra_headers: list[tuple[str, str]],
    render: Callable[[dict[str, Any], UsageTracker], list[bytes]],
    logged: list[Any],
) -> None:
    """Write a stream: one frame (or more, for ConverseStream) per engine event.

    Errors before the first event are raised (a JSON error response); after it, they become
    an exception frame. The first event's frames leave at once, alone (time to first event);
    after that, frames of events that are ready at the same instant leave in one write;
    nothing waits for a later event (see ``service/ready.py``).
    """
    first = await _first_event(events)
    inv.record.first_byte_ms = elapsed_ms(inv.started)
    usage = UsageTracker()
    await _start_stream(inv, send, extra_headers)
    pending: list[bytes] = []
    write_at = 1
    item: Any = first
    try:
        while True:
            if isinstance(item, Pending):
                if pending:
                    await _send_frame(send, b"".join(pending))
                    pending.clear()
                inv.watch_disconnect()
                item = await item
            if item is END:
                break
            if item.get("type") in _USAGE_EVENTS:
                usage.observe(item)
            pending.extend(render(item, usage))
            if len(pending) >= write_at:
                await _send_frame(send, b"".join(pending))
                pending.clear()
                write_at = MAX_FRAMES_PER_WRITE
            item = next_ready(events)
    except DropConnection:
        if pending:
            await _send_frame(send, b"".join(pending))
        _drop(inv, usage, logged)
        raise
    except ClientDisconnected:  # nobody to write to: stop pulling events, no exception frame
        _client_left(inv, usage, logged)
        await _abandon(events, item)
        raise
    except Exception as exc:  # noqa: BLE001 - every failure after the start becomes a frame
        if pending:
            await _send_frame(send, b"".join(pending))
        await _send_exception_frame(send, inv, exc)
    else:
        if pending:
            await _send_frame(send, b"".join(pending))
    finish_record(inv, usage, logged, streamed=True)
    await _end_stream(send)


async def invoke_model_with_response_stream(inv: Invocation, send: Send) -> None:
    body = parse_json_body(inv.request.body)
    inv.record.input_body = body
    call = prepare_call(inv, body)
    chunks: list[dict[str, Any]] = []

    def render(event: dict[str, Any], usage: UsageTracker) -> list[bytes]:
        if event.get("type") == "message_stop":
            event = dict(event)
            event["amazon-bedrock-invocationMetrics"] = _invocation_metrics(
                usage, elapsed_ms(inv.started), inv.record.first_byte_ms or 0
            )
            frame = chunk_frame(event, len(chunks))  # a new dict every time: nothing to cache
        else:
            frame = inv.state.chunk_frames.frame(event, len(chunks))
        chunks.append(event)
        return [frame]

    events = inv.state.events(call, inv.record)
    await stream_response(inv, send, events, [("x-amzn-bedrock-content-type", "application/json")], render, chunks)


# --------------------------------------------------------------------------- Anthropic count_tokens


async def anthropic_count_tokens(
    state: ServiceState, request: Request, identity: Any, params: dict[str, str]
) -> tuple[int, Any]:
    """``POST /v1/messages/count_tokens``: what the npm SDK's ``messages.countTokens`` sends
    (the first-party path, unchanged, with ``model`` in the body; wire-protocol captures)."""
    body = parse_json_body(request.body)
    model_id = body.pop("model", None)
    if not isinstance(model_id, str) or not model_id:
        raise ValidationException("model: Field required")
    resolution = state.resolve(model_id, identity.region, identity.account_id)
    body.setdefault("anthropic_version", "bedrock-2023-05-31")
    body.setdefault("max_tokens", 1)
    validated = validate_messages_request(body, resolution.model)
    return 200, {"input_tokens": tokens.count_request(validated.body)}
