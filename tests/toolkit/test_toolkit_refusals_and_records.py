"""Review regressions from the testing-toolkit audit: names that would never match are
refused, ids of any spelling can be removed, error codes and operations are checked with the
key named, ``last_user_text`` reads tool results as rules do, and scripted stops and stream
exceptions are complete. Through the plugin's fixtures, as a user's suite would."""

from __future__ import annotations

import json

import pytest

from claude_bedrock.domain.faults import parse_fault
from claude_bedrock.domain.quotas import parse_quota_config
from claude_bedrock.domain.scripting import ScriptError, parse_rule
from claude_bedrock.testing.admin import AdminError

pytestmark = pytest.mark.conformance

SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def invoke_body(messages: list | None = None, **extra) -> str:
    return json.dumps({"max_tokens": 100, "anthropic_version": "bedrock-2023-05-31",
                       "messages": messages or [{"role": "user", "content": "Hello"}], **extra})


@pytest.mark.parametrize("name", ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929", SONNET,
                                  "anthropic.claude-3-haiku-20240307-v1:0", "us.anthropic.claude-3-haiku-20240307-v1:0",
                                  "*sonnet*", "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/x"])
def test_model_filters_take_every_name_a_model_answers_to(name):
    assert parse_rule({"match": {"model": name}, "respond": "x"}, "rule-1").match.model == name
    assert parse_fault({"kind": "ThrottlingException", "model": name}, "fault-1").model == name
    assert parse_quota_config({"models": {name: {"requests_per_minute": 1}}}).models[0][0] == name


def test_a_misspelt_model_is_refused_everywhere(bedrock):
    with pytest.raises(AdminError) as rule:
        bedrock.add_rule(text="x", model="claude-sonet-4-5")
    assert rule.value.message == (
        "rules[0].match.model: unknown model 'claude-sonet-4-5' (did you mean 'claude-sonnet-4-5'?); expected a model "
        "ID, an inference profile ID, an ARN, an Anthropic name or alias such as 'claude-sonnet-4-5', or a glob "
        "such as '*sonnet*'")
    with pytest.raises(AdminError, match="unknown model 'claude-sonet-4-5'"):
        bedrock.inject_fault("ThrottlingException", model="claude-sonet-4-5")
    with pytest.raises(AdminError, match="unknown model 'claude-sonnet-4.5'"):
        bedrock.set_quotas(models={"claude-sonnet-4.5": {"requests_per_minute": 1}})
    with pytest.raises(AdminError, match=r"unknown model 'eu\.anthropic\.claude-nope'"):
        bedrock.add_rule(text="x", model="eu.anthropic.claude-nope")
    assert bedrock.rules() == [] and bedrock.faults() == []


def test_a_misspelt_model_in_a_rules_file_names_the_file(tmp_path):
    from claude_bedrock.service.testing_hooks import load_scenario
    from claude_bedrock.settings import ConfigError, Settings

    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\nmatch = { model = "claude-sonnet-4.5" }\nrespond = "x"\n')
    with pytest.raises(ConfigError, match=r"rules\.toml rules\[0\]\.match\.model: unknown model 'claude-sonnet-4\.5'"):
        load_scenario(Settings(rules_file=str(rules)))


@pytest.mark.parametrize("item_id", ["weather answer", "météo", "a/b", "what?#1", "100%"])
def test_ids_of_any_spelling_can_be_removed(bedrock, item_id):
    bedrock.add_rule(text="x", id=item_id)
    bedrock.inject_fault("ThrottlingException", id=item_id)
    bedrock.remove_rule(item_id)
    bedrock.remove_fault(item_id)
    assert bedrock.rules() == [] and bedrock.faults() == []


def test_an_unknown_error_code_names_its_key_and_the_runtime_codes(tmp_path):
    from claude_bedrock.service.testing_hooks import load_scenario
    from claude_bedrock.settings import ConfigError, Settings

    rules = tmp_path / "bad.toml"
    rules.write_text('[[rules]]\nrespond = { turns = ["a", { error = { code = "Throttling" } }] }\n')
    with pytest.raises(ConfigError) as info:
        load_scenario(Settings(rules_file=str(rules)))
    message = str(info.value)
    assert "bad.toml rules[0].respond.turns[1].error.code: expected one of the runtime's error codes" in message
    assert "got 'Throttling'" in message and "TooManyTagsException" not in message


