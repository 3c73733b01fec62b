"""AWS event-stream codec (``application/vnd.amazon.eventstream``), sans-I/O.

Purpose: turn header lists and payloads into binary event-stream messages, and turn bytes
that arrive in any chunking back into messages. Used by the server to write one frame per
streamed event (InvokeModelWithResponseStream, ConverseStream) and by our client and tests
to read them.

Wire layout (all integers big-endian)::

    uint32 total_length    = 16 + headers_length + payload_length
    uint32 headers_length
    uint32 prelude_crc     = CRC32(bytes[0:8])
    headers                  each: uint8 name_len | UTF-8 name | uint8 type | value
    payload
    uint32 message_crc     = CRC32(bytes[0:total_length-4])

Invariants:

* Rule 1: the decoder checks the prelude CRC before it trusts either length field, and the
  message CRC before it hands out any header or payload byte. Oversized messages are refused
  from the 12-byte prelude alone, before their bytes are buffered.
* Rule 2: decoded headers keep wire order and wire type, so ``encode_message`` of a decoded
  message gives back exactly the bytes that were decoded, and decoding an encoded message
  gives back an equal ``Message``.
* Rule 3: whatever bytes are fed in, the decoder raises only ``EventStreamError`` subclasses.
  (API misuse, e.g. ``feed`` after ``close``, raises ``ValueError``.) After it has raised,
  the decoder keeps raising the same error: a byte stream cannot be resynchronised.
* Rule 4: no I/O, clock or randomness. The ``p`` padding of Bedrock ``chunk`` payloads is
  supplied by the caller.

Errors::

    EventStreamError
    ├── PreludeChecksumMismatch    prelude CRC does not match bytes[0:8]
    ├── MessageChecksumMismatch    message CRC does not match bytes[0:-4]
    ├── InvalidPayloadLength       total_length below the 16-byte minimum
    ├── InvalidHeadersLength       headers_length larger than total_length - 16
    ├── HeadersTooLarge            headers_length > MAX_HEADERS_BYTES
    ├── PayloadTooLarge            payload length > MAX_PAYLOAD_BYTES
    ├── DuplicateHeader            a header name appears twice in one message
    ├── InvalidHeaderType          unknown header type code (> 9)
    ├── InvalidHeaderName          name runs past the headers block, or is not UTF-8
    ├── InvalidHeaderValue         value runs past the headers block, or string is not UTF-8
    ├── TruncatedStream            the stream ended inside a message
    └── InvalidChunkPayload        a ``chunk`` payload is not ``{"bytes": "<base64>", ...}``

Source: wire-protocol reference sections 2.1-2.8 and 11.7; botocore ``eventstream.py``
(limits, one error class per failure, ``_HEADER_TYPE_MAP``); test vectors
``vectors/eventstream`` (aws-sdk-go ``private/protocol/eventstream/testdata``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from functools import lru_cache
from typing import Any, ClassVar, Final, Union

__all__ = [
    "MAX_HEADERS_BYTES", "MAX_PAYLOAD_BYTES", "PRELUDE_BYTES", "MESSAGE_CRC_BYTES",
    "MIN_MESSAGE_BYTES", "MAX_HEADER_NAME_BYTES", "MAX_HEADER_VALUE_BYTES", "PADDING_ALPHABET",
    "JSON_CONTENT_TYPE",
    "EventStreamError", "PreludeChecksumMismatch", "MessageChecksumMismatch",
    "InvalidPayloadLength", "InvalidHeadersLength", "HeadersTooLarge", "PayloadTooLarge",
    "DuplicateHeader", "InvalidHeaderType", "InvalidHeaderName", "InvalidHeaderValue",
    "TruncatedStream", "InvalidChunkPayload",
    "HeaderType", "Int8", "Int16", "Int32", "Int64", "Timestamp", "UUIDValue", "HeaderValue",
    "Headers", "header_type",
    "encode_header", "encode_headers", "prepare_string_headers", "encode_prepared_message",
    "encode_message", "encode_string_headers_message",
    "Message", "EventStreamDecoder", "decode_messages",
    "event_frame", "exception_frame", "error_frame",
    "chunk_padding", "chunk_payload", "chunk_frame", "decode_chunk_payload",
]  # fmt: skip

MAX_HEADERS_BYTES: Final = 128 * 1024
MAX_PAYLOAD_BYTES: Final = 24 * 1024 * 1024
PRELUDE_BYTES: Final = 12
MESSAGE_CRC_BYTES: Final = 4
MIN_MESSAGE_BYTES: Final = PRELUDE_BYTES + MESSAGE_CRC_BYTES
MAX_HEADER_NAME_BYTES: Final = 255
MAX_HEADER_VALUE_BYTES: Final = 0xFFFF
#: Real Bedrock pads ``chunk`` payloads with ``"p": <a prefix of this, of random length>``.
PADDING_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
JSON_CONTENT_TYPE: Final = "application/json"

_LENGTHS = struct.Struct(">II")
_PRELUDE = struct.Struct(">III")
_UINT32 = struct.Struct(">I")
_UINT16 = struct.Struct(">H")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MS = timedelta(milliseconds=1)


# --------------------------------------------------------------------------- errors


class EventStreamError(Exception):
    """Base class of every error raised for bytes that are not a valid event stream."""


class PreludeChecksumMismatch(EventStreamError):
    def __init__(self, expected: int, calculated: int) -> None:
        super().__init__(
            f"Prelude checksum mismatch: prelude carries 0x{expected:08x}, "
            f"bytes[0:8] give 0x{calculated:08x}"
        )
        self.expected = expected
        self.calculated = calculated


class MessageChecksumMismatch(EventStreamError):
    def __init__(self, expected: int, calculated: int) -> None:
        super().__init__(
            f"Message checksum mismatch: message carries 0x{expected:08x}, "
            f"its bytes give 0x{calculated:08x}"
        )
        self.expected = expected
        self.calculated = calculated


class InvalidPayloadLength(EventStreamError):
    pass


class InvalidHeadersLength(EventStreamError):
    pass


class HeadersTooLarge(EventStreamError):
    def __init__(self, length: int) -> None:
        super().__init__(f"headers are {length} bytes; the limit is {MAX_HEADERS_BYTES}")
        self.length = length


class PayloadTooLarge(EventStreamError):
    def __init__(self, length: int) -> None:
        super().__init__(f"payload is {length} bytes; the limit is {MAX_PAYLOAD_BYTES}")
        self.length = length


class DuplicateHeader(EventStreamError):
    def __init__(self, name: str) -> None:
        super().__init__(f"header {name!r} appears more than once in one message")
        self.name = name


class InvalidHeaderType(EventStreamError):
    def __init__(self, name: str, type_code: int) -> None:
        super().__init__(
            f"header {name!r} has type code {type_code}; "
            f"valid codes are 0 to {int(max(HeaderType))}"
        )
        self.name = name
        self.type_code = type_code


class InvalidHeaderName(EventStreamError):
    pass


class InvalidHeaderValue(EventStreamError):
    pass


class TruncatedStream(EventStreamError):
    def __init__(self, buffered: int, needed: int) -> None:
        super().__init__(
            f"stream ended inside a message: {buffered} bytes buffered, {needed} needed"
        )
        self.buffered = buffered
        self.needed = needed


class InvalidChunkPayload(EventStreamError):
    pass


# --------------------------------------------------------------------- header values


class HeaderType(IntEnum):
    """Header value type codes (botocore ``_HEADER_TYPE_MAP``)."""

    BOOL_TRUE = 0
    BOOL_FALSE = 1
    BYTE = 2
    SHORT = 3
    INTEGER = 4
    LONG = 5
    BYTE_ARRAY = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


def _check_int(value: object, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} needs an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{what} value {value} is outside [{low}, {high}]")
    return value


@dataclass(frozen=True, slots=True)
class _SizedInt:
    """A signed integer header value of a fixed wire width (subclasses name the width)."""

    value: int
    type_code: ClassVar[HeaderType]
    bits: ClassVar[int]

    def __post_init__(self) -> None:
        half = 1 << (self.bits - 1)
        _check_int(self.value, -half, half - 1, type(self).__name__)


class Int8(_SizedInt):
    """Header type 2 (``byte``)."""

    __slots__ = ()
    type_code = HeaderType.BYTE
    bits = 8


class Int16(_SizedInt):
    """Header type 3 (``short``)."""

    __slots__ = ()
    type_code = HeaderType.SHORT
    bits = 16


class Int32(_SizedInt):
    """Header type 4 (``integer``)."""

    __slots__ = ()
    type_code = HeaderType.INTEGER
    bits = 32


class Int64(_SizedInt):
    """Header type 5 (``long``)."""

    __slots__ = ()
    type_code = HeaderType.LONG
    bits = 64


@dataclass(frozen=True, slots=True, init=False)
class Timestamp:
    """Header type 8: signed 64-bit milliseconds since the Unix epoch.

    Args:
        value: milliseconds, or a timezone-aware ``datetime`` (sub-millisecond parts are
            floored).
    """

    millis: int
    type_code: ClassVar[HeaderType] = HeaderType.TIMESTAMP

    def __init__(self, value: int | datetime) -> None:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("Timestamp needs a timezone-aware datetime")
            value = (value - _EPOCH) // _ONE_MS
        object.__setattr__(self, "millis", _check_int(value, _INT64_MIN, _INT64_MAX, "Timestamp"))

    def to_datetime(self) -> datetime:
        """The UTC datetime (raises ``OverflowError`` outside datetime's range)."""
        return _EPOCH + timedelta(milliseconds=self.millis)


@dataclass(frozen=True, slots=True, init=False)
class UUIDValue:
    """Header type 9: 16 raw bytes, given as a ``uuid.UUID`` or as the 16 bytes."""

    value: uuid.UUID
    type_code: ClassVar[HeaderType] = HeaderType.UUID

    def __init__(self, value: uuid.UUID | bytes) -> None:
        if isinstance(value, (bytes, bytearray)):
            if len(value) != 16:
                raise ValueError(f"UUIDValue needs 16 bytes, got {len(value)}")
            value = uuid.UUID(bytes=bytes(value))
        if not isinstance(value, uuid.UUID):
            raise TypeError(f"UUIDValue needs a uuid.UUID or 16 bytes, got {type(value).__name__}")
        object.__setattr__(self, "value", value)


#: ``bool`` is types 0/1, ``bytes`` type 6, ``str`` type 7; the wrappers carry the others.
HeaderValue = Union[bool, str, bytes, Int8, Int16, Int32, Int64, Timestamp, UUIDValue]
Headers = Sequence[tuple[str, HeaderValue]]


# --------------------------------------------------------------------------- encoding


def _encode_bool(value: bool) -> bytes:
    return b"\x00" if value else b"\x01"


def _encode_length_prefixed(type_code: HeaderType, raw: bytes) -> bytes:
    if len(raw) > MAX_HEADER_VALUE_BYTES:
        raise ValueError(
            f"header value is {len(raw)} bytes; the limit is {MAX_HEADER_VALUE_BYTES}"
        )
    return bytes((type_code,)) + _UINT16.pack(len(raw)) + raw


def _encode_string(value: str) -> bytes:
    return _encode_length_prefixed(HeaderType.STRING, value.encode("utf-8"))


def _encode_byte_array(value: bytes | bytearray) -> bytes:
    return _encode_length_prefixed(HeaderType.BYTE_ARRAY, bytes(value))


_SIZED_INT_STRUCTS: Final[dict[HeaderType, struct.Struct]] = {
    HeaderType.BYTE: struct.Struct(">Bb"),
    HeaderType.SHORT: struct.Struct(">Bh"),
    HeaderType.INTEGER: struct.Struct(">Bi"),
    HeaderType.LONG: struct.Struct(">Bq"),
    HeaderType.TIMESTAMP: struct.Struct(">Bq"),
}


def _encode_sized_int(value: _SizedInt) -> bytes:
    return _SIZED_INT_STRUCTS[value.type_code].pack(value.type_code, value.value)


def _encode_timestamp(value: Timestamp) -> bytes:
    return _SIZED_INT_STRUCTS[HeaderType.TIMESTAMP].pack(HeaderType.TIMESTAMP, value.millis)


def _encode_uuid(value: UUIDValue) -> bytes:
    return bytes((HeaderType.UUID,)) + value.value.bytes


#: Python type of a header value -> its encoder (type byte + value bytes). Order matters
#: for the ``isinstance`` fallback used with subclasses (``bool`` before anything else).
_VALUE_ENCODERS: Final[dict[type, Callable[[Any], bytes]]] = {
    bool: _encode_bool,
    str: _encode_string,
    bytes: _encode_byte_array,
    bytearray: _encode_byte_array,
    Int8: _encode_sized_int,
    Int16: _encode_sized_int,
    Int32: _encode_sized_int,
    Int64: _encode_sized_int,
    Timestamp: _encode_timestamp,
    UUIDValue: _encode_uuid,
}


def _encode_value(value: object) -> bytes:
    encoder = _VALUE_ENCODERS.get(type(value))
    if encoder is None:
        for python_type, candidate in _VALUE_ENCODERS.items():
            if isinstance(value, python_type):
                encoder = candidate
                break
        else:
            raise TypeError(
                f"cannot encode a {type(value).__name__} header value; use bool, str, bytes, "
                "Int8, Int16, Int32, Int64, Timestamp or UUIDValue"
            )
    return encoder(value)


def header_type(value: HeaderValue) -> HeaderType:
    """The wire type code ``value`` is encoded with."""
    return HeaderType(_encode_value(value)[0])


def encode_header(name: str, value: HeaderValue) -> bytes:
    """One encoded header: ``uint8 name_len | name | uint8 type | value``.

    Raises:
        ValueError: name longer than 255 UTF-8 bytes, value out of range or too long.
        TypeError: unsupported value type (a bare ``int`` must be wrapped, e.g. ``Int32``).
    """
    raw_name = name.encode("utf-8")
    if len(raw_name) > MAX_HEADER_NAME_BYTES:
        raise ValueError(
            f"header name is {len(raw_name)} bytes; the limit is {MAX_HEADER_NAME_BYTES}"
        )
    return bytes((len(raw_name),)) + raw_name + _encode_value(value)


def encode_headers(headers: Iterable[tuple[str, HeaderValue]]) -> bytes:
    """The encoded header block, headers in the given order.

    Raises:
        DuplicateHeader: a name appears twice (decoders reject such messages).
        HeadersTooLarge: the block exceeds ``MAX_HEADERS_BYTES``.
        ValueError, TypeError: as ``encode_header``.
    """
    seen: set[str] = set()
    parts = []
    for name, value in headers:
        if name in seen:
            raise DuplicateHeader(name)
        seen.add(name)
        parts.append(encode_header(name, value))
    block = b"".join(parts)
    if len(block) > MAX_HEADERS_BYTES:
        raise HeadersTooLarge(len(block))
    return block


def prepare_string_headers(headers: Sequence[tuple[str, str]]) -> bytes:
    """Precompute the header block of an all-string header list for ``encode_prepared_message``.

    Raises:
        TypeError: a value is not a ``str``.
        DuplicateHeader, HeadersTooLarge, ValueError: as ``encode_headers``.
    """
    for name, value in headers:
        if not isinstance(value, str):
            raise TypeError(f"header {name!r}: expected str, got {type(value).__name__}")
    return encode_headers(headers)


def encode_prepared_message(header_block: bytes, payload: bytes) -> bytes:
    """A whole message from an already encoded header block (the per-event hot path).

    Args:
        header_block: output of ``encode_headers`` / ``prepare_string_headers``.
        payload: message payload.

    Raises:
        HeadersTooLarge, PayloadTooLarge: a limit is exceeded.
    """
    headers_length = len(header_block)
    payload_length = len(payload)
    if payload_length > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(payload_length)
    if headers_length > MAX_HEADERS_BYTES:
        raise HeadersTooLarge(headers_length)
    lengths = _LENGTHS.pack(MIN_MESSAGE_BYTES + headers_length + payload_length, headers_length)
    # Two CRC calls and one extra copy measured faster than chaining the CRC over the parts
    # for Bedrock-sized payloads (~150 bytes), where call overhead dominates.
    body = b"".join((lengths, _UINT32.pack(zlib.crc32(lengths)), header_block, payload))
    return body + _UINT32.pack(zlib.crc32(body))


def encode_message(headers: Iterable[tuple[str, HeaderValue]], payload: bytes) -> bytes:
    """One binary event-stream message.

    Raises:
        DuplicateHeader, HeadersTooLarge, PayloadTooLarge, ValueError, TypeError: see
        ``encode_headers`` and ``encode_prepared_message``.
    """
    return encode_prepared_message(encode_headers(headers), payload)


def encode_string_headers_message(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """``encode_message`` for an all-string header list (what Bedrock sends)."""
    return encode_prepared_message(prepare_string_headers(headers), payload)


# ----------------------------------------------------------------------------- message


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded (or to-be-encoded) message. Equality compares headers (names, order,
    types, values) and payload; the prelude numbers are derived from them (Rule 2)."""

    headers: tuple[tuple[str, HeaderValue], ...] = ()
    payload: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.headers, tuple):
            object.__setattr__(self, "headers", tuple((n, v) for n, v in self.headers))
        if not isinstance(self.payload, bytes):
            object.__setattr__(self, "payload", bytes(self.payload))

    def header(self, name: str, default: HeaderValue | None = None) -> HeaderValue | None:
        """The value of header ``name``, or ``default`` when absent."""
        for header_name, value in self.headers:
            if header_name == name:
                return value
        return default

    def encode(self) -> bytes:
        return encode_message(self.headers, self.payload)

    @property
    def headers_length(self) -> int:
        return len(encode_headers(self.headers))

    @property
    def total_length(self) -> int:
        return MIN_MESSAGE_BYTES + self.headers_length + len(self.payload)

    @property
    def prelude_crc(self) -> int:
        return zlib.crc32(_LENGTHS.pack(self.total_length, self.headers_length))

    @property
    def message_crc(self) -> int:
        return int(_UINT32.unpack(self.encode()[-MESSAGE_CRC_BYTES:])[0])


# --------------------------------------------------------------------------- decoding


def _need(pos: int, size: int, end: int, what: str) -> None:
    if pos + size > end:
        raise InvalidHeaderValue(
            f"{what} needs {size} bytes but only {end - pos} remain in the headers block"
        )


def _decode_fixed(
    layout: struct.Struct, build: Callable[[int], HeaderValue]
) -> Callable[[bytes, int, int, str], tuple[HeaderValue, int]]:
    def decode(frame: bytes, pos: int, end: int, name: str) -> tuple[HeaderValue, int]:
        _need(pos, layout.size, end, f"header {name!r}")
        return build(layout.unpack_from(frame, pos)[0]), pos + layout.size

    return decode


def _decode_bool(value: bool) -> Callable[[bytes, int, int, str], tuple[HeaderValue, int]]:
    def decode(frame: bytes, pos: int, end: int, name: str) -> tuple[HeaderValue, int]:
        return value, pos

    return decode


def _length_prefixed(frame: bytes, pos: int, end: int, name: str) -> tuple[bytes, int]:
    _need(pos, 2, end, f"length of header {name!r}")
    (length,) = _UINT16.unpack_from(frame, pos)
    _need(pos + 2, length, end, f"header {name!r}")
    return frame[pos + 2 : pos + 2 + length], pos + 2 + length


def _decode_byte_array(frame: bytes, pos: int, end: int, name: str) -> tuple[HeaderValue, int]:
    return _length_prefixed(frame, pos, end, name)


def _decode_string(frame: bytes, pos: int, end: int, name: str) -> tuple[HeaderValue, int]:
    raw, pos = _length_prefixed(frame, pos, end, name)
    try:
        return raw.decode("utf-8"), pos
    except UnicodeDecodeError as exc:
        raise InvalidHeaderValue(f"header {name!r}: string value is not UTF-8 ({exc})") from None


def _decode_uuid(frame: bytes, pos: int, end: int, name: str) -> tuple[HeaderValue, int]:
    _need(pos, 16, end, f"header {name!r}")
    return UUIDValue(frame[pos : pos + 16]), pos + 16


#: Type code -> decoder(frame, value_offset, headers_end, name) -> (value, next_offset).
_VALUE_DECODERS: Final[dict[int, Callable[[bytes, int, int, str], tuple[HeaderValue, int]]]] = {
    HeaderType.BOOL_TRUE: _decode_bool(True),
    HeaderType.BOOL_FALSE: _decode_bool(False),
    HeaderType.BYTE: _decode_fixed(struct.Struct(">b"), Int8),
    HeaderType.SHORT: _decode_fixed(struct.Struct(">h"), Int16),
    HeaderType.INTEGER: _decode_fixed(struct.Struct(">i"), Int32),
    HeaderType.LONG: _decode_fixed(struct.Struct(">q"), Int64),
    HeaderType.BYTE_ARRAY: _decode_byte_array,
    HeaderType.STRING: _decode_string,
    HeaderType.TIMESTAMP: _decode_fixed(struct.Struct(">q"), Timestamp),
    HeaderType.UUID: _decode_uuid,
}


def _decode_headers(frame: bytes, pos: int, end: int) -> tuple[tuple[str, HeaderValue], ...]:
    headers: list[tuple[str, HeaderValue]] = []
    seen: set[str] = set()
    while pos < end:
        name_end = pos + 1 + frame[pos]
        if name_end + 1 > end:  # the name and the type byte must fit in the block
            raise InvalidHeaderName(
                f"header name of {frame[pos]} bytes at offset {pos} runs past the headers "
                f"block ending at {end}"
            )
        try:
            name = frame[pos + 1 : name_end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidHeaderName(f"header name at offset {pos} is not UTF-8 ({exc})") from None
        if name in seen:
            raise DuplicateHeader(name)
        seen.add(name)
        decoder = _VALUE_DECODERS.get(frame[name_end])
        if decoder is None:
            raise InvalidHeaderType(name, frame[name_end])
        value, pos = decoder(frame, name_end + 1, end, name)
        headers.append((name, value))
    return tuple(headers)


@dataclass(frozen=True, slots=True)
class _Prelude:
    total_length: int
    headers_length: int


def _read_prelude(buffer: bytearray, offset: int) -> _Prelude:
    """Validate the 12-byte prelude at ``offset`` (CRC first, then the lengths)."""
    total_length, headers_length, expected = _PRELUDE.unpack_from(buffer, offset)
    calculated = zlib.crc32(buffer[offset : offset + 8])
    if calculated != expected:
        raise PreludeChecksumMismatch(expected, calculated)
    if total_length < MIN_MESSAGE_BYTES:
        raise InvalidPayloadLength(
            f"total_length {total_length} is below the {MIN_MESSAGE_BYTES}-byte minimum"
        )
    if headers_length > MAX_HEADERS_BYTES:
        raise HeadersTooLarge(headers_length)
    payload_length = total_length - MIN_MESSAGE_BYTES - headers_length
    if payload_length < 0:
        raise InvalidHeadersLength(
            f"headers_length {headers_length} exceeds total_length {total_length} - "
            f"{MIN_MESSAGE_BYTES} = {total_length - MIN_MESSAGE_BYTES}"
        )
    if payload_length > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(payload_length)
    return _Prelude(total_length, headers_length)


#: Header blocks decoded already -> their headers (a stream repeats a few blocks, frame after
#: frame). A pure memo: the headers depend on the block's bytes alone, and are immutable.
_DECODED_HEADER_BLOCKS: dict[bytes, tuple[tuple[str, HeaderValue], ...]] = {}
_MEMO_BLOCKS_AT_MOST = 256


def _parse_frame(frame: bytes, prelude: _Prelude) -> Message:
    """Check the message CRC of one complete frame, then decode it."""
    (expected,) = _UINT32.unpack_from(frame, len(frame) - MESSAGE_CRC_BYTES)
    calculated = zlib.crc32(memoryview(frame)[:-MESSAGE_CRC_BYTES])
    if calculated != expected:
        raise MessageChecksumMismatch(expected, calculated)
    headers_end = PRELUDE_BYTES + prelude.headers_length
    block = frame[PRELUDE_BYTES:headers_end]
    headers = _DECODED_HEADER_BLOCKS.get(block)
    if headers is None:
        headers = _decode_headers(frame, PRELUDE_BYTES, headers_end)
        if len(_DECODED_HEADER_BLOCKS) < _MEMO_BLOCKS_AT_MOST and len(block) <= 512:
            _DECODED_HEADER_BLOCKS[block] = headers
    return Message(headers, frame[headers_end:-MESSAGE_CRC_BYTES])


class EventStreamDecoder:
    """Incremental decoder: ``feed`` bytes in any chunking, pull messages out.

    Usage::

        decoder = EventStreamDecoder()
        for chunk in body:              # the caller owns the I/O
            decoder.feed(chunk)
            for message in decoder:     # every complete message so far
                ...
        decoder.close()                 # TruncatedStream if the body ended mid-message

    Bytes are appended to one ``bytearray`` read through an offset; the consumed prefix is
    dropped once it is at least half the buffer, so decoding is linear in the input size.
    """

    __slots__ = ("_buffer", "_offset", "_prelude", "_closed", "_error")

    #: Consumed bytes are only compacted away once at least this many have accumulated.
    _COMPACT_AFTER_BYTES: ClassVar[int] = 64 * 1024

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._offset = 0
        self._prelude: _Prelude | None = None
        self._closed = False
        self._error: EventStreamError | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as part of a message."""
        return len(self._buffer) - self._offset

    @property
    def at_end(self) -> bool:
        """True when every byte fed so far belongs to a message already returned."""
        return self.buffered_bytes == 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes. Never parses, never raises for content.

        Raises:
            ValueError: called after ``close``.
        """
        if self._closed:
            raise ValueError("EventStreamDecoder.feed() called after close()")
        self._buffer += data

    def next_message(self) -> Message | None:
        """The next complete, checked message, or ``None`` when more bytes are needed.

        After ``close``, ``None`` means the stream ended cleanly.

        Raises:
            EventStreamError: the bytes are not a valid stream (the decoder then stays
            failed), or ``TruncatedStream`` after ``close`` with a partial message left.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next_message()
        except EventStreamError as exc:
            self._error = exc
            raise

    def __iter__(self) -> Iterator[Message]:
        """Yield every message that is complete now; stop when more bytes are needed."""
        while (message := self.next_message()) is not None:
            yield message

    def close(self) -> None:
        """Declare the end of input.

        Messages already complete can still be read with ``next_message``.

        Raises:
            TruncatedStream: the next pending message is incomplete (so it never will be).
            EventStreamError: the pending prelude is invalid.
        """
        self._closed = True
        if self._error is None and self.buffered_bytes:
            try:
                self._pending_prelude()
            except EventStreamError as exc:
                self._error = exc
                raise

    def _need_more(self, needed: int) -> None:
        if self._closed and self.buffered_bytes:
            raise TruncatedStream(self.buffered_bytes, needed)

    def _pending_prelude(self) -> _Prelude | None:
        """The validated prelude of the next message if all its bytes are here, else None."""
        prelude = self._prelude
        if prelude is None:
            if self.buffered_bytes < PRELUDE_BYTES:
                self._need_more(PRELUDE_BYTES)
                return None
            prelude = self._prelude = _read_prelude(self._buffer, self._offset)
        if self.buffered_bytes < prelude.total_length:
            self._need_more(prelude.total_length)
            return None
        return prelude

    def _next_message(self) -> Message | None:
        prelude = self._pending_prelude()
        if prelude is None:
            return None
        start = self._offset
        end = start + prelude.total_length
        frame = bytes(memoryview(self._buffer)[start:end])  # the one copy of the message
        message = _parse_frame(frame, prelude)
        self._prelude = None
        self._offset = end
        if end == len(self._buffer):
            self._buffer.clear()
            self._offset = 0
        elif end >= self._COMPACT_AFTER_BYTES and 2 * end >= len(self._buffer):
            del self._buffer[:end]
            self._offset = 0
        return message


def decode_messages(data: bytes) -> list[Message]:
    """Every message in a complete stream.

    Raises:
        EventStreamError: invalid bytes; ``TruncatedStream`` if ``data`` ends mid-message.
    """
    decoder = EventStreamDecoder()
    decoder.feed(data)
    messages = list(decoder)
    decoder.close()
    return messages


# ------------------------------------------------------------------- Bedrock frames

@lru_cache(maxsize=256)
def _event_header_block(event_type: str) -> bytes:
    # Pure memo of a pure function: the header block of the few event names in use.
    return prepare_string_headers(
        (
            (":event-type", event_type),
            (":content-type", JSON_CONTENT_TYPE),
            (":message-type", "event"),
        )
    )


@lru_cache(maxsize=64)
def _exception_header_block(exception_type: str) -> bytes:
    return prepare_string_headers(
        (
            (":exception-type", exception_type),
            (":content-type", JSON_CONTENT_TYPE),
            (":message-type", "exception"),
        )
    )


def event_frame(event_type: str, payload: bytes) -> bytes:
    """A Bedrock event message: ``:event-type``, ``:content-type: application/json``,
    ``:message-type: event``, in that order (section 2.3). The header block is cached per
    event type, so the per-event work is two struct packs and the CRCs."""
    return encode_prepared_message(_event_header_block(event_type), payload)


def exception_frame(exception_type: str, payload: bytes) -> bytes:
    """A modeled stream exception: ``:exception-type`` (lowerCamel member name, e.g.
    ``throttlingException``), ``:content-type``, ``:message-type: exception``; payload is
    JSON ``{"message": ...}`` (section 2.3/2.4)."""
    return encode_prepared_message(_exception_header_block(exception_type), payload)


def error_frame(error_code: str, error_message: str) -> bytes:
    """A generic stream error: ``:message-type: error``, ``:error-code``, ``:error-message``,
    empty payload (section 2.3)."""
    headers = (
        (":message-type", "error"),
        (":error-code", error_code),
        (":error-message", error_message),
    )
    return encode_string_headers_message(headers, b"")


def chunk_padding(length: int) -> str:
    """The ``p`` value Bedrock would send for a padding of ``length`` characters (0-62)."""
    _check_int(length, 0, len(PADDING_ALPHABET), "padding length")
    return PADDING_ALPHABET[:length]


def chunk_payload(event_json: bytes, padding: str) -> bytes:
    """The payload of an InvokeModelWithResponseStream ``chunk`` event (section 2.5):
    ``{"bytes":"<base64 of event_json>","p":"<padding>"}``.

    Real Bedrock pads with a prefix of ``PADDING_ALPHABET`` of random length; this module
    draws nothing at random, so the caller supplies it (e.g. ``chunk_padding(rng.randint(...))``).

    Raises:
        ValueError: ``padding`` is not a prefix of ``PADDING_ALPHABET``.
    """
    if not PADDING_ALPHABET.startswith(padding):
        raise ValueError(f"padding {padding!r} is not a prefix of PADDING_ALPHABET")
    return b"".join(
        (b'{"bytes":"', base64.b64encode(event_json), b'","p":"', padding.encode("ascii"), b'"}')
    )


_CHUNK_PAYLOAD_HEAD: Final = b'{"bytes":"'


@lru_cache(maxsize=len(PADDING_ALPHABET) + 1)
def _chunk_payload_tail(padding: str) -> bytes:
    # Pure memo: the end of a chunk payload for each of the 63 valid paddings.
    if not PADDING_ALPHABET.startswith(padding):
        raise ValueError(f"padding {padding!r} is not a prefix of PADDING_ALPHABET")
    return b'","p":"' + padding.encode("ascii") + b'"}'


@lru_cache(maxsize=1024)
def _chunk_frame_head(payload_length: int) -> tuple[bytes, int]:
    # Pure memo: everything a chunk frame with this payload length has before the base64
    # (prelude, its CRC, the header block, '{"bytes":"'), and the running CRC over it.
    header_block = _event_header_block("chunk")
    lengths = _LENGTHS.pack(MIN_MESSAGE_BYTES + len(header_block) + payload_length, len(header_block))
    head = b"".join((lengths, _UINT32.pack(zlib.crc32(lengths)), header_block, _CHUNK_PAYLOAD_HEAD))
    return head, zlib.crc32(head)


def chunk_frame(event_json: bytes, padding: str) -> bytes:
    """A whole ``chunk`` event message around one Anthropic streaming event JSON: the same
    bytes as ``event_frame("chunk", chunk_payload(event_json, padding))``, built without
    copying the payload twice (the per-event hot path of InvokeModelWithResponseStream).

    Raises:
        ValueError: ``padding`` is not a prefix of ``PADDING_ALPHABET``.
        PayloadTooLarge: the payload exceeds ``MAX_PAYLOAD_BYTES``.
    """
    encoded = binascii.b2a_base64(event_json, newline=False)
    tail = _chunk_payload_tail(padding)
    payload_length = len(_CHUNK_PAYLOAD_HEAD) + len(encoded) + len(tail)
    if payload_length > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(payload_length)
    head, crc = _chunk_frame_head(payload_length)
    return b"".join((head, encoded, tail, _UINT32.pack(zlib.crc32(tail, zlib.crc32(encoded, crc)))))


#: What follows the base64 in a chunk payload as Bedrock (and ``chunk_frame``) write it.
_CHUNK_PAYLOAD_END = re.compile(rb'(?:,"p":"[0-9A-Za-z]*")?}')


def decode_chunk_payload(payload: bytes) -> bytes:
    """The inner event JSON bytes of a ``chunk`` payload ``{"bytes": "<base64>", "p": ...}``.

    The usual layout (``bytes`` first, then an optional ``p`` padding of letters and digits)
    is read without a JSON parse; anything else goes through ``json.loads``.

    Raises:
        InvalidChunkPayload: not a JSON object, ``bytes`` missing or not valid base64.
    """
    if payload.startswith(_CHUNK_PAYLOAD_HEAD):
        end = payload.find(b'"', len(_CHUNK_PAYLOAD_HEAD))
        if end > 0 and _CHUNK_PAYLOAD_END.fullmatch(payload, end + 1):
            try:
                return binascii.a2b_base64(payload[len(_CHUNK_PAYLOAD_HEAD):end], strict_mode=True)
            except binascii.Error:
                pass  # the full parse below says what is wrong
    try:
        envelope = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise InvalidChunkPayload(f"chunk payload is not JSON: {exc}") from None
    encoded = envelope.get("bytes") if isinstance(envelope, dict) else None
    if not isinstance(encoded, str):
        raise InvalidChunkPayload('chunk payload has no string "bytes" member')
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidChunkPayload(f'chunk "bytes" is not base64: {exc}') from None
