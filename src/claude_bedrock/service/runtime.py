"""bedrock-runtime operations: InvokeModel, InvokeModelWithResponseStream, Converse,
ConverseStream and CountTokens.

Every response is rendered from the one stream of Anthropic events an engine yields:

    engine.stream(call) ──► one renderer per output form ──► bytes on the socket
                              ├─ invoke_model                       (MessageAccumulator -> JSON + headers)
                              ├─ invoke_model_with_response_stream  (one ``chunk`` frame per event)
                              ├─ converse                           (ConverseResponseBuilder)
                              └─ converse_stream                    (ConverseStreamRenderer, frames per event)

Errors raised before the first event become ordinary JSON error responses; errors after a
stream has started become the matching exception frame (wire-protocol reference 2.3, 2.4).

InvokeModelWithResponseStream and the stream writer live in ``service/stream_runtime.py``;
Converse, ConverseStream and CountTokens (whose input passes through the Converse translator) in
``service/converse_runtime.py``. Both are loaded on their first call.
"""

from __future__ import annotations

import binascii
import contextlib
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Callable

from claude_bedrock.domain import tokens
from claude_bedrock.domain.catalog import Resolution
from claude_bedrock.domain.engine import SETTING_HEADERS, ModelCall, ReadyEvents
from claude_bedrock.domain.errors import ServiceUnavailableException, ValidationException
from claude_bedrock.domain.json_body import json_bytes, json_problem
from claude_bedrock.domain.log_text import one_line
from claude_bedrock.domain.message import MessageAccumulator
from claude_bedrock.domain.validation import (
    MODEL_ERRORS_PREFIX,
    ValidatedRequest,
    check_input_tokens,
    edited_prompt,
    max_output_tokens,
    parse_json_body,
    validate_messages_request,
)
from claude_bedrock.service import offload
from claude_bedrock.service.calls import CallRecord
from claude_bedrock.service.disconnect import DisconnectWatch
from claude_bedrock.service.http import Request, Send, send_response, utf8_value
from claude_bedrock.service.state import ServiceState

log = logging.getLogger("claude_bedrock.runtime")

_REQUEST_METADATA_HEADER = "x-amzn-bedrock-request-metadata"
#: InvokeModel's constrained headers -> (member name, shape) of the botocore model
#: (``InvokeModelRequest``; the shapes are ``wire.converse_shapes``'), see ``check_invoke_headers``.
_CONSTRAINED_HEADERS: dict[str, tuple[str, str]] = {
    "x-amzn-bedrock-trace": ("trace", "Trace"),
    "x-amzn-bedrock-guardrailidentifier": ("guardrailIdentifier", "GuardrailIdentifier"),
    "x-amzn-bedrock-guardrailversion": ("guardrailVersion", "GuardrailVersion"),
    "x-amzn-bedrock-performanceconfig-latency": ("performanceConfigLatency", "PerformanceConfigLatency"),
    "x-amzn-bedrock-service-tier": ("serviceTier", "ServiceTierType"),
    "x-amzn-bedrock-projectidentifier": ("projectIdentifier", "ProjectIdentifier"),
}
_CONSTRAINED_HEADER_NAMES = frozenset(_CONSTRAINED_HEADERS)
_GUARDRAIL_HEADER = "x-amzn-bedrock-guardrailidentifier"
#: The gateways a relayed call went through (``gateway_hop``).
VIA_HEADER = "x-claude-bedrock-via"
GATEWAY_LOOP = ("This call came back to a gateway that had relayed it: the gateways' upstreams form a loop. "
                "Their operator must fix --upstream.")
#: A gateway cannot apply a guardrail, nor hand back what the upstream's would report.
GATEWAY_REFUSES_GUARDRAILS = (
    "This server relays model calls to its upstream Bedrock without guardrails: a request that asks for one is "
    "refused rather than answered unguarded."
)


@dataclass
class Invocation:
    """Everything a handler needs once the caller and the model are known."""

    state: ServiceState
    request: Request
    record: CallRecord
    resolution: Resolution
    started: float
    #: Watches for the client leaving (``service.disconnect``): ``with inv.disconnect:`` around
    #: every wait on the engine (the client leaving ends it with ClientDisconnected), and
    #: ``inv.disconnect.start()`` before a long run of writes. A short answer that is ready
    #: leaves at once, with nothing to watch.
    disconnect: DisconnectWatch


