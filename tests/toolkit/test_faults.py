"""Fault plans: parsing, filters, queued and probabilistic draws, the errors they raise."""

from __future__ import annotations

import random

import pytest

from claude_bedrock.domain.errors import (
    DropConnection,
    ModelErrorException,
    ModelNotReadyException,
    ModelTimeoutException,
    ServiceUnavailableException,
    ThrottlingException,
)
from claude_bedrock.domain.faults import FaultPlan, parse_fault
from claude_bedrock.domain.scripting import CallView, ScriptError

NAMES = ("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5")
HAIKU = ("anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5")


def view(operation: str = "InvokeModel", names=NAMES, account: str = "111122223333") -> CallView:
    return CallView(names, operation, account, "us-west-2", {"messages": []})


def never() -> float:
    raise AssertionError("the rng must not be drawn")


def test_queued_fault_fires_on_the_next_n_matching_calls_only():
    plan = FaultPlan(never)
    plan.add({"kind": "ThrottlingException", "count": 2})
    kinds = [plan.draw(view()).label for _ in range(3)]
    assert kinds == ["ThrottlingException", "ThrottlingException", None]
    assert plan.faults[0].describe()["fired"] == 2 and plan.faults[0].remaining == 0


def test_fault_without_count_or_probability_fires_once():
    plan = FaultPlan(never)
    plan.add({"kind": "InternalServerException"})
    assert plan.draw(view()).before is not None
    assert plan.draw(view()).before is None


def test_model_and_operation_filters():
    plan = FaultPlan(never)
    plan.add({"kind": "ThrottlingException", "model": "claude-haiku-*", "operation": "Converse"})
    assert plan.draw(view("Converse")).fault is None
    assert plan.draw(view("InvokeModel", HAIKU)).fault is None
    assert plan.draw(view("Converse", HAIKU)).fault is not None


def test_account_filter():
    plan = FaultPlan(never)
    plan.add({"kind": "ThrottlingException", "account": "222222222222"})
    assert plan.faults[0].describe()["account"] == "222222222222"
    assert plan.draw(view()).fault is None
    assert plan.draw(view(account="222222222222")).fault is not None


def test_stream_faults_only_hit_streaming_operations():
    plan = FaultPlan(never)
    plan.add({"kind": "stream_error", "after_events": 3})
    assert plan.draw(view("InvokeModel")).fault is None
    assert plan.draw(view("Converse")).fault is None
    injection = plan.draw(view("ConverseStream"))
    assert injection.stream is not None and injection.before is None
    assert injection.label == "stream_error:modelStreamErrorException@3"


def test_probabilistic_faults_replay_with_the_same_seed():
    def pattern(seed: int) -> list[bool]:
        plan = FaultPlan(random.Random(seed).random)
        plan.add({"kind": "ServiceUnavailableException", "probability": 0.3})
        return [plan.draw(view()).fault is not None for _ in range(200)]

    first = pattern(7)
    assert first == pattern(7)
    assert 30 < sum(first) < 90
    assert first != pattern(8)


def test_probability_with_count_caps_the_fires():
    plan = FaultPlan(lambda: 0.0)
    plan.add({"kind": "ThrottlingException", "probability": 1, "count": 2})
    assert [plan.draw(view()).fault is not None for _ in range(4)] == [True, True, False, False]


def test_probability_bounds_are_inclusive_and_a_fault_of_probability_0_never_fires():
    """probability is a number between 0 and 1, both included: a draw is in [0, 1), so 0 never
    fires (not even on a draw of 0.0) and 1 always does."""
    plan = FaultPlan(lambda: 0.0)
    plan.add({"kind": "ThrottlingException", "probability": 0, "count": 3})
    assert [plan.draw(view()).fault for _ in range(3)] == [None, None, None]
    assert plan.faults[0].remaining == 3
    plan = FaultPlan(lambda: 0.999999)
    plan.add({"kind": "ThrottlingException", "probability": 1.0, "count": 1})
    assert plan.draw(view()).fault is not None


def test_latency_faults_add_up_and_do_not_block_an_error_fault():
    plan = FaultPlan(never)
    plan.add({"kind": "latency", "latency_ms": 200})
    plan.add({"kind": "latency", "latency_ms": 50})
    plan.add({"kind": "ModelTimeoutException"})
    injection = plan.draw(view())
    assert injection.latency_ms == 250
    assert injection.label == "latency:200ms,latency:50ms,ModelTimeoutException"


def test_first_error_fault_wins_and_later_ones_keep_their_count():
    plan = FaultPlan(never)
    plan.add({"kind": "ThrottlingException"})
    plan.add({"kind": "ModelErrorException"})
    assert plan.draw(view()).fault.kind == "ThrottlingException"
    assert plan.draw(view()).fault.kind == "ModelErrorException"


