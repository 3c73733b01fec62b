"""Result types of the client: messages, content blocks, stream events, models, identities.

Purpose: typed objects shaped like the Anthropic SDK's (``message.content[0].text``,
``message.usage.input_tokens``, ``event.delta.text``), built from Bedrock's JSON with table
look-ups, plus what Bedrock adds: ``request_id``, ``invocation_metrics`` and ``cost``.

Invariants:
  * Rule 1 - plain dataclasses, no validation library: parsing a reply is a few dict reads.
    Unknown content-block and delta types are kept as ``OtherBlock`` / ``OtherDelta`` with
    their JSON, never dropped, never an error.
  * Rule 2 - ``cost`` is computed on access from the usage and the pricing context chosen
    when the request was built (the catalog model and endpoint type of the ID actually sent);
    it is ``None`` when the catalog does not know that ID. Importing this module does not
    load the catalog or the pricing module.
  * Rule 3 - ``to_dict()`` gives back Bedrock's JSON shape (snake_case Anthropic keys).

Source: wire-protocol reference 10.2 (message), 2.5 (stream events, invocation metrics),
1.4 / 2.6 (Converse), 4.1 (foundation models), 5 (GetCallerIdentity); anthropic 2.14
``types/message.py``, ``types/raw_message_stream_event.py`` (names).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from claude_bedrock.domain.catalog import CatalogModel
    from claude_bedrock.domain.pricing import Cost

__all__ = [
    "PricingContext", "CacheCreation", "Usage", "InvocationMetrics",
    "TextBlock", "ToolUseBlock", "ThinkingBlock", "RedactedThinkingBlock", "OtherBlock",
    "ContentBlock", "content_block",
    "TextDelta", "InputJSONDelta", "ThinkingDelta", "SignatureDelta", "CitationsDelta",
    "OtherDelta", "Delta", "delta_of",
    "Message", "message_from_dict",
    "MessageStartEvent", "ContentBlockStartEvent", "ContentBlockDeltaEvent",
    "ContentBlockStopEvent", "MessageDelta", "MessageDeltaUsage", "MessageDeltaEvent",
    "MessageStopEvent", "OtherEvent", "TextEvent", "MessageStreamEvent", "event_from_dict",
    "MessageTokensCount", "FoundationModel", "ModelList", "CallerIdentity",
    "ConverseUsage", "ConverseResponse", "ConverseStreamEvent",
]  # fmt: skip


# --------------------------------------------------------------------------- pricing


@dataclass(frozen=True, slots=True)
class PricingContext:
    """How to price a reply: the catalog model and endpoint type of the model ID sent."""

    model: CatalogModel
    endpoint_type: str  # "global" | "regional"

    def cost(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_write_5m_tokens: int = 0,
        cache_write_1h_tokens: int = 0,
        cache_read_tokens: int = 0,
    ) -> Cost:
        from claude_bedrock.domain.pricing import cost

        return cost(
            self.model,
            endpoint_type=self.endpoint_type,  # type: ignore[arg-type]
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_write_5m_tokens=cache_write_5m_tokens,
            cache_write_1h_tokens=cache_write_1h_tokens,
            cache_read_tokens=cache_read_tokens,
        )


# --------------------------------------------------------------------------- usage


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) else 0


def _model_dump(self: Any, *, mode: str = "python", by_alias: bool | None = None, exclude_unset: bool = False,
                exclude_none: bool = False) -> dict[str, Any]:
    """pydantic's ``model_dump``, which the Anthropic SDK's replies and blocks have, for code
    written against that SDK (its tool loop: ``[block.model_dump(exclude_none=True) for block
    in message.content]``): ``to_dict()``, already plain JSON that leaves out unset optional
    members, so ``mode``, ``by_alias`` and ``exclude_unset`` change nothing; ``exclude_none``
    drops this object's ``None`` members, as pydantic does (a tool's ``input`` is left as it
    is). Other pydantic options (``include``, ``exclude``...) are refused, not ignored."""
    data: dict[str, Any] = self.to_dict()
    return {key: value for key, value in data.items() if value is not None} if exclude_none else data


@dataclass(slots=True)
class CacheCreation:
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0


@dataclass(slots=True)
class Usage:
    """Token counts of one message (Anthropic ``usage``)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation: CacheCreation | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Usage:
        if not data:
            return cls()
        breakdown = data.get("cache_creation")
        return cls(
            input_tokens=_int(data, "input_tokens"),
            output_tokens=_int(data, "output_tokens"),
            cache_creation_input_tokens=_int(data, "cache_creation_input_tokens"),
            cache_read_input_tokens=_int(data, "cache_read_input_tokens"),
            cache_creation=CacheCreation(
                _int(breakdown, "ephemeral_5m_input_tokens"), _int(breakdown, "ephemeral_1h_input_tokens")
            )
            if isinstance(breakdown, dict)
            else None,
        )

    def cache_writes(self) -> tuple[int, int]:
        """(5-minute, 1-hour) cache-write tokens; without a breakdown every write is 5-minute."""
        if self.cache_creation is not None:
            return self.cache_creation.ephemeral_5m_input_tokens, self.cache_creation.ephemeral_1h_input_tokens
        return self.cache_creation_input_tokens, 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens,
        }
        if self.cache_creation is not None:
            out["cache_creation"] = {
                "ephemeral_5m_input_tokens": self.cache_creation.ephemeral_5m_input_tokens,
                "ephemeral_1h_input_tokens": self.cache_creation.ephemeral_1h_input_tokens,
            }
        return out

    model_dump = _model_dump


