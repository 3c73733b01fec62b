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


# --------------------------------------------------------------------------- prompt caching, betas, context editing


def test_prompt_cache_reads_are_the_upstreams(via_gateway, direct, upstream_admin):
    """The second identical call reads the upstream's cache, as it does called directly: the
    gateway's own prompt cache plays no part."""
    body = invoke_body(max_tokens=40, system=[{"type": "text", "text": "Cached context. " * 600,
                                               "cache_control": {"type": "ephemeral"}}])
    messages = [{"role": "user", "content": [{"text": "Hello"}]}]
    system = [{"text": "Converse cached context. " * 600}, {"cachePoint": {"type": "default"}}]

    def twice(client: Any) -> list[Any]:
        upstream_admin.reset()
        answers = [outcome(lambda: client.invoke_model(modelId=GLOBAL_SONNET, body=body)) for _ in range(2)]
        answers += [outcome(lambda: client.converse(modelId=GLOBAL_SONNET, messages=messages, system=system))
                    for _ in range(2)]
        return answers

    relayed, expected = twice(via_gateway), twice(direct)
    assert comparable(relayed) == comparable(expected)
    assert relayed[1]["usage"]["cache_read_input_tokens"] == relayed[0]["usage"]["cache_creation_input_tokens"] > 0
    assert relayed[3]["usage"]["cacheReadInputTokens"] == relayed[2]["usage"]["cacheWriteInputTokens"] > 0


def _anthropic(url: str, key: str, secret: str) -> Any:
    from anthropic import AnthropicBedrock

    return AnthropicBedrock(aws_access_key=key, aws_secret_key=secret, aws_region=REGION, base_url=url, max_retries=0)


@pytest.fixture(scope="module")
def anthropic_pair(gateway, upstream) -> tuple[Any, Any]:
    """``AnthropicBedrock`` through the gateway, and on the upstream directly."""
    return _anthropic(gateway.url, ACCESS_KEY, SECRET_KEY), _anthropic(upstream.url, GATEWAY_KEY, GATEWAY_SECRET)


def _both(pair: tuple[Any, Any], call: Callable[[Any], Any], upstream_admin) -> tuple[Any, Any]:
    relayed = call(pair[0])
    upstream_admin.reset()
    return relayed, call(pair[1])


def _dumped(value: Any) -> Any:
    """An SDK answer (models, or lists and tuples of them) as comparable JSON."""
    if isinstance(value, (list, tuple)):
        return [_dumped(item) for item in value]
    return comparable(value.model_dump() if hasattr(value, "model_dump") else value)


def test_anthropic_sdk_create_stream_and_betas(anthropic_pair, upstream_admin):
    """The anthropic SDK: create, messages.stream, stream=True, and beta create with the 1M
    context beta (body ``anthropic_beta`` and ``anthropic-beta`` header) on a long prompt."""
    def stream(client: Any) -> Any:
        with client.messages.stream(model=GLOBAL_SONNET, max_tokens=300, messages=HELLO, tools=[WEATHER]) as events:
            return [event.type for event in events], events.get_final_message()

    calls = {
        "create": lambda c: c.messages.create(model=GLOBAL_SONNET, max_tokens=100, messages=HELLO),
        "stream": stream,
        "stream=True": lambda c: list(c.messages.create(model=GLOBAL_SONNET, max_tokens=2000, thinking=THINKING,
                                                        messages=HELLO, stream=True)),
        "1M beta": lambda c: c.beta.messages.create(model=GLOBAL_SONNET, max_tokens=20, betas=[CONTEXT_1M],
                                                    messages=[{"role": "user", "content": "word " * 210_000}]),
    }
    for name, call in calls.items():
        relayed, expected = _both(anthropic_pair, call, upstream_admin)
        assert _dumped(relayed) == _dumped(expected), name


def test_anthropic_async_sdk(gateway, upstream, upstream_admin):
    from anthropic import AsyncAnthropicBedrock

    async def ask(url: str, key: str, secret: str) -> Any:
        client = AsyncAnthropicBedrock(aws_access_key=key, aws_secret_key=secret, aws_region=REGION, base_url=url,
                                       max_retries=0)
        async with client:
            created = await client.messages.create(model=GLOBAL_SONNET, max_tokens=100, messages=HELLO)
            async with client.messages.stream(model=GLOBAL_SONNET, max_tokens=100, messages=HELLO) as stream:
                return created, await stream.get_final_message()

    relayed = asyncio.run(ask(gateway.url, ACCESS_KEY, SECRET_KEY))
    upstream_admin.reset()
    expected = asyncio.run(ask(upstream.url, GATEWAY_KEY, GATEWAY_SECRET))
    assert _dumped(relayed) == _dumped(expected)


