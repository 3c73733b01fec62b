"""Every fault type against unmodified boto3 and anthropic clients over a real socket, with the
clients' own retries observed through the call history. Uses the pytest plugin's fixtures, as
an application's test suite would."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.conformance

SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_35 = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
ANSWER = "The scripted answer arrives in several small pieces of text."
THROTTLE_TEXT = "Too many requests, please wait before trying again."

#: kind -> (status, retried by boto3 standard mode, retried by the anthropic SDK)
ERROR_FAULTS = {
    "ThrottlingException": (429, True, True),
    "ModelTimeoutException": (408, False, True),
    "ServiceUnavailableException": (503, True, True),
    "InternalServerException": (500, True, True),
    "ModelNotReadyException": (429, True, True),
    "ModelErrorException": (424, False, False),
}


def invoke_body(text: str = "Hello there", max_tokens: int = 200) -> str:
    return json.dumps({"max_tokens": max_tokens, "messages": [{"role": "user", "content": text}],
                       "anthropic_version": "bedrock-2023-05-31"})


def converse_messages(text: str = "Hello there") -> list[dict]:
    return [{"role": "user", "content": [{"text": text}]}]


@pytest.fixture
def answer(bedrock):
    return bedrock.add_rule(text=ANSWER)


# --------------------------------------------------------------------------- errors before the response


@pytest.mark.parametrize("kind", list(ERROR_FAULTS))
def test_error_fault_with_boto3_invoke_model(bedrock, bedrock_runtime, answer, kind):
    status, retried, _ = ERROR_FAULTS[kind]
    bedrock.inject_fault(kind, count=1)
    if retried:
        response = bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body())
        assert json.loads(response["body"].read())["content"][0]["text"] == ANSWER
        assert response["ResponseMetadata"]["RetryAttempts"] == 1
    else:
        with pytest.raises(bedrock_runtime.exceptions.ClientError) as info:
            bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body())
        assert info.value.response["Error"]["Code"] == kind
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    calls = bedrock.calls()
    assert len(calls) == (2 if retried else 1)
    assert (calls[0].status, calls[0].error_code, calls[0].injected_fault) == (status, kind, kind)
    if retried:
        assert calls[1].ok and calls[1].injected_fault is None and calls[1].rule == answer["id"]


@pytest.mark.parametrize("kind", list(ERROR_FAULTS))
def test_error_fault_with_the_anthropic_sdk(bedrock, anthropic_bedrock, answer, kind):
    import anthropic

    status, _, retried = ERROR_FAULTS[kind]
    bedrock.inject_fault(kind, count=1)
    if retried:
        message = anthropic_bedrock.messages.create(
            model=SONNET, max_tokens=200, messages=[{"role": "user", "content": "Hello there"}])
        assert message.content[0].text == ANSWER
    else:
        with pytest.raises(anthropic.APIStatusError) as info:
            anthropic_bedrock.messages.create(
                model=SONNET, max_tokens=200, messages=[{"role": "user", "content": "Hello there"}])
        assert info.value.status_code == status
    calls = bedrock.calls()
    assert [c.status for c in calls] == ([status, 200] if retried else [status])
    assert calls[0].injected_fault == kind


def test_a_call_refused_before_its_answer_records_no_usage(bedrock, bedrock_runtime, answer):
    """Review: an InvokeModel or Converse refused by a fault recorded usage of all zeros (a
    stream refused alike recorded none): nothing was produced, so there is no usage."""
    bedrock.inject_fault("ModelErrorException", count=4)
    for call in (lambda: bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body()),
                 lambda: bedrock_runtime.invoke_model_with_response_stream(modelId=SONNET, body=invoke_body()),
                 lambda: bedrock_runtime.converse(modelId=SONNET, messages=converse_messages()),
                 lambda: bedrock_runtime.converse_stream(modelId=SONNET, messages=converse_messages())):
        with pytest.raises(bedrock_runtime.exceptions.ModelErrorException):
            call()
    calls = bedrock.calls()
    assert [c.error_code for c in calls] == ["ModelErrorException"] * 4
    assert [c.usage for c in calls] == [{}] * 4


def test_boto3_gives_up_after_its_attempts(bedrock, bedrock_runtime, answer):
    bedrock.inject_fault("ThrottlingException", count=5)
    with pytest.raises(bedrock_runtime.exceptions.ThrottlingException) as info:
        bedrock_runtime.converse(modelId=SONNET, messages=converse_messages())
    assert info.value.response["Error"]["Message"] == THROTTLE_TEXT
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(bedrock.calls(operation="Converse")) == 3
    assert bedrock.faults()[0]["remaining"] == 2


def test_fault_filters_by_model_and_operation(bedrock, bedrock_runtime, answer):
    bedrock.inject_fault("ModelErrorException", model="claude-3-5-haiku", operation="Converse", count=1)
    bedrock_runtime.converse(modelId=SONNET, messages=converse_messages())
    bedrock_runtime.invoke_model(modelId=HAIKU_35, body=invoke_body())
    with pytest.raises(bedrock_runtime.exceptions.ModelErrorException):
        bedrock_runtime.converse(modelId=HAIKU_35, messages=converse_messages())
    assert [c.injected_fault for c in bedrock.calls()] == [None, None, "ModelErrorException"]


# --------------------------------------------------------------------------- faults inside streams


def test_stream_error_frame_with_boto3_invoke_stream(bedrock, bedrock_runtime, answer):
    from botocore.exceptions import EventStreamError

    bedrock.inject_fault("stream_error", after_events=3)
    response = bedrock_runtime.invoke_model_with_response_stream(modelId=SONNET, body=invoke_body())
    chunks = []
    with pytest.raises(EventStreamError) as info:
        for event in response["body"]:
            chunks.append(json.loads(event["chunk"]["bytes"]))
    assert info.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert [c["type"] for c in chunks] == ["message_start", "content_block_start", "content_block_delta"]
    (call,) = bedrock.calls()  # not retried: the response had started
    assert call.error_code == "ModelStreamErrorException" and call.status == 424
    assert call.injected_fault == "stream_error:modelStreamErrorException@3"


@pytest.mark.parametrize("operation", ["InvokeModelWithResponseStream", "ConverseStream"])
def test_a_tool_call_cut_before_its_usage_records_no_more_than_the_whole_answer(bedrock, bedrock_runtime, operation):
    """Token hunt: a stream cut after its tool call but before ``message_delta`` recorded the
    tool input's JSON text counted character class by character class (every quote, colon and
    brace a token): more output tokens than the whole answer bills (38 against 29), in the
    record, its cost and the quota. The tool input counts as ``count_output_block`` counts it."""
    from botocore.exceptions import EventStreamError

    schema = {"type": "object", "required": ["city", "days", "units"],
              "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                             "units": {"type": "string", "enum": ["metric", "imperial"]}}}
    text = "What is the weather in Paris? Use get_weather."

    def call():
        if operation == "ConverseStream":
            response = bedrock_runtime.converse_stream(
                modelId=SONNET, messages=converse_messages(text), inferenceConfig={"maxTokens": 500},
                toolConfig={"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": schema}}}]})
            return [next(iter(event)) for event in response["stream"]]
        body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 500,
                           "messages": [{"role": "user", "content": text}],
                           "tools": [{"name": "get_weather", "input_schema": schema}]})
        response = bedrock_runtime.invoke_model_with_response_stream(modelId=SONNET, body=body)
        return [json.loads(event["chunk"]["bytes"])["type"] for event in response["body"]]

    events = call()
    whole = bedrock.calls()[-1].usage["outputTokens"]
    # cut right after the tool call's last event, before the usage that follows it
    last_stop = max(i for i, kind in enumerate(events) if kind in ("content_block_stop", "contentBlockStop"))
    bedrock.inject_fault("stream_error", after_events=last_stop + 1, count=1,
                         exception="throttlingException", operation=operation)
    with pytest.raises(EventStreamError):
        call()
    cut = bedrock.calls()[-1]
    assert cut.error_code == "ThrottlingException"
    assert 1 < cut.usage["outputTokens"] <= whole

def test_stream_error_as_the_first_frame_with_boto3(bedrock, bedrock_runtime, answer):
    from botocore.exceptions import EventStreamError

    bedrock.inject_fault("stream_error", exception="throttlingException", after_events=0)
    response = bedrock_runtime.invoke_model_with_response_stream(modelId=SONNET, body=invoke_body())
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200  # the stream opened, on its error
    with pytest.raises(EventStreamError) as info:
        next(iter(response["body"]))
    assert info.value.response["Error"]["Code"] == "throttlingException"
    (call,) = bedrock.calls()
    assert call.error_code == "ThrottlingException" and call.injected_fault == "stream_error:throttlingException@0"
    assert call.usage["outputTokens"] == 0


def test_throttling_frame_with_boto3_converse_stream(bedrock, bedrock_runtime, answer):
    from botocore.exceptions import EventStreamError

    bedrock.inject_fault("stream_error", exception="throttlingException", after_events=4)
    response = bedrock_runtime.converse_stream(modelId=SONNET, messages=converse_messages())
    received = []
    with pytest.raises(EventStreamError) as info:
        for event in response["stream"]:
            received.append(next(iter(event)))
    assert info.value.response["Error"]["Code"] == "throttlingException"
    assert info.value.response["Error"]["Message"] == THROTTLE_TEXT
    assert received[0] == "messageStart" and "contentBlockDelta" in received
    (call,) = bedrock.calls()
    assert call.error_code == "ThrottlingException" and call.injected_fault == "stream_error:throttlingException@4"


@pytest.mark.parametrize("exception", ["modelStreamErrorException", "throttlingException"])
def test_stream_error_with_the_anthropic_sdk(bedrock, anthropic_bedrock, answer, exception):
    import anthropic

    bedrock.inject_fault("stream_error", exception=exception, after_events=3)
    events = []
    with pytest.raises(anthropic.APIStatusError) as info:
        with anthropic_bedrock.messages.stream(
            model=SONNET, max_tokens=200, messages=[{"role": "user", "content": "Hello there"}]
        ) as stream:
            for event in stream:
                events.append(event.type)
    assert info.value.body["error"]["type"] == exception
    assert "message_start" in events
    assert len(bedrock.calls()) == 1


def test_dropped_connection_with_boto3(bedrock, bedrock_runtime, bedrock_server, answer):
    bedrock.inject_fault("drop_connection", after_events=3)
    response = bedrock_runtime.invoke_model_with_response_stream(modelId=SONNET, body=invoke_body())
    chunks = []
    with pytest.raises(Exception) as info:
        for event in response["body"]:
            chunks.append(event)
    assert "EventStreamError" not in type(info.value).__name__  # a broken connection, not a frame
    assert len(chunks) == 3
    (call,) = bedrock.calls()
    assert call.error_code == "ConnectionDropped" and call.injected_fault == "drop_connection@3"
    # Audit: each injected drop put uvicorn's "ERROR: ASGI callable returned without completing
    # response." in the server log, an error line for what the test asked for
    log = bedrock_server.log_text()
    assert f"request {call.request_id}: connection dropped by an injected drop_connection fault" in log
    assert "returned without completing response" not in log


def test_dropped_connection_with_the_anthropic_sdk(bedrock, anthropic_bedrock, answer):
    import anthropic

    bedrock.inject_fault("drop_connection", after_events=2)
    with pytest.raises(Exception) as info:
        with anthropic_bedrock.messages.stream(
            model=SONNET, max_tokens=200, messages=[{"role": "user", "content": "Hello there"}]
        ) as stream:
            stream.get_final_message()
    assert not isinstance(info.value, anthropic.APIStatusError)
    assert "peer closed" in str(info.value) or "incomplete" in str(info.value).lower()
    assert bedrock.last_call().injected_fault == "drop_connection@2"


# --------------------------------------------------------------------------- latency


def test_latency_fault_with_boto3_and_anthropic(bedrock, bedrock_runtime, anthropic_bedrock, answer):
    bedrock.inject_fault("latency", latency_ms=400, count=2)
    started = time.monotonic()
    bedrock_runtime.converse(modelId=SONNET, messages=converse_messages())
    boto_elapsed = time.monotonic() - started
    started = time.monotonic()
    anthropic_bedrock.messages.create(model=SONNET, max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
    sdk_elapsed = time.monotonic() - started
    # uvloop timers have millisecond granularity and may fire a fraction of a ms early.
    assert boto_elapsed >= 0.39 and sdk_elapsed >= 0.39
    calls = bedrock.calls()
    assert [c.injected_fault for c in calls] == ["latency:400ms", "latency:400ms"]
    assert all(c.ok and c.latency_ms >= 390 for c in calls)


def test_probabilistic_faults_are_seeded(bedrock, bedrock_runtime, answer):
    def pattern() -> list[bool]:
        bedrock.reset()
        bedrock.add_rule(text="x")
        bedrock.inject_fault("ModelErrorException", probability=0.5)
        outcome = []
        for _ in range(12):
            try:
                bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body())
                outcome.append(False)
            except bedrock_runtime.exceptions.ModelErrorException:
                outcome.append(True)
        return outcome

    first = pattern()
    assert first == pattern()
    assert any(first) and not all(first)


# --------------------------------------------------------------------------- rules on every operation


def test_one_rule_answers_the_four_operations_alike(bedrock, bedrock_runtime):
    bedrock.add_rule(text="Checking.", tool_use={"name": "get_weather", "input": {"city": "Paris"}},
                     user_text_contains="weather", has_tools=True)
    question = "What's the weather in Paris?"
    tool = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}
    body = json.dumps({"max_tokens": 300, "messages": [{"role": "user", "content": question}], "tools": [tool],
                       "anthropic_version": "bedrock-2023-05-31"})
    tool_config = {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather",
                                           "inputSchema": {"json": {"type": "object"}}}}]}

    invoked = json.loads(bedrock_runtime.invoke_model(modelId=SONNET, body=body)["body"].read())
    assert [b["type"] for b in invoked["content"]] == ["text", "tool_use"]
    assert invoked["content"][1]["input"] == {"city": "Paris"} and invoked["stop_reason"] == "tool_use"

    streamed = [json.loads(e["chunk"]["bytes"]) for e in
                bedrock_runtime.invoke_model_with_response_stream(modelId=SONNET, body=body)["body"]]
    partial = "".join(e["delta"].get("partial_json", "") for e in streamed if e["type"] == "content_block_delta")
    assert json.loads(partial) == {"city": "Paris"}

    conversed = bedrock_runtime.converse(modelId=SONNET, messages=converse_messages(question), toolConfig=tool_config)
    content = conversed["output"]["message"]["content"]
    assert content[0] == {"text": "Checking."}
    assert content[1]["toolUse"]["name"] == "get_weather" and content[1]["toolUse"]["input"] == {"city": "Paris"}
    assert conversed["stopReason"] == "tool_use"

    events = list(bedrock_runtime.converse_stream(modelId=SONNET, messages=converse_messages(question),
                                                  toolConfig=tool_config)["stream"])
    tool_input = "".join(e["contentBlockDelta"]["delta"].get("toolUse", {}).get("input", "")
                         for e in events if "contentBlockDelta" in e)
    assert json.loads(tool_input) == {"city": "Paris"}
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"

    assert [c.rule for c in bedrock.calls()] == ["rule-1"] * 4


def test_unmatched_requests_go_to_the_simulator(bedrock, bedrock_runtime):
    bedrock.add_rule(text="only for pirates", system_contains="pirate")
    response = bedrock_runtime.converse(modelId=SONNET, messages=converse_messages("Tell me about tea"))
    assert response["output"]["message"]["content"][0]["text"] != "only for pirates"
    assert bedrock.last_call().rule is None


def test_add_rule_keyword_form_sets_the_stop_reason(bedrock, bedrock_runtime):
    rule = bedrock.add_rule(text="cut short", stop_reason="max_tokens", user_text_contains="cut")
    assert rule["respond"]["stop_reason"] == "max_tokens"
    response = json.loads(bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body("please cut"))["body"].read())
    assert response["stop_reason"] == "max_tokens" and response["content"][0]["text"] == "cut short"


# --------------------------------------------------------------------------- calls that never finish


def test_a_call_its_client_gave_up_on_hands_its_turn_back(bedrock, bedrock_env):
    """Audit: boto3's read timeout during injected latency. The abandoned call took a scripted
    turn after its retry and was recorded as a success, listed after the retry."""
    import boto3
    from botocore.config import Config

    bedrock.add_rule(turns=[{"text": "first turn"}, {"text": "second turn"}])
    bedrock.inject_fault("latency", latency_ms=1500, count=1)
    client = boto3.client("bedrock-runtime", config=Config(read_timeout=0.5, retries={"mode": "standard"}))
    first = client.converse(modelId=SONNET, messages=converse_messages())
    assert first["output"]["message"]["content"][0]["text"] == "first turn"  # the retry's answer
    deadline = time.monotonic() + 10
    while len(bedrock.calls()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the abandoned call ends when its latency does
    second = client.converse(modelId=SONNET, messages=converse_messages())
    assert second["output"]["message"]["content"][0]["text"] == "second turn"
    abandoned, retry, _ = bedrock.calls()  # start order: the abandoned call first
    assert (abandoned.status, abandoned.error_code) == (0, "ClientDisconnected")
    assert abandoned.injected_fault == "latency:1500ms" and not abandoned.ok
    assert retry.ok and retry.started_at >= abandoned.started_at


def _recorded_calls(bedrock, count: int = 1, within_s: float = 10) -> list:
    """The history once it holds ``count`` calls (the server sees a client leave a moment
    after the client has left); polled for at most ``within_s``."""
    deadline = time.monotonic() + within_s
    while len(calls := bedrock.calls()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return calls


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_timing_out_during_injected_latency_is_recorded_at_once(bedrock, bedrock_env, stream):
    """Audit: the call was recorded only once the whole latency had run (a minute here), with
    the full latency, and an abandoned stream as a complete 200."""
    import anthropic

    bedrock.add_rule(turns=[{"text": "first turn"}, {"text": "second turn"}])
    bedrock.inject_fault("latency", latency_ms=60_000, count=1)
    client = anthropic.AnthropicBedrock(timeout=0.5, max_retries=0)
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        if stream:
            with client.messages.stream(model=SONNET, max_tokens=10, messages=[{"role": "user", "content": "Hi"}]):
                pass
        else:
            client.messages.create(model=SONNET, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    (call,) = _recorded_calls(bedrock)
    assert time.monotonic() - started < 30
    assert (call.status, call.error_code, call.injected_fault) == (0, "ClientDisconnected", "latency:60000ms")
    assert 400 <= call.latency_ms < 30_000  # the latency actually waited
    retry = client.messages.create(model=SONNET, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert retry.content[0].text == "first turn"  # the turn went back (none was taken)



@pytest.mark.parametrize("stream", [False, True])
def test_an_error_fault_drawn_by_a_call_its_client_left_waits_for_the_next_call(bedrock, bedrock_env, stream):
    """Audit: the client leaving during the latency, the error fault drawn with it was used up
    though nobody saw it (a stream fault went back already): a suite injecting one throttle
    then saw none."""
    import anthropic

    bedrock.inject_fault("latency", latency_ms=60_000, count=1)
    bedrock.inject_fault("ThrottlingException", count=1)
    client = anthropic.AnthropicBedrock(timeout=0.5, max_retries=0)
    messages = [{"role": "user", "content": "Hi"}]
    with pytest.raises(anthropic.APITimeoutError):
        if stream:
            with client.messages.stream(model=SONNET, max_tokens=10, messages=messages):
                pass
        else:
            client.messages.create(model=SONNET, max_tokens=10, messages=messages)
    (call,) = _recorded_calls(bedrock)
    assert (call.error_code, call.injected_fault) == ("ClientDisconnected", "latency:60000ms")
    assert [(f["kind"], f["remaining"], f["fired"]) for f in bedrock.faults()] == [
        ("latency", 0, 1), ("ThrottlingException", 1, 0)]
    with pytest.raises(anthropic.RateLimitError):  # the next call sees the throttle
        client.messages.create(model=SONNET, max_tokens=10, messages=messages)
    seen = bedrock.calls()[-1]
    assert (seen.status, seen.injected_fault) == (429, "ThrottlingException")
    assert [(f["remaining"], f["fired"]) for f in bedrock.faults()] == [(0, 1), (0, 1)]  # counted once

def test_last_call_right_after_a_client_timeout_is_the_call_cut_short(bedrock, bedrock_env):
    """Audit: read right after the client's timeout, the history did not hold the call yet (the
    server noticed the closed connection a few turns of its event loop after it answered the
    history read): the docs' ``last_call()`` assertion failed most of the time."""
    import anthropic

    bedrock.inject_fault("latency", latency_ms=60_000, probability=1)
    client = anthropic.AnthropicBedrock(timeout=0.3, max_retries=0)
    for attempt in range(5):  # it failed about 4 times in 5
        with pytest.raises(anthropic.APITimeoutError):
            client.messages.create(model=SONNET, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
        assert bedrock.last_call().error_code == "ClientDisconnected"
        assert len(bedrock.calls()) == attempt + 1


def test_a_stream_fault_waits_for_a_call_that_streams(bedrock, bedrock_runtime, answer):
    """Audit: a quota refusal or a rule's error used up the stream fault drawn for the call."""
    bedrock.set_quotas(requests_per_minute=1)
    bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body())
    bedrock.inject_fault("stream_error", after_events=2, count=1)
    with pytest.raises(bedrock_runtime.exceptions.ThrottlingException):  # boto3's retries: all refused
        bedrock_runtime.invoke_model_with_response_stream(modelId=SONNET, body=invoke_body())
    (fault,) = bedrock.faults()
    assert (fault["remaining"], fault["fired"]) == (1, 0)
    assert all(c.injected_fault == "quota:requests_per_minute" for c in bedrock.calls()[1:])
    bedrock.set_quotas(requests_per_minute=None)
    stream = bedrock_runtime.invoke_model_with_response_stream(modelId=SONNET, body=invoke_body())["body"]
    with pytest.raises(Exception) as info:
        for _ in stream:
            pass
    assert "modelStreamErrorException" in str(info.value)
    assert bedrock.faults()[0]["fired"] == 1


