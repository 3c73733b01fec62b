"""Event-stream codec properties (hypothesis).

* Any list of messages, encoded, concatenated and fed in any chunking, decodes to the same
  messages; re-encoding them gives the same bytes.
* Arbitrary or mutated bytes only ever raise ``EventStreamError`` subclasses.
"""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_bedrock.wire.eventstream import (
    EventStreamDecoder,
    EventStreamError,
    HeaderValue,
    Int8,
    Int16,
    Int32,
    Int64,
    Message,
    Timestamp,
    UUIDValue,
    decode_chunk_payload,
    encode_message,
)

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _signed(bits: int) -> st.SearchStrategy[int]:
    return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


header_values: st.SearchStrategy[HeaderValue] = st.one_of(
    st.booleans(),
    _signed(8).map(Int8),
    _signed(16).map(Int16),
    _signed(32).map(Int32),
    _signed(64).map(Int64),
    st.binary(max_size=40),
    st.text(max_size=40),
    _signed(64).map(Timestamp),
    st.binary(min_size=16, max_size=16).map(UUIDValue),
)
header_names = st.text(max_size=20).filter(lambda name: len(name.encode("utf-8")) <= 255)
messages = st.builds(
    Message,
    st.lists(st.tuples(header_names, header_values), max_size=6, unique_by=lambda h: h[0]).map(
        tuple
    ),
    st.binary(max_size=200),
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def _decode_all(chunks: list[bytes]) -> list[Message]:
    decoder = EventStreamDecoder()
    out: list[Message] = []
    for chunk in chunks:
        decoder.feed(chunk)
        out.extend(decoder)
    decoder.close()
    assert decoder.at_end
    return out


def _fix_crcs(frame: bytearray) -> bytes:
    """Recompute both CRCs of a (possibly malformed) single frame in place."""
    if len(frame) >= 12:
        frame[8:12] = struct.pack(">I", zlib.crc32(frame[:8]))
    if len(frame) >= 16:
        frame[-4:] = struct.pack(">I", zlib.crc32(frame[:-4]))
    return bytes(frame)


def _feed_expecting_only_own_errors(chunks: list[bytes]) -> list[Message]:
    decoder = EventStreamDecoder()
    out: list[Message] = []
    try:
        for chunk in chunks:
            decoder.feed(chunk)
            out.extend(decoder)
        decoder.close()
        out.extend(decoder)
    except EventStreamError:
        pass  # anything else propagates and fails the test
    return out


@PROPERTY_SETTINGS
@given(st.lists(messages, min_size=1, max_size=4), st.lists(st.integers(min_value=0), max_size=20))
def test_eventstream_any_split_decodes_identically(
    stream_messages: list[Message], cuts: list[int]
) -> None:
    frames = [m.encode() for m in stream_messages]
    stream = b"".join(frames)
    decoded = _decode_all(_split(stream, cuts))
    assert decoded == stream_messages
    assert b"".join(m.encode() for m in decoded) == stream


@PROPERTY_SETTINGS
@given(messages)
def test_eventstream_encode_decode_round_trip(message: Message) -> None:
    frame = encode_message(message.headers, message.payload)
    assert _decode_all([frame]) == [message]
    assert len(frame) == message.total_length


@PROPERTY_SETTINGS
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0), max_size=10))
def test_eventstream_arbitrary_bytes_raise_only_own_errors(data: bytes, cuts: list[int]) -> None:
    _feed_expecting_only_own_errors(_split(data, cuts))


@PROPERTY_SETTINGS
@given(
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=400),
    st.binary(max_size=400),
)
def test_eventstream_valid_prelude_with_arbitrary_body_raises_only_own_errors(
    total_length: int, headers_length: int, rest: bytes
) -> None:
    # Valid prelude CRC, arbitrary lengths and body: exercises the length checks and, when
    # the lengths fit, the header parser on garbage.
    frame = bytearray(struct.pack(">III", total_length, headers_length, 0) + rest)
    frame[8:12] = struct.pack(">I", zlib.crc32(frame[:8]))
    if 16 <= total_length <= len(frame):
        frame = bytearray(_fix_crcs(frame[:total_length])) + frame[total_length:]
    _feed_expecting_only_own_errors([bytes(frame)])


