"""Scripted rules: parsing, matching, selection and the events a reply renders to."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_bedrock.domain.engine import ModelCall
from claude_bedrock.domain.errors import ModelStreamErrorException, ThrottlingException
from claude_bedrock.domain.message import accumulate
from claude_bedrock.domain.prompt_cache import CacheUsage
from claude_bedrock.domain.scripting import (
    CallView,
    RuleBook,
    ScriptError,
    error_for,
    model_matches,
    parse_rule,
    reply_events,
    text_pieces,
)
from claude_bedrock.domain.tokens import count_text

SONNET_NAMES = (
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-sonnet-4-5-20250929",
    "claude-sonnet-4-5",
)


def view(text: str = "What is the weather in Paris?", *, operation: str = "InvokeModel", system=None,
         tools: bool = False, account: str = "111122223333", names=SONNET_NAMES) -> CallView:
    request: dict = {"max_tokens": 100, "messages": [{"role": "user", "content": text}]}
    if system is not None:
        request["system"] = system
    if tools:
        request["tools"] = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    return CallView(names, operation, account, "us-west-2", request)


def call(request=None) -> ModelCall:
    return ModelCall(
        request=request or {"max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
        model_id="anthropic.claude-sonnet-4-5-20250929-v1:0",
        anthropic_name="claude-sonnet-4-5-20250929",
        message_id="msg_bdrk_01TEST",
        account_id="111122223333",
        region="us-west-2",
        operation="InvokeModel",
    )


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("claude-sonnet-4-5", True),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", True),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", True),
        ("*sonnet-4-5*", True),
        ("claude-sonnet-4", False),
        ("claude-opus-*", False),
    ],
)
def test_model_matches_exact_names_and_globs(pattern, expected):
    assert model_matches(pattern, SONNET_NAMES) is expected


def test_match_every_condition_must_hold():
    rule = parse_rule({"match": {"model": "claude-sonnet-4-5", "operation": ["Converse", "ConverseStream"],
                                 "user_text_contains": "WEATHER", "has_tools": True},
                       "respond": {"text": "x"}}, "r")
    assert rule.match.matches(view(operation="Converse", tools=True))
    assert not rule.match.matches(view(operation="InvokeModel", tools=True))
    assert not rule.match.matches(view(operation="Converse", tools=False))
    assert not rule.match.matches(view("Tell me a joke", operation="Converse", tools=True))


def test_match_system_contains_reads_string_and_block_systems():
    rule = parse_rule({"match": {"system_contains": "pirate"}, "respond": "Arr"}, "r")
    assert rule.match.matches(view(system="You are a Pirate."))
    assert rule.match.matches(view(system=[{"type": "text", "text": "Speak like a pirate"}]))
    assert not rule.match.matches(view(system="You are a librarian."))
    assert not rule.match.matches(view())


def test_match_text_conditions_ignore_case_beyond_ascii():
    # Unicode caseless matching (case folding): "STRASSE" is "straße", "ΟΔΟΣ" is "οδος"
    rule = parse_rule({"match": {"user_text_contains": "STRASSE"}, "respond": "x"}, "r")
    assert rule.match.matches(view("Wo ist die Hauptstraße?"))
    rule = parse_rule({"match": {"system_contains": "ΟΔΟΣ"}, "respond": "x"}, "r")
    assert rule.match.matches(view(system="Μιλάς για την οδος."))
    assert not rule.match.matches(view(system="Μιλάς για την πόλη."))


def test_match_account_filters_callers():
    rule = parse_rule({"match": {"account": "999999999999"}, "respond": "x"}, "r")
    assert not rule.match.matches(view())
    assert rule.match.matches(view(account="999999999999"))


@pytest.mark.parametrize("account", ["\u0661" * 12, "99999999999", "9999-9999-9999"])
def test_match_account_is_twelve_ascii_digits(account):
    """Other scripts' digits passed str.isdigit: a rule that no call could ever match."""
    with pytest.raises(ScriptError, match=r"rule\.match\.account: expected a 12-digit account ID"):
        parse_rule({"match": {"account": account}, "respond": "x"}, "r")