def test_the_history_filter_refuses_unknown_operations(bedrock, bedrock_runtime):
    bedrock_runtime.converse(modelId=SONNET, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert len(bedrock.calls(operation="Converse")) == 1
    with pytest.raises(AdminError, match="Unknown operation 'converse'"):
        bedrock.calls(operation="converse")
    assert bedrock.calls(operation="CountTokens") == []


def test_the_history_filter_refuses_misspelt_models(bedrock, bedrock_runtime):
    """Audit: ``calls(model="claude-sonet-4-5")`` answered [], so ``assert not calls(model=...)``
    passed on a typo, while rules, faults and quotas refuse the same name."""
    bedrock_runtime.converse(modelId=SONNET, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert len(bedrock.calls(model="claude-sonnet-4-5")) == 1
    with pytest.raises(AdminError, match=r"model: unknown model 'claude-sonet-4-5' \(did you mean 'claude-sonnet-4-5'\?\)"):
        bedrock.calls(model="claude-sonet-4-5")
    assert bedrock.calls(model="claude-haiku-4-5") == []
    with pytest.raises(bedrock_runtime.exceptions.ValidationException):
        bedrock_runtime.converse(modelId="anthropic.claude-nope", messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    [refused] = bedrock.calls(model="anthropic.claude-nope")  # the very name a call used
    assert refused.error_code == "ValidationException"


def test_last_user_text_reads_tool_results_as_rules_do(bedrock, bedrock_runtime):
    bedrock.add_rule(text="it is sunny", user_text_contains="18 degrees")
    anthropic_turn = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "18 degrees"}]},
    ]
    tools = [{"name": "weather", "input_schema": {"type": "object"}}]
    answer = json.loads(bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body(anthropic_turn, tools=tools))
                        ["body"].read())
    assert answer["content"][0]["text"] == "it is sunny"
    converse_turn = [
        {"role": "user", "content": [{"text": "Weather in Paris?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "weather", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [
            {"text": "18 degrees"}, {"json": {"wind": "calm"}}]}}]},
    ]
    bedrock_runtime.converse(modelId=SONNET, messages=converse_turn, toolConfig={
        "tools": [{"toolSpec": {"name": "weather", "inputSchema": {"json": {"type": "object"}}}}]})
    invoke, converse = bedrock.calls()
    assert invoke.last_user_text == "18 degrees" and invoke.rule is not None
    assert converse.last_user_text == '18 degrees {"wind":"calm"}' and converse.rule is not None


def test_a_scripted_stop_sequence_names_the_requests_sequence(bedrock, bedrock_runtime):
    bedrock.add_rule(text="one two", stop_reason="stop_sequence")
    answer = json.loads(bedrock_runtime.invoke_model(
        modelId=SONNET, body=invoke_body(stop_sequences=["END", "STOP"]))["body"].read())
    assert (answer["stop_reason"], answer["stop_sequence"]) == ("stop_sequence", "END")


def test_more_turns_than_times_is_refused(bedrock):
    with pytest.raises(AdminError, match=r"times: 1 is fewer than the 2 turns: the last 1 would never answer"):
        bedrock.add_rule(turns=["a", "b"], times=1)


def test_model_timeout_frames_for_invoke_streams_only(bedrock, bedrock_runtime):
    with pytest.raises(AdminError, match='add operation = "InvokeModelWithResponseStream"'):
        bedrock.inject_fault("stream_error", exception="modelTimeoutException")
    bedrock.inject_fault("stream_error", exception="modelTimeoutException", after_events=1,
                         operation="InvokeModelWithResponseStream")
    stream = bedrock_runtime.invoke_model_with_response_stream(modelId=SONNET, body=invoke_body())["body"]
    with pytest.raises(Exception) as info:
        for _ in stream:
            pass
    assert info.value.response["Error"]["Code"] == "modelTimeoutException"  # boto3's EventStreamError


def test_a_model_filter_must_be_a_string():
    with pytest.raises(ScriptError, match=r"rule\.match\.model: expected a non-empty string"):
        parse_rule({"match": {"model": 3}, "respond": "x"}, "rule-1", "rule")


