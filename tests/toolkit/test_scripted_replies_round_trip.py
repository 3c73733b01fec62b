"""Review regressions from a CI test author's walkthrough (an application on boto3 Converse
with tools and on the anthropic SDK's streaming, tested offline with the plugin): scripted
replies that the server itself accepts back when the conversation goes on. Through the
plugin's fixtures, as a user's suite would. Scripted replies also go through the prompt cache,
so that their usage and cost are the request's, as without the rule."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.conformance

SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
THINKING = {"type": "enabled", "budget_tokens": 1024}
LOOKUP = {"name": "lookup_order", "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}}}


def test_a_scripted_tool_call_with_thinking_on_can_be_passed_back(bedrock, anthropic_bedrock):
    # Extended thinking with tool use: the assistant turn goes back unmodified, and must open
    # with a (signed) thinking block, as Claude's own answers do.
    bedrock.add_rule(turns=[{"tool_use": {"name": "lookup_order", "input": {"order_id": "A1"}}},
                            {"text": "Order A1 has shipped."}])
    messages = [{"role": "user", "content": "Where is order A1?"}]
    first = anthropic_bedrock.messages.create(model=SONNET, max_tokens=2048, thinking=THINKING, tools=[LOOKUP],
                                              messages=messages)
    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    assert first.usage.output_tokens > 0
    messages += [{"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[1].id,
                                               "content": "shipped"}]}]
    second = anthropic_bedrock.messages.create(model=SONNET, max_tokens=2048, thinking=THINKING, tools=[LOOKUP],
                                               messages=messages)
    # no thinking block in answer to tool results (without the interleaved-thinking beta), as
    # the simulator does
    assert [block.type for block in second.content] == ["text"] and second.content[0].text == "Order A1 has shipped."
    bedrock.assert_rules_used_up()


def test_a_scripted_converse_tool_call_with_reasoning_on_can_be_passed_back(bedrock, bedrock_runtime):
    bedrock.add_rule(turns=[{"tool_use": {"name": "lookup_order", "input": {"order_id": "A1"}}}, "Shipped."])
    tools = {"tools": [{"toolSpec": {"name": "lookup_order", "inputSchema": {"json": LOOKUP["input_schema"]}}}]}
    extra = {"thinking": THINKING}
    messages = [{"role": "user", "content": [{"text": "Where is order A1?"}]}]
    first = bedrock_runtime.converse(modelId=SONNET, messages=messages, toolConfig=tools,
                                     inferenceConfig={"maxTokens": 2048}, additionalModelRequestFields=extra)
    content = first["output"]["message"]["content"]
    assert "reasoningContent" in content[0] and content[0]["reasoningContent"]["reasoningText"]["signature"]
    messages += [first["output"]["message"],
                 {"role": "user", "content": [{"toolResult": {"toolUseId": content[1]["toolUse"]["toolUseId"],
                                                              "content": [{"text": "shipped"}]}}]}]
    second = bedrock_runtime.converse(modelId=SONNET, messages=messages, toolConfig=tools,
                                      inferenceConfig={"maxTokens": 2048}, additionalModelRequestFields=extra)
    assert second["output"]["message"]["content"] == [{"text": "Shipped."}]


def test_scripted_replies_have_no_thinking_when_the_request_has_none(bedrock, anthropic_bedrock):
    bedrock.add_rule(text="Hi!")
    message = anthropic_bedrock.messages.create(model=SONNET, max_tokens=100,
                                                messages=[{"role": "user", "content": "Hello"}])
    assert [block.type for block in message.content] == ["text"]


def test_a_scripted_reply_reads_and_writes_the_prompt_cache_as_the_simulator_does(bedrock, anthropic_bedrock):
    # The prompt is the request's: a scripted answer changes the output, not how the input is
    # cached, billed and counted against the tokens-per-minute quota.
    system = [{"type": "text", "text": "You are the support agent of ACME. " * 400, "cache_control": {"type": "ephemeral"}}]

    def usage_of_two_calls():
        usages = []
        for _ in range(2):
            message = anthropic_bedrock.messages.create(model=SONNET, max_tokens=20, system=system,
                                                        messages=[{"role": "user", "content": "hi"}])
            usages.append((message.usage.input_tokens, message.usage.cache_creation_input_tokens,
                           message.usage.cache_read_input_tokens))
        return usages

    simulated = usage_of_two_calls()
    assert simulated[0][1] > 0 and simulated[1][2] == simulated[0][1]  # written, then read
    bedrock.reset()  # the cache too
    bedrock.add_rule(text="ok")
    assert usage_of_two_calls() == simulated
    written, read = bedrock.calls()
    assert written.usage["cacheWriteInputTokens"] == read.usage["cacheReadInputTokens"] > 0
    assert float(read.cost["cacheRead"]) > 0 and float(read.cost["total"]) < float(written.cost["total"])
