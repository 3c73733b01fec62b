"""boto3 against a real server socket: the guide's InvokeModel sample, streaming, Converse,
ConverseStream and CountTokens, and the errors boto3 must raise as the right classes."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from support.servers import ACCESS_KEY, REGION, SECRET_KEY, SESSION_TOKEN

GLOBAL_SONNET_45 = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
BARE_SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
GLOBAL_OPUS_45 = "global.anthropic.claude-opus-4-5-20251101-v1:0"
HELLO = {"max_tokens": 256, "messages": [{"role": "user", "content": "Hello, world"}],
         "anthropic_version": "bedrock-2023-05-31"}

pytestmark = pytest.mark.conformance


def test_boto3_invoke_model_seed_sample(runtime_client):
    response = runtime_client.invoke_model(body=json.dumps(HELLO), modelId=GLOBAL_SONNET_45)
    body = json.loads(response["body"].read())
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["model"] == "claude-sonnet-4-5-20250929"
    assert body["id"].startswith("msg_bdrk_")
    assert body["content"][0]["type"] == "text" and body["content"][0]["text"]
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["x-amzn-bedrock-input-token-count"]) == body["usage"]["input_tokens"]
    assert int(headers["x-amzn-bedrock-output-token-count"]) == body["usage"]["output_tokens"]
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0
    assert response["contentType"] == "application/json"
    assert response["ResponseMetadata"]["RequestId"] == headers["x-amzn-requestid"]


@pytest.mark.parametrize("model_id", [GLOBAL_SONNET_45, BARE_SONNET_45, "us." + BARE_SONNET_45,
                                      f"arn:aws:bedrock:{REGION}::foundation-model/{BARE_SONNET_45}"])
def test_boto3_invoke_model_id_forms(runtime_client, model_id):
    response = runtime_client.invoke_model(body=json.dumps(HELLO), modelId=model_id)
    assert json.loads(response["body"].read())["stop_reason"] in ("end_turn", "max_tokens")


def test_boto3_request_metadata_outside_ascii_is_verified_as_the_bytes_sent(runtime_client, server):
    """Audit: boto3 sends a header value outside ASCII as UTF-8 bytes and signs those bytes; the
    server read them one byte per character, so a listed key's signature never matched
    (InvalidSignatureException for requestMetadata='{"user":"José"}'). The record keeps José."""
    from claude_bedrock.testing import BedrockAdmin

    metadata = json.dumps({"user": "José", "team": "Équipe"}, ensure_ascii=False)
    response = runtime_client.invoke_model(body=json.dumps(HELLO), modelId=GLOBAL_SONNET_45, requestMetadata=metadata)
    request_id = response["ResponseMetadata"]["RequestId"]
    assert json.loads(response["body"].read())["content"]
    with BedrockAdmin(server.url) as admin:
        call = next(c for c in admin.calls() if c.request_id == request_id)
    assert call.raw["request_metadata"] == {"user": "José", "team": "Équipe"}


def test_boto3_invoke_model_is_deterministic(runtime_client):
    first = json.loads(runtime_client.invoke_model(body=json.dumps(HELLO), modelId=GLOBAL_SONNET_45)["body"].read())
    second = json.loads(runtime_client.invoke_model(body=json.dumps(HELLO), modelId=GLOBAL_SONNET_45)["body"].read())
    assert first["content"] == second["content"]


def test_boto3_invoke_model_with_response_stream_every_event(runtime_client):
    response = runtime_client.invoke_model_with_response_stream(body=json.dumps(HELLO), modelId=GLOBAL_SONNET_45)
    assert response["contentType"] == "application/json"
    raw_events = list(response["body"])
    # boto3 silently drops event names it does not know: every frame must be a chunk.
    assert all(set(e) == {"chunk"} for e in raw_events)
    events = [json.loads(e["chunk"]["bytes"]) for e in raw_events]
    types = [e["type"] for e in events]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    for needed in ("content_block_start", "content_block_delta", "content_block_stop", "message_delta"):
        assert needed in types
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == events[0]["message"]["usage"]["input_tokens"]
    assert metrics["outputTokenCount"] == next(e for e in events if e["type"] == "message_delta")["usage"]["output_tokens"]
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    non_stream = json.loads(runtime_client.invoke_model(body=json.dumps(HELLO), modelId=GLOBAL_SONNET_45)["body"].read())
    assert text == non_stream["content"][0]["text"]


def test_boto3_converse(runtime_client):
    response = runtime_client.converse(
        modelId=GLOBAL_SONNET_45,
        messages=[{"role": "user", "content": [{"text": "Hello, world"}]}],
        inferenceConfig={"maxTokens": 256},
    )
    assert response["output"]["message"]["role"] == "assistant"
    assert response["output"]["message"]["content"][0]["text"]
    assert response["stopReason"] in ("end_turn", "max_tokens")
    usage = response["usage"]
    assert usage["totalTokens"] >= usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] >= 0


def test_boto3_converse_structured_output(runtime_client):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
              "required": ["city", "days"], "additionalProperties": False}
    response = runtime_client.converse(
        modelId="global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        messages=[{"role": "user", "content": [{"text": "Plan three days in Rome."}]}],
        outputConfig={"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
            "schema": json.dumps(schema), "name": "trip"}}}},
    )
    value = json.loads(response["output"]["message"]["content"][0]["text"])
    assert set(value) == {"city", "days"} and isinstance(value["city"], str) and isinstance(value["days"], int)


def test_boto3_converse_effort_is_judged_as_invoke_model_judges_it(runtime_client):
    """Audit: Converse ``outputConfig.effort`` (botocore: a free string) was passed on unjudged."""
    messages = [{"role": "user", "content": [{"text": "Hello, world"}]}]
    opus = "global.anthropic.claude-opus-4-5-20251101-v1:0"
    assert runtime_client.converse(modelId=opus, messages=messages, outputConfig={"effort": "medium"})["output"]
    with pytest.raises(runtime_client.exceptions.ValidationException) as info:
        runtime_client.converse(modelId=opus, messages=messages, outputConfig={"effort": "xhigh"})
    assert info.value.response["Error"]["Message"].endswith(
        "output_config.effort: Input should be 'low', 'medium' or 'high'")
    with pytest.raises(runtime_client.exceptions.ValidationException) as info:
        runtime_client.converse(modelId=GLOBAL_SONNET_45, messages=messages, outputConfig={"effort": "low"})
    assert info.value.response["Error"]["Message"].endswith("This model does not support the effort parameter.")


def test_boto3_converse_lower_effort_answers_shorter(runtime_client):
    messages = [{"role": "user", "content": [{"text": "Analyze the trade-offs between microservices and monoliths."}]}]
    opus = "global.anthropic.claude-opus-4-5-20251101-v1:0"
    default, low = (runtime_client.converse(modelId=opus, messages=messages, inferenceConfig={"maxTokens": 2000},
                                            **extra) for extra in ({}, {"outputConfig": {"effort": "low"}}))
    assert default["output"]["message"]["content"][0]["text"].startswith(low["output"]["message"]["content"][0]["text"])
    assert low["usage"]["outputTokens"] < default["usage"]["outputTokens"]


def test_boto3_converse_stream_every_event(runtime_client):
    response = runtime_client.converse_stream(
        modelId=GLOBAL_SONNET_45,
        messages=[{"role": "user", "content": [{"text": "Hello, world"}]}],
        inferenceConfig={"maxTokens": 256},
    )
    events = list(response["stream"])
    names = [next(iter(e)) for e in events]
    assert names[0] == "messageStart" and names[-2:] == ["messageStop", "metadata"]
    assert "contentBlockDelta" in names and "contentBlockStop" in names
    assert all(len(e) == 1 for e in events)
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text
    assert events[-1]["metadata"]["usage"]["outputTokens"] > 0


def test_boto3_converse_tool_use(runtime_client):
    tool = {"toolSpec": {"name": "get_weather", "description": "Weather for a city",
                         "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}},
                                                  "required": ["city"]}}}}
    response = runtime_client.converse(
        modelId=GLOBAL_SONNET_45,
        messages=[{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}],
        toolConfig={"tools": [tool], "toolChoice": {"any": {}}},
    )
    assert response["stopReason"] == "tool_use"
    use = next(b["toolUse"] for b in response["output"]["message"]["content"] if "toolUse" in b)
    assert use["name"] == "get_weather" and isinstance(use["input"]["city"], str)


def test_boto3_converse_tool_search_loop_goes_on(runtime_client):
    """A Converse agent loop over the tool search tool: the answer (a server tool call and its
    result, then the found tool's call) sent back as it came, with the found tool's result, is
    answered; its tool search result was refused as a `tool_result` in an assistant message."""
    weather = {"name": "get_weather", "description": "Get the weather at a specific location",
               "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                                "required": ["location"]}}
    search_tools = [{"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"},
                    {**weather, "defer_loading": True}]
    beta = {"anthropic_beta": ["tool-search-tool-2025-10-19"]}
    question = {"role": "user", "content": [{"text": "What is the weather in San Francisco?"}]}
    first = runtime_client.converse(modelId=GLOBAL_OPUS_45, messages=[question],
                                    additionalModelRequestFields={**beta, "tools": search_tools})
    answer = first["output"]["message"]
    assert [block["toolResult"]["type"] for block in answer["content"] if "toolResult" in block] == [
        "tool_search_tool_result"]
    call = answer["content"][-1]["toolUse"]
    result = {"role": "user", "content": [{"toolResult": {"toolUseId": call["toolUseId"],
                                                          "content": [{"text": "15C, foggy"}]}}]}
    tool = {"toolSpec": {"name": "get_weather", "inputSchema": {"json": weather["input_schema"]}}}
    second = runtime_client.converse(modelId=GLOBAL_OPUS_45, messages=[question, answer, result],
                                     toolConfig={"tools": [tool]}, additionalModelRequestFields=beta)
    assert second["stopReason"] == "end_turn"
    assert "15C, foggy" in second["output"]["message"]["content"][0]["text"]


@pytest.mark.parametrize("max_tokens", [3, 13, 22, 64])
def test_boto3_converse_stream_tool_call_cut_by_max_tokens_as_converse(runtime_client, max_tokens):
    # ConverseStream and Converse agree on a tool call cut by max_tokens: stopReason max_tokens
    # (as Bedrock's ConverseStream reports it), the streamed input JSON holds the complete
    # parameters and Converse's input is those parameters.
    schema = {"type": "object", "required": ["title", "description", "attendees"],
              "properties": {"title": {"type": "string"}, "description": {"type": "string"},
                             "attendees": {"type": "array", "items": {"type": "string"}}}}
    request = dict(modelId=GLOBAL_SONNET_45, inferenceConfig={"maxTokens": max_tokens},
                   messages=[{"role": "user", "content": [{"text": "Plan a meeting about budget reviews with Alice"}]}],
                   toolConfig={"tools": [{"toolSpec": {"name": "create_event", "inputSchema": {"json": schema}}}],
                               "toolChoice": {"any": {}}})
    whole = runtime_client.converse(**request)
    events = list(runtime_client.converse_stream(**request)["stream"])
    streamed_input = "".join(e["contentBlockDelta"]["delta"]["toolUse"]["input"]
                             for e in events if "toolUse" in e.get("contentBlockDelta", {}).get("delta", {}))
    stop = next(e["messageStop"]["stopReason"] for e in events if "messageStop" in e)
    usage = next(e["metadata"]["usage"] for e in events if "metadata" in e)
    use = whole["output"]["message"]["content"][-1]["toolUse"]
    assert stop == whole["stopReason"] == ("tool_use" if max_tokens == 64 else "max_tokens")
    assert usage == whole["usage"]
    if stop == "tool_use":
        assert json.loads(streamed_input) == use["input"]
    else:
        assert usage["outputTokens"] == max_tokens
        # the complete parameters, each ended by its comma (the JSON left open)
        assert streamed_input == "" or streamed_input.endswith(", ")
        assert (json.loads(streamed_input.removesuffix(", ") + "}") if streamed_input else {}) == use["input"]


def test_boto3_count_tokens_both_forms(runtime_client):
    by_invoke = runtime_client.count_tokens(
        modelId=BARE_SONNET_45, input={"invokeModel": {"body": json.dumps(HELLO).encode()}}
    )["inputTokens"]
    by_converse = runtime_client.count_tokens(
        modelId=BARE_SONNET_45,
        input={"converse": {"messages": [{"role": "user", "content": [{"text": "Hello, world"}]}]}},
    )["inputTokens"]
    assert by_invoke > 0 and by_invoke == by_converse
    usage = json.loads(runtime_client.invoke_model(body=json.dumps(HELLO), modelId=BARE_SONNET_45)["body"].read())
    assert usage["usage"]["input_tokens"] == by_invoke


def test_boto3_count_tokens_converse_form_with_thinking(runtime_client):
    """Audit: ConverseTokensRequest has no inferenceConfig, so a max_tokens of 1 made every
    thinking request fail ("budget_tokens" must be below max_tokens); Converse itself accepts it."""
    converse = {"messages": [{"role": "user", "content": [{"text": "Think about 17 * 23"}]}],
                "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}}}
    counted = runtime_client.count_tokens(modelId=BARE_SONNET_45, input={"converse": converse})["inputTokens"]
    used = runtime_client.converse(modelId=BARE_SONNET_45, **converse)["usage"]["inputTokens"]
    assert counted == used > 0


@pytest.mark.parametrize(
    "model_id",
    ["apac.anthropic.claude-sonnet-4-5-20250929-v1:0",  # a "no" cell of the table
     "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",  # geography of another region
     "anthropic.claude-unknown-v1:0"],
)
def test_boto3_invalid_model_identifier(runtime_client, model_id):
    with pytest.raises(runtime_client.exceptions.ValidationException) as info:
        runtime_client.invoke_model(body=json.dumps(HELLO), modelId=model_id)
    assert info.value.response["Error"]["Message"] == "The provided model identifier is invalid."
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"{not json", "Malformed input request"),
        (json.dumps({**HELLO, "stream": True}).encode(), "extraneous key [stream]"),
        (json.dumps({**HELLO, "anthropic_version": "2020-01-01"}).encode(), "Invalid API version"),
        (json.dumps({**HELLO, "max_tokens": 10_000_000}).encode(), "max_tokens"),
        (json.dumps({**HELLO, "messages": [{"role": "assistant", "content": "hi"}]}).encode(), "first message"),
    ],
)
def test_boto3_bad_bodies_raise_validation_exception(runtime_client, body, fragment):
    with pytest.raises(runtime_client.exceptions.ValidationException) as info:
        runtime_client.invoke_model(body=body, modelId=GLOBAL_SONNET_45)
    assert fragment in info.value.response["Error"]["Message"]


def test_boto3_stream_bad_body_is_json_error_before_stream(runtime_client):
    with pytest.raises(runtime_client.exceptions.ValidationException):
        runtime_client.invoke_model_with_response_stream(body=b"[]", modelId=GLOBAL_SONNET_45)


def test_boto3_invoke_model_relays_the_model_s_rejection_bare(runtime_client):
    """Audit: InvokeModel and its stream said "The model returned the following errors: ..."
    before every rule of the model; real InvokeModel answers the model's words alone:
    "ValidationException: messages: text content blocks must be non-empty" through
    InvokeModelWithResponseStream (https://github.com/continuedev/continue/issues/10804,
    https://github.com/anomalyco/opencode/issues/22364), 'roles must alternate ...' through
    AnthropicBedrock (https://github.com/modelcontextprotocol/quickstart-resources/issues/20).
    Converse keeps the prefix (https://github.com/aws-samples/bedrock-access-gateway/issues/191)."""
    empty = dict(HELLO, messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}])
    with pytest.raises(runtime_client.exceptions.ValidationException) as stream:
        runtime_client.invoke_model_with_response_stream(body=json.dumps(empty), modelId=GLOBAL_SONNET_45)
    assert stream.value.response["Error"]["Message"] == "messages: text content blocks must be non-empty"
    twice = dict(HELLO, messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    with pytest.raises(runtime_client.exceptions.ValidationException) as invoke:
        runtime_client.invoke_model(body=json.dumps(twice), modelId=GLOBAL_SONNET_45)
    assert invoke.value.response["Error"]["Message"] == (
        'messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row')
    with pytest.raises(runtime_client.exceptions.ValidationException) as converse:
        runtime_client.converse(modelId=GLOBAL_SONNET_45, messages=[{"role": "user", "content": [{"text": "a"}]}],
                                inferenceConfig={"temperature": 0.5, "topP": 0.9})
    assert converse.value.response["Error"]["Message"] == (
        "The model returned the following errors: `temperature` and `top_p` cannot both be specified for this "
        "model. Please use only one.")


def test_boto3_input_beyond_the_context_window_is_bedrock_s_input_too_long(runtime_client):
    """Audit: it said "prompt is too long: N tokens > 200000 maximum". Bedrock's words for
    Sonnet 4.5 on InvokeModel: "400 Input is too long for requested model."
    (https://github.com/anthropics/claude-code/issues/8637), on Converse with its prefix
    (https://github.com/continuedev/continue/issues/9592)."""
    long = "word " * 210_000
    with pytest.raises(runtime_client.exceptions.ValidationException) as invoke:
        runtime_client.invoke_model(body=json.dumps(dict(HELLO, messages=[{"role": "user", "content": long}])),
                                    modelId=GLOBAL_SONNET_45)
    assert invoke.value.response["Error"]["Message"] == "Input is too long for requested model."
    with pytest.raises(runtime_client.exceptions.ValidationException) as converse:
        runtime_client.converse(modelId=GLOBAL_SONNET_45, messages=[{"role": "user", "content": [{"text": long}]}])
    assert converse.value.response["Error"]["Message"] == (
        "The model returned the following errors: Input is too long for requested model.")


def test_boto3_a_document_beyond_the_context_window_is_refused_as_a_text_is(runtime_client):
    """Review: a prompt holding a document is counted later, off the event loop
    (``check_input_tokens``); Converse's prefix could be dropped on that path with every test
    passing. Same words as without a document: bare on InvokeModel, prefixed on Converse."""
    long = "word " * 210_000
    with pytest.raises(runtime_client.exceptions.ValidationException) as converse:
        runtime_client.converse(modelId=GLOBAL_SONNET_45, messages=[{"role": "user", "content": [
            {"document": {"name": "notes", "format": "txt", "source": {"bytes": long.encode()}}},
            {"text": "Summarize the notes."}]}])
    assert converse.value.response["Error"]["Message"] == (
        "The model returned the following errors: Input is too long for requested model.")
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": long}}
    body = dict(HELLO, messages=[{"role": "user", "content": [document, {"type": "text", "text": "Summarize."}]}])
    with pytest.raises(runtime_client.exceptions.ValidationException) as invoke:
        runtime_client.invoke_model(body=json.dumps(body), modelId=GLOBAL_SONNET_45)
    assert invoke.value.response["Error"]["Message"] == "Input is too long for requested model."


def test_boto3_wrong_secret_is_invalid_signature(boto_session, server):
    import boto3

    client = boto3.client("bedrock-runtime", endpoint_url=server.url, region_name=REGION,
                          aws_access_key_id=ACCESS_KEY, aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as info:
        client.invoke_model(body=json.dumps(HELLO), modelId=GLOBAL_SONNET_45)
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidSignatureException"
    assert "The Canonical String for this request should have been" in error["Message"]
    assert "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%253A0/invoke" in error["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "not-the-secret" not in server.log_text()


def test_boto3_session_token_checked(server):
    import boto3

    good = boto3.client("bedrock-runtime", endpoint_url=server.url, region_name=REGION,
                        aws_access_key_id="ASIATEMPORARYKEY01", aws_secret_access_key=SECRET_KEY,
                        aws_session_token=SESSION_TOKEN)
    assert good.invoke_model(body=json.dumps(HELLO), modelId=GLOBAL_SONNET_45)["ResponseMetadata"]["HTTPStatusCode"] == 200
    bad = boto3.client("bedrock-runtime", endpoint_url=server.url, region_name=REGION,
                       aws_access_key_id="ASIATEMPORARYKEY01", aws_secret_access_key=SECRET_KEY,
                       aws_session_token="wrong-token")
    with pytest.raises(ClientError) as info:
        bad.invoke_model(body=json.dumps(HELLO), modelId=GLOBAL_SONNET_45)
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert "wrong-token" not in server.log_text()


def test_boto3_count_tokens_refuses_profiles(runtime_client):
    with pytest.raises(runtime_client.exceptions.ValidationException) as info:
        runtime_client.count_tokens(modelId=GLOBAL_SONNET_45,
                                    input={"invokeModel": {"body": json.dumps(HELLO).encode()}})
    assert "doesn't support counting tokens" in info.value.response["Error"]["Message"]


def _pdf(text: str) -> bytes:
    content = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode()
    return (b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n2 0 obj << /Length " + str(len(content)).encode()
            + b" >>\nstream\n" + content + b"\nendstream\nendobj\n%%EOF\n")


def test_boto3_converse_pdf_text_only_without_citations_visual_with(runtime_client):
    """The guide: through Converse, visual PDF analysis needs citations; without them only the
    text is extracted (so the model sees far fewer tokens than the page images would cost)."""
    pdf = _pdf("Revenue grew twelve percent in the third quarter")

    def converse(citations: bool):
        document = {"format": "pdf", "name": "report", "source": {"bytes": pdf}}
        if citations:
            document["citations"] = {"enabled": True}
        return runtime_client.converse(
            modelId=GLOBAL_SONNET_45,
            messages=[{"role": "user", "content": [{"document": document}, {"text": "Summarise the report"}]}],
        )

    text_only, visual = converse(False), converse(True)
    assert text_only["usage"]["inputTokens"] < 200 <= visual["usage"]["inputTokens"]
    cited = [b for b in visual["output"]["message"]["content"] if "citationsContent" in b]
    assert cited, visual["output"]["message"]["content"]


def _docx(paragraphs: list[str]) -> bytes:
    import io
    import zipfile

    body = "".join(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" for text in paragraphs)
    document = ('<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                f"<w:body>{body}</w:body></w:document>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def test_boto3_converse_reads_the_text_of_a_docx_document(runtime_client):
    """Converse lists docx among its document formats (wire 1.4): Claude is given its text."""
    def converse(paragraphs: list[str]):
        document = {"format": "docx", "name": "notes", "source": {"bytes": _docx(paragraphs)}}
        return runtime_client.converse(
            modelId=GLOBAL_SONNET_45,
            messages=[{"role": "user", "content": [{"document": document}, {"text": "Summarise the notes"}]}],
        )

    short = converse(["Quarterly notes"])
    long = converse(["Quarterly notes"] + [f"Item {n}: revenue grew in region {n}" for n in range(40)])
    assert short["stopReason"] == "end_turn"
    assert long["usage"]["inputTokens"] > short["usage"]["inputTokens"] + 200


def test_boto3_converse_refuses_document_bytes_not_of_their_format(runtime_client):
    from botocore.exceptions import ClientError

    for doc_format, kind in (("pdf", "PDF"), ("docx", "DOCX document")):
        document = {"format": doc_format, "name": "bad", "source": {"bytes": b"plain text, not a document"}}
        with pytest.raises(ClientError) as caught:
            runtime_client.converse(modelId=GLOBAL_SONNET_45, messages=[
                {"role": "user", "content": [{"document": document}, {"text": "Read it"}]}])
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert caught.value.response["Error"]["Message"] == f"The {kind} specified was not valid."


def test_boto3_count_tokens_counts_documents_as_converse_reads_them(runtime_client):
    """CountTokens' converse form counts a document as Converse gives it to the model: a PDF
    without citations and a docx as their text (one token counter everywhere)."""
    for document in ({"format": "pdf", "name": "report", "source": {"bytes": _pdf("Revenue grew twelve percent")}},
                     {"format": "docx", "name": "notes", "source": {"bytes": _docx(["Quarterly notes"])}}):
        messages = [{"role": "user", "content": [{"document": document}, {"text": "Summarise"}]}]
        counted = runtime_client.count_tokens(modelId="anthropic.claude-sonnet-4-5-20250929-v1:0",
                                              input={"converse": {"messages": messages}})["inputTokens"]
        conversed = runtime_client.converse(modelId=GLOBAL_SONNET_45, messages=messages)["usage"]["inputTokens"]
        assert counted == conversed, document["format"]


def test_boto3_converse_reasoning_without_signature_is_refused_as_invoke_model_refuses_it(runtime_client):
    """Audit: Converse filled in an empty signature, so a history that InvokeModel refuses passed."""
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    messages = [
        {"role": "user", "content": [{"text": "What is 2 + 2?"}]},
        {"role": "assistant", "content": [{"reasoningContent": {"reasoningText": {"text": "2 + 2 = 4"}}},
                                          {"text": "4"}]},
        {"role": "user", "content": [{"text": "And 3 + 3?"}]},
    ]
    with pytest.raises(runtime_client.exceptions.ValidationException) as info:
        runtime_client.converse(modelId=BARE_SONNET_45, messages=messages, additionalModelRequestFields=thinking)
    assert info.value.response["Error"]["Message"] == (
        "The model returned the following errors: messages.1.content.0.thinking.signature: Field required")


def test_boto3_converse_search_result_blocks(runtime_client):
    """Audit: botocore documents Converse's searchResult block as supported by Claude Sonnet 4.5;
    the server translated it, then refused the translation ("Input tag 'search_result' ...")."""
    search = {"source": "https://example.com/sky", "title": "Sky facts",
              "content": [{"text": "The sky is blue because of Rayleigh scattering."}],
              "citations": {"enabled": True}}
    messages = [{"role": "user", "content": [{"searchResult": search}, {"text": "Why is the sky blue?"}]}]
    response = runtime_client.converse(modelId=GLOBAL_SONNET_45, messages=messages)
    assert response["stopReason"] == "end_turn"
    counted = runtime_client.count_tokens(modelId=BARE_SONNET_45, input={"converse": {"messages": messages}})
    assert counted["inputTokens"] == response["usage"]["inputTokens"]
    tool = {"toolSpec": {"name": "search", "inputSchema": {"json": {"type": "object"}}}}
    with_tool_result = [
        {"role": "user", "content": [{"text": "Why is the sky blue?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "search", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"searchResult": search}]}}]},
    ]
    assert runtime_client.converse(modelId=GLOBAL_SONNET_45, messages=with_tool_result,
                                   toolConfig={"tools": [tool]})["stopReason"] == "end_turn"
