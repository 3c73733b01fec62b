"""Event-stream decoding into typed events and typed errors, and reply accumulation
(client/streams.py), fed with frames built by the project's encoder."""

from __future__ import annotations

import json

import pytest

from claude_bedrock.client import errors
from claude_bedrock.client.streams import (
    ConverseAccumulator,
    ConverseStreamDecoder,
    InvokeStreamDecoder,
    MessageAccumulator,
)
from claude_bedrock.client.types import (
    ContentBlockDeltaEvent,
    MessageStartEvent,
    MessageStopEvent,
    OtherEvent,
    TextDelta,
    TextEvent,
    ToolUseBlock,
)
from claude_bedrock.wire.eventstream import chunk_frame, event_frame, exception_frame

from client.fault_server import anthropic_events, chunks, converse_frames, stream_error_frame, stream_exception


def _drain(decoder, data: bytes, step: int = 7) -> list:
    events = []
    for start in range(0, len(data), step):
        decoder.feed(data[start:start + step])
        while (event := decoder.next_event()) is not None:
            events.append(event)
    decoder.close()
    return events


def test_streams_invoke_events_decode_in_any_chunking():
    data = b"".join(chunks(anthropic_events(["Hel", "lo"])))
    for step in (1, 7, len(data)):
        events = _drain(InvokeStreamDecoder("rid"), data, step)
        assert [e.type for e in events] == [
            "message_start", "content_block_start", "content_block_delta", "content_block_delta",
            "content_block_stop", "message_delta", "message_stop",
        ]  # fmt: skip
        assert isinstance(events[0], MessageStartEvent) and events[0].message.model == "claude-sonnet-4-5-20250929"
        assert isinstance(events[2], ContentBlockDeltaEvent) and events[2].delta == TextDelta("Hel")
        assert isinstance(events[-1], MessageStopEvent) and events[-1].invocation_metrics.first_byte_latency == 7


def test_streams_ping_and_unknown_event_types_are_skipped_unknown_anthropic_types_kept():
    data = (
        chunk_frame(b'{"type":"ping"}', "")
        + event_frame("somethingNew", b"{}")
        + chunk_frame(b'{"type":"brand_new","x":1}', "ab")
    )
    events = _drain(InvokeStreamDecoder(None), data)
    assert events == [OtherEvent("brand_new", {"type": "brand_new", "x": 1})]


@pytest.mark.parametrize("member", sorted(errors.STREAM_ERRORS))
def test_streams_exception_frame_raises_its_typed_error(member):
    cls, status = errors.STREAM_ERRORS[member]
    decoder = InvokeStreamDecoder("req-1")
    decoder.feed(b"".join(chunks(anthropic_events(["a"]))[:3]) + stream_exception(member, "it broke"))
    received = [decoder.next_event() for _ in range(3)]
    assert all(received)
    with pytest.raises(cls) as caught:
        decoder.next_event()
    error = caught.value
    assert (error.code, error.status_code, error.http_status) == (member, status, 200)
    assert (error.message, error.request_id, error.events_received) == ("it broke", "req-1", 3)
    assert isinstance(error, errors.StreamError) and isinstance(error, errors.APIStatusError)


def test_streams_typed_errors_are_also_their_status_classes():
    assert issubclass(errors.ThrottlingError, errors.RateLimitError)
    assert issubclass(errors.StreamServiceUnavailableError, errors.InternalServerError)
    assert issubclass(errors.ModelStreamError, errors.ModelError)


def test_streams_model_stream_error_carries_modelled_fields():
    decoder = InvokeStreamDecoder(None)
    decoder.feed(stream_exception("modelStreamErrorException", "boom", originalStatusCode=503, originalMessage="x"))
    with pytest.raises(errors.ModelStreamError) as caught:
        decoder.next_event()
    assert (caught.value.original_status_code, caught.value.original_message) == (503, "x")


def test_streams_unknown_exception_member_is_a_generic_stream_error():
    decoder = InvokeStreamDecoder(None)
    decoder.feed(stream_exception("quotaException", "over"))
    with pytest.raises(errors.StreamError) as caught:
        decoder.next_event()
    assert type(caught.value) is errors.StreamError and caught.value.code == "quotaException"
    assert caught.value.status_code == 500  # mutation audit: the generic status had no test


def test_streams_exception_frame_message_is_read_in_either_case():
    """Mutation audit: AWS JSON errors may spell it ``Message``, and an empty payload leaves the
    member as the message; neither had a test."""
    decoder = InvokeStreamDecoder(None)
    decoder.feed(exception_frame("throttlingException", b'{"Message": "Too many tokens, please wait."}'))
    with pytest.raises(errors.ThrottlingError) as caught:
        decoder.next_event()
    assert caught.value.message == "Too many tokens, please wait."
    decoder = InvokeStreamDecoder(None)
    decoder.feed(exception_frame("throttlingException", b""))  # no payload: the member names it
    with pytest.raises(errors.ThrottlingError) as caught:
        decoder.next_event()
    assert caught.value.message == "throttlingException"


def test_streams_error_frame_raises_by_error_code():
    decoder = InvokeStreamDecoder(None)
    decoder.feed(stream_error_frame("ThrottlingException", "slow down"))
    with pytest.raises(errors.ThrottlingError) as caught:
        decoder.next_event()
    assert (caught.value.code, caught.value.message) == ("ThrottlingException", "slow down")
    decoder = InvokeStreamDecoder(None)
    decoder.feed(stream_error_frame("InternalFailure", "oops"))
    with pytest.raises(errors.StreamError) as caught:
        decoder.next_event()
    assert type(caught.value) is errors.StreamError and caught.value.code == "InternalFailure"


