"""Turn a stream of Anthropic streaming events into the final Message; check its lifecycle.

``MessageAccumulator`` is fed the events an ``Engine`` yields and builds the non-streaming
InvokeModel body (wire reference 10.2). It is also the stream-lifecycle checker used by the
service and the tests: any event out of order raises ``StreamOrderError``.

Lifecycle (all transitions live in ``_TRANSITIONS``)::

    START --message_start--> MESSAGE
    MESSAGE --content_block_start--> BLOCK --content_block_delta--> BLOCK
    BLOCK --content_block_stop--> MESSAGE
    MESSAGE --message_delta--> DELTA --message_stop--> DONE
    (ping is allowed in every state between message_start and message_stop)

Further rules: block indexes count up from 0 without gaps; a delta or stop names the open
block; each delta type is allowed only in its block type (``DELTAS_BY_BLOCK``).

Accumulation: ``text_delta`` appends to ``text``; ``citations_delta`` appends to
``citations``; ``thinking_delta`` appends to ``thinking``; ``signature_delta`` appends to
``signature``; ``input_json_delta`` pieces are concatenated and parsed as the block's
``input`` when the message is built (empty input is ``{}``; unparsable input is an error
unless the message stopped on ``max_tokens``, where the real API leaves it cut: the input is
then what the cut JSON reads as, its complete members (``partial_json.parse_partial``), as the
anthropic SDK's stream accumulator reads the same events, or ``{}``). ``usage`` is ``message_start``'s, updated by the fields of
``message_delta.usage`` (normally ``output_tokens``); a ``message_delta`` ``context_management``
(context editing) becomes the message's, after ``usage``, as the SDKs' accumulators take it.

Source: Anthropic "Streaming messages"; wire reference 2.5, 10.2.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Mapping
from typing import Any

from claude_bedrock.wire.partial_json import parse_partial

__all__ = [
    "IncompleteMessageError",
    "MalformedToolInputError",
    "DELTAS_BY_BLOCK",
    "EVENT_TYPES",
    "MessageAccumulator",
    "StreamLifecycleError",
    "StreamOrderError",
    "accumulate",
    "next_state",
]


class StreamLifecycleError(Exception):
    """Base: an event stream that does not describe a valid Message.

        StreamLifecycleError
        ├── StreamOrderError         an event arrived in a state that does not accept it
        ├── IncompleteMessageError   message() called before message_stop
        └── MalformedToolInputError  tool input JSON does not parse (and max_tokens did not cut it)
    """


class StreamOrderError(StreamLifecycleError):
    def __init__(self, state: str, event_type: str, detail: str = "") -> None:
        message = f"event {event_type!r} not allowed in state {state}"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.state = state
        self.event_type = event_type


class IncompleteMessageError(StreamLifecycleError):
    pass


class MalformedToolInputError(StreamLifecycleError):
    pass


START, MESSAGE, BLOCK, DELTA, DONE = "START", "MESSAGE", "BLOCK", "DELTA", "DONE"


def _is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, without the ABC check for the usual plain dict."""
    return type(value) is dict or isinstance(value, Mapping)


#: (state, event type) -> next state.
_TRANSITIONS: Mapping[tuple[str, str], str] = {
    (START, "message_start"): MESSAGE,
    (MESSAGE, "content_block_start"): BLOCK,
    (BLOCK, "content_block_delta"): BLOCK,
    (BLOCK, "content_block_stop"): MESSAGE,
    (MESSAGE, "message_delta"): DELTA,
    (DELTA, "message_stop"): DONE,
    (MESSAGE, "ping"): MESSAGE,
    (BLOCK, "ping"): BLOCK,
    (DELTA, "ping"): DELTA,
}

#: The lifecycle's event types (Anthropic may add others: a relay leaves those out).
EVENT_TYPES: frozenset[str] = frozenset(kind for _, kind in _TRANSITIONS)


def next_state(state: str, event_type: str) -> str | None:
    """The lifecycle state after an ``event_type`` event in ``state`` (``START`` first), None
    when it is not allowed there: the order alone, for a relay that builds no message
    (``MessageAccumulator`` checks this and the rest)."""
    return _TRANSITIONS.get((state, event_type))


