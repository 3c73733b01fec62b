"""Event-stream codec: shared vectors, limits, malformed headers, Bedrock frames, botocore interop.

Vectors: ``vectors/eventstream`` (aws-sdk-go testdata, see its SOURCE.md).
"""

from __future__ import annotations

import base64
import inspect
import json
import struct
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import botocore.eventstream
import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st
from botocore.exceptions import EventStreamError as BotocoreEventStreamError
from botocore.parsers import EventStreamJSONParser

from claude_bedrock.wire import eventstream as es
from claude_bedrock.wire.eventstream import (
    MAX_HEADERS_BYTES,
    MAX_PAYLOAD_BYTES,
    PADDING_ALPHABET,
    DuplicateHeader,
    EventStreamDecoder,
    EventStreamError,
    HeadersTooLarge,
    HeaderType,
    HeaderValue,
    Int8,
    Int16,
    Int32,
    Int64,
    InvalidChunkPayload,
    InvalidHeaderName,
    InvalidHeadersLength,
    InvalidHeaderType,
    InvalidHeaderValue,
    InvalidPayloadLength,
    Message,
    MessageChecksumMismatch,
    PayloadTooLarge,
    PreludeChecksumMismatch,
    Timestamp,
    TruncatedStream,
    UUIDValue,
    chunk_frame,
    chunk_padding,
    chunk_payload,
    decode_chunk_payload,
    decode_messages,
    encode_header,
    encode_message,
    encode_prepared_message,
    encode_string_headers_message,
    error_frame,
    event_frame,
    exception_frame,
    header_type,
    prepare_string_headers,
)

POSITIVE_CASES = [
    "all_headers",
    "empty_message",
    "int32_header",
    "payload_no_headers",
    "payload_one_str_header",
]
NEGATIVE_CASES = [
    "corrupted_header_len",
    "corrupted_headers",
    "corrupted_length",
    "corrupted_payload",
]
#: The Go SDK's error text (decoded/negative/*) -> our error class.
NEGATIVE_ERRORS: dict[str, type[EventStreamError]] = {
    "Prelude checksum mismatch": PreludeChecksumMismatch,
    "Message checksum mismatch": MessageChecksumMismatch,
}
#: Vector JSON header value (SOURCE.md item 6) -> our typed value, per type code.
FROM_VECTOR_JSON: dict[int, Any] = {
    0: lambda v: v,
    1: lambda v: v,
    2: Int8,
    3: Int16,
    4: Int32,
    5: Int64,
    6: base64.b64decode,
    7: lambda v: base64.b64decode(v).decode("utf-8"),
    8: Timestamp,
    9: lambda v: UUIDValue(base64.b64decode(v)),
}
U32 = 1 << 32


def _vector(vectors_dir: Path, kind: str, polarity: str, case: str) -> bytes:
    return (vectors_dir / "eventstream" / kind / polarity / case).read_bytes()


def _expected(vectors_dir: Path, case: str) -> dict[str, Any]:
    return json.loads(_vector(vectors_dir, "decoded", "positive", case))


def _vector_headers(expected: dict[str, Any]) -> list[tuple[str, HeaderValue]]:
    return [(h["name"], FROM_VECTOR_JSON[h["type"]](h["value"])) for h in expected["headers"]]


def _prelude(total_length: int, headers_length: int) -> bytes:
    lengths = struct.pack(">II", total_length, headers_length)
    return lengths + struct.pack(">I", zlib.crc32(lengths))


def _frame_with_block(header_block: bytes, payload: bytes = b"") -> bytes:
    """A message with valid CRCs around an arbitrary (possibly malformed) header block."""
    prelude = _prelude(16 + len(header_block) + len(payload), len(header_block))
    body = prelude + header_block + payload
    return body + struct.pack(">I", zlib.crc32(body))


def _botocore_value(value: HeaderValue) -> Any:
    """What botocore's decoder yields for one of our header values."""
    if isinstance(value, (Int8, Int16, Int32, Int64)):
        return value.value
    if isinstance(value, Timestamp):
        return value.millis
    if isinstance(value, UUIDValue):
        return value.value.bytes
    return value


def _botocore_messages(data: bytes) -> list[botocore.eventstream.EventStreamMessage]:
    buffer = botocore.eventstream.EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


