"""One answer, every rendering (property, hypothesis).

The engine answers once, in Anthropic stream events; InvokeModel, InvokeModelWithResponseStream,
Converse and ConverseStream are renderings of those events (``service/runtime.py``), and
CountTokens counts what the runtime bills. For varied valid requests (text and multi-turn
conversations, system prompts, stop sequences, cuts by ``max_tokens``, tools and tool choices,
thinking, images, documents with and without citations, cache points, effort, structured
output), this checks, through boto3 on an in-thread server:

* the InvokeModel body is the message the stream's chunks add up to (ids aside);
* the Converse response is what the ConverseStream events add up to;
* Converse's content is InvokeModel's, block for block, in Converse's shapes;
* the token counts agree everywhere: bodies, headers, the final chunk's invocation metrics,
  ConverseStream's metadata, the invocation log records, and both CountTokens forms.

The one legitimate difference is the spec's: through Converse, a document without citations is
read as text only (seed guide, "Support PDF sur Bedrock"). The InvokeModel side is therefore
sent the body Converse itself runs (``converse_to_anthropic`` then ``apply_text_only``), so the
four renderings answer the very same request.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import boto3
import jiter
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from claude_bedrock.domain.catalog import default_catalog
from claude_bedrock.domain.document_text import apply_text_only
from claude_bedrock.domain.simulator import REDACTED_THINKING_TRIGGER
from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Credential, Settings
from claude_bedrock.wire.converse import converse_to_anthropic
from support.inprocess import serve_in_thread

KEY, SECRET, ACCOUNT, REGION = "AKIDEQUIVALENCE01", "equivalence-secret", "111122223333", "us-west-2"
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS = "anthropic.claude-opus-4-5-20251101-v1:0"

PDF = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\nstream\nBT (Quarterly revenue grew 12%) Tj ET\nendstream\n%%EOF"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
LONG_SYSTEM = "You are a meticulous assistant for a weather and finance desk. " * 120  # past the cache minimum
#: A tool result long enough that clearing it shrinks the prompt (a short one grows with the placeholder).
HOURLY = "Hourly readings: " + "21C and sunny with a light breeze, " * 12

WEATHER = {"toolSpec": {"name": "get_weather", "description": "Weather of a city",
                        "inputSchema": {"json": {"type": "object", "properties": {
                            "city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
                            "required": ["city", "unit"]}}}}
STOCK = {"toolSpec": {"name": "lookup_stock", "description": "Price of a ticker",
                      "inputSchema": {"json": {"type": "object", "properties": {
                          "ticker": {"type": "string"}, "days": {"type": "integer"}},
                          "required": ["ticker"]}}}}
ANSWER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "score": {"type": "integer"},
                                                  "tags": {"type": "array", "items": {"type": "string"}}},
                 "required": ["city", "score", "tags"], "additionalProperties": False}

PROMPTS = ("Hi", "What is the weather in Paris?", "Tell me about the stock market and the weather today.",
           "Summarise the attached material in detail, please.", "Explain photosynthesis to a child.",
           REDACTED_THINKING_TRIGGER)


# --------------------------------------------------------------------------- requests


def tool_turn_messages(last: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A conversation continuing after one get_weather use, its result and then ``last``."""
    return [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather",
                                                           "input": {"city": "Paris", "unit": "c"}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1",
                                                         "content": [{"json": {"temp": 21}}, {"text": HOURLY}]}},
                                         *last]}]


def clearing_tool_uses(keep: int) -> dict[str, Any]:
    """Context editing's additional fields: keep 0 clears the tool result, keep 1 clears nothing."""
    return {"anthropic_beta": ["context-management-2025-06-27"],
            "context_management": {"edits": [{"type": "clear_tool_uses_20250919",
                                              "trigger": {"type": "input_tokens", "value": 100},
                                              "keep": {"type": "tool_uses", "value": keep}}]}}


#: Context editing, tried every run: the draw reaches it rarely (a tool turn, then the edit).
CONTEXT_EDITING_CASES = [
    (SONNET, {"messages": tool_turn_messages([{"text": "Hi"}]), "toolConfig": {"tools": [WEATHER]},
              "additionalModelRequestFields": clearing_tool_uses(keep),
              "additionalModelResponseFieldPaths": ["/context_management"]})
    for keep in (0, 1)
]


