"""Every client method against ``claude-bedrock serve`` over a real socket, sync and async,
streamed and not; signatures are verified by the server (the test credentials are listed)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import warnings
from decimal import Decimal

import pytest

from claude_bedrock import (
    APIConnectionError,
    AnthropicBedrock,
    BadRequestError,
    ModelDeprecationWarning,
    PermissionDeniedError,
)
from claude_bedrock.client.types import Message, MessageStartEvent, MessageStopEvent, TextBlock
from support.seed_guide import code_blocks
from support.servers import ACCESS_KEY, ACCOUNT_ID, API_KEY, REGION, SECRET_KEY, SESSION_TOKEN, USER_NAME

SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HELLO = [{"role": "user", "content": "Hello, world"}]
EXPECTED_EVENTS = ["message_start", "content_block_start", "content_block_delta", "content_block_stop",
                   "message_delta", "message_stop"]


def _shape(types: list[str]) -> list[str]:
    """Event types with runs of deltas collapsed to one."""
    collapsed: list[str] = []
    for kind in types:
        if not (collapsed and kind == "content_block_delta" == collapsed[-1]):
            collapsed.append(kind)
    return collapsed


def _assert_message(message: Message, model_id: str) -> None:
    assert message.id.startswith("msg_bdrk_") and message.role == "assistant"
    assert message.model == "claude-sonnet-4-5-20250929"
    assert isinstance(message.content[0], TextBlock) and message.content[0].text
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.request_id and message.bedrock_model_id == model_id
    assert message.cost is not None and message.cost.total > 0


# --------------------------------------------------------------------------- sync


def test_server_messages_create(client):
    message = client.messages.create(model=f"global.{SONNET_45}", max_tokens=64, messages=HELLO)
    _assert_message(message, f"global.{SONNET_45}")
    assert message.invocation_metrics.output_token_count == message.usage.output_tokens


def test_server_messages_create_stream(client):
    stream = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=HELLO, stream=True)
    events = list(stream)
    assert _shape([e.type for e in events]) == EXPECTED_EVENTS
    assert isinstance(events[0], MessageStartEvent) and isinstance(events[-1], MessageStopEvent)
    assert events[-1].invocation_metrics.output_token_count > 0 and stream.request_id


def test_server_messages_stream_helper(client):
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=HELLO, system="Be brief") as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert text and message.text == text
    _assert_message(message, f"global.{SONNET_45}")
    assert message.request_id == stream.request_id


WEATHER_TOOL = {"name": "get_weather", "description": "The weather of a city.",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.mark.parametrize("streamed", [False, True])
def test_server_tool_use_loop_sends_the_reply_content_objects_back(client, streamed):
    # The Anthropic SDK's tool-use loop appends ``{"role": "assistant", "content": message.content}``:
    # its MessageParam takes the reply's own content blocks (thinking with its signature included).
    call = dict(model="claude-sonnet-4-5", max_tokens=2048, tools=[WEATHER_TOOL],
                thinking={"type": "enabled", "budget_tokens": 1024})
    messages: list = [{"role": "user", "content": "What is the weather in Paris?"}]
    if streamed:
        with client.messages.stream(messages=messages, **call) as stream:
            first = stream.get_final_message()
    else:
        first = client.messages.create(messages=messages, **call)
    assert first.stop_reason == "tool_use" and first.content[0].type == "thinking"
    tool_use = next(block for block in first.content if block.type == "tool_use")
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny"}]}]
    assert client.messages.count_tokens(messages=messages, **call).input_tokens > 0
    second = client.messages.create(messages=messages, **call)
    assert second.stop_reason == "end_turn" and "sunny" in second.text


BOOK_TOOL = {"name": "book", "description": "Book a trip.", "input_schema": {
    "type": "object", "required": ["city", "notes", "days", "guests"],
    "properties": {"city": {"type": "string"}, "notes": {"type": "string"}, "days": {"type": "integer"},
                   "guests": {"type": "array", "items": {"type": "string"}}}}}


@pytest.mark.parametrize("max_tokens", [5, 13, 20])
def test_server_tool_call_cut_by_max_tokens_streams_to_the_whole_answers_input(client, max_tokens):
    # A cut tool call's streamed JSON is left open: the stream helpers read its complete
    # parameters (the anthropic SDK's partial JSON reading), as create and converse return them.
    call = dict(model="claude-sonnet-4-5", max_tokens=max_tokens, tools=[BOOK_TOOL], tool_choice={"type": "any"},
                messages=[{"role": "user", "content": "Book a trip to Paris"}])
    whole = client.messages.create(**call)
    with client.messages.stream(**call) as stream:
        streamed = stream.get_final_message()
    assert whole.stop_reason == streamed.stop_reason == "max_tokens"
    assert streamed.content[-1].input == whole.content[-1].input and isinstance(whole.content[-1].input, dict)
    converse = dict(model="claude-sonnet-4-5", inference_config={"maxTokens": max_tokens},
                    messages=[{"role": "user", "content": [{"text": "Book a trip to Paris"}]}],
                    tool_config={"tools": [{"toolSpec": {"name": "book", "inputSchema": {"json": BOOK_TOOL["input_schema"]}}}],
                                 "toolChoice": {"any": {}}})
    response = client.converse(**converse)
    with client.converse_stream(**converse) as stream:
        final = stream.get_final_response()
    tool_use = response.raw["output"]["message"]["content"][-1]["toolUse"]
    assert final.raw["output"]["message"]["content"][-1]["toolUse"]["input"] == tool_use["input"]


def test_server_beta_messages_create(client):
    message = client.beta.messages.create(model="claude-sonnet-4-5", max_tokens=32, messages=HELLO,
                                          betas=["context-1m-2025-08-07"])
    _assert_message(message, f"global.{SONNET_45}")
    with pytest.raises(BadRequestError) as caught:
        client.beta.messages.create(model="claude-haiku-4-5", max_tokens=32, messages=HELLO,
                                    betas=["context-1m-2025-08-07"])
    assert caught.value.code == "ValidationException" and caught.value.request_id


def test_server_beta_messages_report_the_context_edits_applied(client):
    """Audit: the server answers context editing's ``context_management.applied_edits`` (whole
    and in the stream's ``message_delta``), as the Anthropic SDK's BetaMessage reads it; this
    client dropped the member, so its users could not see what was cleared."""
    messages = [{"role": "user", "content": "What is the weather?"}]
    for turn in range(3):
        messages += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": f"toolu_{turn}", "name": "get_weather",
                                               "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{turn}",
                                          "content": "sunny " * 100}]},
        ]
    request = {
        "model": "claude-sonnet-4-5", "max_tokens": 32, "messages": messages,
        "betas": ["context-management-2025-06-27"],
        "tools": [{"name": "get_weather", "description": "Weather of a city",
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919",
                                          "trigger": {"type": "input_tokens", "value": 100},
                                          "keep": {"type": "tool_uses", "value": 1}}]},
    }
    whole = client.beta.messages.create(**request)
    [edit] = whole.context_management["applied_edits"]
    assert edit["type"] == "clear_tool_uses_20250919" and edit["cleared_tool_uses"] == 2
    assert whole.to_dict()["context_management"] == whole.context_management
    with client.messages.stream(**request) as stream:
        streamed = stream.get_final_message()
    assert streamed.context_management == whole.context_management
    plain = client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=HELLO)
    assert plain.context_management is None and "context_management" not in plain.to_dict()


def test_server_count_tokens(client):
    short = client.messages.count_tokens(model="claude-sonnet-4-5", messages=HELLO)
    longer = client.messages.count_tokens(model=f"global.{SONNET_45}", messages=HELLO,
                                          system="You are a very careful assistant. " * 20)
    assert 0 < short.input_tokens < longer.input_tokens and short.request_id


def test_server_beta_count_tokens_takes_betas(client):
    # the Anthropic SDK's spelling: beta.messages.count_tokens(..., betas=[...]); the server
    # used to refuse the body ("extraneous key [betas]")
    counted = client.beta.messages.count_tokens(model="claude-sonnet-4-5", messages=HELLO,
                                                betas=["context-1m-2025-08-07"])
    assert counted.input_tokens == client.messages.count_tokens(model="claude-sonnet-4-5", messages=HELLO).input_tokens


@pytest.mark.filterwarnings("ignore::claude_bedrock.ModelDeprecationWarning")
def test_server_count_tokens_default_max_tokens_takes_the_output_128k_beta(client):
    """Token hunt: without ``max_tokens``, count_tokens sent the model's plain output limit
    (64,000 for Claude Sonnet 3.7), so a thinking budget above it, which ``create`` accepts with
    the ``output-128k`` beta, was refused ("`max_tokens` must be greater than
    `thinking.budget_tokens`") instead of counted, as the npm SDK's count_tokens counts it."""
    call = dict(model="claude-3-7-sonnet", messages=HELLO, betas=["output-128k-2025-02-19"],
                thinking={"type": "enabled", "budget_tokens": 100_000})
    billed = client.beta.messages.create(max_tokens=120_000, **call).usage.input_tokens
    assert client.beta.messages.count_tokens(**call).input_tokens == billed


def test_server_models_list_and_get(client):
    models = client.models.list()
    ids = [m.model_id for m in models]
    assert SONNET_45 in ids and len(models) == 10
    sonnet = next(m for m in models if m.model_id == SONNET_45)
    assert sonnet.alias == "claude-sonnet-4-5" and sonnet.availability["jp"] and not sonnet.availability["apac"]
    assert sonnet.model_arn == f"arn:aws:bedrock:{REGION}::foundation-model/{SONNET_45}"
    assert client.models.get("claude-sonnet-4-5").model_id == SONNET_45
    assert client.models.get(f"global.{SONNET_45}").display_name == "Claude Sonnet 4.5"
    legacy = client.models.get("claude-3-opus")
    assert legacy.lifecycle_status == "LEGACY" and legacy.is_deprecated


def test_server_models_list_filters_by_python_or_wire_name(client):
    # by_provider is a Python name; the other filters must not be silently dropped when given
    # the same way (the server, like AWS, ignores query parameters it does not know).
    on_demand = {m.model_id for m in client.models.list() if "ON_DEMAND" in m.inference_types_supported}
    assert on_demand and len(on_demand) < 10
    assert {m.model_id for m in client.models.list(by_inference_type="ON_DEMAND")} == on_demand
    assert {m.model_id for m in client.models.list(byInferenceType="ON_DEMAND")} == on_demand
    assert len(client.models.list(by_customization_type="FINE_TUNING")) == 0
    assert len(client.models.list(by_output_modality="TEXT")) == 10
    with pytest.raises(TypeError, match=r"'by_inference' \(filters: by_provider, by_customization_type"):
        client.models.list(by_inference="ON_DEMAND")


def test_server_converse_and_converse_stream(client):
    messages = [{"role": "user", "content": [{"text": "Hello, world"}]}]
    response = client.converse(model="claude-sonnet-4-5", messages=messages, inference_config={"maxTokens": 40},
                               system=[{"text": "Be brief"}])
    assert response.text and response.stop_reason in ("end_turn", "max_tokens")
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.cost.total > 0 and response.request_id
    with client.converse_stream(model="claude-sonnet-4-5", messages=messages,
                                inference_config={"maxTokens": 40}) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_response()
    assert text == final.text and final.usage.output_tokens > 0 and final.stop_reason

def test_server_converse_stream_final_response_keeps_redacted_reasoning(client):
    # A ReasoningContentBlock is a union (botocore): reasoningText, or redactedContent. The
    # stream's final response must hold what Converse returns, so that a tool-use loop can send
    # it back; an empty reasoningText without its signature is refused.
    from claude_bedrock.domain.simulator import REDACTED_THINKING_TRIGGER

    call = dict(model="claude-sonnet-4-5", inference_config={"maxTokens": 2048},
                additional_model_request_fields={"thinking": {"type": "enabled", "budget_tokens": 1024}},
                tool_config={"tools": [{"toolSpec": {"name": WEATHER_TOOL["name"], "description": "The weather.",
                                                     "inputSchema": {"json": WEATHER_TOOL["input_schema"]}}}]})
    messages: list = [{"role": "user", "content": [{"text": f"{REDACTED_THINKING_TRIGGER} Weather in Paris?"}]}]
    with client.converse_stream(messages=messages, **call) as stream:
        final = stream.get_final_response()
    unstreamed = client.converse(messages=messages, **call)
    assert list(final.content[0]["reasoningContent"]) == list(unstreamed.content[0]["reasoningContent"])
    assert list(final.content[0]["reasoningContent"]) == ["redactedContent"]
    assert final.content[0]["reasoningContent"]["redactedContent"]
    tool_use = next(block["toolUse"] for block in final.content if "toolUse" in block)
    messages += [final.output_message, {"role": "user", "content": [
        {"toolResult": {"toolUseId": tool_use["toolUseId"], "content": [{"text": "sunny"}]}}]}]
    assert client.converse(messages=messages, **call).stop_reason == "end_turn"


def test_server_converse_stream_final_response_keeps_citations(client):
    # ConverseStream sends a cited passage as a ``citation`` delta (botocore CitationsDelta) and
    # its text deltas; Converse returns it as a citationsContent block (CitationsContentBlock).
    document = {"document": {"format": "txt", "name": "doc", "citations": {"enabled": True},
                             "source": {"text": "The grass is green. The sky is blue."}}}
    messages = [{"role": "user", "content": [document, {"text": "What colour is the sky?"}]}]
    unstreamed = client.converse(model="claude-sonnet-4-5", messages=messages)
    with client.converse_stream(model="claude-sonnet-4-5", messages=messages) as stream:
        streamed_text = "".join(stream.text_stream)
        final = stream.get_final_response()
    cited = [block["citationsContent"] for block in unstreamed.content if "citationsContent" in block]
    assert cited and cited[0]["citations"] and cited[0]["content"][0]["text"]
    assert final.content == unstreamed.content
    assert final.text == streamed_text == unstreamed.text and cited[0]["content"][0]["text"] in final.text


def test_server_converse_stream_final_response_keeps_server_tool_results_and_served_settings(client):
    # ConverseStream starts a server tool's result with a toolResult start (botocore
    # ToolResultBlockStart) and sends its content as toolResult deltas (ToolResultBlocksDelta);
    # Converse returns it as a toolResult block. The closing metadata event carries the
    # performanceConfig and serviceTier that Converse returns at the top level.
    weather = {"name": "get_weather", "description": "Get the weather at a specific location",
               "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                                "required": ["location"]}}
    call = dict(model="claude-opus-4-5",
                messages=[{"role": "user", "content": [{"text": "What is the weather in San Francisco?"}]}],
                additional_model_request_fields={
                    "anthropic_beta": ["tool-search-tool-2025-10-19"],
                    "tools": [{"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"},
                              {**weather, "defer_loading": True}]},
                performance_config={"latency": "standard"}, service_tier={"type": "default"})
    unstreamed = client.converse(**call)
    with client.converse_stream(**call) as stream:
        final = stream.get_final_response()
    assert [block["toolResult"]["type"] for block in unstreamed.content if "toolResult" in block] == [
        "tool_search_tool_result"]
    assert final.content == unstreamed.content
    for key in ("performanceConfig", "serviceTier"):
        assert final.raw[key] == unstreamed.raw[key] == call[{"performanceConfig": "performance_config",
                                                               "serviceTier": "service_tier"}[key]]


def test_server_converse_cost_prices_one_hour_cache_writes_at_2x(client):
    # Converse reports the TTL split in usage.cacheDetails (botocore TokenUsage); the client
    # must price 1-hour writes at 2x input, as the server's invocation log does, not as 5-minute.
    system = [{"text": "cached context " * 800}, {"cachePoint": {"type": "default", "ttl": "1h"}}]
    messages = [{"role": "user", "content": [{"text": "Hi"}]}]
    response = client.converse(model="claude-sonnet-4-5", endpoint="regional", messages=messages, system=system,
                               inference_config={"maxTokens": 16})
    with client.converse_stream(model="claude-sonnet-4-5", endpoint="regional", messages=messages,
                                system=[{"text": "streamed context " * 800}, system[1]],
                                inference_config={"maxTokens": 16}) as stream:
        final = stream.get_final_response()
    for reply in (response, final):
        written = reply.usage.cache_write_input_tokens
        assert written > 1024 and reply.raw["usage"]["cacheDetails"] == [{"ttl": "1h", "inputTokens": written}]
        assert reply.cost.cache_write_5m == 0
        assert reply.cost.cache_write_1h == written * Decimal(3) * 2 * Decimal("1.1") / 10**6



def test_server_whoami(client):
    identity = client.whoami()
    assert identity.account == ACCOUNT_ID and identity.arn == f"arn:aws:iam::{ACCOUNT_ID}:user/{USER_NAME}"
    assert identity.user_id.startswith("AIDA") and identity.request_id


def test_server_session_token_and_api_key(server):
    with AnthropicBedrock(aws_access_key="ASIATEMPORARYKEY01", aws_secret_key=SECRET_KEY,
                          aws_session_token=SESSION_TOKEN, aws_region=REGION, base_url=server.url) as temporary:
        assert temporary.whoami().arn.endswith(":user/temp-user")
        assert temporary.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=HELLO).text
    with AnthropicBedrock(api_key=API_KEY, base_url=server.url) as bearer:
        assert bearer.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=HELLO).text


