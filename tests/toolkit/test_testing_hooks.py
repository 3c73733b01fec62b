"""The events hook: faults, quotas, rules and history composed around an engine (in-process)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any, AsyncIterator

import pytest

from claude_bedrock.domain.engine import ModelCall
from claude_bedrock.domain.errors import DropConnection, ModelStreamErrorException, ThrottlingException
from claude_bedrock.domain.message import accumulate
from claude_bedrock.domain.quotas import parse_quota_config
from claude_bedrock.domain.simulator import SimulatorEngine
from claude_bedrock.service.calls import CallRecord
from claude_bedrock.service.state import ServiceState
from claude_bedrock.service.testing_hooks import Toolkit, install, load_scenario, toolkit_of
from claude_bedrock.settings import ConfigError, Settings

MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"


class CountingEngine:
    """The simulator, counting the calls that reach it."""

    def __init__(self) -> None:
        self.inner = SimulatorEngine(seed=0, clock=lambda: 0.0)
        self.calls = 0

    async def stream(self, call: ModelCall) -> AsyncIterator[dict[str, Any]]:
        self.calls += 1
        for event in self.inner.events(call):
            yield event


@pytest.fixture
def state(tmp_path) -> ServiceState:
    return ServiceState(Settings(data_dir=str(tmp_path)), engine=CountingEngine())


@pytest.fixture
def toolkit(state) -> Toolkit:
    toolkit = install(state)
    toolkit.sleeps = []

    async def sleep(seconds: float) -> None:
        toolkit.sleeps.append(seconds)

    toolkit.sleep = sleep
    return toolkit


def model_call(text: str = "Hello there", operation: str = "InvokeModel", max_tokens: int = 200) -> ModelCall:
    return ModelCall(
        request={"max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]},
        model_id=MODEL, anthropic_name="claude-sonnet-4-5-20250929", message_id="msg_bdrk_01X",
        account_id="111122223333", region="us-west-2", operation=operation,
    )


def record(operation: str = "InvokeModel", request_id: str = "req-1") -> CallRecord:
    return CallRecord(request_id=request_id, operation=operation, account_id="111122223333", region="us-west-2",
                      identity_arn="arn:aws:iam::111122223333:user/alice",
                      model_id="global." + MODEL, started_at=0.0, resolved_model_id=MODEL)


def run(state: ServiceState, call: ModelCall, rec: CallRecord) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        return [event async for event in state.events(call, rec)]

    try:
        return asyncio.run(go())
    finally:
        state.publish(rec)


def test_install_hooks_into_state(state, toolkit):
    assert toolkit_of(state) is toolkit
    assert state.events_hook == toolkit.events
    assert toolkit.observe in state.observers


def test_nothing_configured_passes_the_engine_stream_through(state, toolkit):
    stream = state.events(model_call(), record())
    assert type(stream).__name__ == "async_generator" and stream.ag_code.co_name == "stream"
    asyncio.run(stream.aclose())


def test_rule_answers_instead_of_engine_and_history_names_the_rule(state, toolkit):
    toolkit.rules.add({"id": "greet", "match": {"user_text_contains": "hello"}, "respond": "Hi!"})
    events = run(state, model_call(), record())
    assert accumulate(events)["content"] == [{"type": "text", "text": "Hi!"}]
    assert state.engine.calls == 0
    run(state, model_call("bye"), record(request_id="req-2"))
    assert state.engine.calls == 1
    entries = toolkit.history.entries()
    assert [(e.record.request_id, e.rule_id) for e in entries] == [("req-1", "greet"), ("req-2", None)]


def test_error_fault_raises_before_any_event_and_is_recorded(state, toolkit):
    toolkit.faults.add({"kind": "ThrottlingException"})
    rec = record()
    with pytest.raises(ThrottlingException):
        run(state, model_call(), rec)
    assert rec.injected_fault == "ThrottlingException"
    assert state.engine.calls == 0


def test_latency_fault_sleeps_before_the_answer(state, toolkit):
    toolkit.faults.add({"kind": "latency", "latency_ms": 1500, "probability": 1})
    rec = record()
    run(state, model_call(), rec)
    run(state, model_call(), record(request_id="req-2"))
    assert toolkit.sleeps == [1.5, 1.5]
    assert rec.injected_fault == "latency:1500ms"


def shortest_wait_on_uvloop(wait: Any, times: int = 40) -> float:
    """The shortest of ``times`` runs of ``await wait(index)`` on uvloop, each started 0.9 ms into
    a millisecond of the monotonic clock: libuv counts whole milliseconds, so a timer armed late
    in a millisecond may end up to one early."""
    uvloop = pytest.importorskip("uvloop")

    async def go() -> float:
        waited = []
        for index in range(times):
            while time.monotonic_ns() % 1_000_000 < 900_000:
                pass
            started = time.perf_counter()
            await wait(index)
            waited.append(time.perf_counter() - started)
        return min(waited)

    return uvloop.run(go())


def test_a_latency_fault_waits_its_whole_latency_on_uvloop(tmp_path):
    """Plugin audit: on uvloop (uvicorn's loop when installed) a 20 ms latency fault was
    recorded as 19 ms now and then, and a test's ``first_byte_ms >= latency`` failed. Armed 0.9 ms
    into a millisecond of the same monotonic clock, most of 40 ended early."""
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=CountingEngine())
    install(state).faults.add({"kind": "latency", "latency_ms": 5, "probability": 1})

    async def call(index: int) -> None:
        [event async for event in state.events(model_call(), record(request_id=f"req-{index}"))]

    assert shortest_wait_on_uvloop(call) >= 0.005


def test_the_simulators_time_to_first_token_lasts_its_whole_latency_on_uvloop(tmp_path):
    """As the latency faults (above): ``--simulator-latency`` 5 ms to the first token ended up to
    a millisecond early on uvloop, so the first event (and ``firstByteLatency``) came at 4 ms."""
    state = ServiceState(Settings(data_dir=str(tmp_path), simulator_latency="5:1000000"))

    async def first_event(index: int) -> None:
        events = state.events(model_call(max_tokens=1), record(request_id=f"req-{index}"))
        await anext(aiter(events))
        await events.aclose()

    assert shortest_wait_on_uvloop(first_event) >= 0.005


def test_stream_fault_strikes_after_n_events_and_gives_the_turn_back(state, toolkit):
    toolkit.rules.add({"respond": {"turns": ["First turn answer here.", "Second turn."]}})
    toolkit.faults.add({"kind": "stream_error", "after_events": 3})
    seen: list[dict[str, Any]] = []

    async def consume() -> None:
        async for event in state.events(model_call(operation="ConverseStream"), record("ConverseStream")):
            seen.append(event)

    with pytest.raises(ModelStreamErrorException):
        asyncio.run(consume())
    assert len(seen) == 3
    retry = run(state, model_call(operation="ConverseStream"), record("ConverseStream", "req-2"))
    assert accumulate(retry)["content"][0]["text"] == "First turn answer here."


def test_stream_fault_longer_than_the_answer_strikes_before_the_last_event(state, toolkit):
    toolkit.rules.add({"respond": "Short."})
    toolkit.faults.add({"kind": "drop_connection", "after_events": 500})
    seen: list[dict[str, Any]] = []

    async def consume() -> None:
        async for event in state.events(model_call(operation="InvokeModelWithResponseStream"),
                                        record("InvokeModelWithResponseStream")):
            seen.append(event)

    with pytest.raises(DropConnection):
        asyncio.run(consume())
    assert seen[-1]["type"] == "message_delta"


def test_quota_refusal_is_labelled_and_settles_real_usage(state, toolkit):
    toolkit.quotas.configure(parse_quota_config({"requests_per_minute": 1, "tokens_per_minute": 100_000}))
    toolkit.rules.add({"respond": "one two three four five"})
    run(state, model_call(max_tokens=4000), record())
    rec = record(request_id="req-2")
    with pytest.raises(ThrottlingException) as info:
        run(state, model_call(), rec)
    assert info.value.message == "Too many requests, please wait before trying again."
    assert rec.injected_fault == "quota:requests_per_minute"
    (usage,) = toolkit.quotas.usage()
    # input tokens of the request + 5 x output tokens (Sonnet 4.5), not the 4000 reserved
    assert usage["requests"] == 1 and usage["tokens"] < 100


def test_reset_returns_to_the_baseline(tmp_path):
    settings = Settings(data_dir=str(tmp_path), extra={"testing": {
        "rules": [{"id": "base", "respond": "baseline"}],
        "quotas": {"requests_per_minute": 5},
    }})
    state = ServiceState(settings, engine=CountingEngine())
    toolkit = install(state)
    toolkit.rules.add({"respond": "added"})
    toolkit.faults.add({"kind": "ThrottlingException"})
    toolkit.quotas.configure(parse_quota_config({"requests_per_minute": 1}))
    with pytest.raises(ThrottlingException):
        run(state, model_call(), record())
    run(state, model_call(), record(request_id="req-2"))
    assert toolkit.rules.rules[0].used == 1 and len(toolkit.history) == 2 and toolkit.quotas.usage()
    toolkit.reset()
    assert [rule.id for rule in toolkit.rules.rules] == ["base"]
    assert toolkit.rules.rules[0].used == 0
    assert len(toolkit.faults) == 0 and len(toolkit.history) == 0
    assert toolkit.quotas.config.default.requests_per_minute == 5 and toolkit.quotas.usage() == []


def test_rules_file_toml_and_config_table_are_both_loaded(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('''
[[rules]]
id = "from-file"
match = { has_tools = true }
respond = { tool_use = { name = "get_weather", input = { city = "Paris" } } }

[[faults]]
kind = "latency"
latency_ms = 10
''')
    settings = Settings(data_dir=str(tmp_path), rules_file=str(rules),
                        extra={"testing": {"rules": [{"id": "from-config", "respond": "x"}]}})
    scenario = load_scenario(settings)
    assert [rule["id"] for rule in scenario.rules] == ["from-config", "from-file"]
    assert scenario.faults[0]["kind"] == "latency"


def test_rules_file_yaml(tmp_path):
    pytest.importorskip("yaml")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - match: {user_text_contains: weather}\n    respond: {text: Sunny}\n"
                     "quotas:\n  requests_per_minute: 3\n")
    scenario = load_scenario(Settings(data_dir=str(tmp_path), rules_file=str(rules)))
    assert scenario.rules[0]["respond"] == {"text": "Sunny"}
    assert scenario.quotas.default.requests_per_minute == 3


def test_yaml_without_pyyaml_says_so(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "yaml", None)
    rules = tmp_path / "rules.yml"
    rules.write_text("rules: []\n")
    with pytest.raises(ConfigError, match="PyYAML"):
        load_scenario(Settings(data_dir=str(tmp_path), rules_file=str(rules)))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[[rules]]\nrespond = { txt = 'x' }\n", "txt"),
        ("[[faults]]\nkind = 'Throttle'\n", "kind"),
        ("[quotas]\nrequests_per_minute = -1\n", "requests_per_minute"),
        ("[oops]\n", "oops"),
        ("rules = [\n", "invalid TOML"),
    ],
)
def test_bad_rules_file_fails_the_start_naming_the_problem(tmp_path, content, fragment):
    rules = tmp_path / "rules.toml"
    rules.write_text(content)
    with pytest.raises(ConfigError, match=fragment):
        load_scenario(Settings(data_dir=str(tmp_path), rules_file=str(rules)))


def test_missing_rules_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_scenario(Settings(data_dir=str(tmp_path), rules_file=str(tmp_path / "nope.toml")))


def test_call_history_forgets_oldest_calls_beyond_its_byte_budget():
    from claude_bedrock.service.calls import CallRecord
    from claude_bedrock.service.testing_hooks import CallHistory, held_bytes

    def record(i: int, size: int) -> CallRecord:
        return CallRecord(request_id=str(i), operation="InvokeModel", account_id="1", region="us-east-1",
                          identity_arn="arn", model_id="m", started_at=0.0, input_bytes=b"x" * size)

    history = CallHistory(size=100, max_bytes=3 * held_bytes(record(0, 300)))
    for i in range(5):
        history.add(record(i, 300))
    assert [e.record.request_id for e in history.entries()] == ["2", "3", "4"]
    history.add(record(9, 50_000))  # a single huge call is still kept, alone
    assert [e.record.request_id for e in history.entries()] == ["9"]
    history = CallHistory(size=100)
    for i in range(200):
        history.add(record(100 + i, 0))
    assert len(history) == 100


def _reachable_bytes(roots: list[Any]) -> int:
    """Every object reachable from ``roots`` (classes and modules aside), each counted once."""
    import gc
    import sys
    import types

    seen: set[int] = set()
    stack = list(roots)
    size = 0
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, (type, types.ModuleType, types.FunctionType)):
            continue
        seen.add(id(item))
        size += sys.getsizeof(item)
        stack.extend(gc.get_referents(item))
    return size


@pytest.mark.parametrize("operation", ["InvokeModelWithResponseStream", "ConverseStream"])
def test_the_history_budget_counts_the_responses_it_holds(tmp_path, operation):
    """Audit: the budget counted request bodies only, while a stream's record holds its events
    too: echoed 410 KB prompts (thousands of small deltas each) held 20 times the budget, about
    a gigabyte. The bytes the kept records hold, measured object by object, stay within it."""
    import json

    import boto3
    from botocore.config import Config

    from claude_bedrock.service.app import create_app
    from claude_bedrock.service.testing_hooks import CallHistory
    from support.inprocess import serve_in_thread

    budget = 2 * 1024 * 1024
    app = create_app(Settings(data_dir=str(tmp_path), simulator_mode="echo"))
    toolkit = toolkit_of(app.state)
    toolkit.history = CallHistory(max_bytes=budget)
    words = [f"w{i:05d}" for i in range(40_000)]
    with serve_in_thread(app) as url:
        client = boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="AKIDHISTORY", aws_secret_access_key="secret",
                              config=Config(retries={"max_attempts": 1}))
        for i in range(12):  # each prompt about 16 KB, its echo several hundred events
            prompt = " ".join(words[i * 2500:(i + 1) * 2500])
            if operation == "ConverseStream":
                answer = client.converse_stream(modelId=f"global.{MODEL}", inferenceConfig={"maxTokens": 20_000},
                                                messages=[{"role": "user", "content": [{"text": prompt}]}])
                events = list(answer["stream"])
            else:
                body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20_000,
                                   "messages": [{"role": "user", "content": prompt}]})
                events = list(client.invoke_model_with_response_stream(modelId=f"global.{MODEL}", body=body)["body"])
            assert len(events) > 300
    kept = toolkit.history.entries()
    assert 1 <= len(kept) < 12
    assert _reachable_bytes([entry.record for entry in kept]) <= budget


@pytest.mark.parametrize("operation", ["InvokeModel", "Converse"])
def test_the_history_budget_counts_long_answers_to_short_prompts(tmp_path, operation):
    """Audit: a usual record's rough size read its output tokens under ``output_tokens``, a key
    records do not have (``UsageTracker.as_dict``: ``outputTokens``), so a long answer to a
    short prompt counted as some 4.6 KB while it held 220 KB: the kept records held 50 times the
    budget. The bytes they hold, measured object by object, stay within it."""
    import json

    import boto3
    from botocore.config import Config

    from claude_bedrock.service.app import create_app
    from claude_bedrock.service.testing_hooks import CallHistory
    from claude_bedrock.testing.admin import BedrockAdmin
    from support.inprocess import serve_in_thread

    budget = 1024 * 1024
    app = create_app(Settings(data_dir=str(tmp_path)))
    toolkit = toolkit_of(app.state)
    toolkit.history = CallHistory(max_bytes=budget)
    with serve_in_thread(app) as url:
        with BedrockAdmin(url) as admin:
            admin.add_rule(text="lorem ipsum dolor sit amet " * 8000)  # some 40,000 tokens
        client = boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="AKIDHISTORY", aws_secret_access_key="secret",
                              config=Config(retries={"max_attempts": 1}))
        for _ in range(8):
            if operation == "Converse":
                client.converse(modelId=f"global.{MODEL}", inferenceConfig={"maxTokens": 64_000},
                                messages=[{"role": "user", "content": [{"text": "Hello"}]}])
            else:
                body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64_000,
                                   "messages": [{"role": "user", "content": "Hello"}]})
                client.invoke_model(modelId=f"global.{MODEL}", body=body)["body"].read()
    kept = toolkit.history.entries()
    assert 1 <= len(kept) < 8
    assert _reachable_bytes([entry.record for entry in kept]) <= budget


def test_bad_rules_file_error_names_the_file_and_the_key(tmp_path):
    import pytest

    from claude_bedrock.service.testing_hooks import load_scenario
    from claude_bedrock.settings import ConfigError, Settings

    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\nmatch = { nope = 1 }\nrespond = { text = "x" }\n')
    with pytest.raises(ConfigError) as info:
        load_scenario(Settings(data_dir=str(tmp_path), rules_file=str(rules)))
    assert str(rules) in str(info.value) and "nope" in str(info.value)


def test_a_call_that_outlives_a_reset_stays_out_of_the_next_test(tmp_path):
    """Audit: a call still running when the next test reset the server (its client timed out
    during injected latency, or a failed test still held its stream) was recorded in the new
    test's history, and took the new test's scripted turn after its latency."""
    now = [100.0]
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=CountingEngine(), clock=lambda: now[0])
    toolkit = install(state)
    toolkit.faults.add({"kind": "latency", "latency_ms": 1000})

    async def next_test_starts(seconds: float) -> None:
        now[0] += 1
        toolkit.reset()
        toolkit.rules.add({"id": "next-test", "respond": {"turns": ["one", "two"]}})

    toolkit.sleep = next_test_starts
    old = record()
    old.started_at = 100.0
    run(state, model_call(), old)
    assert state.engine.calls == 1  # the simulator answered it
    assert toolkit.rules.rules[0].used == 0 and len(toolkit.history) == 0
    new = record(request_id="req-2")
    new.started_at = now[0]
    events = run(state, model_call(), new)
    assert accumulate(events)["content"] == [{"type": "text", "text": "one"}]
    assert [entry.record.request_id for entry in toolkit.history.entries()] == ["req-2"]


@pytest.mark.parametrize(("table", "key"), [
    ('[[testing.rules]]\nmatch = { nope = 1 }\nrespond = { text = "x" }\n', "nope"),
    ('[[testing.faults]]\nkind = "Throttle"\n', "kind"),
    ("[testing.quotas]\nrequests_per_minute = -1\n", "requests_per_minute"),
    ("[testing]\nhistory_size = 0\n", "history_size"),
])
def test_a_bad_testing_table_of_the_config_file_names_the_file_and_the_key(tmp_path, table, key):
    """Audit: a mistake in the config file's [testing] table was reported as "[testing] ...",
    without the file (a rules file's mistakes name theirs): with the testing scenario spread over
    a config file and a rules file, the operator could not tell where to look."""
    from claude_bedrock.settings import build_settings

    config = tmp_path / "server.toml"
    config.write_text(table)
    with pytest.raises(ConfigError) as info:
        load_scenario(build_settings({"data_dir": str(tmp_path)}, {}, str(config)))
    assert f"{config} [testing]" in str(info.value) and key in str(info.value)


def test_the_history_sizes_a_usual_call_without_serialising_it(monkeypatch):
    """Review: measuring every record from its JSON cost InvokeModel 11% more work (53K
    instructions a call). A usual call is counted from its sizes alone, at least what it holds."""
    from claude_bedrock.service import testing_hooks
    from claude_bedrock.service.calls import CallRecord

    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200,
            "messages": [{"role": "user", "content": "hello " * 200}]}
    events = [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"w{i} "}}
              for i in range(60)]
    record = CallRecord(request_id="r", operation="InvokeModelWithResponseStream", account_id="1",
                        region="us-east-1", identity_arn="arn", model_id="m", started_at=0.0, input_body=body,
                        input_bytes=json.dumps(body).encode(), output_body=events, usage={"outputTokens": 120},
                        streamed=True)
    measured: list[Any] = []
    monkeypatch.setattr(testing_hooks, "_data_size", lambda value: measured.append(value) or 0)
    testing_hooks.held_bytes(dataclasses.replace(record, input_bytes=record.input_bytes * 64))
    assert measured  # a large one is measured
    measured.clear()
    assert testing_hooks.held_bytes(record) >= _reachable_bytes([record])
    assert measured == []


def test_quota_settles_the_tokens_a_call_cut_short_produced(state, toolkit):
    """Race audit: a call whose client left mid-answer is billed the output it produced up to
    the cut (``runtime.UsageTracker``), but its quota reservation settled at ``message_start``'s
    output count (1): tokens per minute under-counted every abandoned call."""
    from claude_bedrock.domain.tokens import count_delta

    toolkit.quotas.configure(parse_quota_config({"tokens_per_minute": 1_000_000}))
    produced = 0

    async def leave_after_some_deltas() -> int:
        nonlocal produced
        stream = state.events(model_call("Write a long essay about rivers", "InvokeModelWithResponseStream",
                                         max_tokens=2000), record("InvokeModelWithResponseStream"))
        deltas = 0
        async for event in stream:
            if event["type"] == "message_start":
                input_tokens = event["message"]["usage"]["input_tokens"]
            elif event["type"] == "content_block_delta":
                produced += count_delta(event["delta"])
                deltas += 1
                if deltas == 6:
                    break
        await stream.aclose()  # the client left: the server drops the stream
        return input_tokens

    input_tokens = asyncio.run(leave_after_some_deltas())
    (usage,) = toolkit.quotas.usage()
    assert produced > 1
    assert usage["tokens"] == input_tokens + 5 * produced  # Sonnet 4.5 burns 5 per output token