#: base64's two symbols made letters, so that 16 bytes read as 22 base62-looking characters.
_BASE64_TO_ALNUM = bytes.maketrans(b"+/", b"Xz")


def _message_id(request_id: str) -> str:
    """``msg_bdrk_01`` + 22 letters and digits of mixed case, as Bedrock's ids look
    (``msg_bdrk_012GBPzpcoMCLP1b2pcJsSHk``): the request ID's 16 bytes, unique per call."""
    raw = bytes.fromhex(request_id.replace("-", ""))
    return "msg_bdrk_01" + binascii.b2a_base64(raw, newline=False)[:22].translate(_BASE64_TO_ALNUM).decode()


def stopping_error() -> ServiceUnavailableException:
    """The answer of a call still running when the server stops (uvicorn cancels it once the
    graceful-shutdown wait is over): an AWS error the clients parse and retry (botocore retries
    a 503, the anthropic SDK any 5xx), as a JSON error or, once a stream has started, as its
    last frame (both streams' outputs have a ``serviceUnavailableException`` member)."""
    return ServiceUnavailableException("The server stopped before the response was complete. Retry your request.")


def elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


class UsageTracker:
    """Token counts as they appear in message_start / message_delta events.

    Until ``message_delta`` gives the final output count, ``output`` is what the answer has
    *produced* so far: the tokens of the content events observed (``tokens.ProducedTokens``),
    at least ``message_start``'s count. So a stream cut short (client gone, connection dropped,
    server stopping) records the tokens generated up to the cut, which Bedrock bills, whether
    or not they reached the client: produced, not delivered.
    """

    __slots__ = ("input", "_output", "cache_read", "cache_write", "cache_5m", "cache_1h", "_produced", "_final")

    def __init__(self) -> None:
        self.input = self._output = self.cache_read = self.cache_write = 0
        self.cache_5m = self.cache_1h = 0
        self._produced: tokens.ProducedTokens | None = None  # made by the first content event
        self._final = False

    @property
    def output(self) -> int:
        if self._final or self._produced is None:
            return self._output
        return max(self._output, self._produced.tokens)

    def observe(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start":
            self._take(event["message"].get("usage") or {})
        elif kind == "message_delta":
            usage = event.get("usage") or {}
            if "output_tokens" in usage:
                self._output = usage["output_tokens"]
                self._final = True
        elif not self._final:
            if self._produced is None:
                self._produced = tokens.ProducedTokens()
            self._produced.observe(event)

    def observe_message(self, message: dict[str, Any]) -> None:
        """Take the final counts of a whole (accumulated) message: its ``usage`` is
        ``message_start``'s updated by ``message_delta``'s, as the body reports it."""
        self._take(message.get("usage") or {})
        self._final = True

    def _take(self, usage: dict[str, Any]) -> None:
        self.input = usage.get("input_tokens", 0)
        self.cache_read = usage.get("cache_read_input_tokens", 0) or 0
        self.cache_write = usage.get("cache_creation_input_tokens", 0) or 0
        breakdown = usage.get("cache_creation") or {}
        self.cache_5m = breakdown.get("ephemeral_5m_input_tokens", 0)
        self.cache_1h = breakdown.get("ephemeral_1h_input_tokens", 0)
        self._output = usage.get("output_tokens", 0)

    def as_dict(self) -> dict[str, int]:
        return {
            "inputTokens": self.input,
            "outputTokens": self.output,
            "cacheReadInputTokens": self.cache_read,
            "cacheWriteInputTokens": self.cache_write,
            "cacheWrite5mInputTokens": self.cache_5m,
            "cacheWrite1hInputTokens": self.cache_1h,
        }


# --------------------------------------------------------------------------- preparation


def request_metadata(request: Request) -> dict[str, str] | None:
    """InvokeModel's ``requestMetadata`` header, for the call's record (its bytes read as UTF-8
    when they are: boto3 sends ``José`` so)."""
    received = request.header(_REQUEST_METADATA_HEADER)
    if received is None:
        return None
    raw = utf8_value(received)
    if len(raw) > 8500:
        raise ValidationException("requestMetadata must be at most 8500 characters.")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return {"value": raw}
    problem = json_problem(value, received.encode("latin-1"))  # an unpaired surrogate: no record could hold it
    if problem is not None:
        raise ValidationException(f"requestMetadata is not valid JSON: {problem}.")
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {"value": raw}


def check_invoke_headers(request: Request, *, guardrails: bool = True) -> Sequence[tuple[str, str]]:
    """InvokeModel's enum and pattern headers (trace, guardrail, latency, service tier, project) as the
    botocore model constrains them, with AWS's "N validation errors detected" message.

    Args:
        guardrails: False on a gateway, which refuses a request naming a guardrail.

    Returns: the latency and service-tier headers the request set, which the response reports
    back (``SETTING_HEADERS``) and a gateway asks upstream (``ModelCall.invoke_settings``).

    Raises:
        ValidationException: a header value outside its constraint, or a guardrail asked of a
            gateway.
    """
    if _CONSTRAINED_HEADER_NAMES.isdisjoint(request.header_lists):  # the usual case, made cheap
        return ()
    from claude_bedrock.service.control_input import Rule, Violations
    from claude_bedrock.wire.converse_shapes import SHAPES

    violations = Violations()
    for header, (member, shape_name) in _CONSTRAINED_HEADERS.items():
        value = request.header(header)
        if value is not None:
            shape = SHAPES[shape_name]
            rule = Rule(min=shape.min, max=shape.max, pattern=shape.pattern, enum=shape.enum)  # type: ignore[union-attr]
            violations.check(value, member, rule)
    violations.raise_if_any()
    if not guardrails and request.header(_GUARDRAIL_HEADER) is not None:
        raise ValidationException(GATEWAY_REFUSES_GUARDRAILS)
    return [(name, value) for name in SETTING_HEADERS if (value := request.header(name)) is not None]


def reported_settings(call: ModelCall, asked: Sequence[tuple[str, str]]) -> Sequence[tuple[str, str]]:
    """The service tier and latency a response reports (InvokeModel's headers): as the engine
    served the call (``ModelCall.served_settings``: a gateway's upstream's), else as ``asked``."""
    return asked if call.served_settings is None else call.served_settings


_count_preserving_thinking = functools.partial(tokens.count_request, preserve_thinking=True)


def count_prompt(validated: ValidatedRequest, model: Any) -> tuple[int, int | None]:
    """What CountTokens reports for a validated body: the input tokens of the prompt the model
    would see, ``context_management`` edits applied ("the token count that would be charged if
    the same input were sent to the model", AWS CountTokens reference); and the count before the
    edits (``EditedContext.original_input_tokens``), None without edits."""
    count = tokens.count_request(validated.body, preserve_thinking=model.preserves_thinking)
    if not validated.edits:
        return count, None
    edited = edited_prompt(validated.body, validated.edits, model, count)
    return edited.input_tokens, edited.original_input_tokens


async def count_input(state: ServiceState, request: Request, validated: ValidatedRequest, model: Any, *,
                      region: str, account_id: str, watch: DisconnectWatch | None = None) -> tuple[int, int | None]:
    """``count_prompt``, asked of the engine when it counts tokens itself (the gateway's: its
    upstream's CountTokens, for the bare model ID), else counted here. ``watch``: the call's
    (``Invocation.disconnect``), so that the engine's count, a wait, ends when the client leaves."""
    counter = getattr(state.engine, "count_tokens", None)
    if counter is None:
        if validated.documents:  # reading them takes time: off the event loop
            return await offload.run(watch, count_prompt, validated, model)
        return count_prompt(validated, model)
    hop = gateway_hop(state, request) if state.gateway_id is not None else ()

    def counting(body: dict[str, Any], edits: Any = None) -> ModelCall:
        return ModelCall(request=body, model_id=model.model_id, anthropic_name=model.anthropic_name,
                         message_id="", account_id=account_id, region=region, operation="CountTokens",
                         betas=validated.betas, context_management=edits, invoke_settings=hop)

    body = {key: value for key, value in validated.body.items() if key != "context_management"}
    with contextlib.nullcontext() if watch is None else watch:
        count: int = await counter(counting(body))
        if not validated.edits:
            return count, None
        edited = edited_prompt(validated.body, validated.edits, model, count)
        return await counter(counting(edited.request, edited.response)), count


def gateway_hop(state: ServiceState, request: Request,
                invoke_settings: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """A gateway's call: ``invoke_settings`` plus the ``x-claude-bedrock-via`` chain of the
    gateways it went through, this one last, for the upstream.

    Raises:
        ValidationException: this gateway is in the chain already: its upstream (or one
            further up) points back at it, and the call would go round until sockets ran out;
            or the chain is no list of gateway names.
    """
    own = str(state.gateway_id)
    chain = request.header(VIA_HEADER)
    if chain is not None and (len(chain) > 4096 or not chain.isascii() or not chain.isprintable()):
        raise ValidationException(f"{VIA_HEADER} must be a comma-separated list of gateway names.")
    if chain and own in chain.split(","):
        log.error("gateway loop: a call this gateway relayed came back to it (via %s); check --upstream "
                  "here and on the servers it points at", one_line(chain))
        raise ValidationException(GATEWAY_LOOP)
    return [*invoke_settings, (VIA_HEADER, f"{chain},{own}" if chain else str(own))]


async def prepare_call(inv: Invocation, body: dict[str, Any],
                       invoke_settings: Sequence[tuple[str, str]] = (),
                       model_errors_prefix: str = "") -> ModelCall:
    """Validate an Anthropic body for the resolved model and build the engine call
    (``invoke_settings``: see ``ModelCall``; ``model_errors_prefix``: what Bedrock puts before
    the model's rejections, none on InvokeModel: ``validate_messages_request``). The documents
    of a body holding some are read off the event loop (``service.offload``): for its count,
    and its prompt cache's segments."""
    model = inv.resolution.model
    if inv.state.gateway_id is not None:
        invoke_settings = gateway_hop(inv.state, inv.request, invoke_settings)
    # The usual model strips earlier thinking: the plain counter, no partial built per call.
    count = _count_preserving_thinking if model.preserves_thinking else tokens.count_request
    validated = validate_messages_request(body, model, count_input_tokens=count, defer_documents=True,
                                          model_errors_prefix=model_errors_prefix)
    segments = None
    if validated.input_tokens is None:  # documents: their count reads them
        validated, segments = await offload.run(inv.disconnect, _read_documents, validated, model, count,
                                                model_errors_prefix)
    messages = validated.body["messages"]
    # The model's check, after Bedrock's own; a one-message conversation has no assistant turn.
    # A gateway's thinking blocks were signed upstream, which checks them itself.
    if len(messages) > 1 and inv.state.checks_thinking_signatures:
        inv.state.thinking_signer.check_conversation(messages, model.model_id)
    inv.state.note_deprecated(model)
    request, preserve_thinking = _prompt(validated, model)
    return ModelCall(
        request=request,
        model_id=model.model_id,
        anthropic_name=model.anthropic_name,
        message_id=_message_id(inv.record.request_id),
        account_id=inv.record.account_id,
        region=inv.record.region,
        operation=inv.record.operation,
        betas=validated.betas,
        input_tokens=validated.input_tokens,
        preserve_thinking=preserve_thinking,
        prompt_segments=segments,
        context_management=None if validated.edited is None else validated.edited.response,
        profile_id=inv.resolution.profile_id,
        invoke_settings=invoke_settings,
    )


def _prompt(validated: ValidatedRequest, model: Any) -> tuple[dict[str, Any], bool]:
    """The prompt the model sees (and bills): the edited one with context editing; and whether
    it keeps the thinking of earlier turns."""
    edited = validated.edited
    if edited is None:
        return validated.body, model.preserves_thinking
    return edited.request, edited.preserve_thinking


def _read_documents(validated: ValidatedRequest, model: Any, count: Callable[[dict[str, Any]], int],
                    model_errors_prefix: str) -> tuple[ValidatedRequest, list[tokens.PromptSegment] | None]:
    """What reading a request's documents gives, in one hand-over to a worker thread (pure):
    the request counted (``check_input_tokens``), and when its prompt carries a cache breakpoint,
    that prompt's segments (``ModelCall.prompt_segments``), which the prompt cache would
    otherwise compute on the event loop, reading the documents again."""
    validated = check_input_tokens(validated, model, count, model_errors_prefix)
    request, preserve_thinking = _prompt(validated, model)
    if not tokens.has_cache_control(request):
        return validated, None
    return validated, tokens.prompt_segments(request, preserve_thinking=preserve_thinking)


def finish_record(inv: Invocation, usage: UsageTracker, output: Any, streamed: bool) -> None:
    record = inv.record
    record.latency_ms = elapsed_ms(inv.started)
    record.usage = usage.as_dict()
    record.output_body = output
    record.streamed = streamed


async def each_event(inv: Invocation, events: AsyncIterator[dict[str, Any]],
                     take: Callable[[dict[str, Any]], Any]) -> None:
    """Hand every event of a whole (not streamed) answer to ``take``. An answer that takes
    time (one that is not ready yet) is a wait on the engine that the client giving up ends at
    once (``service.disconnect``), so that a call abandoned by its client is recorded as such
    (``app._runtime``), with the tokens the answer had produced up to the cut, as a stream cut
    short is (``UsageTracker``)."""
    if type(events) is ReadyEvents:  # the whole answer exists: no await per event
        for event in events.take_rest():
            take(event)
        return
    produced = UsageTracker()  # what a call cut short has produced (``app._cut_short``)
    started = False  # an error before the first event (a refusal) produced nothing: no usage
    try:
        with inv.disconnect:
            async for event in events:
                started = True
                produced.observe(event)
                take(event)
    except BaseException:
        if started and not inv.record.usage:
            inv.record.usage = produced.as_dict()
        raise


def base_headers(inv: Invocation) -> list[tuple[str, str]]:
    return [("x-amzn-requestid", inv.record.request_id)]


# --------------------------------------------------------------------------- InvokeModel


async def invoke_model(inv: Invocation, send: Send) -> None:
    echoed = check_invoke_headers(inv.request, guardrails=inv.state.gateway_id is None)
    body = parse_json_body(inv.request.body)
    inv.record.input_body = body
    call = await prepare_call(inv, body, echoed)
    accumulator = MessageAccumulator()
    await each_event(inv, inv.state.events(call, inv.record), accumulator.add)
    message = accumulator.message()
    usage = UsageTracker()
    usage.observe_message(message)
    finish_record(inv, usage, message, streamed=False)
    payload = json_bytes(message)
    headers = [
        *base_headers(inv),
        *reported_settings(call, echoed),
        ("content-type", "application/json"),
        ("x-amzn-bedrock-invocation-latency", str(inv.record.latency_ms)),
        ("x-amzn-bedrock-input-token-count", str(usage.input)),
        ("x-amzn-bedrock-output-token-count", str(usage.output)),
        ("content-length", str(len(payload))),
    ]
    if usage.cache_read or usage.cache_write:
        headers.append(("x-amzn-bedrock-cache-read-input-token-count", str(usage.cache_read)))
        headers.append(("x-amzn-bedrock-cache-write-input-token-count", str(usage.cache_write)))
    await send_response(send, 200, headers, payload)


# --------------------------------------------------------------------------- Anthropic count_tokens


async def anthropic_count_tokens(
    state: ServiceState, request: Request, identity: Any, params: dict[str, str]
) -> tuple[int, Any]:
    """``POST /v1/messages/count_tokens``: what the npm SDK's ``messages.countTokens`` sends
    (the first-party path, unchanged, with ``model`` in the body; wire-protocol captures)."""
    body = parse_json_body(request.body)
    model_id = body.pop("model", None)
    if model_id is not None and not isinstance(model_id, str):
        raise ValidationException("model: Input should be a valid string")
    if not model_id:
        raise ValidationException("model: Field required")
    resolution = state.resolve(model_id, identity.region, identity.account_id)
    state.check_model_access(identity.account_id, identity.region, resolution.model)
    body.setdefault("anthropic_version", "bedrock-2023-05-31")
    # The request carries no max_tokens: the model's output limit (with the betas asked for), as
    # the CountTokens converse form uses, so that a thinking budget is judged as an InvokeModel
    # of that model would be.
    header_betas = [flag.strip() for value in request.header_lists.get("anthropic-beta", ())
                    for flag in value.split(",") if flag.strip()]
    body_betas = body.get("anthropic_beta") if isinstance(body.get("anthropic_beta"), list) else []
    body.setdefault("max_tokens", max_output_tokens(resolution.model, [*header_betas, *body_betas]))
    # CountTokens kept the prefix: no public capture of its refusals says otherwise
    validated = validate_messages_request(body, resolution.model, header_betas=header_betas,
                                          model_errors_prefix=MODEL_ERRORS_PREFIX)
    count, original = await count_input(state, request, validated, resolution.model, region=identity.region,
                                        account_id=identity.account_id)
    if original is None:
        return 200, {"input_tokens": count}
    # context editing: the count before the edits too (the SDKs' BetaMessageTokensCount)
    return 200, {"input_tokens": count, "context_management": {"original_input_tokens": original}}
