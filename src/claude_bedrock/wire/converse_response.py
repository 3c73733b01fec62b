"""Anthropic Messages stream events -> Converse response / ConverseStream events.

Purpose: the engine answers in Anthropic stream events (plain dicts: ``message_start``,
``content_block_start``, ``content_block_delta``, ``content_block_stop``, ``message_delta``,
``message_stop``, plus ``ping`` and ``error``); this module renders them as what a Converse
client expects, either event by event (``ConverseStreamRenderer``) or as one JSON document
(``ConverseResponseBuilder``, ``converse_response_from_message``).

Source: botocore bedrock-runtime 2023-09-30 shapes ``ConverseResponse``, ``ConverseStreamOutput``
and the shapes they reach; wire-protocol reference 1.4, 2.6, 10.2, 11.15.

Invariants:

* Rule 1: every union object emitted (``ContentBlock``, ``ContentBlockDelta``,
  ``ContentBlockStart``, ``ReasoningContentBlock(Delta)``, ``CitationLocation``...) has exactly
  one member, and only modelled members are emitted; botocore rejects anything else.
* Rule 2: ``contentBlockStart`` is sent only for blocks that have a start payload in the model
  (tool use and server tool results), as real Bedrock does; text and reasoning blocks begin with
  their first delta.
* Rule 3: the renderer never reads a clock: the caller measures latency and hands it to
  ``finish`` / ``build``.
* Rule 4: an engine that breaks the event contract gets ``ConverseRenderError`` (a local bug,
  never shown to the client as is); an Anthropic ``error`` event becomes the typed Bedrock error
  that ConverseStream can carry (``ERROR_EVENT_TYPES``).

Usage: ``inputTokens`` is Anthropic's uncached ``input_tokens``; cache reads and writes are
reported apart and ``totalTokens`` adds all four counts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from claude_bedrock.wire.converse_request import ConverseTranslation

from claude_bedrock.domain.errors import (
    BedrockError,
    InternalServerException,
    ModelStreamErrorException,
    ServiceUnavailableException,
    ThrottlingException,
    ValidationException,
)
from claude_bedrock.wire.partial_json import parse_partial

__all__ = [
    "CITATION_LOCATIONS",
    "ERROR_EVENT_TYPES",
    "STOP_REASONS",
    "ConverseRenderError",
    "ConverseResponseBuilder",
    "ConverseStreamRenderer",
    "CitationLocationRow",
    "converse_citation",
    "converse_response_from_message",
    "converse_usage",
    "has_converse_form",
    "is_server_tool_result",
]

StreamEvent = tuple[str, dict[str, Any]]


class ConverseRenderError(Exception):
    """The Anthropic event sequence broke its contract (a local engine bug)."""


#: Anthropic ``stop_reason`` -> Converse ``stopReason``.
STOP_REASONS: dict[str, str] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "refusal": "content_filtered",
    "model_context_window_exceeded": "model_context_window_exceeded",
    # Converse has no "paused" state: a paused server-tool turn reads as a finished turn.
    "pause_turn": "end_turn",
}

#: Anthropic ``error.type`` of an ``error`` event -> the Bedrock error ConverseStream carries.
ERROR_EVENT_TYPES: dict[str, type[BedrockError]] = {
    "invalid_request_error": ValidationException,
    "rate_limit_error": ThrottlingException,
    "overloaded_error": ServiceUnavailableException,
    "api_error": InternalServerException,
}


@dataclass(frozen=True)
class CitationLocationRow:
    """How one Anthropic citation type maps onto a Converse ``CitationLocation`` member."""

    anthropic_type: str
    converse_key: str
    #: (Converse location member, Anthropic citation field) pairs.
    fields: tuple[tuple[str, str], ...]
    #: Anthropic field that holds the Converse ``title`` / ``source``.
    title_key: str | None
    source_key: str | None = None
    #: False when the Anthropic form needs data Converse drops (web results' encrypted index).
    replayable: bool = True


_DOCUMENT_INDEX = ("documentIndex", "document_index")

#: Citation locations by Converse member name.
CITATION_LOCATIONS: dict[str, CitationLocationRow] = {
    row.converse_key: row
    for row in (
        CitationLocationRow("char_location", "documentChar",
                            (_DOCUMENT_INDEX, ("start", "start_char_index"),
                             ("end", "end_char_index")), "document_title"),
        CitationLocationRow("page_location", "documentPage",
                            (_DOCUMENT_INDEX, ("start", "start_page_number"),
                             ("end", "end_page_number")), "document_title"),
        CitationLocationRow("content_block_location", "documentChunk",
                            (_DOCUMENT_INDEX, ("start", "start_block_index"),
                             ("end", "end_block_index")), "document_title"),
        CitationLocationRow("search_result_location", "searchResultLocation",
                            (("searchResultIndex", "search_result_index"),
                             ("start", "start_block_index"), ("end", "end_block_index")),
                            "title", "source"),
        CitationLocationRow("web_search_result_location", "web", (("url", "url"),), "title",
                            replayable=False),
    )
}
_LOCATION_BY_ANTHROPIC_TYPE = {row.anthropic_type: row for row in CITATION_LOCATIONS.values()}


def converse_citation(citation: Mapping[str, Any]) -> dict[str, Any]:
    """An Anthropic citation as a Converse ``Citation`` (also the ``CitationsDelta`` shape).

    Raises:
        ConverseRenderError: the citation type has no Converse location.
    """
    row = _LOCATION_BY_ANTHROPIC_TYPE.get(citation.get("type", ""))
    if row is None:
        raise ConverseRenderError(f"citation type {citation.get('type')!r} has no Converse form")
    out: dict[str, Any] = {}
    if row.title_key is not None and citation.get(row.title_key) is not None:
        out["title"] = citation[row.title_key]
    if row.source_key is not None and citation.get(row.source_key) is not None:
        out["source"] = citation[row.source_key]
    if citation.get("cited_text") is not None:
        out["sourceContent"] = [{"text": citation["cited_text"]}]
    location = {
        converse: citation[anthropic]
        for converse, anthropic in row.fields
        if citation.get(anthropic) is not None
    }
    out["location"] = {row.converse_key: location}
    return out


def converse_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic ``usage`` as a Converse ``TokenUsage``."""
    counts = {
        "inputTokens": usage.get("input_tokens") or 0,
        "outputTokens": usage.get("output_tokens") or 0,
        "cacheReadInputTokens": usage.get("cache_read_input_tokens") or 0,
        "cacheWriteInputTokens": usage.get("cache_creation_input_tokens") or 0,
    }
    out: dict[str, Any] = {
        "inputTokens": counts["inputTokens"],
        "outputTokens": counts["outputTokens"],
        "totalTokens": sum(counts.values()),
        "cacheReadInputTokens": counts["cacheReadInputTokens"],
        "cacheWriteInputTokens": counts["cacheWriteInputTokens"],
    }
    breakdown = usage.get("cache_creation") or {}
    details = [  # botocore TokenUsage.cacheDetails: "Sorted by TTL duration (1h before 5m)"
        {"ttl": ttl, "inputTokens": breakdown[key]}
        for ttl, key in (("1h", "ephemeral_1h_input_tokens"), ("5m", "ephemeral_5m_input_tokens"))
        if breakdown.get(key)
    ]
    if details:
        out["cacheDetails"] = details
    return out


