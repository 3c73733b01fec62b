"""The HTTP request as the service sees it, read from ASGI, and response senders.

Invariant: the path is kept exactly as received (``raw_path``, still percent-encoded), because
both routing (ARN model IDs contain ``%2F``) and SigV4 (the canonical URI is the raw path
encoded once more) depend on it. See wire-protocol reference 1.1 and 6.2.
"""

from __future__ import annotations

import json

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, MutableMapping

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.json_body import MAX_BODY_BYTES, TOO_LARGE_MESSAGE, json_problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]



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
    #: lower-cased header name -> its values in wire order (``header_lists``), built once.
    _index: dict[str, list[str]] | None = field(default=None, repr=False)

    @property
    def header_lists(self) -> dict[str, list[str]]:
        """Every header by lower-cased name, values in wire order (what SigV4 signs)."""
        index = self._index
        if index is None:
            index = self._index = {}
            for key, value in self.headers:
                index.setdefault(key.lower(), []).append(value)
        return index

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case), or None."""
        values = self.header_lists.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        try:  # NaN and Infinity are not JSON (AWS's parsers refuse them, and so do records)
            value = json.loads(self.body or b"{}", parse_constant=_not_json)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ValidationException("The request body is not valid JSON.") from None
        problem = json_problem(value, self.body)
        if problem is not None:
            raise ValidationException(f"The request body is not valid JSON: {problem}.")
        return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: Longer Content-Length values are read without their leading zeros, then refused if still longer.
_MAX_LENGTH_DIGITS = 18


def raw_path_of(scope: Scope) -> str:
    """The request's path as received (still percent-encoded), without its query string."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    return path.split("?", 1)[0]


def request_head(scope: Scope) -> Request:
    """A Request from an ASGI HTTP scope, its body not read yet (``read_body``): what can be
    refused from the head (authentication, routing) is refused before any body is buffered.

    Raises ValidationException for a declared size over MAX_BODY_BYTES.
    """
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    request = Request(
        scope["method"], raw_path_of(scope), scope.get("query_string", b"").decode("latin-1"), headers,
        client=(scope.get("client") or ("", 0))[0],
    )
    declared = request.header("content-length")
    if declared is not None and declared.isdecimal():  # isdigit() takes "²", which int() refuses
        if len(declared) > _MAX_LENGTH_DIGITS:  # int() reads at most 4300 digits
            declared = declared.lstrip("0") or "0"
        if len(declared) > _MAX_LENGTH_DIGITS or int(declared) > MAX_BODY_BYTES:
            raise _too_large(request.raw_path)
    return request


async def read_body(request: Request, receive: Receive) -> None:
    """Read the request's body into ``request.body``, refusing it (ValidationException) as
    soon as it passes MAX_BODY_BYTES: the whole body is never buffered beyond the limit.

    Raises ClientDisconnected when the client goes away first.
    """
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
                raise _too_large(request.raw_path)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    request.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(raw_path: str) -> ValidationException:
    """InvokeModel's own wording names its ``body`` member; other operations get a plain one."""
    if raw_path.endswith(("/invoke", "/invoke-with-response-stream")):
        return ValidationException(TOO_LARGE_MESSAGE)
    return ValidationException(f"The request body exceeds {MAX_BODY_BYTES} bytes.")


def utf8_value(value: str) -> str:
    """A header value (read one byte per character, latin-1) as the UTF-8 text its bytes are
    when they are (``José`` as boto3 sends it); else as read."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return value


def encode_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def send_response(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": encode_headers(headers)})
    await send({"type": "http.response.body", "body": body})

