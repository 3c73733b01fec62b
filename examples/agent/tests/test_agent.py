"""The example agent's test suite, on the claude-bedrock pytest plugin.

The fixtures come from the plugin: ``bedrock`` (scripted answers, injected faults, recorded
calls; reset before each test) and ``bedrock_env`` (the environment pointed at the local
server, so ``AnthropicBedrock()`` inside the agent needs no change).
"""

from __future__ import annotations

import pytest

from agent import MODEL, SYSTEM, AgentError, run_agent


@pytest.fixture(autouse=True)
def _local_bedrock(bedrock_env):
    """Every test talks to the local server, never to AWS."""


def script_weather_conversation(bedrock, city="Paris"):
    """Claude asks for the weather tool, then answers with what the tool returned."""
    bedrock.add_rule(
        id="weather",
        user_text_contains="weather",
        tool_use={"name": "get_weather", "input": {"city": city}},
        text="Let me check the weather.",
    )
    bedrock.add_rule(
        id="answer",
        user_text_contains="sunny",  # the tool result of the previous turn
        text=f"It is 18°C and sunny in {city}.",
    )


def test_happy_path_runs_the_tool_and_answers(bedrock):
    script_weather_conversation(bedrock)

    result = run_agent("What's the weather in Paris?")

    assert result.answer == "It is 18°C and sunny in Paris."
    assert result.tool_calls == [("get_weather", {"city": "Paris"}, "18°C, sunny")]
    calls = bedrock.calls()
    assert [call.rule for call in calls] == ["weather", "answer"]
    assert all(call.operation == "InvokeModelWithResponseStream" and call.ok for call in calls)
    tool_result = calls[1].messages[-1]["content"][0]
    assert tool_result["type"] == "tool_result" and tool_result["content"] == "18°C, sunny"


def test_turns_script_a_whole_conversation_in_one_rule(bedrock):
    bedrock.add_rule(turns=[
        {"tool_use": {"name": "calculate", "input": {"expression": "6 * 7"}}},
        {"text": "6 times 7 is 42."},
    ])

    result = run_agent("What is 6 times 7?")

    assert result.tool_calls == [("calculate", {"expression": "6 * 7"}, "42")]
    assert result.answer == "6 times 7 is 42."
    assert result.turns == 2


def test_throttling_is_retried_by_the_sdk(bedrock):
    bedrock.add_rule(text="Hello!")
    bedrock.inject_fault("ThrottlingException", count=1)

    result = run_agent("Say hello")

    assert result.answer == "Hello!"
    first, second = bedrock.calls()
    assert first.error_code == "ThrottlingException" and first.status == 429
    assert first.injected_fault == "ThrottlingException"
    assert second.ok


def test_persistent_throttling_surfaces_as_an_agent_error(bedrock):
    bedrock.inject_fault("ThrottlingException", count=3)  # the SDK tries 3 times by default

    with pytest.raises(AgentError, match="429"):
        run_agent("Say hello")
    assert len(bedrock.calls()) == 3


def test_a_stream_failing_midway_is_retried_with_the_same_turn(bedrock):
    script_weather_conversation(bedrock)
    bedrock.inject_fault("stream_error", after_events=3, count=1)

    result = run_agent("What's the weather in Paris?")

    assert result.answer == "It is 18°C and sunny in Paris."
    broken, retried, final = bedrock.calls()
    assert broken.error_code == "ModelStreamErrorException"
    assert broken.injected_fault == "stream_error:modelStreamErrorException@3"
    assert len(broken.output_body) == 3  # three chunks reached the agent before the failure
    assert retried.rule == "weather" and retried.ok  # the interrupted turn was served again
    assert final.rule == "answer"


def test_a_dropped_connection_twice_is_an_agent_error(bedrock):
    bedrock.add_rule(text="This answer never arrives in full.")
    bedrock.inject_fault("drop_connection", after_events=2, count=2)

    with pytest.raises(AgentError):
        run_agent("Say hello", stream_retries=1)
    assert [call.error_code for call in bedrock.calls()] == ["ConnectionDropped", "ConnectionDropped"]


def test_the_prompt_the_agent_sent(bedrock):
    bedrock.add_rule(text="Tokyo is cloudy.")

    run_agent("Weather in Tokyo, please")

    call = bedrock.last_call()
    assert call.input_body["system"] == SYSTEM
    assert call.messages == [{"role": "user", "content": "Weather in Tokyo, please"}]
    assert call.tool_names == ["get_weather", "calculate"]
    assert call.input_body["max_tokens"] == 1024
    assert call.model_id == MODEL


def test_unscripted_calls_reach_the_simulator(bedrock):
    # No rule: the built-in simulator picks get_weather (the question names the weather) and
    # then summarises the tool result, so the whole loop runs without any scripting.
    result = run_agent("What is the weather in London?")

    assert [name for name, _, _ in result.tool_calls] == ["get_weather"]
    assert result.answer
    assert [call.rule for call in bedrock.calls()] == [None, None]