def _price(pricing: PricingContext | None, usage: Usage) -> Cost | None:
    if pricing is None:
        return None
    write_5m, write_1h = usage.cache_writes()
    return pricing.cost(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        cache_read_tokens=usage.cache_read_input_tokens,
    )


@dataclass(frozen=True, slots=True)
class InvocationMetrics:
    """Bedrock's own counts: the ``amazon-bedrock-invocationMetrics`` of a stream's last event,
    or the ``x-amzn-bedrock-*`` headers of InvokeModel. Latencies in milliseconds."""

    input_token_count: int | None = None
    output_token_count: int | None = None
    invocation_latency: int | None = None
    first_byte_latency: int | None = None
    cache_read_input_token_count: int | None = None
    cache_write_input_token_count: int | None = None

    @classmethod
    def from_stream(cls, data: Mapping[str, Any]) -> InvocationMetrics:
        def get(key: str) -> int | None:
            value = data.get(key)
            return value if isinstance(value, int) else None

        return cls(
            get("inputTokenCount"), get("outputTokenCount"), get("invocationLatency"),
            get("firstByteLatency"), get("cacheReadInputTokenCount"), get("cacheWriteInputTokenCount"),
        )  # fmt: skip


# --------------------------------------------------------------------------- content blocks


@dataclass(slots=True)
class TextBlock:
    text: str
    citations: list[Any] | None = None
    type: str = "text"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "text", "text": self.text}
        if self.citations is not None:
            out["citations"] = self.citations
        return out

    model_dump = _model_dump


@dataclass(slots=True)
class ToolUseBlock:
    id: str
    name: str
    input: Any
    type: str = "tool_use"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input}

    model_dump = _model_dump


@dataclass(slots=True)
class ThinkingBlock:
    thinking: str
    signature: str = ""
    type: str = "thinking"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "thinking", "thinking": self.thinking, "signature": self.signature}

    model_dump = _model_dump


@dataclass(slots=True)
class RedactedThinkingBlock:
    data: str
    type: str = "redacted_thinking"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "redacted_thinking", "data": self.data}

    model_dump = _model_dump


@dataclass(slots=True)
class OtherBlock:
    """A block type this client does not model; ``data`` is its JSON."""

    type: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)

    model_dump = _model_dump


ContentBlock = Union[TextBlock, ToolUseBlock, ThinkingBlock, RedactedThinkingBlock, OtherBlock]

_BLOCK_READERS: Mapping[str, Callable[[Mapping[str, Any]], ContentBlock]] = {
    "text": lambda d: TextBlock(d.get("text", ""), d.get("citations")),
    "tool_use": lambda d: ToolUseBlock(d.get("id", ""), d.get("name", ""), d.get("input", {})),
    "thinking": lambda d: ThinkingBlock(d.get("thinking", ""), d.get("signature", "")),
    "redacted_thinking": lambda d: RedactedThinkingBlock(d.get("data", "")),
}


