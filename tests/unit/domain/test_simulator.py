"""SimulatorEngine: determinism, lifecycle, usage, limits, tools, thinking, citations, cache, latency."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_bedrock.domain.engine import Engine, ModelCall
from claude_bedrock.domain.message import MessageAccumulator, accumulate
from claude_bedrock.domain.prompt_cache import PromptCache
from claude_bedrock.domain.prose import Draws, ProseWriter
from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.simulator import REDACTED_THINKING_TRIGGER, LatencyProfile, SimulatorEngine, choose_tool
from claude_bedrock.domain.thinking_signatures import ThinkingSigner
from claude_bedrock.domain.tokens import count_json, count_member, count_output_block, count_request, count_text

MODEL_ID = "anthropic.claude-sonnet-4-5-20250929-v1:0"
QUESTION = "How does photosynthesis work in plants?"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather for a location",
    "input_schema": {
        "type": "object",
        "properties": {
            "location": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["location"],
    },
}
ORDER_TOOL = {
    "name": "place_order",
    "input_schema": {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1, "maximum": 9}},
                    "required": ["sku", "qty"],
                },
            },
            "priority": {"enum": ["low", "high"]},
        },
        "required": ["items", "priority"],
    },
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _engine(**kwargs: Any) -> SimulatorEngine:
    kwargs.setdefault("clock", FakeClock())
    return SimulatorEngine(**kwargs)


def _call(request: dict[str, Any], *, model_id: str = MODEL_ID, betas: tuple[str, ...] = ()) -> ModelCall:
    return ModelCall(
        request=request,
        model_id=model_id,
        anthropic_name="claude-sonnet-4-5-20250929",
        message_id="msg_bdrk_01TEST",
        account_id="123456789012",
        region="us-east-1",
        operation="InvokeModelWithResponseStream",
        betas=betas,
    )


def _request(content: Any = QUESTION, max_tokens: int = 1024, **extra: Any) -> dict[str, Any]:
    return {"anthropic_version": "bedrock-2023-05-31", "max_tokens": max_tokens, "messages": [{"role": "user", "content": content}], **extra}


def _collect(engine: SimulatorEngine, call: ModelCall) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return [event async for event in engine.stream(call)]

    return asyncio.run(run())


def _message(engine: SimulatorEngine, request: dict[str, Any], **call_kwargs: Any) -> dict[str, Any]:
    return accumulate(engine.events(_call(request, **call_kwargs)))


def _text_of(message: dict[str, Any]) -> str:
    return "".join(block["text"] for block in message["content"] if block["type"] == "text")


# --- contract and determinism ------------------------------------------------------------


def test_simulator_implements_engine_protocol() -> None:
    assert isinstance(_engine(), Engine)


def test_simulator_same_call_gives_identical_events() -> None:
    call = _call(_request())
    assert _collect(_engine(), call) == _collect(_engine(), call)
    assert _engine().events(call) == _collect(_engine(), call)


def test_simulator_seed_changes_text() -> None:
    call = _call(_request())
    texts = {_text_of(accumulate(_engine(seed=seed).events(call))) for seed in range(4)}
    assert len(texts) == 4


def test_simulator_request_changes_text() -> None:
    engine = _engine()
    assert _text_of(_message(engine, _request("Tell me about volcanoes."))) != _text_of(_message(engine, _request("Tell me about glaciers.")))


def test_simulator_message_start_fields() -> None:
    start = _engine().events(_call(_request()))[0]
    message = start["message"]
    assert start["type"] == "message_start"
    assert message["id"] == "msg_bdrk_01TEST"
    assert message["model"] == "claude-sonnet-4-5-20250929"
    assert (message["type"], message["role"], message["content"]) == ("message", "assistant", [])
    assert message["usage"]["output_tokens"] == 1
    assert set(message["usage"]) == {
        "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation", "output_tokens",
    }


def test_simulator_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        SimulatorEngine(clock=FakeClock(), mode="poetry")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SimulatorEngine(clock=FakeClock(), latency=LatencyProfile(0.1, 50))
    with pytest.raises(ValueError):
        SimulatorEngine()


# --- prose, usage, lifecycle -------------------------------------------------------------

REQUEST_VARIANTS = {
    "prose": _request(),
    "blocks": _request([{"type": "text", "text": "Explain "}, {"type": "text", "text": "tides."}]),
    "system": _request(system="You are terse."),
    "tools_auto": _request("What's the weather in Paris?", tools=[WEATHER_TOOL]),
    "tools_any": _request("Hello", tools=[WEATHER_TOOL, ORDER_TOOL], tool_choice={"type": "any"}),
    "thinking": _request(thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=4000),
    "tiny_budget": _request(max_tokens=3),
}


@pytest.mark.parametrize("name", sorted(REQUEST_VARIANTS))
def test_simulator_stream_lifecycle_is_valid(name: str) -> None:
    accumulator = MessageAccumulator()
    for event in _collect(_engine(), _call(REQUEST_VARIANTS[name])):
        accumulator.add(event)
    assert accumulator.done


@pytest.mark.parametrize("name", sorted(REQUEST_VARIANTS))
def test_simulator_usage_consistent_with_content(name: str) -> None:
    request = REQUEST_VARIANTS[name]
    message = _message(_engine(), request)
    usage = message["usage"]
    assert usage["output_tokens"] == sum(count_output_block(block) for block in message["content"])
    assert usage["output_tokens"] <= request["max_tokens"]
    assert usage["input_tokens"] == count_request(request)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=120), st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=8))
def test_prose_passage_token_count_is_exact(user_text: str, target: int, seed: bytes) -> None:
    writer = ProseWriter()
    topics = writer.topics(user_text)
    for passage in (
        writer.answer(Draws(seed), topics, target),
        writer.thinking(Draws(seed), topics, target),
        writer.remark(Draws(seed), topics),
    ):
        assert passage.tokens == count_text(passage.text)
        assert all(passage.pieces)


@pytest.mark.parametrize("seed", range(25))
def test_simulator_prose_has_realistic_length(seed: int) -> None:
    message = _message(_engine(seed=seed), _request())
    assert message["stop_reason"] == "end_turn"
    assert 40 <= message["usage"]["output_tokens"] <= 350
    assert message["usage"]["output_tokens"] == count_text(_text_of(message))


def test_simulator_prose_mentions_the_question() -> None:
    for seed in range(5):
        assert "photosynthesis" in _text_of(_message(_engine(seed=seed), _request())) or "plants" in _text_of(
            _message(_engine(seed=seed), _request())
        )


def test_simulator_short_answer_streams_many_small_deltas() -> None:
    counts = []
    for seed in range(20):
        events = _engine(seed=seed).events(_call(_request()))
        deltas = [e for e in events if e["type"] == "content_block_delta"]
        assert all(1 <= count_text(e["delta"]["text"]) <= 12 for e in deltas)
        counts.append(len(events))
    assert min(counts) >= 10
    assert sorted(counts)[len(counts) // 2] <= 40  # the typical answer stays short


# --- echo, max_tokens, stop sequences ------------------------------------------------------


def test_simulator_echo_repeats_last_user_text() -> None:
    engine = _engine(mode="echo")
    text = "Repeat after me: the cat sat on the mat, twice!"
    message = _message(engine, _request(text))
    assert _text_of(message) == text
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["output_tokens"] == count_text(text)


def test_simulator_echo_concatenates_text_blocks_of_last_user_message() -> None:
    request = {
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "reply"},
            {"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "again"}]},
        ],
    }
    assert _text_of(_message(_engine(mode="echo"), request)) == "Hello again"


def test_simulator_max_tokens_cuts_answer() -> None:
    message = _message(_engine(mode="echo"), _request("one two three four five six seven", max_tokens=4))
    assert message["stop_reason"] == "max_tokens"
    assert _text_of(message) == "one two three four"
    assert message["usage"]["output_tokens"] == 4


def test_simulator_max_tokens_cuts_prose() -> None:
    message = _message(_engine(), _request(max_tokens=7))
    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["output_tokens"] == count_text(_text_of(message)) == 7


def test_simulator_limits_cut_the_same_answer() -> None:
    engine = _engine()
    full = _text_of(_message(engine, _request(max_tokens=4096)))
    cut = _message(engine, _request(max_tokens=25, anthropic_version="2026-10-21"))
    assert cut["stop_reason"] == "max_tokens"
    assert full.startswith(_text_of(cut)) and len(_text_of(cut)) < len(full)


def test_simulator_stop_sequence_ends_before_it() -> None:
    request = _request("alpha beta STOP gamma END delta", stop_sequences=["END", "STOP"])
    message = _message(_engine(mode="echo"), request)
    assert _text_of(message) == "alpha beta "
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "STOP")
    assert message["usage"]["output_tokens"] == 2


def test_simulator_empty_answer_still_bills_output_tokens() -> None:
    # "output_tokens will be non-zero, even for an empty string response" (Message.usage).
    request = _request("STOP right there", stop_sequences=["STOP"])
    for operation in ("InvokeModelWithResponseStream", "InvokeModel"):
        call = _call(request)
        call.operation = operation
        message = accumulate(_engine(mode="echo").events(call))
        assert message["content"] == [] and message["stop_sequence"] == "STOP"
        assert message["usage"]["output_tokens"] == 1


def test_simulator_stop_sequence_beyond_max_tokens_is_max_tokens() -> None:
    request = _request("alpha beta gamma delta STOP", stop_sequences=["STOP"], max_tokens=2)
    message = _message(_engine(mode="echo"), request)
    assert (message["stop_reason"], message["stop_sequence"]) == ("max_tokens", None)


def test_simulator_prose_stops_at_paragraph_break_sequence() -> None:
    seed = next(s for s in range(200) if "\n\n" in _text_of(_message(_engine(seed=s), _request())))
    message = _message(_engine(seed=seed), _request(stop_sequences=["\n\n"]))
    assert message["stop_reason"] == "stop_sequence" and message["stop_sequence"] == "\n\n"
    assert "\n\n" not in _text_of(message)


# --- tools ------------------------------------------------------------------------------

TOOL_ID = re.compile(r"^toolu_bdrk_01[0-9A-Za-z]{22}$")


def _tool_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [block for block in message["content"] if block["type"] == "tool_use"]


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("tool", [WEATHER_TOOL, ORDER_TOOL], ids=["weather", "order"])
def test_simulator_forced_tool_input_validates(seed: int, tool: dict[str, Any]) -> None:
    request = _request("Do it.", tools=[tool], tool_choice={"type": "tool", "name": tool["name"]})
    message = _message(_engine(seed=seed), request)
    assert [block["type"] for block in message["content"]] == ["tool_use"]  # no lead-in when forced
    (block,) = _tool_blocks(message)
    assert block["name"] == tool["name"] and TOOL_ID.match(block["id"])
    jsonschema.Draft202012Validator(tool["input_schema"]).validate(block["input"])
    assert message["stop_reason"] == "tool_use"


def test_simulator_tool_call_that_exactly_fits_max_tokens_is_whole() -> None:
    """A forced call whose tokens are exactly max_tokens is written whole (stop_reason tool_use);
    one token fewer cuts it, keeping the parameters that fit whole (the first, when max_tokens
    holds exactly it) with the comma that ended each."""
    tool = WEATHER_TOOL
    request = _request("Do it.", tools=[tool], tool_choice={"type": "tool", "name": tool["name"]}, max_tokens=4000)
    (block,) = _tool_blocks(_message(_engine(), request))
    tokens = count_text(tool["name"]) + count_json(block["input"])
    exact = _message(_engine(), {**request, "max_tokens": tokens})
    assert exact["stop_reason"] == "tool_use" and _tool_blocks(exact)[0]["input"] == block["input"]
    assert _message(_engine(), {**request, "max_tokens": tokens - 1})["stop_reason"] == "max_tokens"
    (key, value), *_rest = block["input"].items()
    first = count_text(tool["name"]) + 1 + count_member(key, value)
    events = _engine().events(_call({**request, "max_tokens": first}))
    streamed = "".join(e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta")
    assert streamed == "{" + json.dumps(key) + ": " + json.dumps(value, ensure_ascii=False) + ", "
    # one token fewer and the first parameter no longer fits (the object's own token counts)
    events = _engine().events(_call({**request, "max_tokens": first - 1}))
    assert "".join(e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta") == ""


def test_simulator_text_of_exactly_max_tokens_ends_its_turn() -> None:
    """An answer whose text is exactly max_tokens is whole: end_turn, not a max_tokens cut."""
    request = _request("Tell me about volcanoes.", max_tokens=1000)
    whole = _message(_engine(), request)
    tokens = whole["usage"]["output_tokens"]
    exact = _message(_engine(), {**request, "max_tokens": tokens})
    assert exact["stop_reason"] == "end_turn" and _text_of(exact) == _text_of(whole)
    assert _message(_engine(), {**request, "max_tokens": tokens - 1})["stop_reason"] == "max_tokens"


def test_simulator_stop_sequence_beyond_max_tokens_is_a_max_tokens_cut() -> None:
    """A stop sequence ends the answer only when the text through it fits max_tokens: one that
    starts within the budget but ends past it leaves a max_tokens cut."""
    request = _request("Tell me about volcanoes.", max_tokens=1000)
    text = _text_of(_message(_engine(), request))
    word = text.split()[5]
    at = text.find(word)
    before, through = count_text(text[:at]), count_text(text[: at + len(word)])
    assert before < through
    cut = _message(_engine(), {**request, "max_tokens": before, "stop_sequences": [word]})
    assert cut["stop_reason"] == "max_tokens" and cut["stop_sequence"] is None
    stopped = _message(_engine(), {**request, "max_tokens": through, "stop_sequences": [word]})
    assert stopped["stop_reason"] == "stop_sequence" and stopped["stop_sequence"] == word


def test_choose_tool_any_after_a_tool_result_calls_the_tool_mentioned() -> None:
    """tool_choice any forces a call on a tool-result turn too, of the tool the user's text
    mentions (the first tool only when none is)."""
    tools = [WEATHER_TOOL, ORDER_TOOL]
    tool, forced = choose_tool({"tools": tools, "tool_choice": {"type": "any"}}, "place_order please", tool_result_turn=True)
    assert tool is not None and tool["name"] == "place_order" and forced
    tool, forced = choose_tool({"tools": tools, "tool_choice": {"type": "any"}}, "thanks", tool_result_turn=True)
    assert tool is not None and tool["name"] == WEATHER_TOOL["name"] and forced


def test_simulator_stop_sequences_are_part_of_the_memoised_answer() -> None:
    """The same prompt asked again with stop sequences is cut at them, not served the answer
    memoised without them."""
    engine = _engine()
    request = _request("Tell me about volcanoes.", max_tokens=1000)
    first = _message(engine, request)
    word = _text_of(first).split()[5]
    again = _message(engine, {**request, "stop_sequences": [word]})
    assert again["stop_reason"] == "stop_sequence" and again["stop_sequence"] == word


def test_simulator_named_tool_choice_picks_that_tool() -> None:
    request = _request("What's the weather?", tools=[WEATHER_TOOL, ORDER_TOOL], tool_choice={"type": "tool", "name": "place_order"})
    assert _tool_blocks(_message(_engine(), request))[0]["name"] == "place_order"


def test_simulator_any_choice_prefers_mentioned_tool_else_first() -> None:
    tools = [WEATHER_TOOL, ORDER_TOOL]
    mentioned = _request("Please place an order for socks.", tools=tools, tool_choice={"type": "any"})
    unmentioned = _request("Hello there.", tools=tools, tool_choice={"type": "any"})
    assert _tool_blocks(_message(_engine(), mentioned))[0]["name"] == "place_order"
    assert _tool_blocks(_message(_engine(), unmentioned))[0]["name"] == "get_weather"


def test_simulator_auto_calls_mentioned_tool_with_lead_in() -> None:
    message = _message(_engine(), _request("What's the weather in San Francisco?", tools=[WEATHER_TOOL]))
    assert [block["type"] for block in message["content"]] == ["text", "tool_use"]
    assert "get_weather" in message["content"][0]["text"]
    assert message["content"][1]["input"]["location"] == "San Francisco"
    assert message["stop_reason"] == "tool_use"


@pytest.mark.parametrize("place", ["Zürich", "São Paulo", "Genève"])
def test_simulator_tool_input_keeps_an_accented_place_whole(place: str) -> None:
    """A place with Latin-1 letters is the tool's input as written: "Zürich" was not read as a
    capitalised word at all (the input fell back to a table value), "Zoë" was cut to "Zo"."""
    message = _message(_engine(), _request(f"What's the weather in {place}?", tools=[WEATHER_TOOL]))
    assert message["content"][1]["input"]["location"] == place


@pytest.mark.parametrize(("text", "noun"), [("A gift for Zoë, please", "Zoë"), ("Trip to São Paulo", "São Paulo"),
                                            ("Flights to Gdańsk today", None), ("A visit to Évian", "Évian"),
                                            ("Lunch at McDonald today", "Mc")])  # ASCII: as before Latin-1
def test_prose_proper_noun_is_never_a_cut_word(text: str, noun: str | None) -> None:
    """No proper noun is the start of a word cut at a letter beyond Latin-1 ("Gda" of "Gdańsk")."""
    assert ProseWriter.proper_noun(text) == noun


def test_simulator_auto_without_mention_answers_text() -> None:
    message = _message(_engine(), _request(QUESTION, tools=[WEATHER_TOOL]))
    assert not _tool_blocks(message) and message["stop_reason"] == "end_turn"


def test_simulator_none_choice_never_calls() -> None:
    request = _request("What's the weather in Paris?", tools=[WEATHER_TOOL], tool_choice={"type": "none"})
    assert not _tool_blocks(_message(_engine(), request))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("use get_weather now", "get_weather"), ("weather please", "get_weather"), ("get me something", None), ("list it", None)],
)
def test_choose_tool_auto_rule(text: str, expected: str | None) -> None:
    tools = [WEATHER_TOOL, {"name": "list_files", "input_schema": {"type": "object"}}]
    tool, forced = choose_tool({"tools": tools}, text, tool_result_turn=False)
    assert (tool["name"] if tool else None) == expected and not forced


def _tool_result_request(result: Any, *, is_error: bool = False, **extra: Any) -> dict[str, Any]:
    first = _message(_engine(), _request("What's the weather in Paris?", tools=[WEATHER_TOOL]))
    tool_use = _tool_blocks(first)[0]
    block = {"type": "tool_result", "tool_use_id": tool_use["id"], "content": result}
    if is_error:
        block["is_error"] = True
    return {
        "max_tokens": 500,
        "tools": [WEATHER_TOOL],
        "messages": [
            {"role": "user", "content": "What's the weather in Paris?"},
            {"role": "assistant", "content": first["content"]},
            {"role": "user", "content": [block]},
        ],
        **extra,
    }


def test_simulator_answers_tool_result_with_text() -> None:
    message = _message(_engine(), _tool_result_request("18 degrees and sunny"))
    assert [block["type"] for block in message["content"]] == ["text"]
    assert "get_weather" in _text_of(message) and "18 degrees and sunny" in _text_of(message)
    assert message["stop_reason"] == "end_turn"


def test_simulator_tool_result_blocks_and_errors_summarised() -> None:
    message = _message(_engine(), _tool_result_request([{"type": "text", "text": "service down"}], is_error=True))
    assert "reported an error: service down" in _text_of(message)


def test_simulator_tool_input_cut_by_max_tokens() -> None:
    request = _request("x", max_tokens=3, tools=[ORDER_TOOL], tool_choice={"type": "any"})
    message = _message(_engine(), request)
    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["output_tokens"] == 3
    assert _tool_blocks(message)[0]["input"] == {}


@pytest.mark.parametrize("max_tokens", range(1, 40))
def test_simulator_cut_tool_call_streams_whole_parameters_only(max_tokens) -> None:
    # The API streams a tool parameter once complete (anthropic-sdk-python#794): a cut call's
    # JSON holds whole parameters, each ended by its comma, the object left open; it still
    # bills max_tokens.
    request = _request("x", max_tokens=max_tokens, tools=[ORDER_TOOL], tool_choice={"type": "any"})
    events = _engine().events(_call(request))
    raw = "".join(e["delta"]["partial_json"] for e in events
                  if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta")
    message = accumulate(events)
    full = _tool_blocks(_message(_engine(), _request("x", tools=[ORDER_TOOL], tool_choice={"type": "any"})))[0]
    if message["stop_reason"] == "tool_use":
        assert json.loads(raw) == full["input"]
        return
    assert message["stop_reason"] == "max_tokens" and message["usage"]["output_tokens"] == max_tokens
    kept = _tool_blocks(message)[0]["input"]
    assert raw == (json.dumps(kept, ensure_ascii=False)[:-1] + ", " if kept else "")
    assert list(kept.items()) == list(full["input"].items())[:len(kept)]


# --- tool search ------------------------------------------------------------------------

REGEX_SEARCH = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
BM25_SEARCH = {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"}
DEFERRED_WEATHER = {**WEATHER_TOOL, "defer_loading": True}
DEFERRED_FILES = {"name": "search_files", "description": "Search through files in the workspace",
                  "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}, "defer_loading": True}
WEATHER_QUESTION = "What is the weather in San Francisco?"


def _types(message: dict[str, Any]) -> list[str]:
    return [block["type"] for block in message["content"]]


@pytest.mark.parametrize(("search", "key"), [(REGEX_SEARCH, "pattern"), (BM25_SEARCH, "query")])
def test_simulator_searches_before_calling_a_deferred_tool(search: dict[str, Any], key: str) -> None:
    request = _request(WEATHER_QUESTION, tools=[search, DEFERRED_WEATHER, DEFERRED_FILES])
    message = _message(_engine(), request)
    assert _types(message) == ["text", "server_tool_use", "tool_search_tool_result", "text", "tool_use"]
    server, result, call = message["content"][1], message["content"][2], message["content"][4]
    assert server["id"].startswith("srvtoolu_") and server["name"] == search["name"]
    assert server["input"] == {key: "weather"}
    assert result == {"type": "tool_search_tool_result", "tool_use_id": server["id"],
                      "content": {"type": "tool_search_tool_search_result",
                                  "tool_references": [{"type": "tool_reference", "tool_name": "get_weather"}]}}
    assert call["name"] == "get_weather" and call["id"].startswith("toolu_bdrk_")
    assert message["stop_reason"] == "tool_use"


def test_simulator_streams_the_search_as_the_api_does() -> None:
    request = _request(WEATHER_QUESTION, tools=[REGEX_SEARCH, DEFERRED_WEATHER])
    events = _collect(_engine(), _call(request))
    starts = [e for e in events if e["type"] == "content_block_start"]
    server_start, result_start = starts[1], starts[2]
    assert server_start["content_block"]["type"] == "server_tool_use"
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta" and e["index"] == server_start["index"]]
    assert {d["type"] for d in deltas} == {"input_json_delta"}
    assert json.loads("".join(d["partial_json"] for d in deltas)) == {"pattern": "weather"}
    assert result_start["content_block"]["content"]["tool_references"] == [{"type": "tool_reference", "tool_name": "get_weather"}]
    assert not [e for e in events if e["type"] == "content_block_delta" and e["index"] == result_start["index"]]
    assert accumulate(events) == _message(_engine(), request)


def test_simulator_never_calls_the_search_tool_as_a_client_tool() -> None:
    for choice in ({"type": "any"}, {"type": "tool", "name": "tool_search_tool_regex"}):
        request = _request("Hello there", tools=[REGEX_SEARCH, DEFERRED_WEATHER], tool_choice=choice)
        message = _message(_engine(), request)
        assert _types(message)[:2] == ["server_tool_use", "tool_search_tool_result"], choice
        assert all(b["name"] != "tool_search_tool_regex" for b in _tool_blocks(message))


def test_simulator_search_finding_nothing_answers_with_text() -> None:
    request = _request("Hello there", tools=[REGEX_SEARCH, DEFERRED_WEATHER], tool_choice={"type": "any"})
    message = _message(_engine(), request)
    assert message["content"][1]["content"]["tool_references"] == []
    assert _types(message)[2:] == ["text"] and message["stop_reason"] == "end_turn"


def test_simulator_calls_loaded_and_discovered_tools_directly() -> None:
    loaded = _message(_engine(), _request(WEATHER_QUESTION, tools=[REGEX_SEARCH, WEATHER_TOOL, DEFERRED_FILES]))
    assert _types(loaded) == ["text", "tool_use"]
    first = _message(_engine(), _request(WEATHER_QUESTION, tools=[REGEX_SEARCH, DEFERRED_WEATHER]))
    follow_up = _request(WEATHER_QUESTION, tools=[REGEX_SEARCH, DEFERRED_WEATHER])
    follow_up["messages"] += [
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first["content"][-1]["id"], "content": "15C"},
                                     {"type": "text", "text": "And the weather tomorrow?"}]},
    ]
    follow_up["tool_choice"] = {"type": "any"}
    assert _types(_message(_engine(), follow_up)) == ["tool_use"]


def test_simulator_without_a_search_tool_does_not_see_deferred_tools() -> None:
    request = _request(WEATHER_QUESTION, tools=[{"name": "find_tools", "input_schema": {"type": "object"}}, DEFERRED_WEATHER])
    assert not _tool_blocks(_message(_engine(), request))


def test_simulator_search_cut_by_max_tokens_runs_no_search() -> None:
    request = _request(WEATHER_QUESTION, max_tokens=5, tools=[REGEX_SEARCH, DEFERRED_WEATHER], tool_choice={"type": "any"})
    message = _message(_engine(), request)
    assert _types(message) == ["server_tool_use"] and message["stop_reason"] == "max_tokens"


# --- thinking ---------------------------------------------------------------------------


def test_simulator_thinking_block_first_with_signature() -> None:
    request = _request(thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=4000)
    message = _message(_engine(), request)
    thinking = message["content"][0]
    assert thinking["type"] == "thinking"
    assert thinking["thinking"] and count_text(thinking["thinking"]) <= 1024
    assert len(base64.b64decode(thinking["signature"], validate=True)) >= 64
    assert message["content"][1]["type"] == "text"
    assert message["usage"]["output_tokens"] == count_text(thinking["thinking"]) + count_text(_text_of(message))


def test_simulator_thinking_signature_depends_on_content() -> None:
    a = _message(_engine(), _request("Tell me about volcanoes.", thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=3000))
    b = _message(_engine(), _request("Tell me about glaciers.", thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=3000))
    assert a["content"][0]["signature"] != b["content"][0]["signature"]


def test_simulator_thinking_blocks_verify_with_its_signer() -> None:
    # What the simulator signs, its signer accepts back (for this model only), redacted data included.
    signer = ThinkingSigner(b"s" * 32)
    thinking = {"type": "enabled", "budget_tokens": 1024}
    for text in (QUESTION, REDACTED_THINKING_TRIGGER):
        message = _message(_engine(signer=signer), _request(text, thinking=thinking, max_tokens=3000))
        history = [{"role": "user", "content": text}, {"role": "assistant", "content": message["content"]}]
        signer.check_conversation(history, MODEL_ID)
        with pytest.raises(ValidationException):
            signer.check_conversation(history, "anthropic.claude-haiku-4-5-20251001-v1:0")
        with pytest.raises(ValidationException):
            ThinkingSigner(b"t" * 32).check_conversation(history, MODEL_ID)


def test_simulator_thinking_respects_small_max_tokens() -> None:
    message = _message(_engine(), _request(thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=10))
    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["output_tokens"] == 10
    assert [block["type"] for block in message["content"]] == ["thinking"]


@pytest.mark.parametrize("text", [QUESTION, f"{REDACTED_THINKING_TRIGGER} {QUESTION}"], ids=["thinking", "redacted"])
def test_simulator_thinking_cut_by_its_own_budget_goes_on_to_the_answer(text: str) -> None:
    """Adaptive thinking gets half of max_tokens: a passage longer than that is cut to it, and the
    answer goes on with its text within what is left (only max_tokens itself ends the answer)."""
    message = _message(_engine(), _request(text, thinking={"type": "adaptive"}, max_tokens=60))
    assert [block["type"] for block in message["content"]][1:] == ["text"]
    assert message["content"][0]["type"] in ("thinking", "redacted_thinking")
    assert message["usage"]["output_tokens"] == 60


def test_simulator_no_thinking_when_disabled() -> None:
    message = _message(_engine(), _request(thinking={"type": "disabled"}))
    assert all(block["type"] != "thinking" for block in message["content"])


def test_simulator_thinking_not_repeated_on_tool_result_unless_interleaved() -> None:
    request = _tool_result_request("18 degrees", thinking={"type": "enabled", "budget_tokens": 1024})
    assert _message(_engine(), request)["content"][0]["type"] == "text"
    interleaved = _message(_engine(), request, betas=("interleaved-thinking-2025-05-14",))
    assert interleaved["content"][0]["type"] == "thinking"


def test_simulator_redacted_thinking_for_anthropic_test_string() -> None:
    # Anthropic "Extended thinking": this prompt makes the API return redacted thinking, so that
    # applications can test their handling of it.
    from claude_bedrock.domain.simulator import REDACTED_THINKING_TRIGGER

    request = _request(REDACTED_THINKING_TRIGGER, thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=3000)
    events = _engine().events(_call(request))
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert starts[0]["content_block"]["type"] == "redacted_thinking"
    assert base64.b64decode(starts[0]["content_block"]["data"], validate=True)
    assert not [e for e in events if e["type"] == "content_block_delta" and e["index"] == 0]
    message = accumulate(events)
    assert [block["type"] for block in message["content"]] == ["redacted_thinking", "text"]
    assert message["stop_reason"] == "end_turn"
    # billed as the thinking it hides: more than the text alone (Anthropic bills it as output)
    assert message["usage"]["output_tokens"] > count_output_block(message["content"][1])
    # without thinking the string is just text
    plain = _message(_engine(), _request(REDACTED_THINKING_TRIGGER))
    assert [block["type"] for block in plain["content"]] == ["text"]


# --- citations --------------------------------------------------------------------------

DOC_TEXT = "The grass is green. The sky is blue. Water is wet."


def _cited(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for block in message["content"] for c in block.get("citations", [])]


def test_simulator_citations_for_text_document() -> None:
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": DOC_TEXT},
        "title": "Facts",
        "citations": {"enabled": True},
    }
    for seed in range(6):
        message = _message(_engine(seed=seed), _request([document, {"type": "text", "text": "What colour is the grass?"}]))
        (citation,) = _cited(message)
        assert citation["type"] == "char_location"
        assert citation["document_index"] == 0 and citation["document_title"] == "Facts"
        assert DOC_TEXT[citation["start_char_index"] : citation["end_char_index"]] == citation["cited_text"] != ""
        assert message["usage"]["output_tokens"] == sum(count_output_block(b) for b in message["content"])


def test_simulator_cut_before_a_cited_sentence_leaves_no_empty_text_block() -> None:
    # A text block is never empty (the API refuses one sent back: "text content blocks must be
    # non-empty"), even when max_tokens or a stop sequence ends the answer just before a citation.
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": DOC_TEXT},
                "title": "Facts", "citations": {"enabled": True}}
    content = [document, {"type": "text", "text": "What colour is the grass?"}]
    full = _message(_engine(), _request(content))
    lead_in = full["content"][0]["text"]
    cuts = [_request(content, max_tokens=max_tokens) for max_tokens in range(1, full["usage"]["output_tokens"])]
    cuts.append(_request(content, stop_sequences=[full["content"][1]["text"]]))
    for request in cuts:
        message = _message(_engine(), request)
        assert all(block["text"] for block in message["content"] if block["type"] == "text"), message["content"]
    stopped = _message(_engine(), cuts[-1])
    assert stopped["stop_reason"] == "stop_sequence" and _text_of(stopped) == lead_in


def test_simulator_citations_document_index_counts_all_documents() -> None:
    plain = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Uncited."}}
    content_doc = {
        "type": "document",
        "source": {"type": "content", "content": [{"type": "text", "text": "First chunk."}, {"type": "text", "text": "Second."}]},
        "citations": {"enabled": True},
    }
    message = _message(_engine(), _request([plain, content_doc, {"type": "text", "text": "Summarise."}]))
    (citation,) = _cited(message)
    assert citation["type"] == "content_block_location" and citation["document_index"] == 1
    index = citation["start_block_index"]
    assert citation["end_block_index"] == index + 1
    assert citation["cited_text"] == content_doc["source"]["content"][index]["text"]


def test_simulator_citations_for_pdf_cite_page_one() -> None:
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\nstream\nBT (Quarterly revenue grew 12%) Tj ET\nendstream\n%%EOF"
    document = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(pdf).decode()},
        "citations": {"enabled": True},
    }
    (citation,) = _cited(_message(_engine(), _request([document, {"type": "text", "text": "Revenue?"}])))
    assert citation["type"] == "page_location"
    assert (citation["start_page_number"], citation["end_page_number"]) == (1, 2)
    assert citation["cited_text"] == "Quarterly revenue grew 12%"


def test_simulator_no_citations_when_not_enabled() -> None:
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": DOC_TEXT}}
    assert _cited(_message(_engine(), _request([document, {"type": "text", "text": "Colour?"}]))) == []


# --- prompt caching ---------------------------------------------------------------------


def test_simulator_prompt_cache_write_then_read() -> None:
    clock = FakeClock()
    engine = SimulatorEngine(cache=PromptCache(clock, minimum_tokens=50))
    system = [{"type": "text", "text": "You are a careful botanist. " * 30, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    first = _message(engine, _request(system=system))["usage"]
    clock.now += 1800
    second = _message(engine, _request("And in algae?", system=system))["usage"]
    assert first["cache_creation_input_tokens"] == first["cache_creation"]["ephemeral_1h_input_tokens"] > 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0


# --- latency ----------------------------------------------------------------------------


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_simulator_latency_profile_paces_stream() -> None:
    sleep = FakeSleep()
    engine = _engine(latency=LatencyProfile(first_token_s=0.5, tokens_per_s=50.0), sleep=sleep)
    events = _collect(engine, _call(_request()))
    deltas = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"]
    assert sleep.calls[0] == 0.5
    assert sleep.calls[1:] == pytest.approx([count_text(d) / 50.0 for d in deltas])
    assert sum(sleep.calls) == pytest.approx(0.5 + events[-2]["usage"]["output_tokens"] / 50.0)


def test_simulator_latency_per_model_with_default() -> None:
    sleep = FakeSleep()
    profiles = {MODEL_ID: LatencyProfile(1.0, 10.0), "*": LatencyProfile(0.25, 100.0)}
    engine = _engine(latency=profiles, sleep=sleep)
    _collect(engine, _call(_request()))
    _collect(engine, _call(_request(), model_id="anthropic.claude-3-haiku-20240307-v1:0"))
    assert 1.0 in sleep.calls and 0.25 in sleep.calls


def test_simulator_without_latency_never_sleeps() -> None:
    sleep = FakeSleep()
    _collect(_engine(sleep=sleep), _call(_request()))
    assert sleep.calls == []


# --- structured outputs -----------------------------------------------------------------------

ORDER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "sku": {"type": "string", "format": "uuid"}, "quantity": {"type": "integer", "minimum": 1}},
            "required": ["sku", "quantity"], "additionalProperties": False}, "minItems": 1},
        "express": {"type": "boolean"},
    },
    "required": ["city", "items", "express"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("form", ["output_config", "output_format"])
def test_simulator_structured_output_is_json_that_validates(form: str) -> None:
    fmt = {"type": "json_schema", "schema": ORDER_SCHEMA}
    extra = {"output_config": {"format": fmt}} if form == "output_config" else {"output_format": fmt}
    request = _request("Ship two lamps to Paris, express please.", **extra)
    message = _message(_engine(), request)
    value = json.loads(_text_of(message))
    jsonschema.validate(value, ORDER_SCHEMA)
    assert message["stop_reason"] == "end_turn"
    assert message == _message(_engine(), request)  # deterministic
    assert _message(_engine(seed=1), request) != message
    # a max_tokens cut leaves it unparseable, as on the real API
    cut = _message(_engine(), {**request, "max_tokens": 5})
    assert cut["stop_reason"] == "max_tokens"
    with pytest.raises(ValueError):
        json.loads(_text_of(cut))


def test_simulator_structured_output_gives_way_to_a_forced_tool_call() -> None:
    request = _request(QUESTION, output_config={"format": {"type": "json_schema", "schema": ORDER_SCHEMA}},
                       tools=[{"name": "lookup", "input_schema": {"type": "object"}}],
                       tool_choice={"type": "any"})
    assert [block["type"] for block in _message(_engine(), request)["content"]] == ["tool_use"]


@pytest.mark.parametrize(("first_token_s", "tokens_per_s"), [
    (-0.1, 50.0), (0.0, 0.0), (0.0, -5.0),
    (float("nan"), 50.0), (0.0, float("nan")), (float("inf"), 50.0), (0.0, float("inf")),
])
def test_simulator_latency_profile_refuses_what_cannot_pace_a_stream(first_token_s, tokens_per_s) -> None:
    with pytest.raises(ValueError):
        LatencyProfile(first_token_s, tokens_per_s)


# --- effort -------------------------------------------------------------------------------


def _with_effort(request: dict[str, Any], effort: str | None) -> dict[str, Any]:
    return {**request, "output_config": {**request.get("output_config", {}), "effort": effort}}


def test_simulator_high_effort_is_the_answer_without_effort() -> None:
    """Audit: the effort value seeded the answer, so "high" answered unlike no effort at all;
    Anthropic "Effort": "Setting effort to "high" produces exactly the same behavior as omitting
    the effort parameter entirely"."""
    engine = _engine()
    for request in (_request(), _request(thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=4000),
                    _request("What's the weather in Paris?", tools=[WEATHER_TOOL])):
        assert _message(engine, _with_effort(request, "high")) == _message(engine, request)