def _blob_text(data: str) -> str:
    """An opaque Anthropic string as a Converse blob (base64 of its UTF-8 bytes)."""
    return base64.b64encode(data.encode("utf-8")).decode("ascii")


def is_server_tool_result(block_type: str) -> bool:
    """Whether an Anthropic block type is a server tool's result (``tool_search_tool_result``...)."""
    return block_type.endswith("_tool_result")


# --------------------------------------------------------------------------------------------
# Whole message -> Converse JSON
# --------------------------------------------------------------------------------------------


def _text_block(block: Mapping[str, Any]) -> dict[str, Any]:
    citations = block.get("citations") or ()
    if not citations:
        return {"text": block.get("text", "")}
    return {
        "citationsContent": {
            "content": [{"text": block.get("text", "")}],
            "citations": [converse_citation(citation) for citation in citations],
        }
    }


def _tool_use_block(block: Mapping[str, Any]) -> dict[str, Any]:
    tool_use: dict[str, Any] = {"toolUseId": block["id"], "name": block["name"],
                                "input": block.get("input") or {}}
    if block["type"] == "server_tool_use":
        tool_use["type"] = "server_tool_use"
    return {"toolUse": tool_use}


def _thinking_block(block: Mapping[str, Any]) -> dict[str, Any]:
    text: dict[str, Any] = {"text": block.get("thinking", "")}
    if block.get("signature"):
        text["signature"] = block["signature"]
    return {"reasoningContent": {"reasoningText": text}}


def _redacted_block(block: Mapping[str, Any]) -> dict[str, Any]:
    return {"reasoningContent": {"redactedContent": _blob_text(block.get("data", ""))}}