def test_last_call_says_which_calls_it_looked_for_and_what_was_recorded(bedrock, bedrock_runtime):
    """Audit: ``last_call(operation="Converse")`` failed with a bare "no call recorded" (and, as
    an ``assert``, not at all under ``python -O``)."""
    with pytest.raises(AssertionError, match=r"^no call recorded$"):
        bedrock.last_call()
    bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body())
    bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body())
    with pytest.raises(AssertionError) as info:
        bedrock.last_call(operation="Converse")
    assert str(info.value) == f"no call recorded with operation='Converse' (recorded: 2 InvokeModel {SONNET})"
    assert bedrock.last_call(operation="InvokeModel").ok


def test_recorded_calls_carry_their_cost(bedrock, bedrock_runtime):
    """Audit: the call history had tokens but no cost, so a suite could not assert what a call
    cost without turning on invocation logging and reading its files."""
    from decimal import Decimal

    bedrock.add_rule(text="A scripted answer of a few words.")
    for model in (SONNET, "us.anthropic.claude-sonnet-4-5-20250929-v1:0"):
        bedrock_runtime.invoke_model(modelId=model, body=invoke_body())
    global_call, regional_call = bedrock.calls()
    usage = global_call.usage
    # Sonnet 4.5 at the global endpoint: $3 per million input tokens, $15 per million output
    expected = (Decimal(usage["inputTokens"]) * 3 + Decimal(usage["outputTokens"]) * 15) / 1_000_000
    assert Decimal(global_call.cost["total"]) == expected and global_call.cost["currency"] == "USD"
    assert Decimal(regional_call.cost["total"]) == expected * Decimal("1.1")  # the regional premium
    with pytest.raises(bedrock_runtime.exceptions.ValidationException):
        bedrock_runtime.invoke_model(modelId="anthropic.claude-nope", body=invoke_body())
    assert bedrock.last_call().cost is None  # no model, no price


@pytest.mark.parametrize("keyword", [{"times": 0}, {"text": ""}, {"id": ""}])
def test_a_whole_rule_with_keywords_is_refused_even_falsy_ones(bedrock, keyword):
    """Audit: ``add_rule(rule, times=0)`` dropped the falsy keyword silently."""
    with pytest.raises(TypeError, match="either a whole rule or keyword arguments"):
        bedrock.add_rule({"respond": "x"}, **keyword)
    assert bedrock.rules() == []


def test_assert_rules_used_up_names_the_rules_a_run_left_unused(bedrock, bedrock_runtime):
    """A script the code under test did not play to its end fails the test by name (the calls
    it expected were not made), where it used to pass silently."""
    bedrock.add_rule(text="first", id="greeting", user_text_contains="hello")
    bedrock.add_rule(turns=["one", "two"], id="two-turns", user_text_contains="count")
    bedrock.add_rule(text="never", id="unused", user_text_contains="goodbye")
    bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body([{"role": "user", "content": "hello"}]))
    bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body([{"role": "user", "content": "count"}]))
    with pytest.raises(AssertionError) as info:
        bedrock.assert_rules_used_up()
    assert str(info.value) == "scripted rules not used up: two-turns (used 1, 1 left); unused (used 0)"
    bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body([{"role": "user", "content": "count"}]))
    bedrock.remove_rule("unused")
    bedrock.assert_rules_used_up()


def test_a_recorded_count_tokens_call_costs_nothing(bedrock, bedrock_runtime):
    """Walk audit: a CountTokens call in the history carried the price of its input tokens, so
    a suite summing ``cost["total"]`` over ``bedrock.calls()`` billed its token counts. AWS:
    'Using the CountTokens API doesn't incur charges.' (Bedrock user guide, count-tokens)."""
    bedrock_runtime.count_tokens(modelId="anthropic.claude-sonnet-4-5-20250929-v1:0",
                                 input={"converse": {"messages": [{"role": "user", "content": [{"text": "Hello"}]}]}})
    call = bedrock.last_call(operation="CountTokens")
    assert call.ok and call.usage["inputTokens"] > 0
    assert call.cost["total"] == call.cost["input"] == "0"


