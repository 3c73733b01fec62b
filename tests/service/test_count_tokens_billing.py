"""CountTokens counts what an invocation of the same request bills as input: with
``context_management`` edits, the prompt the edits leave ("Context editing", token counting:
the count "after context editing is applied"; the anthropic SDK's ``BetaMessageTokensCount``
reports the count before them in ``context_management.original_input_tokens``)."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest

from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Settings

BASE = "anthropic.claude-sonnet-4-5-20250929-v1:0"
PROFILE = "us." + BASE
BETA = "context-management-2025-06-27"
LONG_RESULT = "Sunny and 21 degrees with a light breeze from the west all afternoon long. " * 5
EDITS = {"edits": [{"type": "clear_tool_uses_20250919", "trigger": {"type": "tool_uses", "value": 1},
                    "keep": {"type": "tool_uses", "value": 1}}]}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}

INVOKE_BODY = {
    "anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "anthropic_beta": [BETA],
    "tools": [{"name": "get_weather", "input_schema": SCHEMA}],
    "context_management": EDITS,
    "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": LONG_RESULT},
                                     {"type": "text", "text": "And Rome?"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_2", "name": "get_weather",
                                           "input": {"city": "Rome"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "Rainy"}]},
    ],
}
CONVERSE_BODY = {
    "messages": [
        {"role": "user", "content": [{"text": "Weather in Paris?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "toolu_1", "name": "get_weather",
                                                       "input": {"city": "Paris"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "toolu_1", "content": [{"text": LONG_RESULT}]}},
                                     {"text": "And Rome?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "toolu_2", "name": "get_weather",
                                                       "input": {"city": "Rome"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "toolu_2", "content": [{"text": "Rainy"}]}}]},
    ],
    "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": SCHEMA}}}]},
    "additionalModelRequestFields": {"anthropic_beta": [BETA], "context_management": EDITS},
}


def post(app, path: str, body: dict) -> httpx.Response:
    headers = {"authorization": "Bearer any-development-key", "content-type": "application/json"}

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.post(path, content=json.dumps(body), headers=headers)

    response = asyncio.run(go())
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def app(tmp_path):
    return create_app(Settings(data_dir=str(tmp_path)))


def _unedited_count(app) -> int:
    unedited = {key: value for key, value in INVOKE_BODY.items() if key != "context_management"}
    raw = base64.b64encode(json.dumps(unedited).encode()).decode()
    return post(app, f"/model/{BASE}/count-tokens", {"input": {"invokeModel": {"body": raw}}})["inputTokens"]


def test_count_tokens_counts_the_prompt_context_editing_leaves(app):
    invoked = post(app, f"/model/{PROFILE}/invoke", INVOKE_BODY)
    assert invoked["context_management"]["applied_edits"][0]["cleared_tool_uses"] == 1
    billed = invoked["usage"]["input_tokens"]
    raw = base64.b64encode(json.dumps(INVOKE_BODY).encode()).decode()
    counted = post(app, f"/model/{BASE}/count-tokens", {"input": {"invokeModel": {"body": raw}}})
    assert counted == {"inputTokens": billed}
    assert billed < _unedited_count(app)


def test_count_tokens_converse_form_counts_the_prompt_context_editing_leaves(app):
    conversed = post(app, f"/model/{PROFILE}/converse", CONVERSE_BODY)
    counted = post(app, f"/model/{BASE}/count-tokens", {"input": {"converse": CONVERSE_BODY}})
    assert counted == {"inputTokens": conversed["usage"]["inputTokens"]}


def test_anthropic_count_tokens_reports_the_edited_and_the_original_count(app):
    invoked = post(app, f"/model/{PROFILE}/invoke", INVOKE_BODY)
    body = {key: value for key, value in INVOKE_BODY.items() if key not in ("anthropic_version", "max_tokens")}
    counted = post(app, "/v1/messages/count_tokens", {"model": PROFILE, **body})
    assert counted == {"input_tokens": invoked["usage"]["input_tokens"],
                       "context_management": {"original_input_tokens": _unedited_count(app)}}


def test_anthropic_count_tokens_original_count_includes_the_thinking_the_edit_clears(app):
    """``clear_thinking_20251015`` decides which earlier thinking the model keeps, so the count
    "before" the edits is the prompt with all of it: the same whatever the edit keeps, never
    less than the edited count (keeping "all" clears nothing: the two counts are equal)."""
    thinking = {"type": "thinking", "thinking": "The user asks about the weather, so I call the tool. " * 5,
                "signature": "sig"}
    messages = [{"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [thinking, {"type": "text", "text": "Sunny."}]},
                {"role": "user", "content": "And Rome?"},
                {"role": "assistant", "content": [thinking, {"type": "text", "text": "Rainy."}]},
                {"role": "user", "content": "And Oslo?"}]
    body = {"model": PROFILE, "anthropic_beta": [BETA], "messages": messages,
            "thinking": {"type": "enabled", "budget_tokens": 1024}}

    def count(keep):
        edits = {"edits": [{"type": "clear_thinking_20251015", "keep": keep}]}
        counted = post(app, "/v1/messages/count_tokens", {**body, "context_management": edits})
        return counted["input_tokens"], counted["context_management"]["original_input_tokens"]

    kept_all, original = count("all")
    assert original == kept_all
    edited, original_too = count({"type": "thinking_turns", "value": 1})
    assert original_too == original > edited