#: Block type -> delta types it accepts.
DELTAS_BY_BLOCK: Mapping[str, frozenset[str]] = {
    "text": frozenset({"text_delta", "citations_delta"}),
    "tool_use": frozenset({"input_json_delta"}),
    "server_tool_use": frozenset({"input_json_delta"}),
    "thinking": frozenset({"thinking_delta", "signature_delta"}),
}

#: Delta type -> (field of the block, field of the delta) for the string-appending deltas.
_APPENDING_DELTAS: Mapping[str, tuple[str, str]] = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "signature_delta": ("signature", "signature"),
}

_MESSAGE_KEYS = ("id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage")
_MESSAGE_KEY_SET = frozenset(_MESSAGE_KEYS)
_MESSAGE_VALUES = operator.itemgetter(*_MESSAGE_KEYS)


class MessageAccumulator:
    """Accumulates streaming events into a Message while checking their order.

    Usage::

        acc = MessageAccumulator()
        async for event in engine.stream(call):
            acc.add(event)
        body = acc.message()
    """

    __slots__ = ("_state", "_message", "_content", "_json_parts", "_usage", "_delta")

    def __init__(self) -> None:
        self._state = START
        self._message: dict[str, Any] = {}
        self._content: list[dict[str, Any]] = []
        self._json_parts: dict[int, list[str]] = {}
        self._usage: dict[str, Any] = {}
        self._delta: dict[str, Any] = {}

    @property
    def state(self) -> str:
        return self._state

    @property
    def done(self) -> bool:
        return self._state == DONE

    def add(self, event: Mapping[str, Any]) -> None:
        """Take the next event.

        Raises:
            StreamOrderError: the event is not allowed now (the accumulator is unchanged).
        """
        kind = event.get("type")
        following = _TRANSITIONS.get((self._state, kind))  # type: ignore[arg-type]
        if following is None:
            raise StreamOrderError(self._state, str(kind))
        handler = _HANDLERS.get(kind)  # type: ignore[arg-type]
        if handler is not None:
            handler(self, event)
        self._state = following

    def _on_message_start(self, event: Mapping[str, Any]) -> None:
        message = event.get("message")
        if not _is_mapping(message):
            raise StreamOrderError(self._state, "message_start", "missing message object")
        self._message = dict(message)
        content = message.get("content")
        if content:
            self._content = [dict(block) for block in content]
        usage = message.get("usage")
        self._usage = dict(usage) if _is_mapping(usage) else {}

    def _on_block_start(self, event: Mapping[str, Any]) -> None:
        index = event.get("index")
        block = event.get("content_block")
        if index != len(self._content):
            raise StreamOrderError(self._state, "content_block_start", f"index {index}, expected {len(self._content)}")
        if not _is_mapping(block) or "type" not in block:
            raise StreamOrderError(self._state, "content_block_start", "missing content_block")
        started = dict(block)
        if "citations" in started and isinstance(started["citations"], list):
            started["citations"] = list(started["citations"])
        self._content.append(started)
        if started["type"] in ("tool_use", "server_tool_use"):
            self._json_parts[index] = []

    def _open_block(self, event: Mapping[str, Any], kind: str) -> dict[str, Any]:
        index = event.get("index")
        if index != len(self._content) - 1:
            raise StreamOrderError(self._state, kind, f"index {index}, open block is {len(self._content) - 1}")
        return self._content[-1]

    def _on_block_delta(self, event: Mapping[str, Any]) -> None:
        block = self._open_block(event, "content_block_delta")
        delta = event.get("delta")
        delta_type = delta.get("type") if _is_mapping(delta) else None
        if delta_type not in DELTAS_BY_BLOCK.get(block["type"], frozenset()):
            raise StreamOrderError(self._state, "content_block_delta", f"{delta_type} in a {block['type']} block")
        assert _is_mapping(delta)
        appending = _APPENDING_DELTAS.get(delta_type)  # type: ignore[arg-type]
        if appending is not None:
            field, source = appending
            block[field] = (block.get(field) or "") + delta.get(source, "")
        elif delta_type == "input_json_delta":
            self._json_parts[len(self._content) - 1].append(delta.get("partial_json", ""))
        else:  # citations_delta
            citations = block.get("citations")
            if not isinstance(citations, list):
                citations = block["citations"] = []
            citations.append(delta.get("citation"))

    def _on_block_stop(self, event: Mapping[str, Any]) -> None:
        self._open_block(event, "content_block_stop")

    def _on_message_delta(self, event: Mapping[str, Any]) -> None:
        delta = event.get("delta")
        self._delta = dict(delta) if _is_mapping(delta) else {}
        usage = event.get("usage")
        if _is_mapping(usage):
            for key, value in usage.items():
                if value is not None:
                    self._usage[key] = value
        management = event.get("context_management")
        if management is not None:
            self._message["context_management"] = management

    def message(self) -> dict[str, Any]:
        """The final Message JSON (the non-streaming InvokeModel body).

        Raises:
            IncompleteMessageError: ``message_stop`` has not been seen.
            MalformedToolInputError: a tool input does not parse and the stop was not ``max_tokens``.
        """
        if self._state != DONE:
            raise IncompleteMessageError(f"stream ended in state {self._state}, before message_stop")
        stop_reason = self._delta.get("stop_reason", self._message.get("stop_reason"))
        if self._json_parts:  # tool input to parse
            content = [self._finished_block(index, block, stop_reason) for index, block in enumerate(self._content)]
        else:
            content = list(self._content)
        merged = {**self._message, **self._delta}
        merged["content"] = content
        merged["stop_reason"] = stop_reason
        merged["usage"] = self._usage
        if "stop_sequence" not in merged:
            merged["stop_sequence"] = None
        if merged.keys() == _MESSAGE_KEY_SET:  # the usual message: reordered in one step
            return dict(zip(_MESSAGE_KEYS, _MESSAGE_VALUES(merged)))
        ordered = {key: merged.pop(key) for key in _MESSAGE_KEYS if key in merged}
        ordered.update(merged)  # then any other keys, in their order
        return ordered

    def _finished_block(self, index: int, block: dict[str, Any], stop_reason: Any) -> dict[str, Any]:
        parts = self._json_parts.get(index)
        if parts is None:
            return block
        raw = "".join(parts)
        finished = dict(block)
        if not raw.strip():
            finished["input"] = block.get("input") or {}
            return finished
        try:
            finished["input"] = json.loads(raw)
        except ValueError as exc:
            if stop_reason != "max_tokens":
                raise MalformedToolInputError(f"content block {index}: tool input is not JSON: {exc}") from exc
            partial = parse_partial(raw)
            finished["input"] = partial if isinstance(partial, dict) else {}
        return finished