def test_last_user_text_includes_tool_results():
    request = {"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "content": [{"type": "text", "text": "Sunny, 21C"}]}]},
    ]}
    assert CallView((), "InvokeModel", "1", "r", request).last_user_text == "Sunny, 21C"


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"respond": {"text": "x"}, "match": {"modle": "x"}}, "modle"),
        ({"match": {}}, "respond is required"),
        ({"respond": {"txt": "x"}}, "txt"),
        ({"respond": {"error": {"code": "NoSuchError"}}}, "NoSuchError"),
        ({"respond": {"tool_use": {"input": {}}}}, "name"),
        ({"respond": {"turns": []}}, "turns"),
        ({"respond": "x", "times": 0}, "times"),
        ({"respond": "x", "match": {"operation": "CountTokens"}}, "CountTokens"),
        ({"respond": "x", "match": {"has_tools": "yes"}}, "has_tools"),
        ({"respond": {"error": "ThrottlingException", "text": "x"}}, "nothing else"),
    ],
)
def test_parse_rule_rejects_bad_rules_naming_the_key(spec, fragment):
    with pytest.raises(ScriptError, match=fragment):
        parse_rule(spec, "r")


@pytest.mark.parametrize(
    ("tool_use", "fragment"),
    [
        ({"name": "w", "input": {}, "id": "call 1"}, r"tool_use\.id: 'call 1' would be refused"),
        ({"name": "w", "input": {}, "id": "tool.1"}, r"tool_use\.id"),
        ({"name": "w", "input": {}, "id": "t" * 65}, r"at most 64 characters"),
        ({"name": "get weather", "input": {}}, r"tool_use\.name: 'get weather' is no tool name"),
        ({"name": "n" * 65, "input": {}}, r"tool_use\.name"),
        ([{"name": "a", "input": {}, "id": "toolu_x"}, {"name": "b", "input": {}, "id": "toolu_x"}],
         r"tool_use: two tool calls have the same id"),
    ],
)
def test_parse_rule_refuses_tool_calls_the_conversation_could_not_send_back(tool_use, fragment):
    # Sent back in the next turn, such a call is refused (the Messages API's id pattern and
    # unique ids; Converse's 64-character ToolUseId and ToolName): the script would break on
    # its second call, and in Converse but not InvokeModel for a long id or a dotted name.
    with pytest.raises(ScriptError, match=fragment):
        parse_rule({"respond": {"tool_use": tool_use}}, "r")


def test_parse_rule_takes_tool_ids_and_names_at_their_limits():
    rule = parse_rule({"respond": {"tool_use": [{"name": "n" * 64, "input": {}, "id": "t" * 64},
                                                {"name": "get_weather-2", "input": {}, "id": "toolu_A-1"}]}}, "r")
    assert [tool.id for tool in rule.replies[0].tool_uses] == ["t" * 64, "toolu_A-1"]


def test_rulebook_extend_is_all_or_nothing():
    book = RuleBook()
    book.add({"respond": "first"})
    with pytest.raises(ScriptError, match=r"rules\[1\]"):
        book.extend([{"respond": "ok"}, {"respond": {}}])
    assert [rule.id for rule in book.rules] == ["rule-1"]


def test_rulebook_rejects_duplicate_ids():
    book = RuleBook()
    book.add({"id": "weather", "respond": "x"})
    with pytest.raises(ScriptError, match="already exists"):
        book.add({"id": "weather", "respond": "y"})


# --------------------------------------------------------------------------- selection


def test_select_first_match_wins_and_unmatched_goes_to_engine():
    book = RuleBook()
    book.add({"match": {"user_text_contains": "weather"}, "respond": "weather rule"})
    book.add({"respond": "catch-all"})
    assert book.select(view("weather please")).reply.text == "weather rule"
    assert book.select(view("hello")).reply.text == "catch-all"
    book.remove("rule-2")
    assert book.select(view("hello")) is None