@st.composite
def converse_requests(draw) -> tuple[str, dict[str, Any]]:
    """A valid Converse request and the base model id it is for."""
    model = draw(st.sampled_from([SONNET, SONNET, OPUS]))
    request: dict[str, Any] = {}
    additional: dict[str, Any] = {}
    output_config: dict[str, Any] = {}

    # one TTL for every breakpoint: a 1h breakpoint may not follow a 5m one
    cache_point = {"type": "default", **draw(st.sampled_from([{}, {"ttl": "5m"}, {"ttl": "1h"}]))}
    system = draw(st.sampled_from(["none", "short", "long", "long-cached"]))
    if system != "none":
        request["system"] = [{"text": "Be brief." if system == "short" else LONG_SYSTEM}]
        if system == "long-cached":
            request["system"].append({"cachePoint": cache_point})

    last: list[dict[str, Any]] = []
    attachment = draw(st.sampled_from(["none", "image", "pdf", "pdf-cited", "txt-cited", "txt", "chunks-cited",
                                       "search-result", "two-documents"]))
    if attachment == "image":
        last.append({"image": {"format": "png", "source": {"bytes": PNG}}})
    elif attachment.startswith("pdf"):
        document = {"format": "pdf", "name": "report", "source": {"bytes": PDF}}
        if attachment == "pdf-cited":
            document["citations"] = {"enabled": True}
        last.append({"document": document})
    elif attachment.startswith("txt"):
        document = {"format": "txt", "name": "notes",
                    "source": {"bytes": b"The harbour opens at dawn. Boats leave at noon. Fish sell by dusk."}}
        if attachment == "txt-cited":
            document["citations"] = {"enabled": True}
        last.append({"document": document})
    elif attachment == "chunks-cited":
        last.append({"document": {"format": "txt", "name": "chunks", "citations": {"enabled": True},
                                  "source": {"content": [{"text": "Lighthouses guide ships."},
                                                         {"text": "Their lamps rotate slowly."}]}}})
    elif attachment == "search-result":
        last.append({"searchResult": {"source": "https://example.com/tides", "title": "Tides",
                                      "content": [{"text": "Tides follow the moon."}],
                                      "citations": {"enabled": True}}})
    elif attachment == "two-documents":
        last += [{"document": {"format": "txt", "name": "first", "citations": {"enabled": True},
                               "source": {"text": "Owls hunt at night. They fly silently."}}},
                 {"document": {"format": "pdf", "name": "second", "citations": {"enabled": True},
                               "source": {"bytes": PDF}}}]
    last.append({"text": draw(st.sampled_from(PROMPTS))})
    if draw(st.booleans()):
        last.append({"cachePoint": cache_point})
    messages = [{"role": "user", "content": last}]
    tool_turn = attachment == "none" and draw(st.booleans())
    if tool_turn:  # a tool-result continuation
        messages = tool_turn_messages(last)
        if draw(st.booleans()):
            additional.update(clearing_tool_uses(keep=draw(st.sampled_from([0, 1]))))
    elif draw(st.booleans()):
        messages = [{"role": "user", "content": [{"text": "Hello there, who are you?"}]},
                    {"role": "assistant", "content": [{"text": "I am a helpful assistant."}]}] + messages
    request["messages"] = messages

    thinking = not tool_turn and draw(st.booleans())  # a tool turn would need its signed thinking
    inference: dict[str, Any] = {}
    if thinking:
        additional["thinking"] = {"type": "enabled", "budget_tokens": 1024}
        inference["maxTokens"] = draw(st.sampled_from([1025, 1040, 1100, 2048]))
    else:
        max_tokens = draw(st.sampled_from([None, 1, 7, 25, 60, 400]))
        if max_tokens is not None:
            inference["maxTokens"] = max_tokens
    stops = draw(st.sampled_from([None, ["the"], [".", "zzz"], ["e"], ["never-appears"]]))
    if stops:
        inference["stopSequences"] = stops
    if inference:
        request["inferenceConfig"] = inference

    tools = "weather" if tool_turn else draw(st.sampled_from(["none", "weather", "both"]))
    if tools != "none":
        config: dict[str, Any] = {"tools": [WEATHER] if tools == "weather" else [WEATHER, STOCK]}
        choices = ["default", "auto"] if thinking else ["default", "auto", "any", "tool"]
        choice = draw(st.sampled_from(choices))
        if choice == "auto":
            config["toolChoice"] = {"auto": {}}
        elif choice == "any":
            config["toolChoice"] = {"any": {}}
        elif choice == "tool":
            config["toolChoice"] = {"tool": {"name": config["tools"][-1]["toolSpec"]["name"]}}
        if draw(st.booleans()):
            config["tools"] = [*config["tools"], {"cachePoint": cache_point}]
        request["toolConfig"] = config

    if attachment in ("none", "image") and draw(st.booleans()):
        output_config["textFormat"] = {"type": "json_schema", "structure": {"jsonSchema": {
            "schema": json.dumps(ANSWER_SCHEMA), "name": "answer"}}}
    if model == OPUS and draw(st.booleans()):
        output_config["effort"] = draw(st.sampled_from(["low", "medium", "high"]))
    if output_config:
        request["outputConfig"] = output_config
    if additional:
        request["additionalModelRequestFields"] = additional
    if draw(st.booleans()):
        request["additionalModelResponseFieldPaths"] = ["/stop_sequence", "/context_management"]
    if draw(st.booleans()):
        request["performanceConfig"] = {"latency": draw(st.sampled_from(["standard", "optimized"]))}
    if draw(st.booleans()):
        request["serviceTier"] = {"type": draw(st.sampled_from(["default", "priority", "flex"]))}
    if not thinking and draw(st.booleans()):
        request["inferenceConfig"] = {**request.get("inferenceConfig", {}), "temperature": 0.5}
    return model, request


