"""Decode Bedrock event streams into typed events and typed errors, and accumulate replies.

Purpose: sans-I/O, h11-style: ``feed(bytes)`` stores, ``next_event()`` returns the next
event or ``None`` when more bytes are needed, ``close()`` declares the end. Used by both
shells through ``flow``.

Invariants:
  * Rule 1 - an exception frame (``:message-type: exception``) raises the ``StreamError``
    subclass named by its ``:exception-type`` (``errors.STREAM_ERRORS``); a generic error
    frame (``:message-type: error``) raises by ``:error-code``; an Anthropic
    ``{"type": "error"}`` event inside a chunk raises by its ``error.type``. Nothing turns
    into a generic failure (wire-protocol reference 2.3, 2.4, 2.5, 2.7).
  * Rule 2 - undecodable bytes (CRC, framing, chunk envelope, inner JSON) raise
    ``APIResponseValidationError``; a stream that ends mid-frame too.
  * Rule 3 - unknown ``:event-type`` values are skipped (as botocore does); ``ping`` events
    are dropped; unknown Anthropic event types become ``OtherEvent``.
  * Rule 4 - accumulators copy what they keep, so mutating a snapshot never changes an
    event already handed to the caller.

Source: wire-protocol reference 2.1-2.7; anthropic 2.14 ``lib/streaming/_messages.py``
(``accumulate_event``: what a final message is made of).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from claude_bedrock.client.errors import STREAM_ERRORS, APIError, APIResponseValidationError, StreamError
from claude_bedrock.client.types import (
    CitationsDelta,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    ConverseResponse,
    ConverseStreamEvent,
    ConverseUsage,
    InputJSONDelta,
    Message,
    MessageDeltaEvent,
    MessageStartEvent,
    MessageStopEvent,
    MessageStreamEvent,
    PricingContext,
    SignatureDelta,
    TextBlock,
    TextDelta,
    TextEvent,
    ThinkingBlock,
    ThinkingDelta,
    ToolUseBlock,
    event_from_dict,
)
from claude_bedrock.domain.json_body import exact_fast_loads
from claude_bedrock.wire.eventstream import (
    EventStreamDecoder,
    EventStreamError,
    decode_chunk_payload,
)
from claude_bedrock.wire.eventstream import Message as Frame
from claude_bedrock.wire.partial_json import parse_partial

__all__ = [
    "ANTHROPIC_STREAM_ERRORS", "InvokeStreamDecoder", "RawInvokeStreamDecoder", "ConverseStreamDecoder", "stream_error",
    "MessageAccumulator", "ConverseAccumulator",
]  # fmt: skip

#: Anthropic ``error.type`` inside a chunk -> the Bedrock stream member it stands for.
ANTHROPIC_STREAM_ERRORS: Mapping[str, str] = {
    "rate_limit_error": "throttlingException",
    "overloaded_error": "serviceUnavailableException",
    "api_error": "internalServerException",
    "invalid_request_error": "validationException",
    "timeout_error": "modelTimeoutException",
}

#: ConverseStream event types (botocore ``ConverseStreamOutput`` event members).
CONVERSE_EVENT_TYPES = frozenset(
    {"messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"}
)


def _build_stream_error(
    member: str | None,
    message: str,
    body: Any,
    *,
    request_id: str | None,
    events_received: int,
) -> StreamError:
    cls, status = STREAM_ERRORS.get(member or "", (StreamError, 500))
    return cls(
        message or member or "stream error",
        status_code=status,
        code=member,
        request_id=request_id,
        body=body,
        events_received=events_received,
    )


def stream_error(frame: Frame, *, request_id: str | None = None, events_received: int = 0) -> StreamError:
    """The typed error an exception or error frame stands for (Rule 1)."""
    if frame.header(":message-type") == "exception":
        member = frame.header(":exception-type")
        try:
            body: Any = json.loads(frame.payload) if frame.payload else {}
        except ValueError:
            body = frame.payload.decode("utf-8", "replace")
        message = ""
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("Message") or "")
        return _build_stream_error(
            str(member) if member is not None else None, message, body,
            request_id=request_id, events_received=events_received,
        )  # fmt: skip
    code = frame.header(":error-code")
    code_text = str(code) if code is not None else None
    member = code_text[:1].lower() + code_text[1:] if code_text else None
    error = _build_stream_error(
        member if member in STREAM_ERRORS else None,
        str(frame.header(":error-message") or ""),
        None,
        request_id=request_id,
        events_received=events_received,
    )
    error.code = code_text
    return error


class _FrameReader:
    """The framing shared by both stream kinds: bytes in, event frames out, errors raised."""

    __slots__ = ("_decoder", "request_id", "events_decoded")

    def __init__(self, request_id: str | None) -> None:
        self._decoder = EventStreamDecoder()
        self.request_id = request_id
        self.events_decoded = 0

    def feed(self, data: bytes) -> None:
        self._decoder.feed(data)

    def close(self) -> None:
        """Raises: APIResponseValidationError if the stream stopped inside a frame."""
        try:
            self._decoder.close()
        except EventStreamError as exc:
            raise self._invalid(f"the event stream ended early: {exc}") from None

    def next_frame(self) -> Frame | None:
        try:
            frame = self._decoder.next_message()
        except EventStreamError as exc:
            raise self._invalid(f"invalid event stream: {exc}") from None
        if frame is not None and frame.header(":message-type") != "event":
            raise stream_error(frame, request_id=self.request_id, events_received=self.events_decoded)
        return frame

    def _invalid(self, message: str) -> APIResponseValidationError:
        return APIResponseValidationError(message, status_code=200, request_id=self.request_id)


class InvokeStreamDecoder(_FrameReader):
    """InvokeModelWithResponseStream: ``chunk`` frames -> typed Anthropic stream events."""

    __slots__ = ()

    def next_event(self) -> MessageStreamEvent | None:
        """The next event, or None when more bytes are needed.

        Raises:
            StreamError: an exception/error frame, or an Anthropic error event.
            APIResponseValidationError: bytes that are not a valid stream of chunks.
        """
        data = self.next_data()
        return None if data is None else event_from_dict(data)

    def next_data(self) -> dict[str, Any] | None:
        """``next_event`` as the chunk's JSON object, untyped."""
        while (frame := self.next_frame()) is not None:
            if frame.header(":event-type") != "chunk":
                continue
            try:
                event_json = decode_chunk_payload(frame.payload)
                data = exact_fast_loads(event_json)
                if data is None:  # orjson could not tell: the standard parser decides
                    data = json.loads(event_json)
            except (EventStreamError, ValueError) as exc:
                raise self._invalid(f"invalid chunk: {exc}") from None
            if not isinstance(data, dict):
                raise self._invalid("a chunk's event is not a JSON object")
            kind = data.get("type")
            if kind == "ping":
                continue
            if kind == "error":
                raise self._anthropic_error(data)
            self.events_decoded += 1
            return data
        return None

    def _anthropic_error(self, data: Mapping[str, Any]) -> StreamError:
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        kind = str(error.get("type", ""))
        built = _build_stream_error(
            ANTHROPIC_STREAM_ERRORS.get(kind), str(error.get("message", "")), dict(data),
            request_id=self.request_id, events_received=self.events_decoded,
        )  # fmt: skip
        built.code = kind or built.code
        return built