def test_select_turns_answer_in_order_then_exhaust():
    book = RuleBook()
    book.add({"respond": {"turns": ["one", {"tool_use": {"name": "t", "input": {"a": 1}}}, "three"]}})
    answers = [book.select(view()) for _ in range(4)]
    assert [a.reply.text if a else None for a in answers] == ["one", None, "three", None]
    assert answers[1].reply.tool_uses[0].name == "t"
    assert book.rules[0].exhausted


def test_select_times_caps_a_single_reply_and_repeats_last_turn():
    book = RuleBook()
    book.add({"respond": {"turns": ["a", "b"]}, "times": 3})
    assert [book.select(view()).reply.text for _ in range(3)] == ["a", "b", "b"]
    assert book.select(view()) is None


def test_give_back_lets_the_next_call_get_the_same_turn():
    book = RuleBook()
    book.add({"respond": {"turns": ["first", "second"]}})
    selection = book.select(view())
    selection.give_back()
    selection.give_back()  # idempotent
    assert book.select(view()).reply.text == "first"
    assert book.select(view()).reply.text == "second"


def test_give_back_while_a_later_turn_is_out_hands_the_same_turn_again():
    # Audit regression: two calls in flight took turns one and two; the first was interrupted
    # (an injected stream fault, its client gone) and handed its turn back. The retry got turn
    # two again (the count of uses had gone back to 1) and turn one was never answered.
    book = RuleBook()
    book.add({"respond": {"turns": ["one", "two", "three"]}})
    first, second = book.select(view()), book.select(view())
    assert (first.reply.text, second.reply.text) == ("one", "two")
    first.give_back()
    assert book.rules[0].used == 1
    assert [book.select(view()).reply.text for _ in range(2)] == ["one", "three"]
    assert book.select(view()) is None and book.rules[0].exhausted


def test_turns_handed_back_are_answered_first_in_order():
    book = RuleBook()
    book.add({"respond": {"turns": ["a", "b", "c"]}, "times": 4})
    selections = [book.select(view()) for _ in range(4)]
    assert [s.reply.text for s in selections] == ["a", "b", "c", "c"]
    selections[2].give_back()
    selections[0].give_back()
    assert book.rules[0].remaining == 2
    assert [book.select(view()).reply.text for _ in range(2)] == ["a", "c"]
    assert book.select(view()) is None


# --------------------------------------------------------------------------- events


@given(st.text(alphabet=st.sampled_from("ab \n\t.é"), max_size=60))
def test_text_pieces_concatenate_to_the_text(text):
    pieces = text_pieces(text)
    assert "".join(pieces) == text
    assert all(pieces)