# --------------------------------------------------------------------------- accumulation


def accumulate_chunks(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The message InvokeModelWithResponseStream's chunks add up to, as the SDKs' stream
    accumulators build it (a tool input cut short reads as its complete parameters)."""
    message: dict[str, Any] = {}
    buffers: dict[int, str] = {}
    for event in events:
        kind = event["type"]
        if kind == "message_start":
            message = json.loads(json.dumps(event["message"]))
        elif kind == "content_block_start":
            assert event["index"] == len(message["content"])
            message["content"].append(dict(event["content_block"]))
        elif kind == "content_block_delta":
            block, delta = message["content"][event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "citations_delta":
                block.setdefault("citations", []).append(delta["citation"])
            elif delta["type"] == "input_json_delta":
                buffers[event["index"]] = buffers.get(event["index"], "") + delta["partial_json"]
                if buffers[event["index"]]:
                    block["input"] = jiter.from_json(buffers[event["index"]].encode(), partial_mode=True)
            else:
                raise AssertionError(f"unknown delta {delta}")
        elif kind == "message_delta":
            message["stop_reason"] = event["delta"]["stop_reason"]
            message["stop_sequence"] = event["delta"]["stop_sequence"]
            message["usage"].update(event["usage"])
            if "context_management" in event:
                message["context_management"] = event["context_management"]
    return message


def accumulate_converse_stream(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The Converse response ConverseStream's events add up to (botocore shapes)."""
    blocks: dict[int, dict[str, Any]] = {}
    tool_inputs: dict[int, str] = {}
    out: dict[str, Any] = {}
    names = [next(iter(event)) for event in events]
    assert names[0] == "messageStart" and names[-2:] == ["messageStop", "metadata"], names
    for event in events:
        (name, body), = event.items()
        if name == "contentBlockStart":
            start = body["start"]
            assert "toolUse" in start, start  # text and reasoning begin with their first delta
            blocks[body["contentBlockIndex"]] = {"toolUse": dict(start["toolUse"])}
        elif name == "contentBlockDelta":
            index, delta = body["contentBlockIndex"], body["delta"]
            block = blocks.setdefault(index, {})
            if "text" in delta:
                if "citationsContent" in block:
                    block["citationsContent"]["content"][0]["text"] += delta["text"]
                else:
                    block["text"] = block.get("text", "") + delta["text"]
            elif "citation" in delta:
                text = block.pop("text", "")
                cited = block.setdefault("citationsContent", {"content": [{"text": text}], "citations": []})
                cited["citations"].append(delta["citation"])
            elif "toolUse" in delta:
                tool_inputs[index] = tool_inputs.get(index, "") + delta["toolUse"]["input"]
            elif "reasoningContent" in delta:
                reasoning = block.setdefault("reasoningContent", {})
                part = delta["reasoningContent"]
                if "redactedContent" in part:
                    reasoning["redactedContent"] = reasoning.get("redactedContent", b"") + part["redactedContent"]
                else:
                    text = reasoning.setdefault("reasoningText", {"text": ""})
                    text["text"] += part.get("text", "")
                    if "signature" in part:
                        text["signature"] = part["signature"]
            else:
                raise AssertionError(f"unknown delta {delta}")
        elif name == "messageStop":
            out["stopReason"] = body["stopReason"]
            if "additionalModelResponseFields" in body:
                out["additionalModelResponseFields"] = body["additionalModelResponseFields"]
        elif name == "metadata":
            out["usage"] = body["usage"]
            out.update({key: body[key] for key in ("performanceConfig", "serviceTier") if key in body})
    for index, text in tool_inputs.items():
        blocks[index]["toolUse"]["input"] = jiter.from_json(text.encode(), partial_mode=True) if text else {}
    for block in blocks.values():
        if "toolUse" in block:
            block["toolUse"].setdefault("input", {})
    assert sorted(blocks) == list(range(len(blocks)))
    out["output"] = {"message": {"role": "assistant", "content": [blocks[i] for i in sorted(blocks)]}}
    return out


def converse_form_of(block: dict[str, Any]) -> dict[str, Any]:
    """An InvokeModel content block as Converse renders it (botocore's parsed shapes)."""
    if block["type"] == "text":
        if block.get("citations"):
            return {"citationsContent": {"content": [{"text": block["text"]}],
                                         "citations": [CITATION_FORMS[c["type"]](c) for c in block["citations"]]}}
        return {"text": block["text"]}
    if block["type"] == "tool_use":
        return {"toolUse": {"toolUseId": block["id"], "name": block["name"], "input": block["input"]}}
    if block["type"] == "thinking":
        return {"reasoningContent": {"reasoningText": {"text": block["thinking"], "signature": block["signature"]}}}
    if block["type"] == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": block["data"].encode()}}
    raise AssertionError(f"unexpected block {block['type']}")


def _location(kind: str, index: tuple[str, str], start: str, end: str, title: str, source: str | None = None):
    def convert(citation: dict[str, Any]) -> dict[str, Any]:
        location = {index[0]: citation[index[1]], "start": citation[start], "end": citation[end]}
        out = {"location": {kind: location}, "sourceContent": [{"text": citation["cited_text"]}]}
        if citation.get(title) is not None:
            out["title"] = citation[title]
        if source is not None and citation.get(source) is not None:
            out["source"] = citation[source]
        return out
    return convert


_DOCUMENT = ("documentIndex", "document_index")
CITATION_FORMS = {
    "char_location": _location("documentChar", _DOCUMENT, "start_char_index", "end_char_index", "document_title"),
    "page_location": _location("documentPage", _DOCUMENT, "start_page_number", "end_page_number", "document_title"),
    "content_block_location": _location("documentChunk", _DOCUMENT, "start_block_index", "end_block_index",
                                        "document_title"),
    "search_result_location": _location("searchResultLocation", ("searchResultIndex", "search_result_index"),
                                        "start_block_index", "end_block_index", "title", "source"),
}

STOP_REASONS = {"end_turn": "end_turn", "tool_use": "tool_use", "max_tokens": "max_tokens",
                "stop_sequence": "stop_sequence"}


# --------------------------------------------------------------------------- the server


class Harness:
    def __init__(self, url: str, data_dir: Path) -> None:
        session = boto3.Session(aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name=REGION)
        config = Config(retries={"max_attempts": 1, "mode": "standard"})
        self.runtime = session.client("bedrock-runtime", endpoint_url=url, config=config)
        self.control = session.client("bedrock", endpoint_url=url, config=config)
        self.data_dir = data_dir
        self.control.put_model_invocation_logging_configuration(loggingConfig={
            "s3Config": {"bucketName": "equivalence-logs"}, "textDataDeliveryEnabled": True,
            "imageDataDeliveryEnabled": True})

    def log_records(self, request_ids: list[str], timeout: float = 20) -> dict[str, dict[str, Any]]:
        path = self.data_dir / "invocation-logs.sqlite3"
        deadline = time.monotonic() + timeout
        while True:
            found: dict[str, dict[str, Any]] = {}
            if path.is_file():
                db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
                try:
                    marks = ",".join("?" * len(request_ids))
                    rows = db.execute(f"SELECT request_id, record_json FROM invocations WHERE request_id IN ({marks})",
                                      request_ids).fetchall()
                    found = {rid: json.loads(text) for rid, text in rows}
                except sqlite3.OperationalError:
                    pass
                finally:
                    db.close()
            if len(found) == len(request_ids):
                return found
            assert time.monotonic() < deadline, f"log records missing: {set(request_ids) - set(found)}"
            time.sleep(0.02)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("equivalence")
    settings_ = Settings(data_dir=str(data_dir), log_flush_interval_ms=20,
                         credentials=(Credential(KEY, SECRET, account_id=ACCOUNT, user_name="alice", admin=True),))
    with serve_in_thread(create_app(settings_)) as url:
        yield Harness(url, data_dir)


def _usage_total(usage: dict[str, Any]) -> int:
    return usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]