def test_a_rule_error_leaves_the_stream_fault_alone(bedrock, bedrock_runtime):
    bedrock.add_rule(error="AccessDeniedException", times=1)
    bedrock.inject_fault("stream_error", after_events=2, count=1)
    with pytest.raises(bedrock_runtime.exceptions.AccessDeniedException):
        bedrock_runtime.invoke_model_with_response_stream(modelId=SONNET, body=invoke_body())
    (call,) = bedrock.calls()
    assert call.injected_fault is None
    assert bedrock.faults()[0]["remaining"] == 1


def test_a_call_left_running_by_a_test_stays_out_of_the_next_one(bedrock, bedrock_env):
    """Audit: a call whose client gave up during injected latency ended after the next test's
    reset, and was recorded in that test's history."""
    import anthropic

    bedrock.inject_fault("latency", latency_ms=1000)
    client = anthropic.AnthropicBedrock(timeout=0.3, max_retries=0)
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model=SONNET, max_tokens=10, messages=[{"role": "user", "content": "Hello"}])
    bedrock.reset()  # the next test starts
    time.sleep(1.2)  # the abandoned call ends meanwhile
    assert bedrock.calls() == []


# --------------------------------------------------------------------------- CountTokens

BASE_SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"  # CountTokens takes the bare model ID
COUNT_INPUT = {"converse": {"messages": converse_messages()}}