class RawInvokeStreamDecoder(InvokeStreamDecoder):
    """``InvokeStreamDecoder`` handing out each event as its JSON object (a relay's events)."""

    __slots__ = ()

    def next_event(self) -> dict[str, Any] | None:  # type: ignore[override]
        return self.next_data()


class ConverseStreamDecoder(_FrameReader):
    """ConverseStream: event frames -> ``ConverseStreamEvent`` (padding ``p`` removed)."""

    __slots__ = ()

    def next_event(self) -> ConverseStreamEvent | None:
        """Like ``InvokeStreamDecoder.next_event``."""
        while (frame := self.next_frame()) is not None:
            kind = frame.header(":event-type")
            if kind not in CONVERSE_EVENT_TYPES:
                continue
            try:
                data = json.loads(frame.payload) if frame.payload else {}
            except ValueError as exc:
                raise self._invalid(f"invalid {kind} payload: {exc}") from None
            if not isinstance(data, dict):
                raise self._invalid(f"the {kind} payload is not a JSON object")
            data.pop("p", None)
            self.events_decoded += 1
            return ConverseStreamEvent(str(kind), data)
        return None


# --------------------------------------------------------------------------- accumulators


def _copy_message(message: Message) -> Message:
    usage = replace(message.usage)
    if usage.cache_creation is not None:
        usage.cache_creation = replace(usage.cache_creation)
    return replace(message, content=[replace(block) for block in message.content], usage=usage)