def _server_result_block(block: Mapping[str, Any]) -> dict[str, Any]:
    return {"toolResult": {"toolUseId": block["tool_use_id"],
                           "content": [{"json": block.get("content")}],
                           "type": block["type"]}}


_CONTENT_BLOCKS = {
    "text": _text_block,
    "tool_use": _tool_use_block,
    "server_tool_use": _tool_use_block,
    "thinking": _thinking_block,
    "redacted_thinking": _redacted_block,
}


def has_converse_form(block_type: str) -> bool:
    """Whether Converse renders an Anthropic block type (whole or streamed)."""
    return block_type in _CONTENT_BLOCKS or is_server_tool_result(block_type)


def _converse_block(block: Mapping[str, Any]) -> dict[str, Any]:
    block_type = block.get("type", "")
    render = _CONTENT_BLOCKS.get(block_type)
    if render is None and is_server_tool_result(block_type):
        render = _server_result_block
    if render is None:
        raise ConverseRenderError(f"content block type {block_type!r} has no Converse form")
    return render(block)


def _stop_reason(message: Mapping[str, Any]) -> str:
    reason = message.get("stop_reason")
    if reason not in STOP_REASONS:
        raise ConverseRenderError(f"stop_reason {reason!r} has no Converse stopReason")
    return STOP_REASONS[reason]


def additional_response_fields(message: Mapping[str, Any],
                               paths: Iterable[str]) -> dict[str, Any] | None:
    """The parts of the Anthropic reply named by JSON pointers, nested as in the reply.

    A pointer that names nothing is skipped; None when none of them names anything.
    """
    out: dict[str, Any] = {}
    for pointer in paths:
        steps = [step.replace("~1", "/").replace("~0", "~") for step in pointer.split("/")[1:]]
        if not pointer.startswith("/") or not steps:
            continue
        node: Any = message
        for step in steps:
            if isinstance(node, Mapping) and step in node:
                node = node[step]
            elif isinstance(node, list) and step.isascii() and step.isdigit() and int(step) < len(node):
                node = node[int(step)]  # (not "²": isdigit() but no int())
            else:
                break
        else:
            target = out
            for step in steps[:-1]:
                target = target.setdefault(step, {})
                if not isinstance(target, dict):  # a list an earlier pointer took whole, with this in it
                    break
            else:
                target[steps[-1]] = node
    return out or None