def test_count_tokens_throttled_beyond_boto3_retries(bedrock, bedrock_runtime):
    bedrock.inject_fault("ThrottlingException", operation="CountTokens", count=5)
    with pytest.raises(bedrock_runtime.exceptions.ThrottlingException) as info:
        bedrock_runtime.count_tokens(modelId=BASE_SONNET, input=COUNT_INPUT)
    assert info.value.response["Error"]["Message"] == THROTTLE_TEXT
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    calls = bedrock.calls(operation="CountTokens")
    assert [(c.status, c.error_code, c.injected_fault) for c in calls] == [
        (429, "ThrottlingException", "ThrottlingException")] * 3
    assert [c.usage for c in calls] == [{}] * 3
    (fault,) = bedrock.faults()
    assert (fault["remaining"], fault["fired"], fault["operation"]) == (2, 3, ["CountTokens"])


@pytest.mark.parametrize("kind", ["ServiceUnavailableException", "InternalServerException"])
def test_count_tokens_fault_retried_by_boto3_then_counted(bedrock, bedrock_runtime, kind):
    bedrock.inject_fault(kind, operation=["Converse", "CountTokens"], count=1)
    response = bedrock_runtime.count_tokens(modelId=BASE_SONNET, input=COUNT_INPUT)
    assert response["inputTokens"] > 0 and response["ResponseMetadata"]["RetryAttempts"] == 1
    failed, counted = bedrock.calls(operation="CountTokens")
    assert (failed.status, failed.error_code, failed.injected_fault) == (ERROR_FAULTS[kind][0], kind, kind)
    assert counted.ok and counted.injected_fault is None and counted.usage["inputTokens"] == response["inputTokens"]


