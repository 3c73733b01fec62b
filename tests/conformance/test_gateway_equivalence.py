"""Gateway mode, seen by its callers: the same request sent to the upstream directly and
through the gateway gets the same answer, whatever the client and the operation, except for
the documented differences (README "Gateway mode"): the message ``id``, the invocation
metrics and latencies, and context editing (applied by the gateway: the upstream answers the
edited prompt, so its words may differ, never its usage or its ``context_management``)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import subprocess
import sys
import zlib
from typing import Any, Callable
from urllib.parse import quote

import pytest

from support.gateway import GATEWAY_KEY, GATEWAY_SECRET, GLOBAL_SONNET, SONNET, invoke_body
from support.servers import ACCESS_KEY, JS_DIR, REGION, SECRET_KEY

pytestmark = pytest.mark.conformance

WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CONVERSE_WEATHER = {"tools": [{"toolSpec": {"name": WEATHER["name"], "description": WEATHER["description"],
                                            "inputSchema": {"json": WEATHER["input_schema"]}}}]}
THINKING = {"type": "enabled", "budget_tokens": 1024}
CONTEXT_1M = "context-1m-2025-08-07"
#: Keys whose values are the gateway's own (documented): invocation metrics and latencies.
GATEWAY_OWN = frozenset({"amazon-bedrock-invocationMetrics", "metrics", "ResponseMetadata"})


def _pdf(text: str) -> bytes:
    content = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode()
    return (b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n2 0 obj << /Length " + str(len(content)).encode()
            + b" >>\nstream\n" + content + b"\nendstream\nendobj\n%%EOF\n")


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x80\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PDF = _pdf("Revenue grew twelve percent in the third quarter")
PNG = _png(64, 48)


def comparable(answer: Any) -> Any:
    """``answer`` without what is documented as the gateway's own: the message id (InvokeModel
    body, ``message_start``), invocation metrics and latencies, HTTP metadata."""
    if isinstance(answer, list):
        return [comparable(item) for item in answer]
    if not isinstance(answer, dict):
        return answer
    kept = {key: comparable(value) for key, value in answer.items() if key not in GATEWAY_OWN}
    if str(kept.get("id", "")).startswith("msg_bdrk_"):
        del kept["id"]
    return kept


def outcome(call: Callable[[], Any]) -> Any:
    """What a caller gets: the answer read whole (a body, a stream's events), or the error."""
    from botocore.exceptions import ClientError

    try:
        answer = call()
    except ClientError as exc:
        return {"error": exc.response["Error"], "status": exc.response["ResponseMetadata"].get("HTTPStatusCode")}
    if "body" in answer and hasattr(answer["body"], "read"):
        return json.loads(answer["body"].read())
    if "body" in answer:
        return [json.loads(event["chunk"]["bytes"]) for event in answer["body"]]
    if "stream" in answer:
        return list(answer["stream"])
    return answer


@pytest.fixture()
def same(via_gateway, direct, upstream_admin):
    """``same(operation, **params)``: the boto3 operation's outcome through the gateway, checked
    equal to the upstream's own (the upstream reset in between: no cache carried over);
    ``upstream=`` sets the upstream up (scripted rules) before each side."""

    def check(operation: str, *, upstream: Callable[[], Any] = lambda: None, **params: Any) -> Any:
        upstream()
        relayed = outcome(lambda: getattr(via_gateway, operation)(**params))
        upstream_admin.reset()
        upstream()
        expected = outcome(lambda: getattr(direct, operation)(**params))
        assert comparable(relayed) == comparable(expected)
        return relayed

    return check


# --------------------------------------------------------------------------- InvokeModel bodies

HELLO = [{"role": "user", "content": "What is the weather in Paris?"}]
BODIES = {
    "tool_choice any": {"messages": HELLO, "tools": [WEATHER], "tool_choice": {"type": "any"}},
    "tool_choice tool": {"messages": HELLO, "tools": [WEATHER], "tool_choice": {"type": "tool", "name": "get_weather"}},
    "tool_choice auto": {"messages": HELLO, "tools": [WEATHER], "tool_choice": {"type": "auto"}},
    "tool_result turn": {"tools": [WEATHER], "messages": [
        *HELLO,
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_bdrk_01A", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_bdrk_01A", "content": "18C"}]}]},
    "thinking": {"messages": HELLO, "thinking": THINKING, "max_tokens": 2000},
    "stop_sequences": {"messages": HELLO, "stop_sequences": ["the", "weather"]},
    "system blocks": {"messages": HELLO, "system": [{"type": "text", "text": "Be terse."},
                                                    {"type": "text", "text": "Answer in French."}]},
    "image": {"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": base64.b64encode(PNG).decode()}},
        {"type": "text", "text": "Describe the picture"}]}]},
    "document": {"messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": base64.b64encode(PDF).decode()}},
        {"type": "text", "text": "Summarise the report"}]}]},
    "document with citations": {"messages": [{"role": "user", "content": [
        {"type": "document", "citations": {"enabled": True},
         "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(PDF).decode()}},
        {"type": "text", "text": "Summarise the report"}]}]},
    "1M context beta in the body": {"messages": HELLO, "anthropic_beta": [CONTEXT_1M]},
    "explicit nulls": {"messages": HELLO, "temperature": None, "system": None, "tools": None, "tool_choice": None},
    "refused by the model": {"messages": HELLO, "thinking": THINKING, "top_k": 5, "max_tokens": 2000},
}


