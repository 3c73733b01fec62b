"""The service's request object: headers read from ASGI once, with one index by lower-cased name."""

from __future__ import annotations

import asyncio

import pytest

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.service.http import ClientDisconnected, Request, read_body, request_head


def _read(headers, chunks=(b"{}",), *, raw_path=b"/model/m%3A0/invoke?x=1"):
    messages = [{"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
                for n, chunk in enumerate(chunks)]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope = {"type": "http", "method": "POST", "path": "/model/m:0/invoke", "raw_path": raw_path,
             "query_string": b"x=1", "headers": headers, "client": ("10.0.0.1", 5)}

    async def read():
        request = request_head(scope)
        await read_body(request, receive)
        return request

    return asyncio.run(read())


def test_headers_keep_wire_order_and_repeats_and_index_by_lower_case_name():
    request = _read([(b"host", b"h"), (b"X-Amz-Date", b"d"), (b"accept", b"a"), (b"Accept", b"b"),
                     (b"x-note", b"caf\xe9")])
    assert request.headers == [("host", "h"), ("X-Amz-Date", "d"), ("accept", "a"), ("Accept", "b"),
                               ("x-note", "café")]  # latin-1, as HTTP carries it
    assert request.header_lists == {"host": ["h"], "x-amz-date": ["d"], "accept": ["a", "b"], "x-note": ["café"]}
    assert request.header("accept") == "a" and request.header("x-amz-date") == "d"
    assert request.header("missing") is None
    assert (request.raw_path, request.raw_query, request.client) == ("/model/m%3A0/invoke", "x=1", "10.0.0.1")


def test_a_request_built_by_hand_indexes_its_headers_on_first_use():
    request = Request("GET", "/", "", [("Host", "h"), ("host", "i")])
    assert request.header("host") == "h" and request.header_lists == {"host": ["h", "i"]}


def test_the_body_is_joined_from_its_chunks_and_limits_hold():
    assert _read([], [b'{"a":', b" 1}"]).body == b'{"a": 1}'
    with pytest.raises(ValidationException, match="Member must have length less than or equal to 25000000"):
        _read([(b"content-length", b"999999999")])  # InvokeModel names its body member
    with pytest.raises(ValidationException, match="^The request body exceeds 25000000 bytes.$"):
        _read([(b"content-length", b"999999999")], raw_path=b"/model/m%3A0/converse")
    with pytest.raises(ClientDisconnected):
        _read([], ())  # no body message at all: the client left


def test_the_body_limit_is_exact():
    from claude_bedrock.domain.json_body import MAX_BODY_BYTES

    assert request_head({"method": "POST", "path": "/", "headers": [
        (b"content-length", str(MAX_BODY_BYTES).encode())]}).header("content-length") == str(MAX_BODY_BYTES)
    with pytest.raises(ValidationException):
        _read([(b"content-length", str(MAX_BODY_BYTES + 1).encode())])
    # no Content-Length (chunked): the bytes read are counted, one past the limit is refused
    big = b"x" * (MAX_BODY_BYTES // 2)
    assert len(_read([], [big, big]).body) == MAX_BODY_BYTES
    with pytest.raises(ValidationException):
        _read([], [big, big, b"x"])


def test_a_body_message_without_more_body_is_the_last():
    # ASGI: ``more_body`` defaults to False
    async def receive():
        return {"type": "http.request", "body": b"{}"}

    async def read():
        request = request_head({"method": "POST", "path": "/", "headers": []})
        await asyncio.wait_for(read_body(request, receive), 5)
        return request.body

    assert asyncio.run(read()) == b"{}"


def test_the_stream_operation_names_its_body_member_too():
    with pytest.raises(ValidationException, match="Member must have length less than or equal to 25000000"):
        _read([(b"content-length", b"999999999")], raw_path=b"/model/m%3A0/invoke-with-response-stream")


def test_an_odd_content_length_is_no_crash():
    # uvicorn passes a Content-Length of 5000 digits (leading zeros) on: int() refused it (a 500)
    assert _read([(b"content-length", b"0" * 4998 + b"2")]).body == b"{}"
    with pytest.raises(ValidationException, match="less than or equal to 25000000"):
        _read([(b"content-length", b"9" * 5000)])
    assert _read([(b"content-length", b"\xb2")]).body == b"{}"  # "²" (latin-1): isdigit() but no int()


def test_message_ids_look_like_bedrocks_and_are_unique():
    import re

    from claude_bedrock.service.app import new_request_id
    from claude_bedrock.service.runtime import _message_id

    ids = {_message_id(new_request_id()) for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"msg_bdrk_01[A-Za-z0-9]{22}", message_id) for message_id in ids)