def test_a_fault_without_operation_does_not_fire_on_count_tokens(bedrock, bedrock_runtime, answer):
    """Faults written before CountTokens could fail keep hitting the model calls only."""
    bedrock.inject_fault("ThrottlingException", count=1)
    bedrock.inject_fault("latency", latency_ms=5000, count=1)
    started = time.monotonic()
    assert bedrock_runtime.count_tokens(modelId=BASE_SONNET, input=COUNT_INPUT)["inputTokens"] > 0
    assert time.monotonic() - started < 2
    assert [c.injected_fault for c in bedrock.calls()] == [None]
    assert [(f["remaining"], f["fired"]) for f in bedrock.faults()] == [(1, 0), (1, 0)]


def test_a_count_tokens_fault_waits_for_a_valid_count_tokens_call(bedrock, bedrock_runtime, answer):
    bedrock.inject_fault("ThrottlingException", operation="CountTokens", count=1)
    bedrock_runtime.converse(modelId=SONNET, messages=converse_messages())
    with pytest.raises(bedrock_runtime.exceptions.ValidationException):  # refused first, as AWS would
        bedrock_runtime.count_tokens(modelId=SONNET, input=COUNT_INPUT)  # a profile ID: not countable
    with pytest.raises(bedrock_runtime.exceptions.ValidationException):
        bedrock_runtime.count_tokens(modelId=BASE_SONNET, input={"converse": {"messages": []}})
    assert [c.injected_fault for c in bedrock.calls()] == [None, None, None]
    assert bedrock.faults()[0]["remaining"] == 1