def content_block(data: Mapping[str, Any]) -> ContentBlock:
    """The typed block for a JSON content block."""
    kind = data.get("type")
    reader = _BLOCK_READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        return OtherBlock(str(kind), dict(data))
    return reader(data)


# --------------------------------------------------------------------------- deltas


@dataclass(slots=True)
class TextDelta:
    text: str
    type: str = "text_delta"


@dataclass(slots=True)
class InputJSONDelta:
    partial_json: str
    type: str = "input_json_delta"


@dataclass(slots=True)
class ThinkingDelta:
    thinking: str
    type: str = "thinking_delta"


@dataclass(slots=True)
class SignatureDelta:
    signature: str
    type: str = "signature_delta"


@dataclass(slots=True)
class CitationsDelta:
    citation: Any
    type: str = "citations_delta"


@dataclass(slots=True)
class OtherDelta:
    type: str
    data: dict[str, Any]


Delta = Union[TextDelta, InputJSONDelta, ThinkingDelta, SignatureDelta, CitationsDelta, OtherDelta]

_DELTA_READERS: Mapping[str, Callable[[Mapping[str, Any]], Delta]] = {
    "text_delta": lambda d: TextDelta(d.get("text", "")),
    "input_json_delta": lambda d: InputJSONDelta(d.get("partial_json", "")),
    "thinking_delta": lambda d: ThinkingDelta(d.get("thinking", "")),
    "signature_delta": lambda d: SignatureDelta(d.get("signature", "")),
    "citations_delta": lambda d: CitationsDelta(d.get("citation")),
}


def delta_of(data: Mapping[str, Any]) -> Delta:
    kind = data.get("type")
    reader = _DELTA_READERS.get(kind) if isinstance(kind, str) else None
    return OtherDelta(str(kind), dict(data)) if reader is None else reader(data)


# --------------------------------------------------------------------------- message


@dataclass(slots=True)
class Message:
    """A Claude reply (Anthropic ``Message``) with Bedrock's extras.

    ``cost`` is priced on access (Rule 2); ``invocation_metrics`` comes from the InvokeModel
    headers or the stream's last event.
    """

    id: str
    model: str
    content: list[ContentBlock]
    stop_reason: str | None
    stop_sequence: str | None
    usage: Usage
    role: str = "assistant"
    type: str = "message"
    request_id: str | None = None
    invocation_metrics: InvocationMetrics | None = None
    #: The Bedrock model ID the request was sent to.
    bedrock_model_id: str | None = None
    #: Context editing's report (``{"applied_edits": [...]}``), as sent; None without edits.
    context_management: dict[str, Any] | None = None
    pricing: PricingContext | None = field(default=None, repr=False, compare=False)

    @property
    def cost(self) -> Cost | None:
        """Exact USD cost (``domain.pricing.Cost``: ``.total`` and per-component amounts)."""
        return _price(self.pricing, self.usage)

    @property
    def text(self) -> str:
        """The concatenated text of every text block."""
        return "".join(block.text for block in self.content if isinstance(block, TextBlock))

    def to_dict(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "type": self.type,
            "role": self.role,
            "model": self.model,
            "content": [block.to_dict() for block in self.content],
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "usage": self.usage.to_dict(),
        }
        if self.context_management is not None:
            data["context_management"] = self.context_management
        return data

    model_dump = _model_dump


def message_from_dict(
    data: Mapping[str, Any],
    *,
    request_id: str | None = None,
    pricing: PricingContext | None = None,
    bedrock_model_id: str | None = None,
    invocation_metrics: InvocationMetrics | None = None,
) -> Message:
    """A ``Message`` from Bedrock's InvokeModel JSON (or a stream's ``message_start.message``)."""
    content = data.get("content")
    return Message(
        id=str(data.get("id", "")),
        model=str(data.get("model", "")),
        content=[content_block(block) for block in content if isinstance(block, dict)]
        if isinstance(content, list)
        else [],
        stop_reason=data.get("stop_reason"),
        stop_sequence=data.get("stop_sequence"),
        usage=Usage.from_dict(data.get("usage")),
        role=str(data.get("role", "assistant")),
        type=str(data.get("type", "message")),
        request_id=request_id,
        invocation_metrics=invocation_metrics,
        bedrock_model_id=bedrock_model_id,
        context_management=_optional_dict(data, "context_management"),
        pricing=pricing,
    )