class MessageAccumulator:
    """Builds the final ``Message`` from stream events (``messages.stream()``)."""

    __slots__ = ("snapshot", "_json", "_pricing", "_model_id", "request_id")

    def __init__(self, *, pricing: PricingContext | None, bedrock_model_id: str | None,
                 request_id: str | None = None) -> None:
        self.snapshot: Message | None = None
        self._json: dict[int, str] = {}
        self._pricing = pricing
        self._model_id = bedrock_model_id
        self.request_id = request_id

    def add(self, event: MessageStreamEvent) -> TextEvent | None:
        """Apply ``event``; return the derived ``TextEvent`` for a text delta, else None."""
        if isinstance(event, MessageStartEvent):
            snapshot = _copy_message(event.message)
            snapshot.pricing = self._pricing
            snapshot.bedrock_model_id = self._model_id
            snapshot.request_id = self.request_id
            self.snapshot = snapshot
            return None
        snapshot = self.snapshot
        if snapshot is None:
            return None
        if isinstance(event, ContentBlockDeltaEvent):
            return self._delta(snapshot, event)
        if isinstance(event, ContentBlockStartEvent):
            while len(snapshot.content) < event.index:
                snapshot.content.append(TextBlock(""))
            if event.index < len(snapshot.content):
                snapshot.content[event.index] = replace(event.content_block)
            else:
                snapshot.content.append(replace(event.content_block))
        elif isinstance(event, ContentBlockStopEvent):
            self._finish_json(snapshot, event.index)
        elif isinstance(event, MessageDeltaEvent):
            snapshot.stop_reason = event.delta.stop_reason
            snapshot.stop_sequence = event.delta.stop_sequence
            usage = snapshot.usage
            usage.output_tokens = event.usage.output_tokens
            if event.usage.input_tokens is not None:
                usage.input_tokens = event.usage.input_tokens
            if event.usage.cache_creation_input_tokens is not None:
                usage.cache_creation_input_tokens = event.usage.cache_creation_input_tokens
            if event.usage.cache_read_input_tokens is not None:
                usage.cache_read_input_tokens = event.usage.cache_read_input_tokens
            if event.context_management is not None:
                snapshot.context_management = event.context_management
        elif isinstance(event, MessageStopEvent):
            snapshot.invocation_metrics = event.invocation_metrics
        return None

    def _delta(self, snapshot: Message, event: ContentBlockDeltaEvent) -> TextEvent | None:
        if event.index >= len(snapshot.content):
            return None
        block = snapshot.content[event.index]
        delta = event.delta
        if isinstance(delta, TextDelta) and isinstance(block, TextBlock):
            block.text += delta.text
            return TextEvent(delta.text, block.text)
        if isinstance(delta, InputJSONDelta) and isinstance(block, ToolUseBlock):
            self._json[event.index] = self._json.get(event.index, "") + delta.partial_json
        elif isinstance(delta, ThinkingDelta) and isinstance(block, ThinkingBlock):
            block.thinking += delta.thinking
        elif isinstance(delta, SignatureDelta) and isinstance(block, ThinkingBlock):
            block.signature = delta.signature
        elif isinstance(delta, CitationsDelta) and isinstance(block, TextBlock):
            block.citations = [*(block.citations or []), delta.citation]
        return None

    def _finish_json(self, snapshot: Message, index: int) -> None:
        text = self._json.pop(index, None)
        if text is None or index >= len(snapshot.content):
            return
        block = snapshot.content[index]
        if isinstance(block, ToolUseBlock):
            block.input = _tool_input(text)

    def final_message(self) -> Message:
        """The accumulated message; ``APIError`` when the stream had no ``message_start``."""
        if self.snapshot is None:
            raise APIError("The stream ended without a message_start event.", request_id=self.request_id)
        return self.snapshot


def _tool_input(text: str) -> Any:
    """A tool call's input from its streamed JSON: ``{}`` when empty; left open (a call cut by
    ``max_tokens``), its complete parameters, as the anthropic SDK's stream accumulator reads
    it and as the whole answer gives it; text that does not start a JSON object, as sent."""
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        partial = parse_partial(text)
        return partial if isinstance(partial, dict) else text


#: ``metadata`` event members that a Converse response carries at its top level.
_METADATA_EXTRAS = ("trace", "performanceConfig", "serviceTier")


