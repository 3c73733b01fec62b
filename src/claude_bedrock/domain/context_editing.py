"""Context editing: the ``context_management`` edits applied before the prompt reaches Claude.

A request opts in with the ``context-management-2025-06-27`` beta and a ``context_management``
object whose ``edits`` the API applies, in order, to what the model sees; the client keeps
sending its full history ("Context editing is applied server-side before the prompt reaches
Claude"). The edited prompt is what the model answers, what is billed as input, what the
context window is checked against and what CountTokens counts (``validation.edited_prompt``;
the first-party count_tokens route adds ``context_management.original_input_tokens``, the
count before the edits, ``EditedContext.original_input_tokens``); the response reports each
edit that changed something in ``context_management.applied_edits`` (InvokeModel body; the
final ``message_delta`` of a stream), and ``{"applied_edits": []}`` when none did.

* ``check_context_management`` judges the object: without the beta the field is unknown to
  the API ("context_management: Extra inputs are not permitted", Bedrock's answer quoted in
  anthropics/anthropic-sdk-go#246 and BerriAI/litellm#29085); an edit ``type`` must be one of
  ``EDIT_TYPES``; ``clear_thinking_20251015`` needs thinking on ("`clear_thinking_20251015`
  strategy requires `thinking` to be enabled", the API's 400 quoted in
  anthropics/claude-code#11971) and must come first when both strategies are used. Unknown
  keys are refused at every level (an edit and its ``trigger``, ``keep`` and
  ``clear_at_least`` objects), as the API refuses them at the top level. Field types and
  ranges are judged in pydantic's words. ``compact_20260112`` edits (compaction, its
  own beta) are passed over: neither judged nor applied.
* ``apply_context_edits`` applies the judged edits:

  - ``clear_thinking_20251015``: ``keep`` (default ``{"type": "thinking_turns", "value": 1}``,
    or ``"all"``) assistant turns with thinking keep their ``thinking`` /
    ``redacted_thinking`` blocks; older turns lose them. A turn is the run of assistant
    messages after a user message holding anything but tool results (a tool-use loop is one
    turn, as in ``tokens``). The edit decides which thinking the model keeps, so the edited
    prompt is counted with every remaining thinking block (``preserve_thinking``).
  - ``clear_tool_uses_20250919``: applies once the prompt exceeds ``trigger`` (default
    100,000 ``input_tokens``; or a number of ``tool_uses``); then every tool use but the
    ``keep`` most recent (default 3) has its ``tool_result`` content replaced by
    ``CLEARED_TOOL_RESULT``, and its ``tool_use`` input emptied when ``clear_tool_inputs`` is
    true or names the tool. Tools named in ``exclude_tools`` are never cleared and do not
    count towards ``keep`` (what Bedrock did in the aws-samples/anthropic-on-aws
    "automatic tool clearing" notebook run: keep 1 with the memory tool excluded cleared the
    two older of three ``get_weather`` uses). If the tokens cleared fall short of
    ``clear_at_least``, the edit is not applied.

  ``cleared_input_tokens`` is the drop in the prompt's count (``tokens.count_request``).

Not modelled (no reliable source): the placeholder's exact text (``CLEARED_TOOL_RESULT`` is
ours), clearing of server tool uses, the model-specific ``keep`` default of
``clear_thinking_20251015`` on models newer than this catalog, the warning Claude gets near
the threshold when the memory tool is present, and the wording of the ordering rule's error.

Source: Anthropic "Context editing" (strategies, defaults, configuration tables, response and
streaming shapes, token counting); the anthropic SDK 2.14 types
``BetaClearToolUses20250919EditParam``, ``BetaClearThinking20251015EditParam``,
``BetaContextManagementResponse``; AWS "Anthropic Claude tool use: automatic tool call
clearing" and the aws-samples notebook's Bedrock responses (``applied_edits`` keys and order,
``[]`` when nothing was cleared).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claude_bedrock.domain import tokens
from claude_bedrock.domain.content_rules import tagged_type
from claude_bedrock.domain.request_errors import EXTRA_INPUT, api_error, one_of, refuse_extra_keys

__all__ = [
    "CLEARED_TOOL_RESULT",
    "CONTEXT_MANAGEMENT_BETA",
    "ClearThinking",
    "ClearToolUses",
    "EditedContext",
    "apply_context_edits",
    "check_context_management",
]

CONTEXT_MANAGEMENT_BETA = "context-management-2025-06-27"
#: Compaction's beta: a ``context_management`` holding only compaction edits needs only it.
COMPACT_BETA = "compact-2026-01-12"
CLEAR_TOOL_USES = "clear_tool_uses_20250919"
CLEAR_THINKING = "clear_thinking_20251015"
COMPACT = "compact_20260112"
EDIT_TYPES = (CLEAR_TOOL_USES, CLEAR_THINKING, COMPACT)

DEFAULT_TRIGGER = ("input_tokens", 100_000)
DEFAULT_KEEP_TOOL_USES = 3
DEFAULT_KEEP_THINKING_TURNS = 1
#: What a cleared tool result reads as (ours: the API's placeholder text is not documented).
CLEARED_TOOL_RESULT = "[Tool result cleared to save context]"

THINKING_REQUIRED = "`clear_thinking_20251015` strategy requires `thinking` to be enabled"
THINKING_FIRST = "`clear_thinking_20251015` must be listed first in `edits`"  # (ours)

_TOOL_USE_KEYS = frozenset({"type", "trigger", "keep", "clear_at_least", "exclude_tools", "clear_tool_inputs"})
_THINKING_KEYS = frozenset({"type", "keep"})
_COUNT_KEYS = frozenset({"type", "value"})
_ALL_KEYS = frozenset({"type"})
_THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})


@dataclass(frozen=True, slots=True)
class ClearToolUses:
    """A judged ``clear_tool_uses_20250919`` edit."""

    trigger: tuple[str, int] = DEFAULT_TRIGGER
    keep: int = DEFAULT_KEEP_TOOL_USES
    clear_at_least: int = 0
    exclude_tools: frozenset[str] = frozenset()
    #: True (every cleared use), False, or the names of the tools whose inputs are cleared.
    clear_tool_inputs: bool | frozenset[str] = False


@dataclass(frozen=True, slots=True)
class ClearThinking:
    """A judged ``clear_thinking_20251015`` edit: ``keep`` turns, None for all."""

    keep: int | None = DEFAULT_KEEP_THINKING_TURNS


Edit = ClearToolUses | ClearThinking


@dataclass(frozen=True, slots=True)
class EditedContext:
    """What the model sees once the edits are applied.

    Attributes:
        request: the edited body (the original's dict when nothing changed; never the
            original modified).
        input_tokens: the edited prompt's count.
        preserve_thinking: how ``tokens`` counts and caches the edited prompt's thinking.
        response: the ``context_management`` object of the response.
    """

    request: Mapping[str, Any]
    input_tokens: int
    preserve_thinking: bool
    response: Mapping[str, Any]

    @property
    def original_input_tokens(self) -> int:
        """The prompt's count before the edits, as the edits count it: the edited count plus
        what each applied edit cleared (with a ``clear_thinking_20251015`` edit, the prompt
        with every thinking block, as the edit starts from it). Never below ``input_tokens``."""
        return self.input_tokens + sum(edit["cleared_input_tokens"] for edit in self.response["applied_edits"])


# --------------------------------------------------------------------------- judging


def check_context_management(
    body: Mapping[str, Any], betas: Sequence[str], *, thinking_enabled: bool
) -> tuple[Edit, ...] | None:
    """Judge ``body["context_management"]``; its clearing edits, None when it has none.

    Raises:
        ValidationException: the first problem, in the API's words where known.
    """
    config = body.get("context_management")
    if config is None:
        return None
    if CONTEXT_MANAGEMENT_BETA not in betas and COMPACT_BETA not in betas:
        raise api_error("context_management", EXTRA_INPUT)
    refuse_extra_keys(config, ("edits",), "context_management")
    raw = config.get("edits")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise api_error("context_management.edits", "Input should be a valid list")
    edits: list[Edit] = []
    for index, item in enumerate(raw):
        path = f"context_management.edits.{index}"
        kind = tagged_type(item, path, EDIT_TYPES)
        if kind == COMPACT:
            continue
        if CONTEXT_MANAGEMENT_BETA not in betas:
            raise api_error("context_management", EXTRA_INPUT)
        if kind == CLEAR_THINKING:
            if edits:
                raise api_error("context_management.edits", THINKING_FIRST)
            if not thinking_enabled:
                raise api_error("context_management", THINKING_REQUIRED)
            edits.append(_thinking_edit(item, f"{path}.{kind}"))
        else:
            edits.append(_tool_uses_edit(item, f"{path}.{kind}"))
    return tuple(edits) if edits else None


def _count(item: Mapping[str, Any], key: str, path: str, kinds: tuple[str, ...], minimum: int) -> tuple[str, int] | None:
    """An optional ``{"type": kind, "value": n}`` member: (kind, n), None when absent."""
    value = item.get(key)
    if value is None:
        return None
    kind = tagged_type(value, f"{path}.{key}", kinds)
    member = f"{path}.{key}.{kind}" if len(kinds) > 1 else f"{path}.{key}"
    refuse_extra_keys(value, _COUNT_KEYS, member)
    number = value.get("value")
    at = f"{member}.value"
    if "value" not in value:
        raise api_error(at, "Field required")
    if not isinstance(number, int) or isinstance(number, bool):
        raise api_error(at, "Input should be a valid integer")
    if number < minimum:
        raise api_error(at, f"Input should be greater than or equal to {minimum}")
    return kind, number


def _names(value: Any, path: str) -> frozenset[str]:
    if not isinstance(value, list):
        raise api_error(path, "Input should be a valid list")
    for index, name in enumerate(value):
        if not isinstance(name, str):
            raise api_error(f"{path}.{index}", "Input should be a valid string")
    return frozenset(value)


def _tool_uses_edit(item: Mapping[str, Any], path: str) -> ClearToolUses:
    refuse_extra_keys(item, _TOOL_USE_KEYS, path)
    trigger = _count(item, "trigger", path, ("input_tokens", "tool_uses"), 1) or DEFAULT_TRIGGER
    keep = _count(item, "keep", path, ("tool_uses",), 0)
    clear_at_least = _count(item, "clear_at_least", path, ("input_tokens",), 0)
    excluded = item.get("exclude_tools")
    inputs = item.get("clear_tool_inputs")
    if inputs is not None and not isinstance(inputs, bool):
        inputs = _names(inputs, f"{path}.clear_tool_inputs")
    return ClearToolUses(
        trigger=trigger,
        keep=DEFAULT_KEEP_TOOL_USES if keep is None else keep[1],
        clear_at_least=0 if clear_at_least is None else clear_at_least[1],
        exclude_tools=frozenset() if excluded is None else _names(excluded, f"{path}.exclude_tools"),
        clear_tool_inputs=bool(inputs) if inputs is None or isinstance(inputs, bool) else inputs,
    )


def _thinking_edit(item: Mapping[str, Any], path: str) -> ClearThinking:
    refuse_extra_keys(item, _THINKING_KEYS, path)
    keep = item.get("keep")
    if keep is None:
        return ClearThinking()
    if keep == "all":
        return ClearThinking(keep=None)
    if isinstance(keep, str):
        raise api_error(f"{path}.keep", one_of(("all",)))
    if tagged_type(keep, f"{path}.keep", ("thinking_turns", "all")) == "all":
        refuse_extra_keys(keep, _ALL_KEYS, f"{path}.keep.all")
        return ClearThinking(keep=None)
    counted = _count(item, "keep", path, ("thinking_turns", "all"), 1)
    assert counted is not None
    return ClearThinking(keep=counted[1])


# --------------------------------------------------------------------------- applying


def apply_context_edits(
    body: Mapping[str, Any], edits: Sequence[Edit], *, input_tokens: int, preserve_thinking: bool
) -> EditedContext:
    """Apply judged ``edits`` to ``body`` (counted ``input_tokens`` for a model that does, or
    does not, ``preserve_thinking``), in order; ``body`` itself is left unchanged."""
    request: Mapping[str, Any] = body
    applied: list[dict[str, Any]] = []
    for edit in edits:
        if isinstance(edit, ClearThinking):
            preserve_thinking = True  # the edit, not the model's default, decides what is kept
            messages, turns, cleared = _clear_thinking(request["messages"], edit.keep)
            if turns:
                request = {**request, "messages": messages}
                applied.append({"type": CLEAR_THINKING, "cleared_input_tokens": cleared,
                                "cleared_thinking_turns": turns})
            input_tokens = tokens.count_request(request, preserve_thinking=True)
            continue
        messages, uses = _clear_tool_uses(request["messages"], edit, input_tokens)
        if not uses:
            continue
        edited = {**request, "messages": messages}
        after = tokens.count_request(edited, preserve_thinking=preserve_thinking)
        if input_tokens - after < edit.clear_at_least:
            continue
        applied.append({"type": CLEAR_TOOL_USES, "cleared_input_tokens": input_tokens - after,
                        "cleared_tool_uses": uses})
        request, input_tokens = edited, after
    return EditedContext(request, input_tokens, preserve_thinking, {"applied_edits": applied})


def _blocks(message: Mapping[str, Any]) -> list[Any]:
    content = message.get("content")
    return content if isinstance(content, list) else []


def _starts_turn(message: Mapping[str, Any]) -> bool:
    """A user message holding anything but tool results ends the assistant's turn."""
    content = message.get("content")
    return isinstance(content, str) or any(block.get("type") != "tool_result" for block in content or ())


