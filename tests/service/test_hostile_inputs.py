"""Review regressions from a robustness audit: requests that used to hang the server or give a
500 (and leave the call history unreadable) are now answered: a tool schema that asks for an
enormous input, tool-schema keywords of the wrong type, integers beyond 64 bits, a session
token with a non-ASCII character, a CountTokens blob nested too deeply, request metadata with
an unpaired surrogate."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Credential, Settings
from claude_bedrock.wire.sigv4 import HttpRequest, sign

MODEL = "/model/anthropic.claude-3-haiku-20240307-v1%3A0"
BEARER = {"authorization": "Bearer any-development-key", "content-type": "application/json"}
KEY, SECRET, TOKEN = "ASIAHOSTILEKEY", "hostile-secret", "FQoGZXIvYXdzHOSTILE//token=="


def call(app, method: str, path: str, body: Any = None, headers: dict[str, Any] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.request(method, path, content=content, headers=headers or BEARER)

    return asyncio.run(go())


@pytest.fixture
def app(tmp_path):
    return create_app(Settings(data_dir=str(tmp_path)))


def invoke_body(**extra: Any) -> dict[str, Any]:
    return {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200,
            "messages": [{"role": "user", "content": "What is the weather in Paris?"}], **extra}


def forced_tool(schema: dict[str, Any]) -> dict[str, Any]:
    return invoke_body(tools=[{"name": "t", "input_schema": schema}], tool_choice={"type": "any"})


def converse_tool(schema: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "toolConfig": {"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": schema}}}],
                           "toolChoice": {"any": {}}}}


def history_is_readable(app) -> None:
    response = call(app, "GET", "/_claude-bedrock/calls")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"a": {"type": "string", "minLength": 1_000_000_000}}, "required": ["a"]},
    {"type": "object", "properties": {"a": {"$ref": "#"}, "b": {"$ref": "#"}, "c": {"$ref": "#"}},
     "required": ["a", "b", "c"]},
    {"type": "object", "properties": {"a": {"type": "array", "minItems": 1_000_000_000}}, "required": ["a"]},
], ids=["minLength 10^9", "self-reference x3", "minItems 10^9"])
@pytest.mark.parametrize("suffix", ["invoke", "invoke-with-response-stream"])
def test_a_schema_asking_for_an_enormous_input_is_answered(app, schema, suffix):
    response = call(app, "POST", f"{MODEL}/{suffix}", forced_tool(schema))
    assert response.status_code == 200
    if suffix == "invoke":  # cut by max_tokens, as a real model's output would be
        assert response.json()["stop_reason"] == "max_tokens"
    assert call(app, "GET", "/_claude-bedrock/health").status_code == 200


@pytest.mark.parametrize("keywords", [
    {"type": "string", "minLength": "abc"}, {"type": "array", "minItems": "x"}, {"oneOf": [5, "x"]},
    {"allOf": [None]}, {"type": 5}, {"type": "number", "multipleOf": 0},
])
def test_tool_schema_keywords_of_the_wrong_type_are_a_400(app, keywords):
    schema = {"type": "object", "properties": {"a": keywords}, "required": ["a"]}
    response = call(app, "POST", f"{MODEL}/invoke", forced_tool(schema))
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith("tools.0.custom.input_schema: JSON schema is invalid.")
    assert "#/properties/a" in message
    converse = call(app, "POST", f"{MODEL}/converse", converse_tool(schema))
    assert converse.status_code == 400, converse.text
    assert "JSON schema is invalid" in converse.json()["message"]
    history_is_readable(app)


@pytest.mark.parametrize("body", [
    invoke_body(top_k=2**64),
    forced_tool({"type": "object", "properties": {"a": {"type": "integer", "default": 10**20}}, "required": ["a"]}),
    forced_tool({"type": "object", "properties": {"a": {"type": "integer", "minimum": 10**400}}, "required": ["a"]}),
    invoke_body(messages=[
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "t", "input": {"a": 10**30}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
    ], tools=[{"name": "t", "input_schema": {"type": "object"}}]),
], ids=["top_k 2^64", "schema default 10^20", "minimum 10^400", "tool_use input 10^30"])
def test_integers_beyond_64_bits_are_served_and_recorded(app, body):
    for suffix in ("invoke", "invoke-with-response-stream"):
        response = call(app, "POST", f"{MODEL}/{suffix}", body)
        assert response.status_code == 200, response.text
    history_is_readable(app)


def test_converse_integer_beyond_64_bits_is_served(app):
    body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "additionalModelRequestFields": {"top_k": 10**30}}
    assert call(app, "POST", f"{MODEL}/converse", body).status_code == 200
    history_is_readable(app)


def test_count_tokens_blob_nested_too_deeply_is_a_400(app):
    blob = base64.b64encode(b"[" * 100_000 + b"]" * 100_000).decode()
    response = call(app, "POST", f"{MODEL}/count-tokens", {"input": {"invokeModel": {"body": blob}}})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Malformed input request: ")


def test_request_metadata_with_an_unpaired_surrogate_is_a_400(app):
    headers = {**BEARER, "x-amzn-bedrock-request-metadata": '{"team":"\\ud800"}'}
    response = call(app, "POST", f"{MODEL}/invoke", invoke_body(), headers)
    assert response.status_code == 400
    assert "requestMetadata" in response.json()["message"]
    history_is_readable(app)


def test_request_metadata_is_at_most_8500_characters(app):
    """botocore ``requestMetadata``: a string of at most 8500 characters; one more is a 400."""
    def metadata(size: int) -> str:
        value = '{"team":"' + "x" * (size - 11) + '"}'
        assert len(value) == size
        return value

    headers = {**BEARER, "x-amzn-bedrock-request-metadata": metadata(8500)}
    assert call(app, "POST", f"{MODEL}/invoke", invoke_body(), headers).status_code == 200
    headers = {**BEARER, "x-amzn-bedrock-request-metadata": metadata(8501)}
    response = call(app, "POST", f"{MODEL}/invoke", invoke_body(), headers)
    assert response.status_code == 400
    assert response.json()["message"] == "requestMetadata must be at most 8500 characters."


def test_quota_beyond_64_bits_does_not_break_the_admin_api(app):
    assert call(app, "PUT", "/_claude-bedrock/quotas", {"tokens_per_minute": 10**23}).status_code == 200
    response = call(app, "GET", "/_claude-bedrock/quotas")
    assert response.status_code == 200 and response.json()["limits"]["tokens_per_minute"] == 10**23


def test_a_session_token_with_a_non_ascii_character_is_unrecognized_not_500(tmp_path):
    credential = Credential(KEY, SECRET, account_id="111122223333", session_tokens=(TOKEN,))
    app = create_app(Settings(data_dir=str(tmp_path), credentials=(credential,)))
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    token = "tok\u00e9n"
    headers: dict[str, Any] = {"host": "localhost", "content-type": "application/json"}
    body = json.dumps(invoke_body()).encode()
    request = HttpRequest("POST", f"{MODEL}/invoke", "", list(headers.items()), body)
    headers.update(sign(request, KEY, SECRET, "us-west-2", "bedrock", amz_date, session_token=token))
    headers["X-Amz-Security-Token"] = token.encode("latin-1")  # as http.client sends it
    response = call(app, "POST", f"{MODEL}/invoke", body, headers)
    assert response.status_code == 403, response.text
    assert response.headers["x-amzn-errortype"].startswith("UnrecognizedClientException")


@pytest.mark.parametrize("suffix", ["invoke", "invoke-with-response-stream"])
def test_invoke_model_headers_outside_their_model_constraints_are_a_400(app, suffix):
    headers = {**BEARER, "x-amzn-bedrock-performanceconfig-latency": "ludicrous",
               "x-amzn-bedrock-service-tier": "gold", "x-amzn-bedrock-guardrailversion": "abc"}
    response = call(app, "POST", f"{MODEL}/{suffix}", invoke_body(), headers)
    assert response.status_code == 400
    assert response.json()["message"] == (
        "3 validation errors detected: "
        "Value 'abc' at 'guardrailVersion' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: (|([1-9][0-9]{0,7})|(DRAFT)); "
        "Value 'ludicrous' at 'performanceConfigLatency' failed to satisfy constraint: Member must satisfy "
        "enum value set: [standard, optimized]; "
        "Value 'gold' at 'serviceTier' failed to satisfy constraint: Member must satisfy enum value set: "
        "[priority, default, flex, reserved]"
    )


@pytest.mark.parametrize("suffix", ["invoke", "invoke-with-response-stream"])
def test_invoke_model_project_identifier_outside_its_pattern_is_a_400(app, suffix):
    """InvokeModel's X-Amzn-Bedrock-ProjectIdentifier header (botocore 1.44.8) has the same
    ``ProjectIdentifier`` constraints as Converse's ``projectIdentifier``, which is judged."""
    headers = {**BEARER, "x-amzn-bedrock-projectidentifier": "my project"}
    response = call(app, "POST", f"{MODEL}/{suffix}", invoke_body(), headers)
    assert response.status_code == 400
    assert response.json()["message"] == (
        "1 validation error detected: Value 'my project' at 'projectIdentifier' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ([a-zA-Z0-9_-]+|arn:aws(|-us-gov|-cn|-iso|-iso-b|-iso-f"
        "|-eusc):bedrock:[0-9a-z-]{1,20}:[0-9]{12}:project/[a-zA-Z0-9_-]+)"
    )


