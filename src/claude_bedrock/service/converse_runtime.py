"""Converse, ConverseStream and CountTokens: the operations whose input is translated from
the Converse shapes (``wire.converse``) into an Anthropic request, then served like
InvokeModel (``service.runtime``). Routed lazily: the translator is loaded on first use.
"""

from __future__ import annotations

from typing import Any, Sequence

from claude_bedrock.domain.engine import SETTING_HEADERS, ModelCall
from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.json_body import json_bytes
from claude_bedrock.domain.document_text import apply_text_only
from claude_bedrock.domain.validation import MODEL_ERRORS_PREFIX, parse_json_body, validate_messages_request
from claude_bedrock.service import offload
from claude_bedrock.service.chunk_frames import padding
from claude_bedrock.service.http import Send, send_response
from claude_bedrock.service.runtime import (
    Invocation,
    UsageTracker,
    GATEWAY_REFUSES_GUARDRAILS,
    base_headers,
    count_input,
    each_event,
    elapsed_ms,
    finish_record,
    prepare_call,
)
from claude_bedrock.service.stream_runtime import stream_response
from claude_bedrock.wire import eventstream
from claude_bedrock.wire.converse import (
    ConverseResponseBuilder,
    ConverseStreamRenderer,
    converse_to_anthropic,
)
from claude_bedrock.wire.count_tokens import count_tokens_input


def _object_body(inv: Invocation) -> dict[str, Any]:
    """The JSON request body, recorded; a body that is not a JSON object is refused."""
    body = inv.request.json()
    inv.record.input_body = body
    if not isinstance(body, dict):
        raise ValidationException("The request body must be a JSON object.")
    return body


async def _converse_call(inv: Invocation, stream: bool) -> tuple[ModelCall, Any]:
    body = _object_body(inv)
    translation = converse_to_anthropic(
        body, stream=stream, default_max_tokens=inv.resolution.model.max_output_tokens
    )
    if translation.request_metadata:
        inv.record.request_metadata = dict(translation.request_metadata)
    if translation.text_only_documents:
        # The guide: without citations, Converse only extracts a PDF's text (off the event loop).
        await offload.run(inv.disconnect, apply_text_only, translation.anthropic_body,
                          translation.text_only_documents)
    if translation.guardrail_config is not None and inv.state.gateway_id is not None:
        raise ValidationException(GATEWAY_REFUSES_GUARDRAILS)
    return await prepare_call(inv, translation.anthropic_body, converse_settings(translation),
                              model_errors_prefix=MODEL_ERRORS_PREFIX), translation


_LATENCY_HEADER, _TIER_HEADER = SETTING_HEADERS


def converse_settings(translation: Any) -> list[tuple[str, str]]:
    """Converse's ``serviceTier`` and ``performanceConfig`` as InvokeModel's headers
    (``ModelCall.invoke_settings``)."""
    settings = []
    if isinstance(translation.service_tier, dict) and isinstance(translation.service_tier.get("type"), str):
        settings.append((_TIER_HEADER, translation.service_tier["type"]))
    latency = translation.performance_config
    if isinstance(latency, dict) and isinstance(latency.get("latency"), str):
        settings.append((_LATENCY_HEADER, latency["latency"]))
    return settings


def report_served(rendering: Any, call: ModelCall) -> None:
    """Have a Converse rendering report the service tier and latency the engine served
    ``call`` with (``ModelCall.served_settings``), the inverse of ``converse_settings``."""
    if call.served_settings is None:
        return
    served = dict(call.served_settings)
    latency, tier = served.get(_LATENCY_HEADER), served.get(_TIER_HEADER)
    rendering.report_served({"latency": latency} if latency else None, {"type": tier} if tier else None)


async def converse(inv: Invocation, send: Send) -> None:
    call, translation = await _converse_call(inv, stream=False)
    builder = ConverseResponseBuilder.for_translation(translation)
    usage = UsageTracker()

    def take(event: dict[str, Any]) -> None:
        builder.feed(event)
        usage.observe(event)

    await each_event(inv, inv.state.events(call, inv.record), take)
    report_served(builder, call)
    latency = elapsed_ms(inv.started)
    response = builder.build(latency_ms=latency)
    finish_record(inv, usage, response, streamed=False)
    payload = json_bytes(response)
    headers = base_headers(inv) + [("content-type", "application/json"), ("content-length", str(len(payload)))]
    await send_response(send, 200, headers, payload)


async def converse_stream(inv: Invocation, send: Send) -> None:
    call, translation = await _converse_call(inv, stream=True)
    renderer = ConverseStreamRenderer.for_translation(translation)
    sent: list[dict[str, Any]] = []

    def render(batch: Sequence[dict[str, Any]], usage: UsageTracker) -> list[bytes]:
        frames = []
        for event in batch:
            outputs = renderer.feed(event)
            if event.get("type") == "message_stop":
                report_served(renderer, call)  # what the closing metadata reports
                outputs = outputs + renderer.finish(latency_ms=elapsed_ms(inv.started))
            for event_type, payload in outputs:
                # ``p`` pads the frame only: the events kept (the log of a stream cut short, the
                # call history) hold none, as InvokeModelWithResponseStream's chunks hold none
                padded = {**payload, "p": padding(len(sent))}
                sent.append({event_type: payload})
                frames.append(eventstream.event_frame(event_type, json_bytes(padded)))
        return frames

    await stream_response(inv, send, inv.state.events(call, inv.record), [], render, sent)
    inv.record.logged_output = renderer.response()  # AWS logs a ConverseStream as Converse


# --------------------------------------------------------------------------- CountTokens


async def count_tokens(inv: Invocation, send: Send) -> None:
    if inv.resolution.identifier_kind not in ("base", "foundation_model_arn"):
        raise ValidationException("The provided model doesn't support counting tokens.")
    body = _object_body(inv)
    text_only: list[tuple[dict[str, Any], tuple[str, ...]]] = []  # read below, off the event loop
    anthropic_body = count_tokens_input(body, parse_body=parse_json_body,
                                        text_only=lambda *documents: text_only.append(documents),
                                        default_max_tokens=inv.resolution.model.max_output_tokens)
    for documents in text_only:
        await offload.run(inv.disconnect, apply_text_only, *documents)
    # CountTokens kept the prefix: no public capture of its refusals says otherwise
    validated = validate_messages_request(anthropic_body, inv.resolution.model, model_errors_prefix=MODEL_ERRORS_PREFIX)
    testing = inv.state.testing
    if testing is not None and testing.has_faults:  # injected faults (testing_hooks); none: this check only
        await testing.count_tokens_faults(inv.record, inv.resolution.model.model_id, validated.body, inv.disconnect)
    count, _original = await count_input(inv.state, inv.request, validated, inv.resolution.model,
                                         region=inv.record.region, account_id=inv.record.account_id,
                                         watch=inv.disconnect)
    inv.record.usage = {"inputTokens": count, "outputTokens": 0}
    inv.record.latency_ms = elapsed_ms(inv.started)
    payload = json_bytes({"inputTokens": count})
    headers = base_headers(inv) + [("content-type", "application/json"), ("content-length", str(len(payload)))]
    await send_response(send, 200, headers, payload)