def test_server_wrong_secret_is_a_permission_error(server):
    with AnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key="wrong", aws_region=REGION,
                          base_url=server.url, max_retries=0) as wrong:
        with pytest.raises(PermissionDeniedError) as caught:
            wrong.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=HELLO)
    assert caught.value.code == "InvalidSignatureException"


def test_server_environment_credentials_and_base_url(server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    with AnthropicBedrock() as from_env:
        assert from_env.whoami().account == ACCOUNT_ID


def test_server_cost_regional_is_1_1_times_global_on_sonnet_4_5(client):
    prompt = [{"role": "user", "content": "Price check"}]
    global_message = client.messages.create(model="claude-sonnet-4-5", endpoint="global", max_tokens=32,
                                            messages=prompt)
    regional_message = client.messages.create(model="claude-sonnet-4-5", endpoint="regional", max_tokens=32,
                                              messages=prompt)
    assert regional_message.bedrock_model_id == f"us.{SONNET_45}"
    assert global_message.usage == regional_message.usage  # deterministic simulator: same counts
    assert global_message.cost.endpoint_type == "global" and regional_message.cost.endpoint_type == "regional"
    assert regional_message.cost.total == global_message.cost.total * Decimal("1.1")
    usage = global_message.usage
    assert global_message.cost.total == (usage.input_tokens * Decimal(3) + usage.output_tokens * Decimal(15)) / 10**6


def test_server_replies_pickle_and_deepcopy_with_their_cost(client):
    """A reply kept in history (``copy.deepcopy``) or returned by a ``ProcessPoolExecutor``
    worker (pickled), as the Anthropic SDK's pydantic ``Message`` allows: its pricing holds the
    catalog model, whose availability table is read-only."""
    import copy
    import pickle

    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=HELLO)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=16, messages=HELLO) as stream:
        streamed = stream.get_final_message()
    response = client.converse(model="claude-haiku-4-5", messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    choice = client.choose_model("claude-sonnet-4-5", "regional")
    for reply in (message, streamed, response, choice):
        for rebuilt in (pickle.loads(pickle.dumps(reply)), copy.deepcopy(reply)):
            assert rebuilt == reply
    rebuilt = pickle.loads(pickle.dumps(message))
    assert rebuilt.to_dict() == message.to_dict() and rebuilt.cost == message.cost
    assert rebuilt.pricing.model.availability["global"] is True
    with pytest.raises(TypeError):
        rebuilt.pricing.model.availability["global"] = False  # still read-only


def test_server_older_model_costs_the_same_on_both_endpoints(client):
    a = client.messages.create(model="claude-sonnet-4", endpoint="global", max_tokens=16, messages=HELLO)
    b = client.messages.create(model="claude-sonnet-4", endpoint="regional", max_tokens=16, messages=HELLO)
    assert a.cost.total == b.cost.total and a.bedrock_model_id != b.bedrock_model_id


def test_server_deprecated_model_warns_and_still_answers(client):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        message = client.messages.create(model="claude-3-7-sonnet", max_tokens=8, messages=HELLO)
    assert message.text
    assert [w.category for w in caught] == [ModelDeprecationWarning] and caught[0].filename == __file__


def test_server_application_inference_profile_arn_stays_one_path_segment(client, server):
    import boto3

    control = boto3.client("bedrock", endpoint_url=server.url, region_name=REGION,
                           aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    source = f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:inference-profile/us.{SONNET_45}"
    arn = control.create_inference_profile(inferenceProfileName=f"client-test-{os.getpid()}",
                                           modelSource={"copyFrom": source})["inferenceProfileArn"]
    assert "/" in arn and ":" in arn
    message = client.messages.create(model=arn, max_tokens=16, messages=HELLO)
    assert message.model == "claude-sonnet-4-5-20250929" and message.bedrock_model_id == arn
    with client.messages.stream(model=arn, max_tokens=16, messages=HELLO) as stream:
        assert stream.get_final_message().text
    response = client.converse(model=arn, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert response.text


def test_server_seed_python_samples_run_unchanged_apart_from_base_url(server, shared_dir, tmp_path):
    samples = [block for block in code_blocks(shared_dir, "python Python") if "AnthropicBedrock(" in block]
    assert len(samples) == 3
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANTHROPIC_"))}
    env.update(HOME=str(tmp_path), AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    for sample in samples:
        assert sample.count("from anthropic import AnthropicBedrock") == 1
        code = sample.replace("from anthropic import AnthropicBedrock", "from claude_bedrock import AnthropicBedrock")
        code = code.replace("AnthropicBedrock(", f"AnthropicBedrock(\n    base_url={server.url!r},", 1)
        code += "\nassert message.content[0].text and message.stop_reason\nprint('OK', message.model)\n"
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "OK claude-sonnet-4-5-20250929" in done.stdout


_DROPPED_CLIENTS = """
import asyncio, gc
from claude_bedrock import AnthropicBedrock, AsyncAnthropicBedrock
HELLO = [{"role": "user", "content": "Hi"}]
kept = AnthropicBedrock(base_url=URL)  # alive at exit, never closed
kept.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=HELLO)

def dropped():
    client = AnthropicBedrock(base_url=URL)
    client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=HELLO)

async def dropped_async():
    client = AsyncAnthropicBedrock(base_url=URL)
    await client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=HELLO)

async def main():
    await dropped_async()
    gc.collect()
    await asyncio.gather(*(task for task in asyncio.all_tasks() if task is not asyncio.current_task()))

dropped()
gc.collect()
asyncio.run(main())
print("OK")
"""


def test_server_clients_never_closed_leave_no_unclosed_socket(server, tmp_path):
    # the guide's samples never close their client; the Anthropic SDK closes a dropped client's
    # connections itself, so a dropped client (or one alive at exit) must not warn either
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANTHROPIC_"))}
    env.update(HOME=str(tmp_path), AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    code = f"URL = {server.url!r}\n" + _DROPPED_CLIENTS
    done = subprocess.run([sys.executable, "-W", "error::ResourceWarning", "-c", code], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "OK" in done.stdout, done.stderr
    assert "ResourceWarning" not in done.stderr, done.stderr


# --------------------------------------------------------------------------- async


def test_server_async_every_method(async_client_factory):
    async def scenario() -> None:
        async with async_client_factory() as client:
            message = await client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=HELLO)
            _assert_message(message, f"global.{SONNET_45}")

            stream = await client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=HELLO,
                                                  stream=True)
            assert _shape([event.type async for event in stream]) == EXPECTED_EVENTS

            async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=HELLO) as helper:
                text = "".join([piece async for piece in helper.text_stream])
                final = await helper.get_final_message()
            assert text == final.text
            _assert_message(final, f"global.{SONNET_45}")

            beta = await client.beta.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=HELLO,
                                                     betas=["context-1m-2025-08-07"])
            assert beta.text

            counted = await client.messages.count_tokens(model="claude-sonnet-4-5", messages=HELLO)
            assert counted.input_tokens > 0

            models = await client.models.list()
            assert len(models) == 10
            assert (await client.models.get("claude-haiku-4-5")).alias == "claude-haiku-4-5"

            converse_messages = [{"role": "user", "content": [{"text": "Hi"}]}]
            response = await client.converse(model="claude-haiku-4-5", messages=converse_messages)
            assert response.text
            converse_stream = await client.converse_stream(model="claude-haiku-4-5", messages=converse_messages)
            pieces = [piece async for piece in converse_stream.text_stream]
            assert "".join(pieces) == (await converse_stream.get_final_response()).text

            assert (await client.whoami()).account == ACCOUNT_ID

    asyncio.run(scenario())


def test_server_async_errors_and_bearer(async_client_factory):
    async def scenario() -> None:
        async with async_client_factory() as client:
            with pytest.raises(BadRequestError) as caught:
                await client.messages.create(model="global.anthropic.claude-opus-4-1-20250805-v1:0", max_tokens=8,
                                             messages=HELLO)
            assert caught.value.code == "ValidationException"
        async with async_client_factory(api_key=API_KEY, aws_access_key=None, aws_secret_key=None) as bearer:
            assert (await bearer.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=HELLO)).text

    asyncio.run(scenario())


def test_server_async_client_used_from_a_second_event_loop(async_client_factory):
    """A client kept across ``asyncio.run`` calls: its pooled connection belongs to the closed
    loop, and asyncio refuses it with a RuntimeError. As the Anthropic SDK's, that is a
    connection error, retried on a fresh connection (not a RuntimeError out of the client)."""

    async def no_sleep(seconds: float) -> None:
        pass

    client = async_client_factory(max_retries=2, sleep=no_sleep)
    strict = client.with_options(max_retries=0)

    async def ask(which) -> str:
        return (await which.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=HELLO)).text

    assert asyncio.run(ask(client))
    assert asyncio.run(ask(client))
    with pytest.raises(APIConnectionError) as caught:
        asyncio.run(ask(strict))
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_server_sync_client_over_a_callers_httpx_client(server):
    import httpx

    with httpx.Client() as http, AnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY,
                                                  aws_region=REGION, base_url=server.url, http_client=http) as client:
        _assert_message(client.messages.create(model="claude-sonnet-4-5", max_tokens=32, messages=HELLO),
                        f"global.{SONNET_45}")
        with client.messages.stream(model="claude-sonnet-4-5", max_tokens=32, messages=HELLO) as stream:
            assert stream.get_final_message().text
        assert client.whoami().account == ACCOUNT_ID
        assert len(client.models.list()) == 10