@pytest.mark.parametrize(
    ("kind", "cls", "status"),
    [
        ("ThrottlingException", ThrottlingException, 429),
        ("ModelTimeoutException", ModelTimeoutException, 408),
        ("ServiceUnavailableException", ServiceUnavailableException, 503),
        ("ModelNotReadyException", ModelNotReadyException, 429),
        ("ModelErrorException", ModelErrorException, 424),
    ],
)
def test_error_kinds_raise_the_typed_aws_error(kind, cls, status):
    error = parse_fault({"kind": kind}, "f").error()
    assert type(error) is cls and error.status == status and error.message


def test_stream_error_exception_choice_and_drop():
    throttle = parse_fault({"kind": "stream_error", "exception": "throttlingException", "message": "slow down"}, "f")
    error = throttle.error()
    assert error.stream_member == "throttlingException" and error.message == "slow down"
    assert isinstance(parse_fault({"kind": "drop_connection"}, "f").error(), DropConnection)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"kind": "Throttling"}, "kind"),
        ({"kind": "stream_error", "operation": "InvokeModel"}, "streaming operations only"),
        ({"kind": "stream_error", "after_events": -1}, "after_events"),
        ({"kind": "ThrottlingException", "after_events": 2}, "only for stream_error"),
        ({"kind": "stream_error", "exception": "modelTimeout"}, "exception"),
        ({"kind": "latency"}, "latency_ms"),
        ({"kind": "ThrottlingException", "probability": 1.5}, "probability"),
        ({"kind": "ThrottlingException", "count": 0}, "count"),
        ({"kind": "ThrottlingException", "sometimes": True}, "sometimes"),
        # a message no error carries was accepted and silently did nothing
        ({"kind": "latency", "latency_ms": 5, "message": "slow"}, "message: only for error kinds"),
        ({"kind": "drop_connection", "message": "cut"}, "message: only for error kinds"),
        ({"kind": "ThrottlingException", "account": "12345"}, "account: expected a 12-digit account ID"),
        ({"kind": "ThrottlingException", "account": 111122223333}, "account: expected a non-empty string"),
    ],
)
def test_parse_fault_rejects_bad_faults(spec, fragment):
    with pytest.raises(ScriptError, match=fragment):
        parse_fault(spec, "f")


def test_clear_and_remove():
    plan = FaultPlan(never)
    plan.extend([{"kind": "ThrottlingException", "id": "t"}, {"kind": "latency", "latency_ms": 5}])
    assert plan.remove("t") and not plan.remove("t")
    plan.clear()
    assert len(plan) == 0 and plan.draw(view()).label is None


# --------------------------------------------------------------------------- CountTokens


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "ThrottlingException", "operation": "CountTokens"},
        {"kind": "ServiceUnavailableException", "operation": ["Converse", "CountTokens"]},
        {"kind": "InternalServerException", "operation": ["CountTokens"]},
        {"kind": "latency", "latency_ms": 100, "operation": "CountTokens"},
    ],
)
def test_a_fault_may_name_count_tokens(spec):
    fault = parse_fault(spec, "f")
    assert "CountTokens" in fault.operations and "CountTokens" in fault.describe()["operation"]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        # botocore's CountTokens declares no ModelTimeout, ModelNotReady nor ModelError exception
        ({"kind": "ModelTimeoutException", "operation": "CountTokens"}, "CountTokens takes only"),
        ({"kind": "ModelNotReadyException", "operation": ["InvokeModel", "CountTokens"]}, "CountTokens takes only"),
        ({"kind": "ModelErrorException", "operation": "CountTokens"}, "CountTokens takes only"),
        ({"kind": "stream_error", "operation": "CountTokens"}, "streaming operations only"),
        ({"kind": "drop_connection", "operation": ["ConverseStream", "CountTokens"]}, "streaming operations only"),
        ({"kind": "ThrottlingException", "operation": "CountToken"}, "unknown operation 'CountToken'"),
    ],
)
def test_count_tokens_faults_are_limited_to_what_count_tokens_answers(spec, fragment):
    with pytest.raises(ScriptError, match=fragment):
        parse_fault(spec, "f")


def test_a_fault_without_an_operation_leaves_count_tokens_alone():
    plan = FaultPlan(never)
    plan.add({"kind": "ThrottlingException", "count": 2})
    plan.add({"kind": "latency", "latency_ms": 10})
    assert plan.draw(view("CountTokens")) == plan.draw(view("CountTokens")) == FaultPlan(never).draw(view())
    assert [fault.fired for fault in plan.faults] == [0, 0]
    assert plan.draw(view("Converse")).label == "ThrottlingException,latency:10ms"


def test_a_count_tokens_fault_fires_on_count_tokens_only():
    plan = FaultPlan(never)
    plan.add({"kind": "latency", "latency_ms": 30, "operation": "CountTokens", "count": 2})
    plan.add({"kind": "ThrottlingException", "operation": "CountTokens"})
    assert plan.draw(view("InvokeModel")).label is None
    injection = plan.draw(view("CountTokens"))
    assert (injection.latency_ms, injection.label) == (30, "latency:30ms,ThrottlingException")
    assert type(injection.before.error()) is ThrottlingException
    assert plan.draw(view("CountTokens")).label == "latency:30ms"
