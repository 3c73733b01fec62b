"""httpx exchanges: perform a flow's actions with ``httpx.Client`` / ``httpx.AsyncClient``.

Purpose: the async client's transport, and the sync client's when the caller passes an
``httpx.Client`` (proxies, custom TLS, ``httpx.MockTransport``...). The only module that knows
httpx's types; imported when such a client is built, so ``import claude_bedrock`` loads no HTTP
library.

Invariants:
  * Rule 1 - an exchange owns at most one open response and closes it on the next ``Send`` and
    on ``close()`` (``driver`` calls it when the flow ends).
  * Rule 2 - httpx transport failures become ``TransportFailure`` outcomes sent back into the
    flow, which decides between retrying and raising; so does the ``RuntimeError`` asyncio
    raises when a send picks a connection pooled on an event loop that has since closed (an
    async client kept across ``asyncio.run`` calls: httpcore drops that connection, and the
    retry opens one on the running loop, as with the Anthropic SDK, which retries any
    exception of a send). Nothing else is caught here.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx

from claude_bedrock.client.connections import Timeouts
from claude_bedrock.client.flow import Head, ReadBody, ReadChunk, Send, Sleep, TransportFailure
from claude_bedrock.client.responses import Reply

__all__ = [
    "DEFAULT_LIMITS", "httpx_timeout", "async_client", "HttpxExchange", "AsyncHttpxExchange",
]  # fmt: skip

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)

#: httpx failures worth another attempt; anything else (a bad URL scheme...) is final.
_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def httpx_timeout(timeouts: Timeouts) -> httpx.Timeout:
    return httpx.Timeout(timeouts.read, connect=timeouts.connect)


@functools.lru_cache(maxsize=16)
def _timeout_extension(timeouts: Timeouts) -> dict[str, Any]:
    """The request extension httpx reads (memoised; httpx never mutates it)."""
    return httpx_timeout(timeouts).as_dict()


def async_client(timeouts: Timeouts, limits: httpx.Limits = DEFAULT_LIMITS, *,
                 tls: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    """The async client's own httpx client: httpx's default TLS, or ``tls``
    (``connections.tls_context``: a CA bundle's)."""
    return httpx.AsyncClient(timeout=httpx_timeout(timeouts), limits=limits, verify=True if tls is None else tls)


def _failure(exc: httpx.TransportError) -> TransportFailure:
    return TransportFailure(exc, isinstance(exc, _RETRYABLE), isinstance(exc, httpx.TimeoutException))


def _httpx_request(http: httpx.Client | httpx.AsyncClient, send: Send, timeout: dict[str, Any]) -> httpx.Request:
    """The httpx request for a ``Send``: our headers, plus the client's defaults we did not set."""
    ours = {name for name, _ in send.headers}
    headers = [(k, v) for k, v in http.headers.items() if k.lower() not in ours and k.lower() != "user-agent"]
    headers.extend(send.headers)
    request = send.request
    return httpx.Request(request.method, request.url, headers=headers, content=request.body,
                         extensions={"timeout": timeout})


# --------------------------------------------------------------------------- sync


class HttpxExchange:
    """Sync exchange over a caller's ``httpx.Client``."""

    __slots__ = ("_http", "_sleep", "_timeout", "_response", "_chunks")

    def __init__(self, http: httpx.Client, sleep: Callable[[float], None], timeout: Timeouts) -> None:
        self._http = http
        self._sleep = sleep
        self._timeout = _timeout_extension(timeout)
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None

    def perform(self, action: Any) -> Any:
        kind = type(action)
        try:
            if kind is Send:
                self.close()
                request = _httpx_request(self._http, action, self._timeout)
                if not action.stream:
                    response = self._http.send(request)
                    return Reply(response.status_code, response.headers, response.content)
                self._response = response = self._http.send(request, stream=True)
                self._chunks = response.iter_bytes()
                return Head(response.status_code, response.headers)
            if kind is ReadChunk:
                assert self._chunks is not None
                return next(self._chunks, b"")
            if kind is ReadBody:
                assert self._response is not None
                return self._response.read()
        except httpx.TransportError as exc:
            return _failure(exc)
        if kind is Sleep:
            self._sleep(action.seconds)
            return None
        raise TypeError(f"unexpected flow action {action!r}")

    def close(self) -> None:
        if self._response is not None:
            response, self._response, self._chunks = self._response, None, None
            response.close()


# --------------------------------------------------------------------------- async


class AsyncHttpxExchange:
    """Async exchange over an ``httpx.AsyncClient``."""

    __slots__ = ("_http", "_sleep", "_timeout", "_response", "_chunks")

    def __init__(self, http: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]],
                 timeout: Timeouts) -> None:
        self._http = http
        self._sleep = sleep
        self._timeout = _timeout_extension(timeout)
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None

    async def perform(self, action: Any) -> Any:
        kind = type(action)
        try:
            if kind is Send:
                await self.close()
                request = _httpx_request(self._http, action, self._timeout)
                if not action.stream:
                    response = await self._http.send(request)
                    return Reply(response.status_code, response.headers, response.content)
                self._response = response = await self._http.send(request, stream=True)
                self._chunks = response.aiter_bytes()
                return Head(response.status_code, response.headers)
            if kind is ReadChunk:
                assert self._chunks is not None
                return await anext(self._chunks, b"")
            if kind is ReadBody:
                assert self._response is not None
                return await self._response.aread()
        except httpx.TransportError as exc:
            return _failure(exc)
        except RuntimeError as exc:
            if kind is not Send:
                raise
            # a connection of a closed loop (Rule 2); httpx's "client has been closed" is final
            return TransportFailure(exc, retryable=not self._http.is_closed)
        if kind is Sleep:
            await self._sleep(action.seconds)
            return None
        raise TypeError(f"unexpected flow action {action!r}")

    async def close(self) -> None:
        if self._response is not None:
            response, self._response, self._chunks = self._response, None, None
            await response.aclose()