# ------------------------------------------------------------------------- vectors


def test_eventstream_vector_folder_holds_exactly_the_listed_cases(vectors_dir: Path) -> None:
    root = vectors_dir / "eventstream"
    for kind in ("encoded", "decoded"):
        assert sorted(p.name for p in (root / kind / "positive").iterdir()) == POSITIVE_CASES
        assert sorted(p.name for p in (root / kind / "negative").iterdir()) == NEGATIVE_CASES


@pytest.mark.parametrize("case", POSITIVE_CASES)
def test_eventstream_decodes_positive_vector(vectors_dir: Path, case: str) -> None:
    expected = _expected(vectors_dir, case)
    (message,) = decode_messages(_vector(vectors_dir, "encoded", "positive", case))

    got_headers = [(name, int(header_type(value)), value) for name, value in message.headers]
    want_headers = [
        (h["name"], h["type"], FROM_VECTOR_JSON[h["type"]](h["value"])) for h in expected["headers"]
    ]
    assert got_headers == want_headers
    assert message.payload == base64.b64decode(expected["payload"])
    assert message.total_length == expected["total_length"]
    assert message.headers_length == expected["headers_length"]
    assert message.prelude_crc == expected["prelude_crc"] % U32
    assert message.message_crc == expected["message_crc"] % U32


@pytest.mark.parametrize("case", POSITIVE_CASES)
def test_eventstream_encodes_positive_vector_byte_for_byte(vectors_dir: Path, case: str) -> None:
    expected = _expected(vectors_dir, case)
    encoded = _vector(vectors_dir, "encoded", "positive", case)
    built = encode_message(_vector_headers(expected), base64.b64decode(expected["payload"]))
    assert built == encoded
    assert decode_messages(encoded)[0].encode() == encoded


@pytest.mark.parametrize("case", POSITIVE_CASES)
def test_eventstream_decodes_positive_vector_one_byte_at_a_time(
    vectors_dir: Path, case: str
) -> None:
    encoded = _vector(vectors_dir, "encoded", "positive", case)
    decoder = EventStreamDecoder()
    messages = []
    for i in range(len(encoded)):
        decoder.feed(encoded[i : i + 1])
        messages.extend(decoder)
    decoder.close()
    assert messages == decode_messages(encoded)
    assert decoder.at_end


@pytest.mark.parametrize("case", NEGATIVE_CASES)
def test_eventstream_rejects_negative_vector(vectors_dir: Path, case: str) -> None:
    error = NEGATIVE_ERRORS[_vector(vectors_dir, "decoded", "negative", case).decode("ascii")]
    encoded = _vector(vectors_dir, "encoded", "negative", case)
    with pytest.raises(error):
        decode_messages(encoded)
    decoder = EventStreamDecoder()  # same error when the bytes trickle in
    with pytest.raises(error):
        for i in range(len(encoded)):
            decoder.feed(encoded[i : i + 1])
            decoder.next_message()


@pytest.mark.parametrize("case", POSITIVE_CASES)
def test_eventstream_botocore_agrees_on_positive_vector(vectors_dir: Path, case: str) -> None:
    encoded = _vector(vectors_dir, "encoded", "positive", case)
    (ours,) = decode_messages(encoded)
    (theirs,) = _botocore_messages(encoded)
    assert theirs.headers == {name: _botocore_value(value) for name, value in ours.headers}
    assert theirs.payload == ours.payload
    assert (theirs.prelude.crc, theirs.crc) == (ours.prelude_crc, ours.message_crc)


# ------------------------------------------------------------------ header values