# --------------------------------------------------------------------------- stream events


@dataclass(slots=True)
class MessageStartEvent:
    message: Message
    type: str = "message_start"


@dataclass(slots=True)
class ContentBlockStartEvent:
    index: int
    content_block: ContentBlock
    type: str = "content_block_start"


@dataclass(slots=True)
class ContentBlockDeltaEvent:
    index: int
    delta: Delta
    type: str = "content_block_delta"


@dataclass(slots=True)
class ContentBlockStopEvent:
    index: int
    type: str = "content_block_stop"


@dataclass(slots=True)
class MessageDelta:
    stop_reason: str | None = None
    stop_sequence: str | None = None


@dataclass(slots=True)
class MessageDeltaUsage:
    output_tokens: int = 0
    input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


@dataclass(slots=True)
class MessageDeltaEvent:
    delta: MessageDelta
    usage: MessageDeltaUsage
    #: Context editing's report, on the final delta of a stream that applied edits.
    context_management: dict[str, Any] | None = None
    type: str = "message_delta"


@dataclass(slots=True)
class MessageStopEvent:
    invocation_metrics: InvocationMetrics | None = None
    type: str = "message_stop"


@dataclass(slots=True)
class OtherEvent:
    """An event type this client does not model (``ping`` is dropped before this)."""

    type: str
    data: dict[str, Any]


@dataclass(slots=True)
class TextEvent:
    """``messages.stream()`` only: a text delta with the text so far of its block."""

    text: str
    snapshot: str
    type: str = "text"


MessageStreamEvent = Union[
    MessageStartEvent, ContentBlockStartEvent, ContentBlockDeltaEvent, ContentBlockStopEvent,
    MessageDeltaEvent, MessageStopEvent, OtherEvent,
]  # fmt: skip


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) else None


def _optional_dict(data: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    return value if isinstance(value, dict) else None


def _message_delta(d: Mapping[str, Any]) -> MessageDeltaEvent:
    delta = d.get("delta") or {}
    usage = d.get("usage") or {}
    return MessageDeltaEvent(
        MessageDelta(delta.get("stop_reason"), delta.get("stop_sequence")),
        MessageDeltaUsage(
            _int(usage, "output_tokens"),
            _optional_int(usage, "input_tokens"),
            _optional_int(usage, "cache_creation_input_tokens"),
            _optional_int(usage, "cache_read_input_tokens"),
        ),
        _optional_dict(d, "context_management"),
    )


def _message_stop(d: Mapping[str, Any]) -> MessageStopEvent:
    metrics = d.get("amazon-bedrock-invocationMetrics")
    return MessageStopEvent(InvocationMetrics.from_stream(metrics) if isinstance(metrics, dict) else None)


_EVENT_READERS: Mapping[str, Callable[[Mapping[str, Any]], MessageStreamEvent]] = {
    "message_start": lambda d: MessageStartEvent(message_from_dict(d.get("message") or {})),
    "content_block_start": lambda d: ContentBlockStartEvent(
        _int(d, "index"), content_block(d.get("content_block") or {})
    ),
    "content_block_delta": lambda d: ContentBlockDeltaEvent(_int(d, "index"), delta_of(d.get("delta") or {})),
    "content_block_stop": lambda d: ContentBlockStopEvent(_int(d, "index")),
    "message_delta": _message_delta,
    "message_stop": _message_stop,
}


def event_from_dict(data: Mapping[str, Any]) -> MessageStreamEvent:
    """The typed event for one decoded Anthropic streaming event JSON."""
    kind = data.get("type")
    reader = _EVENT_READERS.get(kind) if isinstance(kind, str) else None
    return OtherEvent(str(kind), dict(data)) if reader is None else reader(data)


# --------------------------------------------------------------------------- other operations


@dataclass(frozen=True, slots=True)
class MessageTokensCount:
    """``messages.count_tokens`` result (Bedrock CountTokens ``inputTokens``)."""

    input_tokens: int
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class FoundationModel:
    """One ``FoundationModelSummary`` / ``FoundationModelDetails``, plus the catalog's view.

    ``availability`` maps ``global``/``us``/``eu``/``jp``/``apac`` to the seed table's yes/no,
    ``alias`` is the short name and ``deprecated_on`` the day the seed table dates its deprecation
    (``None`` for an active model), when the catalog knows the model (else ``None``).
    """

    model_id: str
    model_arn: str
    model_name: str
    provider_name: str
    lifecycle_status: str
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    response_streaming_supported: bool
    inference_types_supported: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False)
    alias: str | None = None
    availability: Mapping[str, bool] | None = None
    deprecated_on: date | None = None

    @property
    def id(self) -> str:
        return self.model_id

    @property
    def display_name(self) -> str:
        return self.model_name

    @property
    def is_deprecated(self) -> bool:
        return self.lifecycle_status == "LEGACY"