@dataclass(frozen=True)
class _Echo:
    """Request settings the reply repeats."""

    additional_response_field_paths: tuple[str, ...] = ()
    performance_config: Mapping[str, Any] | None = None
    service_tier: Mapping[str, Any] | None = None

    def extras(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.performance_config is not None:
            out["performanceConfig"] = dict(self.performance_config)
        if self.service_tier is not None:
            out["serviceTier"] = dict(self.service_tier)
        return out


def converse_response_from_message(
    message: Mapping[str, Any],
    *,
    latency_ms: int,
    additional_response_field_paths: Iterable[str] = (),
    performance_config: Mapping[str, Any] | None = None,
    service_tier: Mapping[str, Any] | None = None,
    malformed_tool_use: bool = False,
) -> dict[str, Any]:
    """A complete Anthropic Messages reply (InvokeModel body) as a Converse response.

    Args:
        message: the Anthropic reply (``content``, ``stop_reason``, ``usage``...).
        latency_ms: the measured latency for ``metrics.latencyMs``.
        additional_response_field_paths: ``additionalModelResponseFieldPaths`` of the request.
        performance_config, service_tier: echoed when the request set them.
        malformed_tool_use: a tool input did not parse as JSON; overrides the stop reason.

    Raises:
        ConverseRenderError: a block type or stop reason has no Converse form.
    """
    echo = _Echo(tuple(additional_response_field_paths), performance_config, service_tier)
    stop = "malformed_tool_use" if malformed_tool_use else _stop_reason(message)
    out: dict[str, Any] = {
        "output": {"message": {
            "role": "assistant",
            "content": [_converse_block(block) for block in message.get("content") or ()],
        }},
        "stopReason": stop,
        "usage": converse_usage(message.get("usage") or {}),
        "metrics": {"latencyMs": latency_ms},
    }
    extra = additional_response_fields(message, echo.additional_response_field_paths)
    if extra is not None:
        out["additionalModelResponseFields"] = extra
    out.update(echo.extras())
    return out


# --------------------------------------------------------------------------------------------
# Event accumulation (shared by the stream renderer and the response builder)
# --------------------------------------------------------------------------------------------


@dataclass
class _Accumulator:
    """Rebuilds the Anthropic reply from its stream events, checking their order."""

    message: dict[str, Any] | None = None
    open_blocks: dict[int, dict[str, Any]] = field(default_factory=dict)
    partial_json: dict[int, list[str]] = field(default_factory=dict)
    #: A tool input did not parse as JSON (its ``input`` is what its complete part reads as).
    unparsed_tool_input: bool = False
    stopped: bool = False

    @property
    def malformed_tool_use(self) -> bool:
        """A tool input did not parse and ``max_tokens`` did not cut it: Converse's
        ``malformed_tool_use``. A call cut by ``max_tokens`` stops on ``max_tokens``, as
        Bedrock's ConverseStream reports it, with the complete part of its input."""
        return self.unparsed_tool_input and (self.message or {}).get("stop_reason") != "max_tokens"

    def feed(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "error":
            error = event.get("error") or {}
            cls = ERROR_EVENT_TYPES.get(error.get("type", ""), ModelStreamErrorException)
            raise cls(error.get("message") or "The model stream failed.")
        if kind == "ping":
            return
        if kind == "message_start":
            if self.message is not None:
                raise ConverseRenderError("message_start received twice")
            start = event.get("message") or {}
            self.message = {**start, "content": [], "usage": dict(start.get("usage") or {})}
            return
        if self.message is None or self.stopped:
            raise ConverseRenderError(f"{kind} outside a message")
        handler = _ACCUMULATE.get(str(kind))
        if handler is None:
            raise ConverseRenderError(f"unknown Anthropic event type {kind!r}")
        handler(self, event)

    def block(self, event: Mapping[str, Any]) -> dict[str, Any]:
        index = event.get("index")
        if not isinstance(index, int) or index not in self.open_blocks:
            raise ConverseRenderError(f"{event.get('type')} for a block that is not open: {index}")
        return self.open_blocks[index]

    def _start(self, event: Mapping[str, Any]) -> None:
        index = event.get("index")
        if not isinstance(index, int) or index in self.open_blocks:
            raise ConverseRenderError(f"content_block_start with a bad index: {index}")
        block = dict(event.get("content_block") or {})
        assert self.message is not None
        self.message["content"].append(block)
        self.open_blocks[index] = block

    def _delta(self, event: Mapping[str, Any]) -> None:
        block = self.block(event)
        delta = event.get("delta") or {}
        delta_type = delta.get("type")
        if delta_type == "input_json_delta":
            self.partial_json.setdefault(event["index"], []).append(delta.get("partial_json", ""))
        elif delta_type == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation") or {})
        elif delta_type in _APPENDED_DELTAS:
            block_key, delta_key = _APPENDED_DELTAS[delta_type]
            block[block_key] = block.get(block_key, "") + delta.get(delta_key, "")
        else:
            raise ConverseRenderError(f"unknown delta type {delta_type!r}")

    def _stop(self, event: Mapping[str, Any]) -> None:
        block = self.block(event)
        index = event["index"]
        pieces = self.partial_json.pop(index, None)
        if pieces is not None:
            text = "".join(pieces)
            try:
                block["input"] = json.loads(text) if text.strip() else {}
            except ValueError:
                partial = parse_partial(text)
                block["input"] = partial if isinstance(partial, dict) else {}
                self.unparsed_tool_input = True
        del self.open_blocks[index]

    def _message_delta(self, event: Mapping[str, Any]) -> None:
        assert self.message is not None
        delta = event.get("delta") or {}
        for key in ("stop_reason", "stop_sequence"):
            if key in delta:
                self.message[key] = delta[key]
        self.message["usage"].update(
            {key: value for key, value in (event.get("usage") or {}).items() if value is not None}
        )
        if event.get("context_management") is not None:  # reachable by additionalModelResponseFieldPaths
            self.message["context_management"] = event["context_management"]

    def _message_stop(self, event: Mapping[str, Any]) -> None:
        if self.open_blocks:
            raise ConverseRenderError(f"message_stop with open blocks {sorted(self.open_blocks)}")
        self.stopped = True

    def finished_message(self) -> dict[str, Any]:
        if self.message is None or not self.stopped:
            raise ConverseRenderError("the Anthropic message has not stopped")
        return self.message


#: Deltas whose text is appended to a block field: delta type -> (block field, delta field).
_APPENDED_DELTAS: dict[str, tuple[str, str]] = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "signature_delta": ("signature", "signature"),
}

_ACCUMULATE = {
    "content_block_start": _Accumulator._start,
    "content_block_delta": _Accumulator._delta,
    "content_block_stop": _Accumulator._stop,
    "message_delta": _Accumulator._message_delta,
    "message_stop": _Accumulator._message_stop,
}


class _Rendering:
    """What both Converse renderings share: the request's echo options and the event
    accumulator. ``for_translation`` builds one for a translated request."""

    def __init__(
        self,
        *,
        additional_response_field_paths: Iterable[str] = (),
        performance_config: Mapping[str, Any] | None = None,
        service_tier: Mapping[str, Any] | None = None,
    ) -> None:
        self._echo = _Echo(tuple(additional_response_field_paths), performance_config,
                           service_tier)
        self._events = _Accumulator()

    @classmethod
    def for_translation(cls, translation: ConverseTranslation) -> Self:
        """A rendering echoing what ``translation``'s request asked for."""
        return cls(
            additional_response_field_paths=translation.additional_response_field_paths,
            performance_config=translation.performance_config,
            service_tier=translation.service_tier,
        )

    def report_served(self, performance_config: Mapping[str, Any] | None,
                      service_tier: Mapping[str, Any] | None) -> None:
        """Report how the answer was served (a gateway's upstream says) instead of what the
        request asked for."""
        self._echo = replace(self._echo, performance_config=performance_config, service_tier=service_tier)

    def _response(self, latency_ms: int) -> dict[str, Any]:
        """The ``ConverseResponse`` of the accumulated message, once it has stopped."""
        return converse_response_from_message(
            self._events.finished_message(),
            latency_ms=latency_ms,
            additional_response_field_paths=self._echo.additional_response_field_paths,
            performance_config=self._echo.performance_config,
            service_tier=self._echo.service_tier,
            malformed_tool_use=self._events.malformed_tool_use,
        )


class ConverseResponseBuilder(_Rendering):
    """Collects Anthropic stream events and renders the Converse JSON response.

    Usage: ``feed`` every event, then ``build(latency_ms)`` once ``message_stop`` was fed.
    """


    def feed(self, event: Mapping[str, Any]) -> None:
        """Take one Anthropic event.

        Raises:
            ConverseRenderError: the event breaks the sequence.
            BedrockError: the event is an Anthropic ``error`` event (see ``ERROR_EVENT_TYPES``).
        """
        self._events.feed(event)

    def build(self, latency_ms: int) -> dict[str, Any]:
        """The ``ConverseResponse`` JSON object."""
        return self._response(latency_ms)


# --------------------------------------------------------------------------------------------
# Event by event -> ConverseStream
# --------------------------------------------------------------------------------------------


def _start_tool_use(block: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[dict]]:
    start: dict[str, Any] = {"toolUseId": block["id"], "name": block["name"]}
    if block["type"] == "server_tool_use":
        start["type"] = "server_tool_use"
    deltas = [{"toolUse": {"input": json.dumps(block["input"])}}] if block.get("input") else []
    return {"toolUse": start}, deltas


def _start_text(block: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[dict]]:
    deltas: list[dict] = [{"text": block["text"]}] if block.get("text") else []
    deltas += [{"citation": converse_citation(c)} for c in block.get("citations") or ()]
    return None, deltas


def _start_thinking(block: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[dict]]:
    deltas = [{"reasoningContent": {key: block[field]}}
              for key, field in (("text", "thinking"), ("signature", "signature"))
              if block.get(field)]
    return None, deltas


def _start_redacted(block: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[dict]]:
    return None, [{"reasoningContent": {"redactedContent": _blob_text(block.get("data", ""))}}]


def _start_server_result(block: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[dict]]:
    start = {"toolResult": {"toolUseId": block["tool_use_id"], "type": block["type"]}}
    return start, [{"toolResult": [{"json": block.get("content")}]}]


_STREAM_STARTS = {
    "text": _start_text,
    "tool_use": _start_tool_use,
    "server_tool_use": _start_tool_use,
    "thinking": _start_thinking,
    "redacted_thinking": _start_redacted,
}


def _text_delta(delta: Mapping[str, Any]) -> dict[str, Any] | None:
    return {"text": delta["text"]} if delta.get("text") else None


def _tool_input_delta(delta: Mapping[str, Any]) -> dict[str, Any] | None:
    partial = delta.get("partial_json", "")
    return {"toolUse": {"input": partial}} if partial else None


#: Anthropic delta type -> its ConverseStream ``ContentBlockDelta`` (None: send nothing).
_STREAM_DELTAS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any] | None]] = {
    "text_delta": _text_delta,
    "input_json_delta": _tool_input_delta,
    "thinking_delta": lambda delta: {"reasoningContent": {"text": delta.get("thinking", "")}},
    "signature_delta": lambda delta: {"reasoningContent": {"signature": delta.get("signature",
                                                                                  "")}},
    "citations_delta": lambda delta: {"citation": converse_citation(delta.get("citation") or {})},
}