def test_a_scripted_word_of_megabytes_streams_in_chunks_within_the_payload_limit(bedrock, bedrock_runtime):
    """Audit: a scripted text streamed each "word" whole, so one of 1.2 MB was a chunk of
    1.2 MB (botocore's ``PartBody`` allows 1,000,000 bytes), and one of 19 MB a frame over
    the event-stream limit: the stream failed with modelStreamErrorException and a traceback."""
    word = "z" * 1_200_000
    bedrock.add_rule(text=f"Here: {word} done", times=2)
    stream = bedrock_runtime.invoke_model_with_response_stream(modelId=SONNET, body=invoke_body())["body"]
    chunks = [event["chunk"]["bytes"] for event in stream]
    assert max(len(chunk) for chunk in chunks) <= 1_000_000
    events = [json.loads(chunk) for chunk in chunks]
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta") == f"Here: {word} done"
    answer = bedrock_runtime.converse_stream(modelId=SONNET, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    deltas = [e["contentBlockDelta"]["delta"]["text"] for e in answer["stream"] if "contentBlockDelta" in e]
    assert "".join(deltas) == f"Here: {word} done" and max(map(len, deltas)) < 1_000_000


def test_assert_rules_used_up_names_the_calls_the_simulator_answered(bedrock, bedrock_runtime):
    """Plugin audit: a condition that did not hold ('whether' for 'weather') failed with
    'w (used 0)' alone; the call that went to the simulator instead is what explains it."""
    bedrock.add_rule(text="Sunny", id="w", user_text_contains="whether")
    question = [{"role": "user", "content": "What is the weather?"}]
    bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body(question))
    with pytest.raises(AssertionError) as info:
        bedrock.assert_rules_used_up()
    assert str(info.value) == ("scripted rules not used up: w (used 0). "
                               "The simulator answered 1 call(s): InvokeModel 'What is the weather?'")
    # pytest shows the test's own line, not the helper's body
    assert info.traceback.filter(info)[-1].name == "test_assert_rules_used_up_names_the_calls_the_simulator_answered"


def test_assert_rules_used_up_names_the_last_calls_the_simulator_answered_and_no_count_tokens(bedrock,
                                                                                             bedrock_runtime):
    """Of many simulated calls, the most recent (those of the test's end) are named; a CountTokens
    call, which no rule ever answers, is none of them."""
    bedrock.add_rule(text="Sunny", id="w", user_text_contains="whether")
    for text in ("one", "two", "three", "four"):
        bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body([{"role": "user", "content": text}]))
    bedrock_runtime.count_tokens(modelId="anthropic.claude-sonnet-4-5-20250929-v1:0",
                                 input={"converse": {"messages": [{"role": "user", "content": [{"text": "five"}]}]}})
    with pytest.raises(AssertionError) as info:
        bedrock.assert_rules_used_up()
    assert str(info.value).endswith("The simulator answered 4 call(s), the last 3: "
                                    "InvokeModel 'two'; InvokeModel 'three'; InvokeModel 'four'")


def test_assert_rules_used_up_checks_only_the_rules_it_names(bedrock, bedrock_runtime):
    """Plugin audit: a rules file's rules (claude_bedrock_args = --rules-file ...) are there for
    every test, so a test that used its own rules failed on the file's unused ones."""
    bedrock.add_rule(text="from the file", id="file-greeting", user_text_contains="hello")
    bedrock.add_rule(text="mine", id="mine", user_text_contains="weather")
    bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body([{"role": "user", "content": "weather?"}]))
    bedrock.assert_rules_used_up("mine")
    with pytest.raises(AssertionError, match=r"^scripted rules not used up: file-greeting \(used 0\)$"):
        bedrock.assert_rules_used_up("mine", "file-greeting")
    with pytest.raises(AssertionError, match=r"^no scripted rule 'mien' \(rules: 'file-greeting', 'mine'\)$"):
        bedrock.assert_rules_used_up("mien")  # a typo cannot pass


def test_a_recorded_calls_repr_shows_what_tells_calls_apart(bedrock, bedrock_runtime):
    """Plugin audit: ``assert bedrock.last_call().ok`` failed showing the full dataclass, which
    pytest cut in its middle: the bodies, usage and cost hid status and error_code."""
    bedrock.inject_fault("ModelErrorException")
    with pytest.raises(bedrock_runtime.exceptions.ModelErrorException):
        bedrock_runtime.invoke_model(modelId=SONNET, body=invoke_body())
    call = bedrock.last_call()
    assert repr(call) == (f"RecordedCall(operation='InvokeModel', model_id='{SONNET}', status=424, "
                          "error_code='ModelErrorException', injected_fault='ModelErrorException', rule=None)")
    assert len(repr(call)) < 240  # pytest's limit for a repr in an assertion message
    with pytest.raises(AssertionError) as info:
        bedrock.last_call(operation="Converse")
    assert info.traceback.filter(info)[-1].name == "test_a_recorded_calls_repr_shows_what_tells_calls_apart"