def test_streams_anthropic_error_event_in_chunk_is_typed():
    decoder = InvokeStreamDecoder(None)
    decoder.feed(chunk_frame(b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', ""))
    with pytest.raises(errors.StreamServiceUnavailableError) as caught:
        decoder.next_event()
    assert (caught.value.code, caught.value.message) == ("overloaded_error", "Overloaded")


def test_streams_bad_bytes_and_truncation_are_response_validation_errors():
    decoder = InvokeStreamDecoder(None)
    frame = bytearray(chunks(anthropic_events(["a"]))[0])
    frame[-1] ^= 0xFF
    decoder.feed(bytes(frame))
    with pytest.raises(errors.APIResponseValidationError, match="invalid event stream"):
        decoder.next_event()
    decoder = InvokeStreamDecoder(None)
    decoder.feed(chunks(anthropic_events(["a"]))[0][:-3])
    assert decoder.next_event() is None
    with pytest.raises(errors.APIResponseValidationError, match="ended early"):
        decoder.close()
    decoder = InvokeStreamDecoder(None)
    decoder.feed(event_frame("chunk", b'{"bytes":"not base64!"}'))
    with pytest.raises(errors.APIResponseValidationError, match="invalid chunk"):
        decoder.next_event()


def test_streams_accumulator_builds_final_message_with_tool_input():
    events = anthropic_events(["Let me ", "check."])
    tool_events = [
        {"type": "content_block_start", "index": 1,
         "content_block": {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"city": '}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'}},
        {"type": "content_block_stop", "index": 1},
    ]  # fmt: skip
    events = events[:5] + tool_events + events[5:]
    decoded = _drain(InvokeStreamDecoder("rid"), b"".join(chunks(events)))
    accumulator = MessageAccumulator(pricing=None, bedrock_model_id="global.x", request_id="rid")
    derived = [accumulator.add(event) for event in decoded]
    assert [d for d in derived if d is not None] == [TextEvent("Let me ", "Let me "), TextEvent("check.", "Let me check.")]
    message = accumulator.final_message()
    assert message.text == "Let me check."
    assert message.content[1] == ToolUseBlock("toolu_1", "weather", {"city": "Paris"})
    assert (message.stop_reason, message.usage.output_tokens, message.usage.input_tokens) == ("end_turn", 100, 1000)
    assert (message.request_id, message.bedrock_model_id, message.invocation_metrics.invocation_latency) == (
        "rid", "global.x", 42)
    # the snapshot is a copy: the message_start event handed out earlier is unchanged
    assert decoded[0].message.content == [] and decoded[0].message.usage.output_tokens == 1


def test_streams_accumulator_takes_cache_usage_and_blank_tool_input_from_the_deltas():
    """Mutation audit: a ``message_delta``'s cache read count (sent with the final usage) and a
    tool call whose streamed JSON is only blanks (input ``{}``) had no test: dropping the one
    and reading the other as the text ``" "`` went unnoticed."""
    events = anthropic_events(["Hi"])
    events[-2]["usage"].update(cache_read_input_tokens=640, cache_creation_input_tokens=128)
    tool_events = [
        {"type": "content_block_start", "index": 1,
         "content_block": {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": " "}},
        {"type": "content_block_stop", "index": 1},
    ]  # fmt: skip
    decoded = _drain(InvokeStreamDecoder(None), b"".join(chunks(events[:4] + tool_events + events[4:])))
    accumulator = MessageAccumulator(pricing=None, bedrock_model_id="global.x", request_id=None)
    for event in decoded:
        accumulator.add(event)
    message = accumulator.final_message()
    assert (message.usage.cache_read_input_tokens, message.usage.cache_creation_input_tokens) == (640, 128)
    assert message.content[1] == ToolUseBlock("toolu_1", "now", {})


def test_streams_accumulator_ignores_a_delta_for_a_block_never_started():
    """Mutation audit: a delta whose index has no block yet (one past the last) is skipped, not an
    IndexError traceback; only ``>`` instead of ``>=`` was needed to break it, unnoticed."""
    events = anthropic_events(["Hi"])
    stray = {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "lost"}}
    decoded = _drain(InvokeStreamDecoder(None), b"".join(chunks(events[:3] + [stray] + events[3:])))
    accumulator = MessageAccumulator(pricing=None, bedrock_model_id="global.x", request_id=None)
    assert [d for d in (accumulator.add(event) for event in decoded) if d is not None] == [TextEvent("Hi", "Hi")]
    assert accumulator.final_message().text == "Hi"


def test_streams_accumulator_without_message_start_is_an_api_error():
    accumulator = MessageAccumulator(pricing=None, bedrock_model_id="global.x", request_id="rid")
    with pytest.raises(errors.APIError, match="without a message_start") as caught:
        accumulator.final_message()
    assert caught.value.request_id == "rid"


def test_streams_converse_decoder_and_accumulator():
    decoded = _drain(ConverseStreamDecoder("rid"), b"".join(converse_frames(["Bon", "jour"])))
    assert [e.type for e in decoded] == [
        "messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"]
    assert decoded[0].data == {"role": "assistant"}  # padding removed
    accumulator = ConverseAccumulator(pricing=None, bedrock_model_id="m", request_id="rid")
    texts = [accumulator.add(event) for event in decoded]
    assert [t for t in texts if t] == ["Bon", "jour"]
    response = accumulator.final_response()
    assert response.text == "Bonjour" and response.stop_reason == "end_turn"
    assert (response.usage.total_tokens, response.latency_ms, response.request_id) == (15, 12, "rid")
    assert json.loads(json.dumps(response.raw))["output"]["message"]["content"] == [{"text": "Bonjour"}]
