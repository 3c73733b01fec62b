"""What both shells share about httpx: defaults, request conversion, failure classification.

Purpose: the only place that knows httpx's types besides the two drivers, so ``flow`` and
``core`` stay library-free. Imported by ``sync`` and ``aio`` only (and so only when a client
class is first used: ``import claude_bedrock`` does not import httpx).
"""

from __future__ import annotations

from typing import Any

import httpx

from claude_bedrock.client.flow import Send, TransportFailure

__all__ = [
    "DEFAULT_TIMEOUT_S", "CONNECT_TIMEOUT_S", "DEFAULT_LIMITS", "TransportError", "timeout_of", "build_request",
    "failure_of", "sync_client", "async_client",
]  # fmt: skip

DEFAULT_TIMEOUT_S = 600.0
CONNECT_TIMEOUT_S = 5.0
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)

TransportError = httpx.TransportError

#: httpx failures worth another attempt; anything else (bad URL scheme...) is final.
_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def timeout_of(value: float | httpx.Timeout | None) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    return httpx.Timeout(DEFAULT_TIMEOUT_S if value is None else value, connect=CONNECT_TIMEOUT_S)


def build_request(http: httpx.Client | httpx.AsyncClient, send: Send, timeout: Any) -> httpx.Request:
    """The httpx request for a flow's ``Send`` (our headers win over the client's defaults)."""
    request = send.request
    extensions = {"timeout": timeout.as_dict()} if isinstance(timeout, httpx.Timeout) else None
    return httpx.Request(
        request.method,
        request.url,
        headers=_merged_headers(http, send.headers),
        content=request.body,
        extensions=extensions,
    )


def _merged_headers(http: httpx.Client | httpx.AsyncClient, headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    ours = {name for name, _ in headers}
    kept = [(k, v) for k, v in http.headers.items() if k.lower() not in ours and k.lower() != "user-agent"]
    return [*kept, *headers]


def failure_of(exc: httpx.TransportError) -> TransportFailure:
    return TransportFailure(exc, isinstance(exc, _RETRYABLE), isinstance(exc, httpx.TimeoutException))


def sync_client(timeout: httpx.Timeout) -> httpx.Client:
    return httpx.Client(timeout=timeout, limits=DEFAULT_LIMITS)


def async_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, limits=DEFAULT_LIMITS)