def _without_id(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key != "id"}


def check_renderings(harness: Harness, model: str, converse: dict[str, Any]) -> None:
    runtime = harness.runtime
    profile = "us." + model
    catalog_model = next(m for m in default_catalog().models if m.model_id == model)
    translation = converse_to_anthropic(json.loads(json.dumps(converse, default=_b64)),
                                        default_max_tokens=catalog_model.max_output_tokens)
    body = translation.anthropic_body
    if translation.text_only_documents:
        apply_text_only(body, translation.text_only_documents)
    raw_body = json.dumps(body).encode()

    # InvokeModel, and the stream of the same body
    invoked = runtime.invoke_model(modelId=profile, body=raw_body)
    message = json.loads(invoked["body"].read())
    headers = invoked["ResponseMetadata"]["HTTPHeaders"]
    streamed = runtime.invoke_model_with_response_stream(modelId=profile, body=raw_body)
    chunks = [json.loads(event["chunk"]["bytes"]) for event in streamed["body"]]
    metrics = chunks[-1].pop("amazon-bedrock-invocationMetrics")
    assert chunks[-1] == {"type": "message_stop"}
    accumulated = accumulate_chunks(chunks)
    assert message["id"].startswith("msg_bdrk_01") and accumulated["id"].startswith("msg_bdrk_01")
    usage = dict(message["usage"])
    # The prompt cache carries state between calls: the split of the input may move (a write
    # becomes a read), never its total nor the rest of the answer.
    assert _usage_total(accumulated["usage"]) == _usage_total(usage)
    streamed_usage = dict(accumulated["usage"])
    for each in (message, accumulated):
        each["usage"] = {k: v for k, v in each["usage"].items() if k not in _CACHE_SPLIT}
    assert _without_id(accumulated) == _without_id(message)
    edits = converse.get("additionalModelRequestFields", {}).get("context_management", {}).get("edits")
    if edits:  # the tool result is cleared when no tool use is kept: the counts below see edits
        assert bool(message["context_management"]["applied_edits"]) is (edits[0]["keep"]["value"] == 0), message
    assert int(headers["x-amzn-bedrock-input-token-count"]) == usage["input_tokens"]
    assert int(headers["x-amzn-bedrock-output-token-count"]) == usage["output_tokens"]
    if usage["cache_read_input_tokens"] or usage["cache_creation_input_tokens"]:
        assert int(headers["x-amzn-bedrock-cache-read-input-token-count"]) == usage["cache_read_input_tokens"]
        assert int(headers["x-amzn-bedrock-cache-write-input-token-count"]) == usage["cache_creation_input_tokens"]
    assert metrics["outputTokenCount"] == usage["output_tokens"]
    assert metrics["inputTokenCount"] == streamed_usage["input_tokens"]
    assert metrics.get("cacheReadInputTokenCount", 0) == streamed_usage["cache_read_input_tokens"]
    assert metrics.get("cacheWriteInputTokenCount", 0) == streamed_usage["cache_creation_input_tokens"]
    stream_total = metrics["inputTokenCount"] + metrics.get("cacheReadInputTokenCount", 0) + \
        metrics.get("cacheWriteInputTokenCount", 0)
    assert stream_total == _usage_total(usage)

    # Converse and ConverseStream
    conversed = runtime.converse(modelId=profile, **converse)
    conversed_stream = runtime.converse_stream(modelId=profile, **converse)
    events = list(conversed_stream["stream"])
    rebuilt = accumulate_converse_stream(events)
    for key in ("output", "stopReason", "additionalModelResponseFields", "performanceConfig", "serviceTier"):
        assert rebuilt.get(key) == conversed.get(key), key
    c_usage, s_usage = conversed["usage"], rebuilt["usage"]
    for each in (c_usage, s_usage):
        assert each["totalTokens"] == each["inputTokens"] + each["outputTokens"] + \
            each.get("cacheReadInputTokens", 0) + each.get("cacheWriteInputTokens", 0)
    assert c_usage["totalTokens"] == s_usage["totalTokens"]
    assert c_usage["outputTokens"] == s_usage["outputTokens"] == usage["output_tokens"]
    assert c_usage["totalTokens"] == _usage_total(usage) + usage["output_tokens"]

    # Converse's content is InvokeModel's, in Converse's shapes
    assert conversed["output"]["message"]["content"] == [converse_form_of(b) for b in message["content"]]
    expected_stop = STOP_REASONS[message["stop_reason"]]
    if expected_stop == "max_tokens" or conversed["stopReason"] != "malformed_tool_use":
        assert conversed["stopReason"] == expected_stop

    # CountTokens, both forms, count what the runtime bills
    count_invoke = runtime.count_tokens(modelId=model, input={"invokeModel": {"body": raw_body}})
    count_converse = runtime.count_tokens(modelId=model, input={"converse": {
        key: value for key, value in converse.items()
        if key in ("messages", "system", "toolConfig", "additionalModelRequestFields")}})
    assert count_invoke["inputTokens"] == stream_total
    assert count_converse["inputTokens"] == stream_total

    # The invocation log holds the same output and counts
    ids = {name: reply["ResponseMetadata"]["RequestId"] for name, reply in (
        ("InvokeModel", invoked), ("InvokeModelWithResponseStream", streamed),
        ("Converse", conversed), ("ConverseStream", conversed_stream))}
    records = harness.log_records(list(ids.values()))
    for operation, request_id in ids.items():
        record = records[request_id]
        assert record["operation"] == operation
        out = record["output"]
        assert out["outputTokenCount"] == usage["output_tokens"], operation
        total_in = record["input"]["inputTokenCount"] + record["input"]["cacheReadInputTokenCount"] + \
            record["input"]["cacheWriteInputTokenCount"]
        assert total_in == stream_total, operation
    invoke_logged = records[ids["InvokeModel"]]["output"]["outputBodyJson"]
    assert _without_id(invoke_logged)["content"] == message["content"]
    stream_logged = records[ids["InvokeModelWithResponseStream"]]["output"]["outputBodyJson"]
    assert accumulate_chunks(stream_logged)["content"] == message["content"]
    for operation in ("Converse", "ConverseStream"):
        logged = records[ids[operation]]["output"]["outputBodyJson"]
        assert logged["stopReason"] == conversed["stopReason"], operation
        assert json.loads(json.dumps(conversed["output"], default=_b64)) == logged["output"], operation