def _clear_thinking(messages: Sequence[Mapping[str, Any]], keep: int | None) -> tuple[list[Any], int, int]:
    """The messages without the thinking of all but the last ``keep`` thinking turns, the
    number of turns cleared and the tokens of the blocks removed."""
    turns: list[list[int]] = []  # assistant message indexes, by turn
    new_turn = True
    for index, message in enumerate(messages):
        if message.get("role") == "user":
            new_turn = new_turn or _starts_turn(message)
            continue
        if new_turn:
            turns.append([])
            new_turn = False
        turns[-1].append(index)
    thinking = [turn for turn in turns
                if any(block.get("type") in _THINKING_BLOCKS for i in turn for block in _blocks(messages[i]))]
    cleared_turns = [] if keep is None else thinking[:-keep]
    if not cleared_turns:
        return list(messages), 0, 0
    edited = list(messages)
    cleared = 0
    for turn in cleared_turns:
        for index in turn:
            kept = []
            for block in _blocks(messages[index]):
                if block.get("type") in _THINKING_BLOCKS:
                    cleared += tokens.count_block(block)
                else:
                    kept.append(block)
            edited[index] = {**messages[index], "content": kept}
    return edited, len(cleared_turns), cleared


def _clear_tool_uses(
    messages: Sequence[Mapping[str, Any]], edit: ClearToolUses, input_tokens: int
) -> tuple[list[Any], int]:
    """The messages with all but the last ``keep`` clearable tool uses cleared, and how many
    were; nothing when the trigger is not exceeded."""
    uses = [(index, position, block)
            for index, message in enumerate(messages) if message.get("role") == "assistant"
            for position, block in enumerate(_blocks(message)) if block.get("type") == "tool_use"]
    kind, threshold = edit.trigger
    if (input_tokens if kind == "input_tokens" else len(uses)) <= threshold:
        return list(messages), 0
    clearable = [use for use in uses if use[2].get("name") not in edit.exclude_tools]
    doomed = clearable[: max(0, len(clearable) - edit.keep)]
    if not doomed:
        return list(messages), 0
    inputs = edit.clear_tool_inputs
    results = {block[2].get("id") for block in doomed}
    edited = list(messages)
    content: dict[int, list[Any]] = {}
    for index, position, block in doomed:
        if inputs is True or (isinstance(inputs, frozenset) and block.get("name") in inputs):
            blocks = content.setdefault(index, list(_blocks(messages[index])))
            blocks[position] = {**block, "input": {}}
    for index, message in enumerate(messages):
        if message.get("role") != "user":
            continue
        for position, block in enumerate(_blocks(message)):
            if block.get("type") == "tool_result" and block.get("tool_use_id") in results:
                blocks = content.setdefault(index, list(_blocks(message)))
                blocks[position] = {**block, "content": CLEARED_TOOL_RESULT}
    for index, blocks in content.items():
        edited[index] = {**messages[index], "content": blocks}
    return edited, len(doomed)