_HANDLERS = {
    "message_start": MessageAccumulator._on_message_start,
    "content_block_start": MessageAccumulator._on_block_start,
    "content_block_delta": MessageAccumulator._on_block_delta,
    "content_block_stop": MessageAccumulator._on_block_stop,
    "message_delta": MessageAccumulator._on_message_delta,
}


def accumulate(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Feed every event to a fresh accumulator and return the Message."""
    accumulator = MessageAccumulator()
    for event in events:
        accumulator.add(event)
    return accumulator.message()


_MERGEABLE_DELTAS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


def coalesce_deltas(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The same answer with consecutive same-type deltas of a block merged into one.

    For output that is rendered whole (InvokeModel, Converse) the split into deltas is
    invisible, and merging makes the accumulator's work proportional to the blocks, not
    the tokens. The accumulated message is identical. A merged event is the run's first event
    with its delta's text field joined over the run (one join per run: linear time); inputs
    are never changed, and an event that merges with nothing is passed on as it is.
    """
    out: list[Mapping[str, Any]] = []
    field: str | None = None  # the text field of the run of deltas that ends ``out``, if any
    kind = index = None
    parts: list[str] = []

    def close_run() -> None:
        if field is not None and len(parts) > 1:
            first = out[-1]
            out[-1] = {**first, "delta": {**first["delta"], field: "".join(parts)}}

    for event in events:
        if event.get("type") == "content_block_delta":
            delta = event["delta"]
            if field is not None and delta.get("type") == kind and event["index"] == index:
                parts.append(delta.get(field, ""))
                continue
            close_run()
            kind, index = delta.get("type"), event["index"]
            field = _MERGEABLE_DELTAS.get(kind)  # type: ignore[arg-type]
            parts = [delta[field]] if field is not None and field in delta else [""]
        else:
            close_run()
            field = None
        out.append(event)
    close_run()
    return out
