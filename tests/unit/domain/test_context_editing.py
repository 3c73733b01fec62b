"""Context editing (``context_management``): the judging of the edits, the rules of each edit as
applied to the prompt, and how validation bills and limits the edited prompt."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from claude_bedrock.domain import tokens
from claude_bedrock.domain.context_editing import (
    CLEARED_TOOL_RESULT,
    CONTEXT_MANAGEMENT_BETA,
    ClearThinking,
    ClearToolUses,
    apply_context_edits,
    check_context_management,
)
from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.validation import validate_messages_request

BETAS = (CONTEXT_MANAGEMENT_BETA,)
THINKING = {"type": "enabled", "budget_tokens": 1024}


@dataclass(frozen=True)
class Limits:
    model_id: str = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    max_output_tokens: int = 64_000
    context_window: int = 200_000
    supports_thinking: bool = True
    supports_1m_context: bool = False


WEATHER = "sunny, 22 degrees Celsius, humidity 55 percent, wind 15 km/h from the north-west, no rain expected"


def tool_round(n: int, name: str = "get_weather", result: str = WEATHER) -> list[dict]:
    tool_id = f"toolu_{name}_{n}"
    return [
        {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": name, "input": {"city": "Madrid"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": f"{n}: {result}"}]},
    ]


def conversation(*rounds: list[dict]) -> list[dict]:
    messages: list[dict] = [{"role": "user", "content": "Check the weather in Madrid"}]
    for one in rounds:
        messages += one
    return messages


def body_of(messages: list[dict], **fields: Any) -> dict[str, Any]:
    return {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 2048, "messages": messages, **fields}


def apply(body: dict[str, Any], *edits: Any, preserve_thinking: bool = False):
    count = tokens.count_request(body, preserve_thinking=preserve_thinking)
    return apply_context_edits(body, edits, input_tokens=count, preserve_thinking=preserve_thinking)


def results(request: Any) -> list[Any]:
    return [block["content"] for message in request["messages"] if isinstance(message["content"], list)
            for block in message["content"] if block["type"] == "tool_result"]


# --------------------------------------------------------------------------- clear_tool_uses


def test_tool_uses_keeps_the_most_recent_and_clears_the_rest():
    body = body_of(conversation(*(tool_round(n) for n in range(5))))
    original = copy.deepcopy(body)
    edited = apply(body, ClearToolUses(trigger=("input_tokens", 10), keep=2))
    assert results(edited.request)[:3] == [CLEARED_TOOL_RESULT] * 3
    assert results(edited.request)[3:] == [f"3: {WEATHER}", f"4: {WEATHER}"]
    [applied] = edited.response["applied_edits"]
    assert list(applied) == ["type", "cleared_input_tokens", "cleared_tool_uses"]  # Bedrock's key order
    assert applied["cleared_tool_uses"] == 3
    assert applied["cleared_input_tokens"] == tokens.count_request(body) - edited.input_tokens > 0
    assert edited.input_tokens == tokens.count_request(edited.request)
    assert body == original  # the client's body is never changed
    # tool inputs stay visible by default
    assert all(block["input"] == {"city": "Madrid"} for m in edited.request["messages"] if m["role"] == "assistant"
               for block in m["content"])


def test_tool_uses_default_trigger_is_100k_input_tokens():
    body = body_of(conversation(*(tool_round(n) for n in range(5))))
    edited = apply(body, ClearToolUses())
    assert edited.request is body and edited.response == {"applied_edits": []}
    assert edited.input_tokens == tokens.count_request(body)


def test_tool_uses_trigger_by_number_of_tool_uses():
    body = body_of(conversation(*(tool_round(n) for n in range(3))))
    assert apply(body, ClearToolUses(trigger=("tool_uses", 3), keep=1)).response == {"applied_edits": []}
    [applied] = apply(body, ClearToolUses(trigger=("tool_uses", 2), keep=1)).response["applied_edits"]
    assert applied["cleared_tool_uses"] == 2


def test_tool_uses_excluded_tools_are_never_cleared_nor_kept():
    body = body_of(conversation(tool_round(0, "memory"), tool_round(1), tool_round(2), tool_round(3), tool_round(4, "memory")))
    edited = apply(body, ClearToolUses(trigger=("input_tokens", 10), keep=1, exclude_tools=frozenset({"memory"})))
    cleared = results(edited.request)
    assert cleared[0].startswith("0:") and cleared[4].startswith("4:")  # memory uses untouched
    assert cleared[1:3] == [CLEARED_TOOL_RESULT] * 2 and cleared[3].startswith("3:")  # the last get_weather kept
    assert edited.response["applied_edits"][0]["cleared_tool_uses"] == 2


def test_tool_uses_clear_at_least_not_reached_applies_nothing():
    body = body_of(conversation(*(tool_round(n) for n in range(3))))
    edited = apply(body, ClearToolUses(trigger=("input_tokens", 10), keep=0, clear_at_least=10_000))
    assert edited.request is body and edited.response == {"applied_edits": []}


@pytest.mark.parametrize("inputs, cleared", [(True, 2), (frozenset({"get_weather"}), 2), (frozenset({"other"}), 0)])
def test_tool_uses_clear_tool_inputs(inputs, cleared):
    body = body_of(conversation(*(tool_round(n) for n in range(3))))
    edited = apply(body, ClearToolUses(trigger=("input_tokens", 10), keep=1, clear_tool_inputs=inputs))
    emptied = [block for m in edited.request["messages"] if m["role"] == "assistant"
               for block in m["content"] if block["input"] == {}]
    assert len(emptied) == cleared


# --------------------------------------------------------------------------- clear_thinking


def thinking_turn(n: int) -> list[dict]:
    """A whole assistant turn with thinking, a tool-use loop, then the user's next question."""
    tool_id = f"toolu_{n}"
    return [
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": f"Turn {n}: the user wants the weather, I should call the tool.",
             "signature": "sig"},
            {"type": "tool_use", "id": tool_id, "name": "get_weather", "input": {"city": "Madrid"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": WEATHER}]},
        {"role": "assistant", "content": [{"type": "text", "text": "It is sunny."}]},
        {"role": "user", "content": f"And now, question {n + 1}?"},
    ]


def thinking_blocks(request: Any) -> list[str]:
    return [block["thinking"] for message in request["messages"] if isinstance(message["content"], list)
            for block in message["content"] if block["type"] == "thinking"]


def test_thinking_keeps_the_last_turns():
    body = body_of(conversation(*(thinking_turn(n) for n in range(4))), thinking=THINKING)
    edited = apply(body, ClearThinking(keep=2))
    assert [text[:6] for text in thinking_blocks(edited.request)] == ["Turn 2", "Turn 3"]
    [applied] = edited.response["applied_edits"]
    assert list(applied) == ["type", "cleared_input_tokens", "cleared_thinking_turns"]
    assert applied["cleared_thinking_turns"] == 2 and applied["cleared_input_tokens"] > 0
    # the edit decides what is kept, also on a model that strips earlier thinking by default
    assert edited.preserve_thinking
    assert edited.input_tokens == tokens.count_request(edited.request, preserve_thinking=True)


def test_thinking_keep_all_clears_nothing_and_keeps_every_block():
    body = body_of(conversation(*(thinking_turn(n) for n in range(3))), thinking=THINKING)
    edited = apply(body, ClearThinking(keep=None))
    assert edited.response == {"applied_edits": []} and len(thinking_blocks(edited.request)) == 3
    assert edited.input_tokens == tokens.count_request(body, preserve_thinking=True) > tokens.count_request(body)


@pytest.mark.parametrize("keep", [1, 2, None])
def test_original_count_is_the_prompt_before_the_edits_clear_anything(keep):
    """count_tokens' ``original_input_tokens`` is the count "before" the edits ("Context
    editing", token counting), which only clear: never below the edited count, and above it by
    what the applied edits report cleared, also on a model that strips earlier thinking."""
    body = body_of(conversation(*(thinking_turn(n) for n in range(3))), thinking=THINKING)
    edited = apply(body, ClearThinking(keep=keep), ClearToolUses(trigger=("input_tokens", 10), keep=1))
    cleared = sum(edit["cleared_input_tokens"] for edit in edited.response["applied_edits"])
    assert edited.original_input_tokens == edited.input_tokens + cleared
    assert edited.original_input_tokens == tokens.count_request(body, preserve_thinking=True)


def test_thinking_then_tool_uses_report_in_order():
    body = body_of(conversation(*(thinking_turn(n) for n in range(3))), thinking=THINKING)
    edited = apply(body, ClearThinking(keep=1), ClearToolUses(trigger=("input_tokens", 10), keep=1))
    assert [edit["type"] for edit in edited.response["applied_edits"]] == [
        "clear_thinking_20251015", "clear_tool_uses_20250919"]


# --------------------------------------------------------------------------- judging


def judge(config: Any, betas=BETAS, thinking_enabled: bool = False):
    return check_context_management({"context_management": config}, betas, thinking_enabled=thinking_enabled)


def test_judged_defaults_and_values():
    assert judge({"edits": [{"type": "clear_tool_uses_20250919"}]}) == (ClearToolUses(),)
    assert judge({"edits": [{"type": "clear_tool_uses_20250919", "trigger": {"type": "tool_uses", "value": 4},
                             "keep": {"type": "tool_uses", "value": 1},
                             "clear_at_least": {"type": "input_tokens", "value": 500},
                             "exclude_tools": ["memory"], "clear_tool_inputs": ["bash"]}]}) == (
        ClearToolUses(("tool_uses", 4), 1, 500, frozenset({"memory"}), frozenset({"bash"})),)
    assert judge({"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}, thinking_enabled=True) == (
        ClearThinking(None),)
    assert judge({"edits": [{"type": "clear_thinking_20251015", "keep": {"type": "all"}}]},
                 thinking_enabled=True) == (ClearThinking(None),)
    assert judge({"edits": [{"type": "clear_thinking_20251015", "keep": {"type": "thinking_turns", "value": 2}}]},
                 thinking_enabled=True) == (ClearThinking(2),)
    assert judge({"edits": []}) is None
    # compaction edits are another feature's: passed over
    assert judge({"edits": [{"type": "compact_20260112"}]}, betas=("compact-2026-01-12",)) is None


@pytest.mark.parametrize("config, betas, thinking, message", [
    ({"edits": [{"type": "clear_tool_uses_20250919"}]}, (), False,
     "context_management: Extra inputs are not permitted"),
    ({"edits": [{"type": "clear_thinking_20251015"}]}, BETAS, False,
     "context_management: `clear_thinking_20251015` strategy requires `thinking` to be enabled"),
    ({"edits": [{"type": "clear_tool_uses_20250919"}, {"type": "clear_thinking_20251015"}]}, BETAS, True,
     "context_management.edits: `clear_thinking_20251015` must be listed first in `edits`"),
    ({"edits": [{"type": "clear_everything"}]}, BETAS, False,
     "context_management.edits.0: Input tag 'clear_everything' found using 'type' does not match any of the "
     "expected tags: 'clear_tool_uses_20250919', 'clear_thinking_20251015', 'compact_20260112'"),
    ({"edits": [{"type": "clear_tool_uses_20250919", "keep": {"type": "tool_uses", "value": "3"}}]}, BETAS, False,
     "context_management.edits.0.clear_tool_uses_20250919.keep.value: Input should be a valid integer"),
    ({"edits": [{"type": "clear_tool_uses_20250919", "keeps": 3}]}, BETAS, False,
     "context_management.edits.0.clear_tool_uses_20250919.keeps: Extra inputs are not permitted"),
    ({"edits": [{"type": "clear_thinking_20251015", "keep": {"type": "thinking_turns", "value": 0}}]}, BETAS, True,
     "context_management.edits.0.clear_thinking_20251015.keep.thinking_turns.value: "
     "Input should be greater than or equal to 1"),
    ({"edits": {"type": "clear_tool_uses_20250919"}}, BETAS, False,
     "context_management.edits: Input should be a valid list"),
    # the nested objects forbid unknown keys as the edits do ("keep all" is not "keep 1")
    ({"edits": [{"type": "clear_thinking_20251015", "keep": {"type": "all", "value": 1}}]}, BETAS, True,
     "context_management.edits.0.clear_thinking_20251015.keep.all.value: Extra inputs are not permitted"),
    ({"edits": [{"type": "clear_thinking_20251015", "keep": {"type": "thinking_turns", "value": 2, "turns": 2}}]},
     BETAS, True,
     "context_management.edits.0.clear_thinking_20251015.keep.thinking_turns.turns: Extra inputs are not permitted"),
    ({"edits": [{"type": "clear_tool_uses_20250919", "keep": {"type": "tool_uses", "value": 2, "min": 1}}]}, BETAS,
     False, "context_management.edits.0.clear_tool_uses_20250919.keep.min: Extra inputs are not permitted"),
    ({"edits": [{"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 9, "x": 1}}]},
     BETAS, False,
     "context_management.edits.0.clear_tool_uses_20250919.trigger.input_tokens.x: Extra inputs are not permitted"),
])
def test_judged_mistakes(config, betas, thinking, message):
    with pytest.raises(ValidationException) as caught:
        judge(config, betas, thinking)
    assert caught.value.message == message


# --------------------------------------------------------------------------- through validation


def count(body: dict[str, Any]) -> int:
    return tokens.count_request(body)


def test_validation_bills_the_edited_prompt_and_leaves_plain_requests_alone():
    messages = conversation(*(tool_round(n) for n in range(4)))
    plain = validate_messages_request(body_of(messages), Limits(), count_input_tokens=count)
    assert plain.edited is None
    body = body_of(messages, anthropic_beta=list(BETAS), context_management={"edits": [
        {"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 10},
         "keep": {"type": "tool_uses", "value": 1}}]})
    validated = validate_messages_request(body, Limits(), count_input_tokens=count)
    assert validated.body is body and validated.edited is not None
    assert validated.input_tokens == validated.edited.input_tokens < count(body)


def test_validation_checks_the_context_window_against_the_edited_prompt():
    big = "word " * 4000
    messages = conversation(*(tool_round(n, result=big) for n in range(4)))
    limits = Limits(context_window=10_000)
    with pytest.raises(ValidationException, match="Input is too long for requested model"):
        validate_messages_request(body_of(messages), limits, count_input_tokens=count)
    body = body_of(messages, anthropic_beta=list(BETAS), context_management={"edits": [
        {"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 5000},
         "keep": {"type": "tool_uses", "value": 1}}]})
    assert validate_messages_request(body, limits, count_input_tokens=count).input_tokens < 10_000


def test_validation_relays_the_model_rejection():
    body = body_of(conversation(), context_management={"edits": [{"type": "clear_tool_uses_20250919"}]})
    with pytest.raises(ValidationException) as caught:
        validate_messages_request(body, Limits())
    assert caught.value.message == "context_management: Extra inputs are not permitted"


# --------------------------------------------------------------------------- boundaries


def test_judged_counts_at_their_minimum_and_booleans_refused():
    edit = {"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 1},
            "keep": {"type": "tool_uses", "value": 0}, "clear_tool_inputs": True}
    assert judge({"edits": [edit]}) == (ClearToolUses(("input_tokens", 1), 0, 0, frozenset(), True),)
    assert judge({"edits": [{**edit, "clear_tool_inputs": False}]}) == (
        ClearToolUses(("input_tokens", 1), 0, 0, frozenset(), False),)
    for wrong, message in (
        ({"trigger": {"type": "input_tokens", "value": 0}}, "trigger.input_tokens.value: Input should be greater "
                                                            "than or equal to 1"),
        ({"keep": {"type": "tool_uses", "value": True}}, "keep.value: Input should be a valid integer"),
    ):
        with pytest.raises(ValidationException) as caught:
            judge({"edits": [{"type": "clear_tool_uses_20250919", **wrong}]})
        assert caught.value.message == f"context_management.edits.0.clear_tool_uses_20250919.{message}"


def test_judged_context_management_without_edits_has_none():
    assert judge({}) is None


def test_tool_uses_clear_at_least_reached_exactly_applies():
    body = body_of(conversation(*(tool_round(n) for n in range(3))))
    [applied] = apply(body, ClearToolUses(trigger=("input_tokens", 10), keep=0)).response["applied_edits"]
    cleared = applied["cleared_input_tokens"]
    exact = apply(body, ClearToolUses(trigger=("input_tokens", 10), keep=0, clear_at_least=cleared))
    assert exact.response["applied_edits"] == [applied]
    above = apply(body, ClearToolUses(trigger=("input_tokens", 10), keep=0, clear_at_least=cleared + 1))
    assert above.response == {"applied_edits": []}


def test_thinking_turns_end_at_a_user_message_of_text_blocks():
    """A user message sent as a list of text blocks starts a turn as a plain string does."""
    def listed(turn: list[dict]) -> list[dict]:
        return [*turn[:-1], {"role": "user", "content": [{"type": "text", "text": turn[-1]["content"]}]}]

    body = body_of(conversation(*(listed(thinking_turn(n)) for n in range(4))), thinking=THINKING)
    edited = apply(body, ClearThinking(keep=2))
    assert [text[:6] for text in thinking_blocks(edited.request)] == ["Turn 2", "Turn 3"]
    assert edited.response["applied_edits"][0]["cleared_thinking_turns"] == 2


def test_tool_uses_keep_above_the_uses_clears_nothing():
    body = body_of(conversation(*(tool_round(n) for n in range(3))))
    edited = apply(body, ClearToolUses(trigger=("input_tokens", 10), keep=5))
    assert edited.request is body and edited.response == {"applied_edits": []}


def test_thinking_turn_spans_its_tool_loop():
    """Interleaved thinking: a turn's thinking in two assistant messages around a tool result is
    one turn, kept or cleared whole."""
    def interleaved(n: int) -> list[dict]:
        first, result, _, question = thinking_turn(n)
        again = {"role": "assistant", "content": [
            {"type": "thinking", "thinking": f"Turn {n}, again: the tool answered.", "signature": "sig"},
            {"type": "text", "text": "It is sunny."}]}
        return [first, result, again, question]

    body = body_of(conversation(interleaved(0), interleaved(1)), thinking=THINKING)
    edited = apply(body, ClearThinking(keep=1))
    assert [text[:6] for text in thinking_blocks(edited.request)] == ["Turn 1", "Turn 1"]
    assert edited.response["applied_edits"][0]["cleared_thinking_turns"] == 1
