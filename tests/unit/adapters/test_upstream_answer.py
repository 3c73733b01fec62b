"""``adapters.upstream_answer.AnswerCheck``: each check of its Rules 1-3, on an answer that
is good but for one event (the gateway's real-socket test covers a few over the wire)."""

from __future__ import annotations

from typing import Any

import pytest

from claude_bedrock.adapters.upstream_answer import AnswerCheck

OPERATIONS = ("InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream")
START = {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [],
                                              "usage": {"input_tokens": 0, "output_tokens": 0}}}
TEXT = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
DELTA = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}
STOP = {"type": "content_block_stop", "index": 0}
END = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}
CITATION = {"type": "char_location", "cited_text": "x", "document_index": 0, "start_char_index": 0,
            "end_char_index": 1}


def problems(events: list[dict[str, Any]], operation: str) -> list[str]:
    check = AnswerCheck(operation)
    return [problem for event in events if (problem := check.problem(event["type"], event)) is not None]


def answer(**replaced: dict[str, Any]) -> list[dict[str, Any]]:
    events = {"start": START, "block": TEXT, "delta": DELTA, "stop": STOP, "end": END}
    return [replaced.get(name, event) for name, event in events.items()]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_good_answer_has_no_problem(operation):
    zero = {**END, "usage": {"output_tokens": 0, "cache_creation": {"ephemeral_5m_input_tokens": 0}}}
    cited = {**TEXT, "content_block": {"type": "text", "text": "", "citations": [CITATION]}}
    assert problems(answer(end=zero, block=cited), operation) == []
    two_blocks = [START, TEXT, DELTA, STOP, {**TEXT, "index": 1}, {**DELTA, "index": 1}, {**STOP, "index": 1}, END]
    assert problems(two_blocks, operation) == []


@pytest.mark.parametrize("replaced", [
    {"start": {**START, "message": {**START["message"], "content": [{"type": "text", "text": "x"}]}}},
    {"start": {**START, "message": {**START["message"], "usage": ["input_tokens"]}}},
    {"block": {**TEXT, "index": 1}},
    {"block": {**TEXT, "index": 0.0}},
    {"block": {**TEXT, "content_block": {"type": "text", "text": 7}}},
    {"block": {**TEXT, "content_block": {"type": "redacted_thinking", "data": 7}}, "delta": {"type": "ping"}},
    {"block": {**TEXT, "content_block": {"type": "text", "text": "", "citations": {"type": "char_location"}}}},
    {"block": {**TEXT, "content_block": {"type": "text", "text": "", "citations": ["x"]}}},
    {"delta": {**DELTA, "index": False}},  # False == 0
    {"stop": {**STOP, "index": 1}},
    {"end": {**END, "delta": "end_turn"}},
    {"end": {**END, "usage": {"output_tokens": 1, "cache_creation": {"ephemeral_1h_input_tokens": "1"}}}},
    {"end": {**END, "usage": {"output_tokens": 1, "cache_creation": 5}}},
], ids=["start-with-content", "usage-no-object", "block-index-skipped", "block-index-float", "block-text-number",
        "redacted-data-number", "citations-no-list", "citation-no-object", "delta-index-bool", "stop-of-no-open-block",
        "message-delta-no-object", "cache-breakdown-string", "cache-breakdown-no-object"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_refuses_what_every_renderer_relies_on(operation, replaced):
    assert problems(answer(**replaced), operation)


@pytest.mark.parametrize("block", [
    {"type": "mystery_block"},
    {"type": "web_search_tool_result", "content": []},  # no tool_use_id
    {"type": "text", "text": "", "citations": [{**CITATION, "type": "new_location"}]},
], ids=["block-type", "tool-result-without-id", "start-citation-type"])
def test_converse_refuses_a_block_it_has_no_form_for_and_the_others_take_it(block):
    events = [START, {**TEXT, "content_block": block}, STOP, END]
    for operation in OPERATIONS:
        assert bool(problems(events, operation)) == operation.startswith("Converse"), operation


def test_converse_refuses_a_citation_delta_of_a_type_it_has_no_form_for():
    cited = {**DELTA, "delta": {"type": "citations_delta", "citation": {**CITATION, "type": "new_location"}}}
    for operation in OPERATIONS:
        assert bool(problems(answer(delta=cited), operation)) == operation.startswith("Converse"), operation
    good = {**DELTA, "delta": {"type": "citations_delta", "citation": CITATION}}
    assert problems(answer(delta=good), "ConverseStream") == []
