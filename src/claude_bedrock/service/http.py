"""The HTTP request as the service sees it, read from ASGI, and response senders.

Invariant: the path is kept exactly as received (``raw_path``, still percent-encoded), because
both routing (ARN model IDs contain ``%2F``) and SigV4 (the canonical URI is the raw path
encoded once more) depend on it. See wire-protocol reference 1.1 and 6.2.
"""

from __future__ import annotations

import json
import re

import orjson
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, MutableMapping

from claude_bedrock.domain.errors import ValidationException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: InvokeModel bodies are at most 25,000,000 bytes (botocore model ``Body`` max).
MAX_BODY_BYTES = 25_000_000
#: Deepest JSON nesting a request body may have. Bodies are serialized again with orjson
#: (simulator seed, call history, invocation logs), which stops at 255 levels, and those
#: records wrap the body in a few levels of their own.
MAX_JSON_DEPTH = 200
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class ClientDisconnected(Exception):
    """The peer went away while we were reading the body."""


@dataclass
class Request:
    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    client: str = ""
    #: lower-cased header name -> value (first occurrence), built lazily.
    _index: dict[str, str] | None = field(default=None, repr=False)

    def header(self, name: str) -> str | None:
        if self._index is None:
            index: dict[str, str] = {}
            for key, value in self.headers:
                index.setdefault(key.lower(), value)
            self._index = index
        return self._index.get(name)

    def json(self) -> Any:
        try:
            value = json.loads(self.body or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ValidationException("The request body is not valid JSON.") from None
        problem = json_problem(value, self.body)
        if problem is not None:
            raise ValidationException(f"The request body is not valid JSON: {problem}.")
        return value


def json_problem(value: Any, raw: bytes) -> str | None:
    """Why a parsed body cannot be serialized again (nested deeper than MAX_JSON_DEPTH, or a
    string holding an unpaired UTF-16 surrogate), or None. ``raw`` (the bytes ``value`` was
    parsed from) makes the common case free: no brackets enough, no surrogate escape."""
    deep = raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH
    surrogates = _SURROGATE_ESCAPE.search(raw) is not None
    if not (deep or surrogates):
        return None
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if surrogates and _LONE_SURROGATE.search(item):
                return "unpaired UTF-16 surrogate in a string"
            continue
        if isinstance(item, dict):
            children: Any = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= MAX_JSON_DEPTH:
            return f"JSON nested more than {MAX_JSON_DEPTH} levels deep"
        stack.extend((child, depth + 1) for child in children)
    return None


async def read_request(scope: Scope, receive: Receive) -> Request:
    """Build a Request from an ASGI HTTP scope, reading the body with the size limit.

    Raises ValidationException before reading a body whose declared or actual size exceeds
    MAX_BODY_BYTES (the whole body is never buffered beyond the limit).
    """
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    request = Request(
        method=scope["method"],
        raw_path=path.split("?", 1)[0],
        raw_query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        client=(scope.get("client") or ("", 0))[0],
    )
    declared = request.header("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _too_large()
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    request.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return request


def _too_large() -> ValidationException:
    return ValidationException(
        f"Input is too long for requested model. The request body exceeds {MAX_BODY_BYTES} bytes."
    )


def encode_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def send_response(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": encode_headers(headers)})
    await send({"type": "http.response.body", "body": body})


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON (orjson: this runs once per streamed event)."""
    return orjson.dumps(value)
