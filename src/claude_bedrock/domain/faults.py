"""Fault plans for tests: which model calls fail, how, and when.

A fault is ``{kind, model?, operation?, account?, count? | probability?, after_events?,
exception?, latency_ms?, message?, id?}``. Kinds (``KINDS``):

=================================  ============================================================
``ThrottlingException`` ...        the error answers instead of the model, before any output
(``ERROR_KINDS``)                  (ModelTimeout, ServiceUnavailable, InternalServer,
                                   ModelNotReady, ModelError too)
``stream_error``                   a stream exception frame (``exception``: ``modelStream-
                                   ErrorException`` by default, ``throttlingException``,
                                   ``internalServerException``, ``serviceUnavailableException``
                                   or ``validationException``) after ``after_events`` events
``drop_connection``                the connection is cut after ``after_events`` events
``latency``                        ``latency_ms`` added before the first event
=================================  ============================================================

Operations: a fault without ``operation`` applies to the four model operations
(``RUNTIME_OPERATIONS``), never to CountTokens; one naming ``CountTokens`` (alone or among
others: ``FAULT_OPERATIONS``) also strikes CountTokens calls, which can only be a latency or
one of the errors botocore's bedrock-runtime model declares for CountTokens
(``COUNT_TOKENS_KINDS``: ThrottlingException, ServiceUnavailableException,
InternalServerException; its ValidationException, AccessDenied and ResourceNotFound are the
caller's doing, not faults).

Stream kinds apply to the streaming operations only (InvokeModelWithResponseStream,
ConverseStream); "events" are the model's Anthropic stream events (``message_start`` is the
first), ``after_events`` is at least 0 (default 1), and when the answer is shorter the fault
strikes in place of its last event, so a drawn stream fault always fires. At 0 a
``stream_error`` is the stream's first frame (the response is a 200 whose only frame is the
exception: ``ErrorAsFirstFrame``), and a ``drop_connection`` cuts the connection after the
response's head, before any frame.

When: ``count: N`` fires on the next N matching calls (queued); ``probability: p`` fires on each
matching call with probability p (at most ``count`` times when both are given; ``probability:
1`` is "every call"); neither means ``count: 1``. ``model``, ``operation`` and ``account`` (the
caller's 12-digit account ID) filter as in ``scripting.Match``.

Drawing (``FaultPlan.draw``), once per call, in insertion order: every applicable latency fault
that fires adds its delay; the first applicable error or stream fault that fires is the call's
fault and later ones are not consulted (so they keep their count). Randomness comes only from
the injected ``rng`` (uniform in [0, 1)), drawn once per applicable probabilistic fault, so a
seeded rng replays the same faults for the same calls.

Each fault that fires adds a label to ``Injection.labels`` (``ThrottlingException``,
``stream_error:modelStreamErrorException@3``, ``drop_connection@3``, ``latency:250ms``), which
the service writes to the call record's ``injected_fault``.

Source: issue 6 (testing toolkit); error statuses and stream members: wire reference 2.4, 3;
CountTokens' errors: botocore ``data/bedrock-runtime/*/service-2.json``, operation CountTokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from claude_bedrock.domain.errors import BedrockError, DropConnection
from claude_bedrock.domain.scripting import (
    RUNTIME_OPERATIONS,
    CallView,
    ScriptError,
    SpecBook,
    account_filter,
    error_for,
    model_filter,
    model_matches,
    operations_of,
    refuse_unknown_keys,
)

__all__ = [
    "COUNT_TOKENS_KINDS",
    "ERROR_KINDS",
    "FAULT_OPERATIONS",
    "KINDS",
    "STREAM_EXCEPTIONS",
    "STREAMING_OPERATIONS",
    "Fault",
    "FaultPlan",
    "Injection",
    "parse_fault",
]

ERROR_KINDS = (
    "ThrottlingException",
    "ModelTimeoutException",
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelNotReadyException",
    "ModelErrorException",
)
STREAM_KINDS = ("stream_error", "drop_connection")
KINDS = ERROR_KINDS + STREAM_KINDS + ("latency",)
STREAMING_OPERATIONS = ("InvokeModelWithResponseStream", "ConverseStream")
#: What a fault's ``operation`` may name; without one, a fault applies to RUNTIME_OPERATIONS.
FAULT_OPERATIONS = (*RUNTIME_OPERATIONS, "CountTokens")
#: The kinds a CountTokens call can receive (its errors in botocore's model, and latency).
COUNT_TOKENS_KINDS = ("ThrottlingException", "ServiceUnavailableException", "InternalServerException", "latency")

#: Stream exception member -> AWS error code; members valid in both stream unions (wire 2.4).
STREAM_EXCEPTIONS: dict[str, str] = {
    "modelStreamErrorException": "ModelStreamErrorException",
    "throttlingException": "ThrottlingException",
    "internalServerException": "InternalServerException",
    "serviceUnavailableException": "ServiceUnavailableException",
    "validationException": "ValidationException",
}
#: Stream exception members of InvokeModelWithResponseStream's ResponseStream alone.
INVOKE_STREAM_EXCEPTIONS: dict[str, str] = {"modelTimeoutException": "ModelTimeoutException"}

_KEYS = ("id", "kind", "model", "operation", "account", "count", "probability", "after_events", "exception", "latency_ms", "message")


@dataclass(slots=True)
class Fault:
    id: str
    kind: str
    model: str | None = None
    operations: tuple[str, ...] = ()
    account: str | None = None
    #: Fires left (None: unlimited, probabilistic only).
    remaining: int | None = 1
    probability: float | None = None
    after_events: int = 1
    exception: str = "modelStreamErrorException"
    latency_ms: int = 0
    message: str | None = None
    fired: int = 0

    @property
    def is_stream(self) -> bool:
        return self.kind in STREAM_KINDS

    def applies(self, view: CallView) -> bool:
        """Live, and its filters (and the stream-only rule) admit the call."""
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.is_stream and view.operation not in STREAMING_OPERATIONS:
            return False
        if view.operation not in (self.operations or RUNTIME_OPERATIONS):
            return False
        if self.account is not None and view.account_id != self.account:
            return False
        return self.model is None or model_matches(self.model, view.model_names)

    @property
    def label(self) -> str:
        if self.kind == "stream_error":
            return f"stream_error:{self.exception}@{self.after_events}"
        if self.kind == "drop_connection":
            return f"drop_connection@{self.after_events}"
        if self.kind == "latency":
            return f"latency:{self.latency_ms}ms"
        return self.kind

    def error(self) -> BedrockError | DropConnection:
        """What the service raises when this fault strikes (not for latency faults)."""
        if self.kind == "drop_connection":
            return DropConnection(self.label)
        if self.kind == "stream_error":
            return error_for((STREAM_EXCEPTIONS | INVOKE_STREAM_EXCEPTIONS)[self.exception], self.message)
        if self.kind in ERROR_KINDS:
            return error_for(self.kind, self.message)
        raise ValueError(f"a {self.kind} fault raises nothing")

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind}
        if self.model is not None:
            out["model"] = self.model
        if self.operations:
            out["operation"] = list(self.operations)
        if self.account is not None:
            out["account"] = self.account
        if self.probability is not None:
            out["probability"] = self.probability
        if self.is_stream:
            out["after_events"] = self.after_events
        if self.kind == "stream_error":
            out["exception"] = self.exception
        if self.kind == "latency":
            out["latency_ms"] = self.latency_ms
        if self.message is not None:
            out["message"] = self.message
        out["remaining"] = self.remaining
        out["fired"] = self.fired
        return out


def _int(spec: Mapping[str, Any], key: str, origin: str, minimum: int) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScriptError(f"{origin}.{key}: expected an integer >= {minimum}")
    return value


def parse_fault(spec: Any, fault_id: str, origin: str = "fault") -> Fault:
    """Build a Fault from its JSON/TOML/YAML form (module docstring)."""
    if not isinstance(spec, Mapping):
        raise ScriptError(f"{origin}: expected a table with a kind")
    refuse_unknown_keys(spec, _KEYS, origin)
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ScriptError(f"{origin}.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    operations = (operations_of(spec["operation"], f"{origin}.operation", FAULT_OPERATIONS)
                  if spec.get("operation") else ())
    if kind in STREAM_KINDS and any(op not in STREAMING_OPERATIONS for op in operations):
        raise ScriptError(f"{origin}.operation: {kind} applies to streaming operations only "
                          f"({', '.join(STREAMING_OPERATIONS)})")
    if "CountTokens" in operations and kind not in COUNT_TOKENS_KINDS:
        raise ScriptError(f"{origin}.operation: CountTokens takes only {', '.join(COUNT_TOKENS_KINDS[:-1])} "
                          f"or {COUNT_TOKENS_KINDS[-1]} faults, not {kind}")
    count = _int(spec, "count", origin, 1)
    probability = spec.get("probability")
    if probability is not None:
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
            raise ScriptError(f"{origin}.probability: expected a number between 0 and 1")
        probability = float(probability)
    remaining = count if count is not None else (None if probability is not None else 1)
    after_events = _int(spec, "after_events", origin, 0)
    if after_events is not None and kind not in STREAM_KINDS:
        raise ScriptError(f"{origin}.after_events: only for stream_error and drop_connection")
    exception = spec.get("exception", "modelStreamErrorException")
    if "exception" in spec and kind != "stream_error":
        raise ScriptError(f"{origin}.exception: only for stream_error")
    if exception in INVOKE_STREAM_EXCEPTIONS:
        if operations != ("InvokeModelWithResponseStream",):
            raise ScriptError(f"{origin}.exception: {exception} exists in InvokeModelWithResponseStream's stream "
                              "only: add operation = \"InvokeModelWithResponseStream\"")
    elif exception not in STREAM_EXCEPTIONS:
        raise ScriptError(f"{origin}.exception: expected one of {', '.join([*STREAM_EXCEPTIONS, *INVOKE_STREAM_EXCEPTIONS])}, "
                          f"got {exception!r}")
    latency_ms = _int(spec, "latency_ms", origin, 1)
    if kind == "latency" and latency_ms is None:
        raise ScriptError(f"{origin}.latency_ms: required for a latency fault")
    if latency_ms is not None and kind != "latency":
        raise ScriptError(f"{origin}.latency_ms: only for latency faults")
    message = spec.get("message")
    if message is not None and (not isinstance(message, str) or not message):
        raise ScriptError(f"{origin}.message: expected a non-empty string")
    if message is not None and kind in ("drop_connection", "latency"):  # no error is sent: nothing would say it
        raise ScriptError(f"{origin}.message: only for error kinds and stream_error (the error's message)")
    model = spec.get("model")
    if model is not None:
        model = model_filter(model, f"{origin}.model")
    given_id = spec.get("id")
    if given_id is not None and (not isinstance(given_id, str) or not given_id):
        raise ScriptError(f"{origin}.id: expected a non-empty string")
    return Fault(
        id=given_id or fault_id,
        kind=kind,
        model=model,
        operations=operations,
        account=account_filter(spec, origin),
        remaining=remaining,
        probability=probability,
        after_events=1 if after_events is None else after_events,
        exception=exception,
        latency_ms=latency_ms or 0,
        message=message,
    )


@dataclass(frozen=True, slots=True)
class Injection:
    """The faults drawn for one call."""

    latency_ms: int = 0
    #: The error or stream fault of the call, if any.
    fault: Fault | None = None
    labels: tuple[str, ...] = ()

    @property
    def before(self) -> Fault | None:
        """The fault to raise before the first event (an error kind)."""
        return self.fault if self.fault is not None and not self.fault.is_stream else None

    @property
    def stream(self) -> Fault | None:
        """The fault to strike mid-stream."""
        return self.fault if self.fault is not None and self.fault.is_stream else None

    @property
    def label(self) -> str | None:
        return ",".join(self.labels) or None


NO_INJECTION = Injection()


class FaultPlan(SpecBook[Fault]):
    """The pending faults of a server, drawn once per model call.

    Args:
        rng: returns a float uniform in [0, 1) (e.g. ``random.Random(seed).random``).
    """

    kind = "fault"

    def __init__(self, rng: Callable[[], float]) -> None:
        super().__init__()
        self._rng = rng

    @property
    def faults(self) -> tuple[Fault, ...]:
        return tuple(self._items)

    def reseed(self, rng: Callable[[], float]) -> None:
        self._rng = rng

    def _parse(self, spec: Any, default_id: str, origin: str) -> Fault:
        return parse_fault(spec, default_id, origin)

    def _fires(self, fault: Fault) -> bool:
        if fault.probability is not None and not self._rng() < fault.probability:
            return False
        fault.fired += 1
        if fault.remaining is not None:
            fault.remaining -= 1
        return True

    def give_back(self, fault: Fault) -> None:
        """Undo one firing of ``fault``, drawn for a call that never showed it: a stream fault
        of a call that never streamed (refused by a quota or a rule, or left by its client), an
        error fault of a call whose client left during its latency. It waits for the next call."""
        fault.fired -= 1
        if fault.remaining is not None:
            fault.remaining += 1

    def draw(self, view: CallView) -> Injection:
        """Decide the faults of one call (module docstring), consuming their counts."""
        if not self._items:
            return NO_INJECTION
        latency = 0
        chosen: Fault | None = None
        labels: list[str] = []
        for fault in self._items:
            if not fault.applies(view):
                continue
            if fault.kind == "latency":
                if self._fires(fault):
                    latency += fault.latency_ms
                    labels.append(fault.label)
            elif chosen is None and self._fires(fault):
                chosen = fault
                labels.append(fault.label)
        return Injection(latency_ms=latency, fault=chosen, labels=tuple(labels))