@dataclass(frozen=True, slots=True)
class ModelList:
    """``models.list()`` result: iterate it, or read ``data``."""

    data: tuple[FoundationModel, ...]
    request_id: str | None = None

    def __iter__(self) -> Iterator[FoundationModel]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> FoundationModel:
        return self.data[index]


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    """STS GetCallerIdentity: who the credentials belong to."""

    account: str
    arn: str
    user_id: str
    request_id: str | None = None


@dataclass(slots=True)
class ConverseUsage:
    """Converse ``TokenUsage``; ``cache_creation`` is its ``cacheDetails`` TTL split, when sent."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    cache_creation: CacheCreation | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ConverseUsage:
        data = data or {}
        return cls(
            _int(data, "inputTokens"), _int(data, "outputTokens"), _int(data, "totalTokens"),
            _int(data, "cacheReadInputTokens"), _int(data, "cacheWriteInputTokens"),
            _cache_details(data.get("cacheDetails")),
        )  # fmt: skip


def _cache_details(details: Any) -> CacheCreation | None:
    """botocore ``CacheDetailsList`` (``[{"ttl": "1h", "inputTokens": n}, ...]``) as a TTL split."""
    if not isinstance(details, list):
        return None
    tokens = {"5m": 0, "1h": 0}
    for detail in details:
        if isinstance(detail, dict) and detail.get("ttl") in tokens:
            tokens[detail["ttl"]] += _int(detail, "inputTokens")
    return CacheCreation(tokens["5m"], tokens["1h"])


def _converse_texts(blocks: Any) -> Iterator[str]:
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            yield block["text"]
        elif isinstance(block.get("citationsContent"), dict):
            yield from _converse_texts(block["citationsContent"].get("content"))


@dataclass(slots=True)
class ConverseResponse:
    """A Converse reply: ``output_message`` is Bedrock's ``output.message`` JSON."""

    output_message: dict[str, Any]
    stop_reason: str | None
    usage: ConverseUsage
    latency_ms: int | None
    raw: dict[str, Any] = field(repr=False)
    request_id: str | None = None
    bedrock_model_id: str | None = None
    pricing: PricingContext | None = field(default=None, repr=False, compare=False)

    @property
    def content(self) -> list[dict[str, Any]]:
        content = self.output_message.get("content")
        return content if isinstance(content, list) else []

    @property
    def text(self) -> str:
        """The text of every text block and cited passage (``citationsContent``), in order."""
        return "".join(_converse_texts(self.content))

    @property
    def cost(self) -> Cost | None:
        usage = Usage(
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            cache_creation_input_tokens=self.usage.cache_write_input_tokens,
            cache_read_input_tokens=self.usage.cache_read_input_tokens,
            cache_creation=self.usage.cache_creation,
        )
        return _price(self.pricing, usage)


@dataclass(frozen=True, slots=True)
class ConverseStreamEvent:
    """One ConverseStream event: ``type`` is the ``:event-type`` (``contentBlockDelta``...),
    ``data`` its JSON payload without the ``p`` padding."""

    type: str
    data: dict[str, Any]