@PROPERTY_SETTINGS
@given(st.binary(max_size=120), st.binary(max_size=40))
def test_eventstream_garbage_header_block_with_valid_crcs_raises_only_own_errors(
    header_block: bytes, payload: bytes
) -> None:
    body = struct.pack(">II", 16 + len(header_block) + len(payload), len(header_block))
    frame = bytearray(body + b"\0\0\0\0" + header_block + payload + b"\0\0\0\0")
    for message in _feed_expecting_only_own_errors([_fix_crcs(frame)]):
        # Whatever was accepted re-encodes to exactly those bytes (Rule 2).
        assert message.encode() == _fix_crcs(frame)


@PROPERTY_SETTINGS
@given(
    st.lists(messages, min_size=1, max_size=3),
    st.data(),
    st.booleans(),
    st.lists(st.integers(min_value=0), max_size=5),
)
def test_eventstream_mutated_stream_raises_only_own_errors(
    stream_messages: list[Message], data: st.DataObject, fix_crcs: bool, cuts: list[int]
) -> None:
    frames = [bytearray(m.encode()) for m in stream_messages]
    index = data.draw(st.integers(0, len(frames) - 1), label="frame")
    frame = frames[index]
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        position = data.draw(st.integers(0, len(frame) - 1), label="position")
        kind = data.draw(st.sampled_from(["flip", "delete", "insert"]), label="kind")
        if kind == "flip":
            frame[position] ^= data.draw(st.integers(1, 255), label="mask")
        elif kind == "delete" and len(frame) > 1:
            del frame[position]
        else:
            frame.insert(position, data.draw(st.integers(0, 255), label="byte"))
    if fix_crcs:
        frames[index] = bytearray(_fix_crcs(frame))
    stream = b"".join(frames)
    decoded = _feed_expecting_only_own_errors(_split(stream, cuts))
    assert decoded[:index] == stream_messages[:index]  # messages before the damage survive


@PROPERTY_SETTINGS
@given(st.binary(max_size=200))
def test_eventstream_decode_chunk_payload_raises_only_own_errors(payload: bytes) -> None:
    try:
        decode_chunk_payload(payload)
    except EventStreamError:
        pass


def _chunk_payload_by_json(payload: bytes) -> bytes | None:
    """The reading of a chunk payload by a full JSON parse (the oracle of the fast path)."""
    import base64
    import binascii
    import json

    try:
        envelope = json.loads(payload)
        encoded = envelope.get("bytes") if isinstance(envelope, dict) else None
        return base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else None
    except (ValueError, RecursionError, binascii.Error):
        return None


def _read_or_none(payload: bytes) -> bytes | None:
    try:
        return decode_chunk_payload(payload)
    except EventStreamError:
        return None


_BASE64ISH = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\\\"u ,}", max_size=40)
_CHUNK_ENDS = st.sampled_from(['}', ',"p":"abc"}', ',"p":""}', ',"p":"a-b"}', ',"p":"abc"', '}x', ', "p":"a"}',
                               ',"q":"a"}', '}}', ',"p":"abc"} '])


@PROPERTY_SETTINGS
@given(st.one_of(st.binary(max_size=120), st.builds(lambda b, e: f'{{"bytes":"{b}"{e}'.encode(), _BASE64ISH, _CHUNK_ENDS),
                 st.builds(lambda raw, e: ('{"bytes":"' + __import__("base64").b64encode(raw).decode() + '"' + e).encode(),
                           st.binary(max_size=60), _CHUNK_ENDS)))
def test_eventstream_chunk_payload_fast_path_reads_as_a_full_json_parse_does(payload: bytes) -> None:
    assert _read_or_none(payload) == _chunk_payload_by_json(payload)


def test_eventstream_chunk_payload_escaped_slash_still_reads():
    # JSON may escape "/" as "\/": the fast path leaves such a payload to the full parse
    assert decode_chunk_payload(b'{"bytes":"YT9\\/","p":"ab"}') == __import__("base64").b64decode("YT9/")
    assert decode_chunk_payload(b'{"p":"ab","bytes":"e30="}') == b"{}"


def test_eventstream_repeated_header_blocks_decode_the_same_and_bad_ones_still_fail():
    from claude_bedrock.wire.eventstream import InvalidHeaderType, decode_messages

    message = Message(((":event-type", "chunk"), (":message-type", "event")), b"{}")
    frame = encode_message(message.headers, message.payload)
    assert decode_messages(frame + frame) == [message, message]
    bad = bytearray(frame)
    type_offset = 12 + 1 + len(":event-type")
    bad[type_offset] = 42  # an unknown header type, CRCs fixed
    with pytest.raises(InvalidHeaderType):
        decode_messages(_fix_crcs(bad))
    assert decode_messages(frame) == [message]