def test_text_pieces_of_a_text_ending_in_a_long_blank_run_take_one_pass():
    """``\\s*\\S+`` searched again from every blank of a trailing run: a scripted reply ending in
    200,000 newlines held the event loop for minutes. Run in a child process killed after a
    minute."""
    script = (
        "from claude_bedrock.domain.scripting import text_pieces\n"
        "pieces = text_pieces('Done.' + '\\n' * 200_000)\n"
        "assert pieces == ['Done.' + '\\n' * 200_000], pieces[:3]\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr[-500:]


def test_reply_events_text_form_a_valid_message_with_counted_usage():
    rule = parse_rule({"respond": "The weather in Paris is sunny today, 21 degrees."}, "r")
    events = reply_events(rule.replies[0], call(), CacheUsage(input_tokens=12))
    message = accumulate(events)
    assert message["content"] == [{"type": "text", "text": "The weather in Paris is sunny today, 21 degrees."}]
    assert message["stop_reason"] == "end_turn"
    assert message["id"] == "msg_bdrk_01TEST" and message["model"] == "claude-sonnet-4-5-20250929"
    assert message["usage"]["input_tokens"] == 12
    assert message["usage"]["output_tokens"] == count_text("The weather in Paris is sunny today, 21 degrees.")
    assert sum(1 for e in events if e["type"] == "content_block_delta") > 2


def test_reply_events_text_then_tool_use_stops_on_tool_use():
    rule = parse_rule({"respond": {"text": "Let me check.",
                                   "tool_use": {"name": "get_weather", "input": {"city": "Paris, France"}}}}, "r")
    message = accumulate(reply_events(rule.replies[0], call(), CacheUsage(input_tokens=5)))
    assert [block["type"] for block in message["content"]] == ["text", "tool_use"]
    tool = message["content"][1]
    assert tool["name"] == "get_weather" and tool["input"] == {"city": "Paris, France"}
    assert tool["id"].startswith("toolu_bdrk_01") and len(tool["id"]) == len("toolu_bdrk_01") + 22
    assert message["stop_reason"] == "tool_use"


def test_reply_events_tool_ids_are_stable_and_distinct_per_block():
    rule = parse_rule({"respond": {"tool_use": [{"name": "a", "input": {}}, {"name": "b", "input": {}, "id": "toolu_x"}]}},
                      "r")
    first = accumulate(reply_events(rule.replies[0], call(), CacheUsage(input_tokens=1)))["content"]
    again = accumulate(reply_events(rule.replies[0], call(), CacheUsage(input_tokens=1)))["content"]
    assert first == again
    assert first[1]["id"] == "toolu_x" and first[0]["id"] != "toolu_x"


def test_reply_events_refuse_error_replies():
    rule = parse_rule({"respond": {"error": {"code": "ThrottlingException"}}}, "r")
    with pytest.raises(ValueError):
        reply_events(rule.replies[0], call(), CacheUsage(input_tokens=1))
    error = rule.replies[0].error()
    assert isinstance(error, ThrottlingException)
    assert error.message == "Too many requests, please wait before trying again."


def test_error_for_fills_modelled_fields():
    error = error_for("ModelStreamErrorException", "boom")
    assert isinstance(error, ModelStreamErrorException)
    assert error.body() == {"message": "boom", "originalStatusCode": 500, "originalMessage": "boom"}


def test_rule_describe_round_trips_as_json():
    rule = parse_rule({"id": "w", "match": {"has_tools": True}, "respond": {"text": "x"}, "times": 2}, "r")
    described = json.loads(json.dumps(rule.describe()))
    assert described == {"id": "w", "match": {"has_tools": True}, "respond": {"text": "x"}, "times": 2,
                         "used": 0, "remaining": 2}


@pytest.mark.parametrize("word", ["z" * 1_200_000, "\x01" * 200_000, "é" * 400_000])
def test_text_pieces_of_a_word_of_megabytes_fit_a_chunk(word):
    """A chunk holds at most 1,000,000 bytes (botocore's ``PartBody``): a "word" whose JSON
    would not fit is cut; one that fits (a long blank tail, say) stays whole."""
    text = f"Start {word} end"
    pieces = text_pieces(text)
    assert "".join(pieces) == text
    assert all(len(json.dumps({"type": "content_block_delta", "index": 0,
                               "delta": {"type": "text_delta", "text": piece}})) <= 1_000_000 for piece in pieces)
    assert len(pieces) < 12


def test_a_rule_key_that_is_no_string_is_named_not_a_traceback():
    """Review: a YAML rules file may hold a number or a boolean as a key (``1:``, ``yes:``);
    naming it raised "TypeError: sequence item 0: expected str instance"."""
    from claude_bedrock.domain.scripting import ScriptError, parse_rule

    with pytest.raises(ScriptError, match=r"unknown key\(s\) 7, False; expected id, match, respond, times"):
        parse_rule({"match": {}, "respond": "x", 7: 2, False: 3}, "r")
