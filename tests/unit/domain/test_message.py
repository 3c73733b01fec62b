"""MessageAccumulator: building the final Message and enforcing the stream lifecycle."""

from __future__ import annotations

from typing import Any

import pytest

from claude_bedrock.domain.message import (
    IncompleteMessageError,
    MalformedToolInputError,
    MessageAccumulator,
    StreamOrderError,
    accumulate,
)


def _start(**usage: int) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "model": "claude-sonnet-4-5-20250929",
            "id": "msg_bdrk_01ABC",
            "type": "message",
            "role": "assistant",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage.get("input_tokens", 10),
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": usage.get("cache_read_input_tokens", 0),
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": 1,
            },
        },
    }


def _block(index: int, block: dict[str, Any], *deltas: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": "content_block_start", "index": index, "content_block": block},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def _end(stop_reason: str = "end_turn", output_tokens: int = 15, stop_sequence: str | None = None) -> list[dict[str, Any]]:
    return [
        {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence}, "usage": {"output_tokens": output_tokens}},
        {"type": "message_stop"},
    ]


def _text(index: int, *pieces: str) -> list[dict[str, Any]]:
    return _block(index, {"type": "text", "text": ""}, *({"type": "text_delta", "text": p} for p in pieces))


def test_message_accumulates_text_and_merges_usage() -> None:
    message = accumulate([_start(input_tokens=12, cache_read_input_tokens=4), *_text(0, "Hel", "lo!"), *_end(output_tokens=7)])
    assert message == {
        "id": "msg_bdrk_01ABC",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 4,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 7,
        },
    }
    assert list(message) == ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"]


def test_message_tool_use_input_parsed_from_partial_json() -> None:
    events = [
        _start(),
        *_text(0, "Checking."),
        *_block(
            1,
            {"type": "tool_use", "id": "toolu_bdrk_01X", "name": "get_weather", "input": {}},
            {"type": "input_json_delta", "partial_json": ""},
            {"type": "input_json_delta", "partial_json": '{"locat'},
            {"type": "input_json_delta", "partial_json": 'ion": "Paris"}'},
        ),
        *_end("tool_use"),
    ]
    content = accumulate(events)["content"]
    assert content[1] == {"type": "tool_use", "id": "toolu_bdrk_01X", "name": "get_weather", "input": {"location": "Paris"}}


def test_message_tool_use_without_json_has_empty_input() -> None:
    events = [_start(), *_block(0, {"type": "tool_use", "id": "t", "name": "ping", "input": {}}), *_end("tool_use")]
    assert accumulate(events)["content"][0]["input"] == {}


def test_message_malformed_tool_input_is_an_error() -> None:
    events = [
        _start(),
        *_block(0, {"type": "tool_use", "id": "t", "name": "n", "input": {}}, {"type": "input_json_delta", "partial_json": '{"a": '}),
        *_end("tool_use"),
    ]
    with pytest.raises(MalformedToolInputError):
        accumulate(events)


def test_message_tool_input_cut_by_max_tokens_becomes_empty() -> None:
    events = [
        _start(),
        *_block(0, {"type": "tool_use", "id": "t", "name": "n", "input": {}}, {"type": "input_json_delta", "partial_json": '{"a": '}),
        *_end("max_tokens"),
    ]
    assert accumulate(events)["content"][0]["input"] == {}


def test_message_tool_input_cut_by_max_tokens_keeps_its_complete_members() -> None:
    # As the anthropic SDK's stream accumulator reads the same events (jiter partial mode).
    events = [
        _start(),
        *_block(0, {"type": "tool_use", "id": "t", "name": "n", "input": {}},
                {"type": "input_json_delta", "partial_json": '{"a": 1, "b": ["x", "y'}),
        *_end("max_tokens"),
    ]
    assert accumulate(events)["content"][0]["input"] == {"a": 1, "b": ["x"]}


def test_message_thinking_and_signature() -> None:
    events = [
        _start(),
        *_block(
            0,
            {"type": "thinking", "thinking": "", "signature": ""},
            {"type": "thinking_delta", "thinking": "Let me "},
            {"type": "thinking_delta", "thinking": "think."},
            {"type": "signature_delta", "signature": "RXFVS0Fn"},
        ),
        *_text(1, "Done."),
        *_end(),
    ]
    content = accumulate(events)["content"]
    assert content[0] == {"type": "thinking", "thinking": "Let me think.", "signature": "RXFVS0Fn"}
    assert content[1] == {"type": "text", "text": "Done."}


def test_message_citations_collected_on_text_block() -> None:
    citation = {"type": "char_location", "cited_text": "Grass is green.", "document_index": 0, "document_title": None, "start_char_index": 0, "end_char_index": 15}
    events = [
        _start(),
        *_block(0, {"type": "text", "text": ""}, {"type": "citations_delta", "citation": citation}, {"type": "text_delta", "text": "grass is green"}),
        *_end(),
    ]
    assert accumulate(events)["content"] == [{"type": "text", "text": "grass is green", "citations": [citation]}]


def test_message_stop_sequence_reported() -> None:
    message = accumulate([_start(), *_text(0, "a"), *_end("stop_sequence", stop_sequence="###")])
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "###")


def test_message_ping_allowed_between_events() -> None:
    ping = {"type": "ping"}
    events = [_start(), ping, *_text(0, "x")[:2], ping, *_text(0, "x")[2:], ping, *_end()[:1], ping, *_end()[1:]]
    assert accumulate(events)["content"] == [{"type": "text", "text": "x"}]


def test_message_empty_content_is_valid() -> None:
    assert accumulate([_start(), *_end()])["content"] == []


@pytest.mark.parametrize(
    ("events", "state"),
    [
        ([{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}], "START"),
        ([_start(), _start()], "MESSAGE"),
        ([_start(), {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}], "MESSAGE"),
        ([_start(), {"type": "message_stop"}], "MESSAGE"),
        ([_start(), _text(0, "x")[0], {"type": "message_delta", "delta": {}, "usage": {}}], "BLOCK"),
        ([_start(), *_text(0, "x"), *_end(), {"type": "message_stop"}], "DONE"),
        ([_start(), {"type": "surprise"}], "MESSAGE"),
    ],
)
def test_message_out_of_order_event_rejected(events: list[dict[str, Any]], state: str) -> None:
    accumulator = MessageAccumulator()
    with pytest.raises(StreamOrderError) as caught:
        for event in events:
            accumulator.add(event)
    assert caught.value.state == state
    assert accumulator.state == state  # the rejected event changed nothing


def test_message_block_index_gap_rejected() -> None:
    accumulator = MessageAccumulator()
    accumulator.add(_start())
    with pytest.raises(StreamOrderError, match="expected 0"):
        accumulator.add({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}})


def test_message_delta_for_other_block_rejected() -> None:
    accumulator = MessageAccumulator()
    for event in [_start(), *_text(0, "x"), _text(1)[0]]:
        accumulator.add(event)
    with pytest.raises(StreamOrderError):
        accumulator.add({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "late"}})


def test_message_delta_type_must_match_block_type() -> None:
    accumulator = MessageAccumulator()
    for event in [_start(), _text(0)[0]]:
        accumulator.add(event)
    with pytest.raises(StreamOrderError, match="input_json_delta in a text block"):
        accumulator.add({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}})


def test_message_before_stop_is_incomplete() -> None:
    accumulator = MessageAccumulator()
    for event in [_start(), *_text(0, "x"), _end()[0]]:
        accumulator.add(event)
    assert not accumulator.done
    with pytest.raises(IncompleteMessageError):
        accumulator.message()