def test_simulator_null_effort_is_the_answer_without_effort() -> None:
    """Review: ``"effort": null`` is accepted as absent (``effort`` module docstring), but it
    stayed in the seed, so it answered unlike no effort (and unlike "high")."""
    engine = _engine()
    for request in (_request(), _request(output_config={"format": {"type": "json_schema", "schema": ORDER_SCHEMA}})):
        assert _message(engine, _with_effort(request, None)) == _message(engine, request)


@pytest.mark.parametrize("seed", range(8))
def test_simulator_lower_effort_writes_a_prefix_of_the_same_answer(seed: int) -> None:
    """Audit: effort changed nothing a user could observe but the seed."""
    engine = _engine(seed=seed)
    request = _request(thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=4000)
    answers = [_message(engine, _with_effort(request, level)) for level in ("low", "medium", "high")]
    for shorter, longer in zip(answers, answers[1:]):
        assert shorter["usage"]["output_tokens"] <= longer["usage"]["output_tokens"]
        for kind in ("thinking", "text"):
            short_block, long_block = ([b for b in m["content"] if b["type"] == kind][0] for m in (shorter, longer))
            assert long_block[kind].startswith(short_block[kind])
    low, _, high = answers
    assert low["usage"]["output_tokens"] < high["usage"]["output_tokens"]
    assert re.search(r"[.!?]$", _text_of(low))  # cut at a sentence end
    assert low["content"][0]["signature"] != high["content"][0]["signature"]  # signs what it sends