ALL_TYPES: list[tuple[str, HeaderValue, HeaderType]] = [
    ("t", True, HeaderType.BOOL_TRUE),
    ("f", False, HeaderType.BOOL_FALSE),
    ("i8-min", Int8(-128), HeaderType.BYTE),
    ("i8-max", Int8(127), HeaderType.BYTE),
    ("i16-min", Int16(-(2**15)), HeaderType.SHORT),
    ("i16-max", Int16(2**15 - 1), HeaderType.SHORT),
    ("i32-min", Int32(-(2**31)), HeaderType.INTEGER),
    ("i32-max", Int32(2**31 - 1), HeaderType.INTEGER),
    ("i64-min", Int64(-(2**63)), HeaderType.LONG),
    ("i64-max", Int64(2**63 - 1), HeaderType.LONG),
    ("bytes", b"\x00\xffraw", HeaderType.BYTE_ARRAY),
    ("bytes-empty", b"", HeaderType.BYTE_ARRAY),
    ("str", "h\u00e9llo \U0001f600", HeaderType.STRING),
    ("str-max", "x" * 0xFFFF, HeaderType.STRING),
    ("ts-negative", Timestamp(-1), HeaderType.TIMESTAMP),
    ("ts", Timestamp(1_700_000_000_123), HeaderType.TIMESTAMP),
    ("uuid", UUIDValue(uuid.UUID("12345678-1234-5678-1234-567812345678")), HeaderType.UUID),
    ("n" * 255, "longest name", HeaderType.STRING),
    ("", "empty name", HeaderType.STRING),
]


def test_eventstream_every_header_type_round_trips() -> None:
    message = Message(tuple((name, value) for name, value, _ in ALL_TYPES), b"payload")
    encoded = message.encode()
    (decoded,) = decode_messages(encoded)
    assert decoded == message
    assert [header_type(v) for _, v in decoded.headers] == [t for _, _, t in ALL_TYPES]
    assert decoded.encode() == encoded


@pytest.mark.parametrize(("name", "value", "code"), ALL_TYPES[:17])
def test_eventstream_header_type_byte_on_the_wire(name: str, value: HeaderValue, code: int) -> None:
    encoded = encode_header(name, value)
    assert encoded[0] == len(name.encode())
    assert encoded[1 + len(name.encode())] == code


