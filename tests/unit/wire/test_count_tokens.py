"""CountTokens request parsing: both input forms, and the errors Bedrock answers with."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.wire.count_tokens import COUNT_TOKENS_MAX_TOKENS, count_tokens_input


def invoke_model_input(payload: bytes) -> dict[str, Any]:
    return {"input": {"invokeModel": {"body": base64.b64encode(payload).decode()}}}


def rejection(body: dict[str, Any]) -> str:
    with pytest.raises(ValidationException) as caught:
        count_tokens_input(body)
    return caught.value.message


def test_count_tokens_input_captured_boto3_invoke_model_form(vectors_dir: Path) -> None:
    captured = json.loads((vectors_dir / "captured-requests/boto3-count_tokens.json").read_text())
    body = json.loads(captured["requests"][0]["body"])
    assert count_tokens_input(body) == {
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Hello, world"}],
        "anthropic_version": "bedrock-2023-05-31",
    }


def test_count_tokens_input_invoke_model_body_is_not_judged() -> None:
    """Only decoding happens here; Anthropic body rules belong to InvokeModel validation."""
    assert count_tokens_input(invoke_model_input(b'{"messages": []}')) == {"messages": []}


def test_count_tokens_input_converse_form() -> None:
    body = {"input": {"converse": {
        "system": [{"text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
        "toolConfig": {"tools": [{"toolSpec": {"name": "calc",
                                               "inputSchema": {"json": {"type": "object"}}}}]},
        "additionalModelRequestFields": {"thinking": {"type": "enabled",
                                                      "budget_tokens": 2048}},
    }}}
    assert count_tokens_input(body) == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": COUNT_TOKENS_MAX_TOKENS,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "tools": [{"name": "calc", "input_schema": {"type": "object"}}],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }


def test_count_tokens_input_converse_form_ignores_non_members() -> None:
    body = {"input": {"converse": {
        "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
        "inferenceConfig": {"maxTokens": 0, "temperature": 0.3},
    }}}
    out = count_tokens_input(body)
    assert "temperature" not in out
    assert out["max_tokens"] == COUNT_TOKENS_MAX_TOKENS


def test_count_tokens_input_missing_input() -> None:
    assert rejection({}) == ("1 validation error detected: Value null at 'input' failed to "
                             "satisfy constraint: Member must not be null")


def test_count_tokens_input_union_without_member() -> None:
    assert rejection({"input": {}}) == ("CountTokensInput object at input must set one of the "
                                        "following keys: invokeModel, converse.")


def test_count_tokens_input_union_with_two_members() -> None:
    body = invoke_model_input(b"{}")
    body["input"]["converse"] = {"messages": [{"role": "user", "content": [{"text": "x"}]}]}
    assert rejection(body) == ("CountTokensInput object at input must set only one of the "
                               "following keys: invokeModel, converse.")


def test_count_tokens_input_missing_body() -> None:
    assert rejection({"input": {"invokeModel": {}}}) == (
        "1 validation error detected: Value null at 'input.invokeModel.body' failed to satisfy "
        "constraint: Member must not be null")


def test_count_tokens_input_bad_base64() -> None:
    assert rejection({"input": {"invokeModel": {"body": "not base64!"}}}) == (
        "The format of the value at input.invokeModel.body is invalid. Provide a base64-encoded "
        "string for the field and try again.")


@pytest.mark.parametrize("payload, detail", [
    (b"{not json", "#: the body is not valid JSON"),
    (b"\xff\xfe", "#: the body is not valid JSON"),
    (b"", "#: the body is not valid JSON"),
    (b"[1, 2]", "#: expected type: JSONObject, found: JSONArray"),
    (b'"text"', "#: expected type: JSONObject, found: String"),
    (b"12", "#: expected type: JSONObject, found: Integer"),
    (b"1.5", "#: expected type: JSONObject, found: Double"),
    (b"true", "#: expected type: JSONObject, found: Boolean"),  # a bool is an int in Python
    (b"null", "#: expected type: JSONObject, found: Null"),
    (b"[" * 100_000, "#: the body is not valid JSON"),  # RecursionError: a 400, not a 500
])
def test_count_tokens_input_body_must_be_json_object(payload: bytes, detail: str) -> None:
    assert rejection(invoke_model_input(payload)) == (
        f"Malformed input request: {detail}, please reformat your input and try again.")


def test_count_tokens_input_converse_errors_name_the_nested_path() -> None:
    body = {"input": {"converse": {"messages": [{"role": "user", "content": [
        {"image": {"format": "tiff", "source": {"bytes": "aGk="}}}]}]}}}
    assert rejection(body) == (
        "1 validation error detected: Value 'tiff' at "
        "'input.converse.messages.1.member.content.1.member.image.format' failed to satisfy "
        "constraint: Member must satisfy enum value set: [png, jpeg, gif, webp]")


def test_count_tokens_input_converse_blank_text_names_the_nested_path() -> None:
    body = {"input": {"converse": {"messages": [{"role": "user", "content": [{"text": ""}]}]}}}
    assert rejection(body) == ("The text field in the ContentBlock object at "
                               "input.converse.messages.0.content.0 is blank. Add text to the "
                               "text field, and try again.")


def test_count_tokens_input_converse_roles_must_alternate() -> None:
    body = {"input": {"converse": {"messages": [
        {"role": "user", "content": [{"text": "a"}]},
        {"role": "user", "content": [{"text": "b"}]},
    ]}}}
    assert rejection(body).startswith("A conversation must alternate between user and assistant")


def test_count_tokens_input_invoke_model_body_is_read_as_utf8_or_by_the_callers_parser() -> None:
    payload = json.dumps({"messages": [{"role": "user", "content": "café"}]}, ensure_ascii=False).encode()
    assert count_tokens_input(invoke_model_input(payload))["messages"][0]["content"] == "café"
    assert count_tokens_input(invoke_model_input(payload), parse_body=lambda raw: {"parsed": len(raw)}) == {
        "parsed": len(payload)}


def test_count_tokens_input_converse_form_takes_the_callers_max_tokens() -> None:
    body = {"input": {"converse": {"messages": [{"role": "user", "content": [{"text": "Sum up"}]}]}}}
    assert count_tokens_input(body, default_max_tokens=64000)["max_tokens"] == 64000
