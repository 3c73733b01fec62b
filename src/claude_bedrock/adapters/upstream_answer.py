"""The gateway's check of an upstream answer's events against what the renderers take on trust.

Purpose: the renderers (``service.runtime``'s, ``wire.converse_response``) read the events of
an engine as the engine contract (``domain.engine``) promises them, and the simulator keeps it.
An upstream's events are another server's bytes: one that breaks the contract (a block index
that is no open block, a ``text_delta`` whose text is a number, a token count that is a string,
a stop reason or block type Converse has no form for) made the renderers fail with a traceback
and a bare 500, and a count that is no number went into the call history, whose listing then
failed on every request. ``AnswerCheck`` says what is wrong with such an event, before it is
relayed; the gateway answers it as it answers any answer that is no Bedrock one (its Rule 4).

Rules:
  1. What every rendering relies on is checked for every operation: block indexes as they
     open and close, the shapes of blocks and deltas, the text fields the renderers join or
     encode (a ``redacted_thinking`` block's ``data``), a block's citations (a list of objects)
     and the token counts they add (whole numbers of at least 0).
  2. A delta type that its block type does not take (one Anthropic may add) reaches an
     InvokeModelWithResponseStream caller as it came (a relay of the events); the other
     operations build the message, and cannot.
  3. Converse and ConverseStream also need a Converse form for each block type, citation type
     and stop reason (``wire.converse_response``'s tables).
  4. Only the order the relay already checked (``domain.message.next_state``) is assumed: the
     check costs a few dictionary look-ups per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claude_bedrock.domain.message import DELTAS_BY_BLOCK
from claude_bedrock.wire.converse_response import (
    CITATION_LOCATIONS,
    STOP_REASONS,
    has_converse_form,
    is_server_tool_result,
)

__all__ = ["AnswerCheck"]

#: The token counts of a ``usage`` the renderers and the call records add up.
_COUNTS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
_CACHE_COUNTS = ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")
#: Delta type -> (its field the renderers take, the type they take it as).
_DELTA_FIELDS: Mapping[str, tuple[str, type]] = {
    "text_delta": ("text", str),
    "thinking_delta": ("thinking", str),
    "signature_delta": ("signature", str),
    "input_json_delta": ("partial_json", str),
    "citations_delta": ("citation", dict),
}
#: Block fields the deltas append to, and the redacted block's blob (Converse encodes it).
_TEXT_FIELDS = ("text", "thinking", "signature", "data")
_CITATION_TYPES = frozenset(row.anthropic_type for row in CITATION_LOCATIONS.values())


class AnswerCheck:
    """The events of one upstream answer, checked in their order (module docstring)."""

    __slots__ = ("_built", "_converse", "_blocks", "_block_type")

    def __init__(self, operation: str) -> None:
        self._built = operation != "InvokeModelWithResponseStream"  # Rule 2
        self._converse = operation in ("Converse", "ConverseStream")  # Rule 3
        self._blocks = 0  # blocks started
        self._block_type = ""  # of the open block

    def problem(self, kind: str, event: Mapping[str, Any]) -> str | None:
        """What is wrong with ``event`` (of lifecycle type ``kind``, in order), or None."""
        if kind == "content_block_delta":  # the most frequent first
            return self._delta(event)
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "content_block_stop":
            index = event.get("index")
            return None if _is_index(index, self._blocks - 1) else f"content_block_stop of block {index!r}"
        if kind == "message_start":
            message = event.get("message")
            if not isinstance(message, dict):
                return "message_start without a message object"
            if message.get("content"):
                return "message_start with content"
            return _usage_problem(message.get("usage"))
        if kind == "message_delta":
            delta = event.get("delta")
            if not isinstance(delta, dict):
                return "message_delta without a delta object"
            if self._converse and delta.get("stop_reason") not in STOP_REASONS:
                return f"stop_reason {delta.get('stop_reason')!r} has no Converse stopReason"
            return _usage_problem(event.get("usage"))
        return None

    def _block_start(self, event: Mapping[str, Any]) -> str | None:
        index, block = event.get("index"), event.get("content_block")
        if not _is_index(index, self._blocks):
            return f"content_block_start of block {index!r}, block {self._blocks} expected"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return "content_block_start without a typed content_block"
        kind = block["type"]
        if any(not isinstance(block[field], str) for field in _TEXT_FIELDS if field in block):
            return f"{kind} block whose text is no string"
        citations = block.get("citations")
        if citations is not None and not (isinstance(citations, list)
                                          and all(isinstance(citation, dict) for citation in citations)):
            return f"{kind} block whose citations are no list of objects"
        if self._converse:
            if not has_converse_form(kind):
                return f"content block type {kind!r} has no Converse form"
            needed = ("id", "name") if kind in ("tool_use", "server_tool_use") else (
                ("tool_use_id",) if is_server_tool_result(kind) else ())
            if any(not isinstance(block.get(field), str) for field in needed):
                return f"{kind} block without {' and '.join(needed)}"
            if citations and any(citation.get("type") not in _CITATION_TYPES for citation in citations):
                return f"{kind} block with a citation type that has no Converse form"
        self._blocks += 1
        self._block_type = kind
        return None

    def _delta(self, event: Mapping[str, Any]) -> str | None:
        index, delta = event.get("index"), event.get("delta")
        if not _is_index(index, self._blocks - 1):
            return f"content_block_delta of block {index!r}, block {self._blocks - 1} open"
        if not isinstance(delta, dict):
            return "content_block_delta without a delta object"
        kind = delta.get("type")
        if self._built and kind not in DELTAS_BY_BLOCK.get(self._block_type, ()):
            return f"{kind!r} delta in a {self._block_type} block"
        field = _DELTA_FIELDS.get(kind)  # type: ignore[arg-type]
        if field is not None and field[0] in delta and not isinstance(delta[field[0]], field[1]):
            return f"{kind} whose {field[0]} is no {field[1].__name__}"
        if self._converse and kind == "citations_delta" and delta.get("citation", {}).get("type") not in _CITATION_TYPES:
            return f"citation type {delta['citation'].get('type')!r} has no Converse form"
        return None


def _is_index(value: Any, expected: int) -> bool:
    return value == expected and type(value) is int


def _is_count(value: Any) -> bool:
    return value is None or (type(value) is int and value >= 0)


def _usage_problem(usage: Any) -> str | None:
    """What is wrong with a ``usage`` object (absent is fine: the counts are then 0)."""
    if usage is None:
        return None
    if not isinstance(usage, dict):
        return "usage that is no object"
    breakdown = usage.get("cache_creation")
    if not all(_is_count(usage.get(name)) for name in _COUNTS) or not (
            breakdown is None or (isinstance(breakdown, dict) and all(_is_count(breakdown.get(name))
                                                                      for name in _CACHE_COUNTS))):
        return f"usage with a token count that is no whole number: {usage!r}"
    return None