def test_eventstream_decoded_types_stay_distinct() -> None:
    # Same number, different wire types: not equal, so a decoded message keeps its types.
    assert Int8(1) != Int16(1)
    assert Message((("a", Int32(1)),)) != Message((("a", Int64(1)),))
    assert Message((("a", True),)) != Message((("a", Int8(1)),))


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: Int8(128), ValueError),
        (lambda: Int8(-129), ValueError),
        (lambda: Int16(2**15), ValueError),
        (lambda: Int32(2**31), ValueError),
        (lambda: Int64(2**63), ValueError),
        (lambda: Int32(True), TypeError),
        (lambda: Int32(1.0), TypeError),
        (lambda: Timestamp(2**63), ValueError),
        (lambda: Timestamp(datetime(2024, 1, 1)), ValueError),  # naive
        (lambda: UUIDValue(b"short"), ValueError),
        (lambda: UUIDValue("12345678123456781234567812345678"), TypeError),
    ],
)
def test_eventstream_header_wrappers_validate(build: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        build()


def test_eventstream_decoded_header_blocks_memo_is_bounded() -> None:
    """A stream whose every frame has new headers (a hostile or odd server) must not grow the
    decoder's memo of header blocks without bound."""
    es._DECODED_HEADER_BLOCKS.clear()
    frames = b"".join(encode_message([(":event-type", f"e{i}")], b"") for i in range(es._MEMO_BLOCKS_AT_MOST + 50))
    assert len(decode_messages(frames)) == es._MEMO_BLOCKS_AT_MOST + 50
    assert len(es._DECODED_HEADER_BLOCKS) == es._MEMO_BLOCKS_AT_MOST


def test_eventstream_timestamp_and_uuid_conversions() -> None:
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    stamp = Timestamp(moment)
    assert stamp.millis == 1714979289123
    assert stamp.to_datetime() == moment - timedelta(microseconds=456)
    assert Timestamp(moment.replace(microsecond=999_999)).millis == 1714979289999  # floored, not rounded
    assert Timestamp(datetime(1970, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))).millis == 0
    raw = bytes(range(16))
    assert UUIDValue(raw) == UUIDValue(uuid.UUID(bytes=raw))


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ([("n", 5)], TypeError),  # bare int: the width must be chosen explicitly
        ([("n", 1.5)], TypeError),
        ([("n", None)], TypeError),
        ([("n" * 256, "v")], ValueError),
        ([("n", "v" * 0x10000)], ValueError),
        ([("n", b"v" * 0x10000)], ValueError),
        ([("n", "\udc80")], ValueError),  # lone surrogate is not encodable UTF-8
        ([("a", "1"), ("a", "2")], DuplicateHeader),
    ],
)
def test_eventstream_encoder_rejects_bad_headers(headers: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        encode_message(headers, b"")


def test_eventstream_encoder_enforces_limits() -> None:
    many = [(f"h{i:05d}", "v" * 1000) for i in range(140)]  # ~142 KiB of headers
    with pytest.raises(HeadersTooLarge):
        encode_message(many, b"")
    with pytest.raises(PayloadTooLarge):
        encode_message([], bytes(MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(HeadersTooLarge):
        encode_prepared_message(b"x" * (MAX_HEADERS_BYTES + 1), b"")


def test_eventstream_message_header_lookup() -> None:
    message = Message([(":event-type", "chunk"), ("n", Int32(3))], bytearray(b"p"))
    assert message.headers == ((":event-type", "chunk"), ("n", Int32(3)))
    assert message.payload == b"p" and isinstance(message.payload, bytes)
    assert message.header(":event-type") == "chunk"
    assert message.header("n") == Int32(3)
    assert message.header("missing") is None
    assert message.header("missing", "dflt") == "dflt"


# --------------------------------------------------------------- prelude & limits


def test_eventstream_headers_limit_raised_from_prelude_alone() -> None:
    decoder = EventStreamDecoder()
    decoder.feed(_prelude(16 + MAX_HEADERS_BYTES + 1, MAX_HEADERS_BYTES + 1))
    with pytest.raises(HeadersTooLarge, match=str(MAX_HEADERS_BYTES + 1)):
        decoder.next_message()


def test_eventstream_payload_limit_raised_from_prelude_alone() -> None:
    decoder = EventStreamDecoder()
    decoder.feed(_prelude(16 + 10 + MAX_PAYLOAD_BYTES + 1, 10))
    with pytest.raises(PayloadTooLarge, match=str(MAX_PAYLOAD_BYTES + 1)):
        decoder.next_message()


def test_eventstream_limits_are_inclusive() -> None:
    decoder = EventStreamDecoder()
    decoder.feed(_prelude(16 + MAX_HEADERS_BYTES + MAX_PAYLOAD_BYTES, MAX_HEADERS_BYTES))
    assert decoder.next_message() is None  # accepted; waiting for the bytes


def test_eventstream_payload_at_limit_round_trips() -> None:
    payload = b"\x5a" * MAX_PAYLOAD_BYTES
    (message,) = decode_messages(encode_message([("k", "v")], payload))
    assert len(message.payload) == MAX_PAYLOAD_BYTES


@pytest.mark.parametrize(
    ("total_length", "headers_length", "error"),
    [
        (15, 0, InvalidPayloadLength),
        (0, 0, InvalidPayloadLength),
        (20, 5, InvalidHeadersLength),
        (16, 1, InvalidHeadersLength),
    ],
)
def test_eventstream_rejects_inconsistent_prelude(
    total_length: int, headers_length: int, error: type[EventStreamError]
) -> None:
    decoder = EventStreamDecoder()
    decoder.feed(_prelude(total_length, headers_length))
    with pytest.raises(error, match=str(total_length)):
        decoder.next_message()


def test_eventstream_prelude_checked_before_lengths_are_trusted() -> None:
    # Claims a huge payload, but the CRC is stale: the checksum error wins.
    bad = struct.pack(">III", 16 + MAX_PAYLOAD_BYTES + 1, 0, 0)
    with pytest.raises(PreludeChecksumMismatch, match="0x00000000"):
        decode_messages(bad)


# ------------------------------------------------------------ malformed headers


def test_eventstream_decoder_rejects_duplicate_header() -> None:
    block = encode_header("dup", "a") + encode_header("dup", Int32(1))
    with pytest.raises(DuplicateHeader, match="dup"):
        decode_messages(_frame_with_block(block))


@pytest.mark.parametrize(
    ("block", "error"),
    [
        (b"\x01a\x0a", InvalidHeaderType),  # type code 10
        (b"\x01a\xff", InvalidHeaderType),
        (b"\x05ab", InvalidHeaderName),  # name runs past the block
        (b"\x01a", InvalidHeaderName),  # no type byte
        (b"\x02\xc3\x28\x07\x00\x00", InvalidHeaderName),  # invalid UTF-8 name
        (b"\x01a\x07\x00\x0aabc", InvalidHeaderValue),  # string claims 10 bytes, has 3
        (b"\x01a\x07\x00", InvalidHeaderValue),  # string length cut short
        (b"\x01a\x07\x00\x02\xc3\x28", InvalidHeaderValue),  # invalid UTF-8 string
        (b"\x01a\x06\x00\x05ab", InvalidHeaderValue),
        (b"\x01a\x04\x00\x00\x01", InvalidHeaderValue),  # int32 with 3 bytes
        (b"\x01a\x05" + b"\x00" * 7, InvalidHeaderValue),
        (b"\x01a\x08" + b"\x00" * 7, InvalidHeaderValue),
        (b"\x01a\x09" + b"\x00" * 15, InvalidHeaderValue),
        (b"\x01a\x02", InvalidHeaderValue),
    ],
)
def test_eventstream_decoder_rejects_malformed_header_block(
    block: bytes, error: type[EventStreamError]
) -> None:
    with pytest.raises(error):
        decode_messages(_frame_with_block(block, payload=b"payload bytes after the block"))


def test_eventstream_header_value_cannot_borrow_payload_bytes() -> None:
    # The string claims 4 bytes; the block holds 2, the payload has plenty.
    with pytest.raises(InvalidHeaderValue, match="4 bytes but only 2"):
        decode_messages(_frame_with_block(b"\x01a\x07\x00\x04ab", payload=b"cdefgh"))


def test_eventstream_message_crc_checked_before_headers_are_parsed() -> None:
    frame = bytearray(_frame_with_block(b"\x01a\x0a"))  # bad header type ...
    frame[-1] ^= 0xFF  # ... and a bad message CRC: the CRC error comes first
    with pytest.raises(MessageChecksumMismatch):
        decode_messages(bytes(frame))


# ------------------------------------------------------------------ decoder flow


def test_eventstream_decoder_returns_none_until_message_complete() -> None:
    frame = encode_message([("k", "v")], b"data")
    decoder = EventStreamDecoder()
    decoder.feed(frame[:-1])
    assert decoder.next_message() is None
    assert decoder.buffered_bytes == len(frame) - 1
    assert not decoder.at_end
    decoder.feed(frame[-1:])
    assert decoder.next_message() == Message((("k", "v"),), b"data")
    assert decoder.next_message() is None
    assert decoder.at_end


def test_eventstream_decoder_close_on_partial_message_raises_truncated() -> None:
    frame = encode_message([], b"data")
    for cut in (1, 11, 12, len(frame) - 1):
        decoder = EventStreamDecoder()
        decoder.feed(frame[:cut])
        assert decoder.next_message() is None
        with pytest.raises(TruncatedStream, match=f"{cut} bytes buffered"):
            decoder.close()


def test_eventstream_decoder_close_then_drain_then_truncated_tail() -> None:
    first, second = event_frame("a", b"1"), event_frame("b", b"2")
    decoder = EventStreamDecoder()
    decoder.feed(first + second[:5])
    decoder.close()  # the next pending message is complete: no error yet
    assert decoder.next_message() == Message(
        ((":event-type", "a"), (":content-type", "application/json"), (":message-type", "event")),
        b"1",
    )
    with pytest.raises(TruncatedStream):
        decoder.next_message()


def test_eventstream_decoder_clean_close() -> None:
    decoder = EventStreamDecoder()
    decoder.feed(event_frame("a", b"1"))
    assert len(list(decoder)) == 1
    decoder.close()
    assert decoder.next_message() is None
    with pytest.raises(ValueError):
        decoder.feed(b"more")


def test_eventstream_decoder_stays_failed_after_error() -> None:
    good = event_frame("a", b"1")
    decoder = EventStreamDecoder()
    decoder.feed(b"\x00" * 12)  # zero prelude with CRC 0: mismatch
    with pytest.raises(PreludeChecksumMismatch):
        decoder.next_message()
    decoder.feed(good)
    with pytest.raises(PreludeChecksumMismatch):
        decoder.next_message()


def test_eventstream_decoder_many_messages_one_feed_and_compaction() -> None:
    frames = [event_frame("chunk", b"x" * (i % 300)) for i in range(2000)]
    stream = b"".join(frames)
    decoder = EventStreamDecoder()
    decoder.feed(stream)
    for i in range(1500):
        assert decoder.next_message() == decode_messages(frames[i])[0]
    # The consumed prefix has been dropped, not kept: the buffer is not the whole stream.
    assert len(decoder._buffer) < len(stream) // 2
    assert decoder.buffered_bytes == sum(map(len, frames[1500:]))
    assert len(list(decoder)) == 500
    decoder.close()


# ------------------------------------------------------------------ Bedrock frames

#: Raw header block of a real chunk, from the dump cited in wire-protocol reference 2.3.
REAL_CHUNK_HEADER_BLOCK = (
    b"\x0b:event-type\x07\x00\x05chunk"
    b"\r:content-type\x07\x00\x10application/json"
    b"\r:message-type\x07\x00\x05event"
)


def test_eventstream_event_frame_header_block_matches_real_bedrock() -> None:
    frame = event_frame("chunk", b'{"bytes":"e30="}')
    (headers_length,) = struct.unpack_from(">I", frame, 4)
    assert frame[12 : 12 + headers_length] == REAL_CHUNK_HEADER_BLOCK
    assert frame == encode_string_headers_message(
        [
            (":event-type", "chunk"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        b'{"bytes":"e30="}',
    )


def test_eventstream_exception_and_error_frames() -> None:
    (exc,) = decode_messages(exception_frame("throttlingException", b'{"message":"slow"}'))
    assert exc.headers == (
        (":exception-type", "throttlingException"),
        (":content-type", "application/json"),
        (":message-type", "exception"),
    )
    assert exc.payload == b'{"message":"slow"}'
    (err,) = decode_messages(error_frame("InternalFailure", "it broke"))
    assert err.headers == (
        (":message-type", "error"),
        (":error-code", "InternalFailure"),
        (":error-message", "it broke"),
    )
    assert err.payload == b""


def test_eventstream_prepared_headers_equal_general_encoder() -> None:
    headers = [("a", "1"), ("b", "\u00e9")]
    block = prepare_string_headers(headers)
    assert encode_prepared_message(block, b"p") == encode_message(headers, b"p")
    with pytest.raises(TypeError):
        prepare_string_headers([("a", b"bytes")])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "frame",
    [
        event_frame("chunk", b'{"bytes":"e30=","p":"abc"}'),
        event_frame("contentBlockDelta", b'{"delta":{"text":"hi"},"contentBlockIndex":0,"p":""}'),
        event_frame("contentBlockDelta", b'{"delta":{"text":"hi"},"contentBlockIndex":0}'),
        error_frame("InternalFailure", "it broke"),
        event_frame("x" * 200, b"\x00" * 5000),
    ],
)
def test_eventstream_botocore_buffer_parses_our_frames(frame: bytes) -> None:
    (ours,) = decode_messages(frame)
    (theirs,) = _botocore_messages(frame)
    assert theirs.headers == dict(ours.headers)
    assert list(theirs.headers) == [name for name, _ in ours.headers]
    assert theirs.payload == ours.payload


class _RawStream:
    """The ``raw_stream`` botocore's EventStream reads: chunks in arbitrary sizes."""

    def __init__(self, data: bytes, size: int) -> None:
        self._chunks = [data[i : i + size] for i in range(0, len(data), size)]

    def stream(self) -> Any:
        return iter(self._chunks)

    def close(self) -> None:
        pass


def _boto3_events(operation: str, data: bytes, chunk_size: int = 7) -> list[Any]:
    """What a boto3 client yields for ``data``; a stream error is appended, not raised."""
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    output = model.operation_model(operation).output_shape
    shape = next(m for m in output.members.values() if m.serialization.get("eventstream"))
    stream = botocore.eventstream.EventStream(
        _RawStream(data, chunk_size), shape, EventStreamJSONParser(), operation
    )
    events: list[Any] = []
    try:
        events.extend(stream)
    except BotocoreEventStreamError as error:
        events.append(error.response["Error"])
    return events


def test_eventstream_boto3_sees_chunks_and_stream_exception() -> None:
    inner = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}'
    data = (
        chunk_frame(inner, chunk_padding(12))
        + chunk_frame(b"{}", "")
        + exception_frame("throttlingException", b'{"message":"slow down"}')
    )
    assert _boto3_events("InvokeModelWithResponseStream", data) == [
        {"chunk": {"bytes": inner}},
        {"chunk": {"bytes": b"{}"}},
        {"Code": "throttlingException", "Message": "slow down"},
    ]


def test_eventstream_boto3_sees_converse_events_and_error_frame() -> None:
    data = event_frame("messageStart", b'{"role":"assistant","p":"abcd"}') + error_frame(
        "InternalFailure", "it broke"
    )
    assert _boto3_events("ConverseStream", data, chunk_size=1) == [
        {"messageStart": {"role": "assistant"}},
        {"Code": "InternalFailure", "Message": "it broke"},
    ]


# ------------------------------------------------------------ chunk payloads


def test_eventstream_chunk_payload_shape_and_round_trip() -> None:
    inner = b'{"type":"message_stop"}'
    payload = chunk_payload(inner, "abcdefghijkl")
    assert json.loads(payload) == {
        "bytes": base64.b64encode(inner).decode(),
        "p": "abcdefghijkl",
    }
    assert decode_chunk_payload(payload) == inner
    (message,) = decode_messages(chunk_frame(inner, "ab"))
    assert message.header(":event-type") == "chunk"
    assert decode_chunk_payload(message.payload) == inner


def test_eventstream_chunk_payload_from_real_bedrock_fixture() -> None:
    # Shape quoted in wire-protocol reference 2.5 (anthropic-sdk-java BedrockBackend.kt).
    payload = b'{"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0=","p":"abcdefghijkl"}'
    assert decode_chunk_payload(payload) == b'{"type":"message_stop"}'


def test_eventstream_chunk_padding() -> None:
    assert chunk_padding(0) == ""
    assert chunk_padding(5) == "abcde"
    assert chunk_padding(len(PADDING_ALPHABET)) == PADDING_ALPHABET
    with pytest.raises(ValueError):
        chunk_padding(len(PADDING_ALPHABET) + 1)
    with pytest.raises(ValueError):
        chunk_payload(b"{}", 'ab"c')
    with pytest.raises(ValueError):
        chunk_payload(b"{}", "bcd")  # not a prefix


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b"{}",
        b'{"bytes": 5}',
        b'{"bytes": "!!!notbase64"}',
        b'{"bytes": "abc"}',  # bad padding
        b'{"bytes": "\\u00e9"}',
        b"[" * 100_000,
    ],
)
def test_eventstream_decode_chunk_payload_rejects_bad_envelope(payload: bytes) -> None:
    with pytest.raises(InvalidChunkPayload):
        decode_chunk_payload(payload)


def test_eventstream_errors_are_event_stream_errors() -> None:
    for name in dir(es):
        obj = getattr(es, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == es.__name__:
            assert issubclass(obj, EventStreamError), name


def test_eventstream_all_covers_public_definitions() -> None:
    defined = {
        name
        for name, obj in vars(es).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == es.__name__
    }
    assert defined <= set(es.__all__)
    assert [name for name in es.__all__ if not hasattr(es, name)] == []


@given(st.binary(max_size=3000), st.integers(0, len(PADDING_ALPHABET)))
def test_eventstream_chunk_frame_is_the_generic_event_frame(inner: bytes, padding_length: int) -> None:
    # chunk_frame is a fast path: it must give the very bytes of the generic encoder.
    padding = chunk_padding(padding_length)
    assert chunk_frame(inner, padding) == event_frame("chunk", chunk_payload(inner, padding))


def test_eventstream_chunk_frame_refuses_bad_padding_and_huge_payloads(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="not a prefix"):
        chunk_frame(b"{}", "b")
    with pytest.raises(ValueError, match="not a prefix"):
        chunk_frame(b"{}", 'ab"c')
    monkeypatch.setattr(es, "MAX_PAYLOAD_BYTES", 100)
    with pytest.raises(es.PayloadTooLarge):
        chunk_frame(b"x" * 75, "a")
    assert decode_messages(chunk_frame(b"x" * 10, "a"))