def test_count_tokens_latency_fault(bedrock, bedrock_runtime):
    bedrock.inject_fault("latency", latency_ms=400, operation="CountTokens", count=1)
    started = time.monotonic()
    bedrock_runtime.count_tokens(modelId=BASE_SONNET, input=COUNT_INPUT)
    assert time.monotonic() - started >= 0.39
    (call,) = bedrock.calls()
    assert call.ok and call.injected_fault == "latency:400ms" and call.latency_ms >= 390


def test_a_client_timing_out_during_count_tokens_latency_is_recorded_at_once(bedrock, bedrock_env):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ReadTimeoutError

    bedrock.inject_fault("latency", latency_ms=60_000, operation="CountTokens", count=1)
    client = boto3.client("bedrock-runtime", config=Config(read_timeout=0.5, retries={"total_max_attempts": 1}))
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        client.count_tokens(modelId=BASE_SONNET, input=COUNT_INPUT)
    (call,) = _recorded_calls(bedrock)
    assert time.monotonic() - started < 30
    assert (call.operation, call.status, call.error_code) == ("CountTokens", 0, "ClientDisconnected")
    assert call.injected_fault == "latency:60000ms" and 400 <= call.latency_ms < 30_000


def test_a_count_tokens_error_fault_drawn_by_a_call_its_client_left_waits_for_the_next_call(bedrock, bedrock_env):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ReadTimeoutError

    bedrock.inject_fault("latency", latency_ms=60_000, operation="CountTokens", count=1)
    bedrock.inject_fault("ThrottlingException", operation="CountTokens", count=1)
    client = boto3.client("bedrock-runtime", config=Config(read_timeout=0.5, retries={"total_max_attempts": 1}))
    with pytest.raises(ReadTimeoutError):
        client.count_tokens(modelId=BASE_SONNET, input=COUNT_INPUT)
    (call,) = _recorded_calls(bedrock)
    assert (call.error_code, call.injected_fault) == ("ClientDisconnected", "latency:60000ms")
    with pytest.raises(client.exceptions.ThrottlingException):
        client.count_tokens(modelId=BASE_SONNET, input=COUNT_INPUT)
    assert [(f["remaining"], f["fired"]) for f in bedrock.faults()] == [(0, 1), (0, 1)]