def test_simulator_low_effort_calls_a_tool_without_preamble() -> None:
    """Anthropic "Effort with tool use": lower effort proceeds "directly to action without preamble"."""
    request = _request("What's the weather in San Francisco?", tools=[WEATHER_TOOL])
    high = _message(_engine(), request)
    low = _message(_engine(), _with_effort(request, "low"))
    assert [block["type"] for block in low["content"]] == ["tool_use"]
    assert low["content"][0] == high["content"][1]  # the same call, id and input
    assert [b["type"] for b in _message(_engine(), _with_effort(request, "medium"))["content"]] == ["text", "tool_use"]


def test_simulator_effort_leaves_structured_output_and_echo_whole() -> None:
    request = _request("Ship two lamps to Paris, express please.",
                       output_config={"format": {"type": "json_schema", "schema": ORDER_SCHEMA}})
    assert _message(_engine(), _with_effort(request, "low")) == _message(_engine(), request)
    echo = _request("Repeat exactly this sentence, please, and nothing more than it.")
    assert _text_of(_message(_engine(mode="echo"), _with_effort(echo, "low"))) == echo["messages"][0]["content"]


def test_simulator_a_passage_cut_to_no_tokens_keeps_its_first_sentence() -> None:
    """Review: ``Passage.first_sentences`` looked at the last kept piece before keeping any, so
    a target of 0 tokens (a passage of under 4 tokens at low effort) raised IndexError."""
    from claude_bedrock.domain.prose import Passage

    passage = Passage(("Hello there.", " Bye."), 4)
    assert passage.first_sentences(0).pieces == ("Hello there.",)


def test_simulator_every_effort_level_has_a_share() -> None:
    from claude_bedrock.domain.effort import EFFORT_LEVELS
    from claude_bedrock.domain.simulator import EFFORT_SHARE_PERCENT

    assert set(EFFORT_SHARE_PERCENT) == set(EFFORT_LEVELS)


def test_simulator_paced_call_writes_a_cache_entry_readable_at_its_first_token() -> None:
    """A paced call's prefix is readable once its first token is due (Anthropic: a cache entry
    becomes available when the first response begins), not when the call arrived."""
    clock = FakeClock()
    engine = SimulatorEngine(cache=PromptCache(clock, minimum_tokens=50),
                             latency=LatencyProfile(first_token_s=0.5, tokens_per_s=50.0), sleep=FakeSleep())
    system = [{"type": "text", "text": "You are a careful botanist. " * 30, "cache_control": {"type": "ephemeral"}}]

    def usage() -> dict[str, Any]:
        return _collect(engine, _call(_request(system=system)))[0]["message"]["usage"]

    first = usage()
    clock.now += 0.49
    assert usage()["cache_creation_input_tokens"] == first["cache_creation_input_tokens"] > 0
    clock.now += 0.01
    assert usage()["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