def _invoke_body(fields: dict[str, Any]) -> str:
    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 300, **fields})


@pytest.mark.parametrize("kind", list(BODIES))
def test_invoke_model_and_its_stream_answer_as_the_upstream(same, kind):
    body = _invoke_body(BODIES[kind])
    same("invoke_model", modelId=GLOBAL_SONNET, body=body)
    same("invoke_model_with_response_stream", modelId=GLOBAL_SONNET, body=body)


def test_thinking_blocks_sent_back_answer_as_the_upstream(same, via_gateway):
    first = json.loads(via_gateway.invoke_model(modelId=GLOBAL_SONNET, body=_invoke_body(BODIES["tool_choice auto"] | {
        "thinking": THINKING, "max_tokens": 2000}))["body"].read())
    assert first["content"][0]["type"] == "thinking"
    [use] = [block for block in first["content"] if block["type"] == "tool_use"]
    follow_up = _invoke_body({"thinking": THINKING, "max_tokens": 2000, "tools": [WEATHER], "messages": [
        *HELLO, {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "18C"}]}]})
    answer = same("invoke_model", modelId=GLOBAL_SONNET, body=follow_up)
    assert answer["stop_reason"] == "end_turn"


def test_explicit_nulls_reach_the_upstream_as_sent(via_gateway, upstream_admin):
    """The relay sends the caller's body: a ``null`` field is not left out of it."""
    body = _invoke_body(BODIES["explicit nulls"])
    via_gateway.invoke_model(modelId=GLOBAL_SONNET, body=body)
    assert upstream_admin.last_call().input_body == json.loads(body)


MESSAGES = [{"role": "user", "content": [{"text": "Hello"}]}]
EVERY_OPERATION = (("invoke_model", {"body": invoke_body()}), ("invoke_model_with_response_stream", {"body": invoke_body()}),
                   ("converse", {"messages": MESSAGES}), ("converse_stream", {"messages": MESSAGES}))


@pytest.mark.parametrize("code", ["ThrottlingException", "ModelErrorException", "ServiceUnavailableException",
                                  "ValidationException", "ModelNotReadyException"])
def test_upstream_errors_reach_every_operation_as_the_upstream_gives_them(same, upstream_admin, code):
    for operation, params in EVERY_OPERATION:
        answer = same(operation, modelId=GLOBAL_SONNET, upstream=lambda: upstream_admin.add_rule(error=code), **params)
        assert answer["error"]["Code"] == code


@pytest.mark.parametrize("stop_reason", ["end_turn", "max_tokens", "stop_sequence", "pause_turn", "refusal"])
def test_scripted_upstream_stop_reasons_render_as_the_upstream_renders_them(same, upstream_admin, stop_reason):
    for operation, params in EVERY_OPERATION:
        same(operation, modelId=GLOBAL_SONNET, **params,
             upstream=lambda: upstream_admin.add_rule(text="Scripted answer", stop_reason=stop_reason))