class ConverseAccumulator:
    """Builds a ``ConverseResponse`` from ConverseStream events."""

    __slots__ = ("_role", "_blocks", "_tool_json", "_citations", "_stop_reason", "_usage", "_raw_usage", "_latency",
                 "_raw_extra", "_pricing", "_model_id", "request_id")

    def __init__(self, *, pricing: PricingContext | None, bedrock_model_id: str | None,
                 request_id: str | None = None) -> None:
        self._role = "assistant"
        self._blocks: dict[int, dict[str, Any]] = {}
        self._tool_json: dict[int, str] = {}
        self._citations: dict[int, list[Any]] = {}
        self._stop_reason: str | None = None
        self._usage = ConverseUsage()
        self._raw_usage: dict[str, Any] = {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}
        self._latency: int | None = None
        self._raw_extra: dict[str, Any] = {}
        self._pricing = pricing
        self._model_id = bedrock_model_id
        self.request_id = request_id

    def add(self, event: ConverseStreamEvent) -> str | None:
        """Apply ``event``; return the text of a text delta, else None."""
        data = event.data
        index = data.get("contentBlockIndex", 0)
        if event.type == "contentBlockDelta":
            delta = data.get("delta") or {}
            if isinstance(delta.get("text"), str):
                block = self._blocks.setdefault(index, {"text": ""})
                block["text"] = block.get("text", "") + delta["text"]
                return str(delta["text"])
            if isinstance(delta.get("toolUse"), dict):
                self._tool_json[index] = self._tool_json.get(index, "") + str(delta["toolUse"].get("input", ""))
            elif isinstance(delta.get("toolResult"), list):  # a server tool's result (ToolResultBlocksDelta)
                content = self._blocks.setdefault(index, {"toolResult": {}})["toolResult"].setdefault("content", [])
                for item in delta["toolResult"]:
                    if isinstance(item, dict) and "text" in item and content and "text" in content[-1]:
                        content[-1] = {"text": str(content[-1]["text"]) + str(item["text"])}
                    elif isinstance(item, dict):
                        content.append(dict(item))
            elif isinstance(delta.get("citation"), dict):
                self._citations.setdefault(index, []).append(delta["citation"])
            elif isinstance(delta.get("reasoningContent"), dict) and "redactedContent" in delta["reasoningContent"]:
                # a ReasoningContentBlock is a union: redactedContent, or reasoningText (+ signature)
                redacted = delta["reasoningContent"]["redactedContent"]
                self._blocks[index] = {"reasoningContent": {"redactedContent": redacted}}
            elif isinstance(delta.get("reasoningContent"), dict):
                reasoning = self._blocks.setdefault(index, {"reasoningContent": {"reasoningText": {"text": ""}}})
                target = reasoning.setdefault("reasoningContent", {}).setdefault("reasoningText", {"text": ""})
                part = delta["reasoningContent"]
                if "text" in part:
                    target["text"] = target.get("text", "") + str(part["text"])
                if "signature" in part:
                    target["signature"] = part["signature"]
        elif event.type == "messageStart":
            self._role = str(data.get("role", "assistant"))
        elif event.type == "contentBlockStart":
            start = data.get("start") or {}
            if isinstance(start.get("toolUse"), dict):
                self._blocks[index] = {"toolUse": {**start["toolUse"], "input": {}}}
            elif isinstance(start.get("toolResult"), dict):
                self._blocks[index] = {"toolResult": {**start["toolResult"], "content": []}}
        elif event.type == "contentBlockStop":
            text = self._tool_json.pop(index, None)
            block = self._blocks.get(index)
            if text is not None and block is not None and "toolUse" in block:
                block["toolUse"]["input"] = _tool_input(text)
        elif event.type == "messageStop":
            self._stop_reason = data.get("stopReason")
            if "additionalModelResponseFields" in data:
                self._raw_extra["additionalModelResponseFields"] = data["additionalModelResponseFields"]
        elif event.type == "metadata":
            usage = data.get("usage")
            self._usage = ConverseUsage.from_dict(usage)
            self._raw_usage = dict(usage) if isinstance(usage, dict) else {}
            metrics = data.get("metrics")
            latency = metrics.get("latencyMs") if isinstance(metrics, dict) else None
            self._latency = latency if isinstance(latency, int) else None
            # what Converse returns at the top level (botocore ConverseStreamMetadataEvent)
            self._raw_extra.update({key: data[key] for key in _METADATA_EXTRAS if key in data})
        return None

    def _block(self, index: int) -> dict[str, Any]:
        """Block ``index`` as Converse returns it: text with citation deltas is a
        ``citationsContent`` block (botocore ``CitationsContentBlock``)."""
        block = self._blocks.get(index, {"text": ""})
        citations = self._citations.get(index)
        if citations is None:
            return block
        return {"citationsContent": {"content": [{"text": block.get("text", "")}], "citations": list(citations)}}

    def final_response(self) -> ConverseResponse:
        content = [self._block(i) for i in sorted(self._blocks.keys() | self._citations.keys())]
        message = {"role": self._role, "content": content}
        raw = {
            "output": {"message": message},
            "stopReason": self._stop_reason,
            "usage": dict(self._raw_usage),
            "metrics": {"latencyMs": self._latency},
            **self._raw_extra,
        }
        return ConverseResponse(
            output_message=message,
            stop_reason=self._stop_reason,
            usage=replace(self._usage),
            latency_ms=self._latency,
            raw=raw,
            request_id=self.request_id,
            bedrock_model_id=self._model_id,
            pricing=self._pricing,
        )