@pytest.mark.parametrize("project", ["default", "proj_1-a", "arn:aws:bedrock:us-west-2:123456789012:project/p1"])
def test_invoke_model_project_identifier_within_its_pattern_is_served(app, project):
    headers = {**BEARER, "x-amzn-bedrock-projectidentifier": project}
    assert call(app, "POST", f"{MODEL}/invoke", invoke_body(), headers).status_code == 200


def test_invoke_model_headers_within_their_constraints_are_served(app):
    headers = {**BEARER, "x-amzn-bedrock-performanceconfig-latency": "optimized",
               "x-amzn-bedrock-service-tier": "flex", "x-amzn-bedrock-trace": "ENABLED_FULL"}
    assert call(app, "POST", f"{MODEL}/invoke", invoke_body(), headers).status_code == 200


def test_nan_in_a_converse_body_is_a_400_and_leaves_the_history_readable(app):
    body = b'{"messages":[{"role":"user","content":[{"text":"hi"}]}],' \
           b'"additionalModelRequestFields":{"top_k":1000000000000000000000000,"x":NaN}}'
    response = call(app, "POST", f"{MODEL}/converse", body)
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]
    history_is_readable(app)


def test_json_bytes_writes_what_orjson_refuses():
    from claude_bedrock.domain.json_body import json_bytes

    assert json.loads(json_bytes({"a": 10**30, "b": float("nan"), "c": [float("inf"), 1.5]})) == \
        {"a": 10**30, "b": None, "c": [None, 1.5]}
    assert json_bytes({"b": 2, "a": 10**20}, sort_keys=True) == b'{"a":100000000000000000000,"b":2}'
