"""Review regressions: a client's malformed input is a 400, never a 500, on every route kind
(JSON members of the wrong type, JSON nested too deeply, unpaired surrogates), and such a
body cannot break the call history afterwards."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Settings

MODEL = "/model/anthropic.claude-3-haiku-20240307-v1%3A0"
SOURCE = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcdefghijkl"


def request(app, method: str, path: str, body: bytes | str = b"", **extra_headers: str) -> httpx.Response:
    headers = {"authorization": "Bearer any-development-key", "content-type": "application/json",
               **{name.replace("_", "-"): value for name, value in extra_headers.items()}}

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.request(method, path, content=body, headers=headers)

    return asyncio.run(go())


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.fixture
def app(tmp_path):
    return create_app(Settings(data_dir=str(tmp_path)))


@pytest.mark.parametrize("tags", [True, 1.5])
def test_create_inference_profile_tags_of_wrong_type_is_400(app, tags):
    body = {"inferenceProfileName": "p", "modelSource": {"copyFrom": SOURCE}, "tags": tags}
    response = request(app, "POST", "/inference-profiles", json.dumps(body))
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid type for 'tags': expected a list."


@pytest.mark.parametrize("tags", [False, 2.5])
def test_tag_resource_tags_of_wrong_type_is_400(app, tags):
    response = request(app, "POST", "/tagResource", json.dumps({"resourceARN": PROFILE_ARN, "tags": tags}))
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid type for 'tags': expected a list."


DEEP_TEXT = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("method, path", [
    ("POST", MODEL + "/converse"),
    ("POST", MODEL + "/converse-stream"),
    ("POST", MODEL + "/count-tokens"),
    ("POST", "/inference-profiles"),
    ("POST", "/tagResource"),
    ("PUT", "/logging/modelinvocations"),
    ("POST", "/_claude-bedrock/rules"),
    ("PUT", "/_claude-bedrock/quotas"),
])
def test_deeply_nested_json_is_400_on_every_json_route(app, method, path):
    response = request(app, method, path, DEEP_TEXT)
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]


def test_converse_unpaired_surrogate_is_400(app):
    body = '{"messages":[{"role":"user","content":[{"text":"hi \\ud800 there"}]}]}'
    response = request(app, "POST", MODEL + "/converse", body)
    assert response.status_code == 400
    assert response.json()["message"] == (
        "The request body is not valid JSON: unpaired UTF-16 surrogate in a string."
    )


def test_admin_rule_with_unpaired_surrogate_is_400(app):
    body = '{"match": {"model": "*"}, "respond": {"text": "\\udc00"}}'
    assert request(app, "POST", "/_claude-bedrock/rules", body).status_code == 400
    assert request(app, "GET", "/_claude-bedrock/rules").status_code == 200


@pytest.mark.parametrize("suffix", ["/invoke", "/invoke-with-response-stream"])
def test_invoke_body_too_deep_to_serialize_is_400(app, suffix):
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "t", "description": "d",
                       "input_schema": {"type": "object", "properties": {"x": nested(250)}}}]}
    response = request(app, "POST", MODEL + suffix, json.dumps(body))
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Malformed input request: JSON nested more than 200 levels deep, please reformat your input and try again."
    )
    assert request(app, "GET", "/_claude-bedrock/calls").status_code == 200


def test_anthropic_count_tokens_too_deep_is_400(app):
    body = {"model": "anthropic.claude-3-haiku-20240307-v1:0",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "t", "description": "d",
                       "input_schema": {"type": "object", "properties": {"x": nested(900)}}}]}
    response = request(app, "POST", "/v1/messages/count_tokens", json.dumps(body))
    assert response.status_code == 400


def test_anthropic_count_tokens_thinking_budget_within_the_128k_beta(app):
    """No max_tokens is sent: the default is the model's limit with the betas asked for, so a
    Claude 3.7 Sonnet thinking budget above 64K counts with the output-128k beta (header or
    body), as an InvokeModel with that beta would take it."""
    body = {"model": "us.anthropic.claude-3-7-sonnet-20250219-v1:0", "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "enabled", "budget_tokens": 100_000}}
    refused = request(app, "POST", "/v1/messages/count_tokens", json.dumps(body))
    assert refused.status_code == 400 and "budget_tokens" in refused.text
    header = request(app, "POST", "/v1/messages/count_tokens", json.dumps(body), anthropic_beta="output-128k-2025-02-19")
    assert header.status_code == 200, header.text
    in_body = request(app, "POST", "/v1/messages/count_tokens",
                      json.dumps({**body, "anthropic_beta": ["output-128k-2025-02-19"]}))
    assert in_body.status_code == 200, in_body.text
    assert header.json() == in_body.json()


def test_converse_moderately_nested_document_still_served(app):
    body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "toolConfig": {"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {
                "type": "object", "properties": {"x": nested(50)}}}}}]}}
    response = request(app, "POST", MODEL + "/converse", json.dumps(body))
    assert response.status_code == 200, response.text


def test_non_ascii_digits_in_numeric_query_values_are_400(app):
    # "²".isdigit() is True but int("²") raises: both checks used to answer 500.
    assert request(app, "GET", "/_claude-bedrock/calls?limit=%C2%B2").status_code == 400
    presigned = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20250101%2Fus-east-1%2Fbedrock"
                 "%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=%C2%B2&X-Amz-SignedHeaders=host"
                 "&X-Amz-Signature=" + "a" * 64)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get("/foundation-models?" + presigned)

    response = asyncio.run(go())
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"].startswith("IncompleteSignatureException")


@pytest.mark.parametrize("body", ["[1]", "null", '"text"', "42"])
@pytest.mark.parametrize("suffix", ["/converse", "/converse-stream", "/count-tokens"])
def test_converse_family_body_that_is_not_an_object_is_named_as_such(app, suffix, body):
    """Audit: CountTokens answered a JSON array, string or null body with "The format of the
    value at  is invalid." (an empty field name); it now says what Converse says."""
    response = request(app, "POST", MODEL + suffix, body)
    assert response.status_code == 400
    assert response.json()["message"] == "The request body must be a JSON object."


@pytest.mark.parametrize(("model", "message"), [
    (None, "model: Field required"),
    (5, "model: Input should be a valid string"),
    (["anthropic.claude-3-haiku-20240307-v1:0"], "model: Input should be a valid string"),
])
def test_anthropic_count_tokens_model_of_wrong_type_is_named_so(app, model, message):
    """Audit: a ``model`` that is there but no string was answered "model: Field required"."""
    body = {"messages": [{"role": "user", "content": "hi"}]}
    if model is not None:
        body["model"] = model
    response = request(app, "POST", "/v1/messages/count_tokens", json.dumps(body))
    assert response.status_code == 400
    assert response.json()["message"] == message