def test_context_editing_is_applied_by_the_gateway_with_the_upstreams_usage(anthropic_pair, upstream_admin):
    """Documented difference: the gateway applies the edits and sends the edited prompt, so the
    words (and their output tokens) may differ; the input usage and the edits reported do not."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Madrid, checked several times?"}]
    for n in range(4):
        messages.append({"role": "assistant", "content": [
            {"type": "tool_use", "id": f"toolu_bdrk_01w{n}", "name": "get_weather", "input": {"city": "Madrid"}}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_bdrk_01w{n}", "content": f"Reading {n}: sunny, 22 degrees Celsius, humidity 55 percent, light breeze."}]})
    edits = {"edits": [{"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 50},
                        "keep": {"type": "tool_uses", "value": 1}}]}

    def create(client: Any) -> Any:
        return client.beta.messages.create(model=GLOBAL_SONNET, max_tokens=200, messages=messages, tools=[WEATHER],
                                           betas=["context-management-2025-06-27"], context_management=edits)

    relayed, expected = _both(anthropic_pair, create, upstream_admin)
    assert relayed.context_management == expected.context_management and relayed.context_management.applied_edits
    assert relayed.usage.input_tokens == expected.usage.input_tokens


# --------------------------------------------------------------------------- CountTokens


def test_count_tokens_both_forms(same):
    body = _invoke_body(BODIES["tool_result turn"] | {"thinking": THINKING, "max_tokens": 2000})
    same("count_tokens", modelId=SONNET, input={"invokeModel": {"body": body}})
    same("count_tokens", modelId=SONNET, input={"invokeModel": {"body": _invoke_body(BODIES["1M context beta in the body"])}})
    converse = {"messages": [{"role": "user", "content": [{"document": {"format": "pdf", "name": "report",
                                                                        "source": {"bytes": PDF}}},
                                                          {"text": "Summarise"}]}],
                "system": [{"text": "Be brief"}], "toolConfig": CONVERSE_WEATHER}
    same("count_tokens", modelId=SONNET, input={"converse": converse})
    same("count_tokens", modelId=GLOBAL_SONNET, input={"converse": converse})  # refused alike


# --------------------------------------------------------------------------- Converse


def _document(citations: bool) -> dict[str, Any]:
    document: dict[str, Any] = {"format": "pdf", "name": "report", "source": {"bytes": PDF}}
    if citations:
        document["citations"] = {"enabled": True}
    return {"role": "user", "content": [{"document": document}, {"text": "Summarise the report"}]}


CONVERSE = {
    "tool choice any": {"toolConfig": CONVERSE_WEATHER | {"toolChoice": {"any": {}}}},
    "tool choice tool": {"toolConfig": CONVERSE_WEATHER | {"toolChoice": {"tool": {"name": "get_weather"}}}},
    "additional fields": {"additionalModelRequestFields": {"thinking": THINKING, "anthropic_beta": [CONTEXT_1M]},
                          "additionalModelResponseFieldPaths": ["/stop_sequence", "/usage"],
                          "inferenceConfig": {"maxTokens": 2000}},
    "stop sequences and system": {"system": [{"text": "Be brief"}], "inferenceConfig": {"stopSequences": ["the"]}},
    "image": {"messages": [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": PNG}}},
                                                        {"text": "Describe"}]}]},
    "PDF, text only": {"messages": [_document(citations=False)]},
    "PDF with citations": {"messages": [_document(citations=True)]},
}


@pytest.mark.parametrize("kind", list(CONVERSE))
def test_converse_and_converse_stream_answer_as_the_upstream(same, kind):
    params = {"messages": [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}], **CONVERSE[kind]}
    same("converse", modelId=GLOBAL_SONNET, **params)
    same("converse_stream", modelId=GLOBAL_SONNET, **params)


def _raw_events(url: str, key: str, secret: str, path: str, body: bytes) -> list[tuple[str, Any]]:
    """Every frame of a stream as (event or exception type, payload), read from the wire:
    boto3 drops the events its model does not name."""
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.eventstream import EventStreamBuffer

    request = AWSRequest("POST", url + path, data=body, headers={"content-type": "application/json"})
    SigV4Auth(Credentials(key, secret), "bedrock", REGION).add_auth(request)
    response = httpx.post(url + path, content=body, headers=dict(request.headers))
    assert response.status_code == 200, response.text
    frames = EventStreamBuffer()
    frames.add_data(response.content)
    return [(frame.headers.get(":event-type") or frame.headers[":exception-type"], json.loads(frame.payload))
            for frame in frames]


def test_every_stream_frame_arrives(gateway, upstream, upstream_admin):
    converse = json.dumps({"messages": [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}],
                           "toolConfig": CONVERSE_WEATHER,
                           "additionalModelRequestFields": {"thinking": THINKING},
                           "inferenceConfig": {"maxTokens": 2000}}).encode()
    model = quote(GLOBAL_SONNET, safe="")
    for path, body in ((f"/model/{model}/converse-stream", converse),
                       (f"/model/{model}/invoke-with-response-stream", _invoke_body(BODIES["thinking"]).encode())):
        relayed = _raw_events(gateway.url, ACCESS_KEY, SECRET_KEY, path, body)
        upstream_admin.reset()
        expected = _raw_events(upstream.url, GATEWAY_KEY, GATEWAY_SECRET, path, body)
        assert [kind for kind, _ in relayed] == [kind for kind, _ in expected]
        assert len(relayed) > 5


# --------------------------------------------------------------------------- the npm SDK and the AWS CLI


def _caller_env(url: str, key: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("AWS_") or k.startswith("ANTHROPIC"))}
    env.update(HOME=str(JS_DIR), AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION,
               AWS_MAX_ATTEMPTS="1", AWS_ENDPOINT_URL_BEDROCK_RUNTIME=url, ANTHROPIC_BEDROCK_BASE_URL=url,
               TEST_ACCESS_KEY=key, TEST_SECRET_KEY=secret)
    return env


def test_npm_sdk(node_modules, gateway, upstream, upstream_admin):
    def run(url: str, key: str, secret: str, scenario: str) -> Any:
        done = subprocess.run(["node", str(JS_DIR / "scenarios.mjs"), scenario], cwd=JS_DIR, capture_output=True,
                              text=True, timeout=120, env=_caller_env(url, key, secret))
        assert done.returncode == 0, done.stderr
        return comparable(json.loads(done.stdout.strip().splitlines()[-1]))

    for scenario in ("create", "stream_true", "count_tokens"):
        relayed = run(gateway.url, ACCESS_KEY, SECRET_KEY, scenario)
        upstream_admin.reset()
        assert relayed == run(upstream.url, GATEWAY_KEY, GATEWAY_SECRET, scenario) and relayed["ok"], scenario


def test_aws_cli(gateway, direct, tmp_path, upstream_admin):
    """AWS CLI v1 through the gateway; the same calls through boto3 on the upstream."""
    def aws(*args: str) -> Any:
        done = subprocess.run([sys.executable, "-m", "awscli", "bedrock-runtime", *args], capture_output=True,
                              text=True, timeout=120, env=_caller_env(gateway.url, ACCESS_KEY, SECRET_KEY))
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    body = _invoke_body(BODIES["tool_choice any"])
    (tmp_path / "body.json").write_text(body)
    messages = [{"role": "user", "content": [{"text": "Hello, world"}]}]
    count_input = {"converse": {"messages": messages}}
    aws("invoke-model", "--model-id", GLOBAL_SONNET, "--body", f"fileb://{tmp_path / 'body.json'}",
        str(tmp_path / "out.json"))
    relayed = [json.loads((tmp_path / "out.json").read_text()),
               aws("converse", "--model-id", GLOBAL_SONNET, "--messages", json.dumps(messages)),
               aws("count-tokens", "--model-id", SONNET, "--input", json.dumps(count_input))]
    upstream_admin.reset()
    expected = [outcome(lambda: direct.invoke_model(modelId=GLOBAL_SONNET, body=body)),
                outcome(lambda: direct.converse(modelId=GLOBAL_SONNET, messages=messages)),
                outcome(lambda: direct.count_tokens(modelId=SONNET, input=count_input))]
    assert comparable(relayed) == comparable(expected)
