"""Audit: thinking blocks sent back were never checked, so a changed, forged or other-model
block passed where Bedrock refuses it (AWS "Thinking encryption"; the Anthropic API's
"Invalid `signature` in `thinking` block"). Every server signs alike, so a conversation
recorded against one server stays valid on another (another data folder, another seed); the
``verify_thinking_signatures`` switch lets tests send hand-written blocks."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest

from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Settings

GLOBAL = "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0"
BARE = "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0"
HAIKU = "/model/global.anthropic.claude-haiku-4-5-20251001-v1%3A0"
THINKING = {"type": "enabled", "budget_tokens": 1024}
QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]
TRIGGER = ("ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_"
           "46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB")
INVALID_SIGNATURE = "messages.1.content.0: Invalid `signature` in `thinking` block"


def post(app, path: str, body: dict) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.post(path, content=json.dumps(body), headers={
                "authorization": "Bearer any-development-key", "content-type": "application/json"})

    return asyncio.run(go())


def invoke(app, messages: list, model: str = GLOBAL) -> httpx.Response:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 2048, "thinking": THINKING,
            "messages": messages}
    return post(app, model + "/invoke", body)


def follow_up(content: list, question: list = QUESTION) -> list:
    return [*question, {"role": "assistant", "content": content}, {"role": "user", "content": "Thanks"}]


def first_answer(app, question: list = QUESTION) -> list:
    response = invoke(app, question)
    assert response.status_code == 200, response.text
    return response.json()["content"]


def assert_refused(response: httpx.Response, message: str = INVALID_SIGNATURE) -> None:
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"].startswith("ValidationException")
    assert response.json() == {"message": message}


def test_thinking_block_sent_back_unchanged_is_accepted_by_any_server(tmp_path):
    content = first_answer(create_app(Settings(data_dir=str(tmp_path / "a"))))
    assert content[0]["type"] == "thinking"
    other = create_app(Settings(data_dir=str(tmp_path / "b"), seed=7))  # a recorded conversation replayed
    assert invoke(other, follow_up(content)).status_code == 200
    assert invoke(other, follow_up(content), model=BARE).status_code == 200  # same model, bare id


def test_thinking_block_changed_forged_or_foreign_is_refused(tmp_path):
    app = create_app(Settings(data_dir=str(tmp_path / "a")))
    content = first_answer(app)
    changed = [{**content[0], "thinking": content[0]["thinking"] + " Also, cats."}, *content[1:]]
    assert_refused(invoke(app, follow_up(changed)))
    forged = [{**content[0], "signature": "EqQBCkYIARgC"}, *content[1:]]
    assert_refused(invoke(app, follow_up(forged)))
    assert_refused(invoke(app, follow_up(content), model=HAIKU))  # another model's block


def test_redacted_thinking_data_changed_is_refused(tmp_path):
    app = create_app(Settings(data_dir=str(tmp_path)))
    question = [{"role": "user", "content": TRIGGER}]
    content = first_answer(app, question)
    assert content[0]["type"] == "redacted_thinking"
    assert invoke(app, follow_up(content, question)).status_code == 200
    data = base64.b64decode(content[0]["data"])
    changed = [{**content[0], "data": base64.b64encode(bytes([data[0] ^ 1]) + data[1:]).decode()}, *content[1:]]
    assert_refused(invoke(app, follow_up(changed, question)),
                   "messages.1.content.0: Invalid `data` in `redacted_thinking` block")


def test_converse_reasoning_text_changed_is_refused(tmp_path):
    app = create_app(Settings(data_dir=str(tmp_path)))
    body = {"messages": [{"role": "user", "content": [{"text": "Why is the sky blue?"}]}],
            "additionalModelRequestFields": {"thinking": THINKING}, "inferenceConfig": {"maxTokens": 2048}}
    response = post(app, GLOBAL + "/converse", body)
    assert response.status_code == 200, response.text
    answer = response.json()["output"]["message"]
    history = {**body, "messages": [*body["messages"], answer, {"role": "user", "content": [{"text": "Thanks"}]}]}
    assert post(app, GLOBAL + "/converse", history).status_code == 200
    answer["content"][0]["reasoningContent"]["reasoningText"]["text"] += " Also, cats."
    assert_refused(post(app, GLOBAL + "/converse", history))


@pytest.mark.parametrize("verify", [False, True])
def test_hand_written_thinking_blocks_pass_when_verification_is_off(tmp_path, verify):
    app = create_app(Settings(data_dir=str(tmp_path), verify_thinking_signatures=verify))
    hand_written = [{"type": "thinking", "thinking": "Rayleigh scattering.", "signature": "c2ln"},
                    {"type": "text", "text": "Scattering."}]
    response = invoke(app, follow_up(hand_written))
    if verify:
        assert_refused(response)
    else:
        assert response.status_code == 200