_CACHE_SPLIT = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "cache_creation")


def _b64(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value))


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(converse_requests())
@example(CONTEXT_EDITING_CASES[0])
@example(CONTEXT_EDITING_CASES[1])
def test_every_rendering_tells_the_same_answer(harness, case):
    model, request = case
    check_renderings(harness, model, request)


@pytest.mark.parametrize("operation", ["invoke_model", "invoke_model_with_response_stream"])
def test_invoke_reports_the_tier_and_latency_it_served_as_converse_does(harness, operation):
    """botocore's InvokeModel(WithResponseStream)Response declares ``serviceTier`` ("the
    processing tier type used for serving the request") and ``performanceConfigLatency`` in
    headers; Converse reports the same settings in its body."""
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20,
                       "messages": [{"role": "user", "content": "Hi"}]})
    call = getattr(harness.runtime, operation)
    reply = call(modelId="us." + SONNET, body=body, serviceTier="flex", performanceConfigLatency="optimized")
    assert (reply["serviceTier"], reply["performanceConfigLatency"]) == ("flex", "optimized")
    conversed = harness.runtime.converse(modelId="us." + SONNET,
                                         messages=[{"role": "user", "content": [{"text": "Hi"}]}],
                                         serviceTier={"type": "flex"}, performanceConfig={"latency": "optimized"})
    assert (conversed["serviceTier"]["type"], conversed["performanceConfig"]["latency"]) == ("flex", "optimized")
    plain = call(modelId="us." + SONNET, body=body)
    assert "serviceTier" not in plain and "performanceConfigLatency" not in plain