class ConverseStreamRenderer(_Rendering):
    """Renders Anthropic stream events as ConverseStream events, one call per event.

    Usage::

        renderer = ConverseStreamRenderer(additional_response_field_paths=...)
        for event in engine_events:
            for event_type, payload in renderer.feed(event):
                send(event_type, payload)          # ":event-type" header + JSON payload
        for event_type, payload in renderer.finish(latency_ms=measured):
            send(event_type, payload)              # the closing "metadata" event

    State: ``feed`` tracks open blocks and usage; ``finish`` may be called once, after
    ``message_stop``; ``response`` then gives the Converse response the events add up to.
    """

    def __init__(self, **echo: Any) -> None:
        super().__init__(**echo)
        self._indexes: dict[int, int] = {}
        self._finished_latency_ms: int | None = None

    def feed(self, event: Mapping[str, Any]) -> list[StreamEvent]:
        """Render one Anthropic event.

        Returns:
            ``(event_type, payload)`` pairs in send order; often empty (``ping``, a text block's
            start, ``message_delta``).

        Raises:
            ConverseRenderError: the event breaks the sequence or has no Converse form.
            BedrockError: the event is an Anthropic ``error`` event (see ``ERROR_EVENT_TYPES``);
                the caller sends it as the exception event named by its ``stream_member``.
        """
        self._events.feed(event)
        kind = event.get("type")
        if kind == "message_start":
            return [("messageStart", {"role": "assistant"})]
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            body = _STREAM_DELTAS[delta["type"]](delta)
            if body is None:
                return []
            return [("contentBlockDelta", {"delta": body,
                                           "contentBlockIndex": self._indexes[event["index"]]})]
        if kind == "content_block_stop":
            return [("contentBlockStop", {"contentBlockIndex": self._indexes[event["index"]]})]
        if kind == "message_stop":
            return [("messageStop", self._message_stop())]
        return []

    def finish(self, latency_ms: int) -> list[StreamEvent]:
        """The closing ``metadata`` event, once the caller knows the latency.

        Raises:
            ConverseRenderError: ``message_stop`` was not fed yet, or ``finish`` ran before.
        """
        if self._finished_latency_ms is not None:
            raise ConverseRenderError("finish called twice")
        message = self._events.finished_message()
        self._finished_latency_ms = latency_ms
        metadata: dict[str, Any] = {
            "usage": converse_usage(message.get("usage") or {}),
            "metrics": {"latencyMs": latency_ms},
        }
        metadata.update(self._echo.extras())
        return [("metadata", metadata)]

    def response(self) -> dict[str, Any] | None:
        """The ``ConverseResponse`` JSON object the streamed events add up to (what Converse
        would have answered), or None before ``finish``: a stream cut short has none."""
        if self._finished_latency_ms is None:
            return None
        return self._response(self._finished_latency_ms)

    def _block_start(self, event: Mapping[str, Any]) -> list[StreamEvent]:
        block = event.get("content_block") or {}
        block_type = block.get("type", "")
        start = _STREAM_STARTS.get(block_type)
        if start is None and is_server_tool_result(block_type):
            start = _start_server_result
        if start is None:
            raise ConverseRenderError(f"content block type {block_type!r} has no Converse form")
        index = len(self._indexes)
        self._indexes[event["index"]] = index
        start_body, deltas = start(block)
        out: list[StreamEvent] = []
        if start_body is not None:
            out.append(("contentBlockStart", {"start": start_body, "contentBlockIndex": index}))
        out += [("contentBlockDelta", {"delta": delta, "contentBlockIndex": index})
                for delta in deltas]
        return out

    def _message_stop(self) -> dict[str, Any]:
        message = self._events.finished_message()
        stop = "malformed_tool_use" if self._events.malformed_tool_use else _stop_reason(message)
        payload: dict[str, Any] = {"stopReason": stop}
        extra = additional_response_fields(message, self._echo.additional_response_field_paths)
        if extra is not None:
            payload["additionalModelResponseFields"] = extra
        return payload
