"""Keep-alive HTTP/1.1 connections on the standard library: the sync client's default transport.

Purpose: per-request client CPU. httpx's own machinery costs about as much CPU per request as
all the rest of a call, and ``http.client.HTTPConnection``'s request writer and state machine
a good part of that again (``bench/client_bench.py``, ``docs/client.md``). So the request head
is written here - one ``sendall`` of bytes the core already built and signed - and the
response is read by the standard library's ``http.client.HTTPResponse`` (status line, headers,
``Content-Length`` / chunked framing, ``read1`` for streams). The pool keeps idle sockets per
origin. Callers who need proxies, custom TLS or an ``httpx.MockTransport`` pass
``http_client=httpx.Client(...)`` and get ``httpx_transport.HttpxExchange`` instead.

Invariants:
  * Rule 1 - a socket goes back to the pool only after its response was read to the end and
    the server did not ask to close it; anything else closes it.
  * Rule 2 - a reused idle socket that turns out closed by the server (reset, broken pipe or
    disconnected before any response byte) is replaced by a fresh one once, transparently: the
    server never read that request. Every other failure is a ``TransportFailure`` for the
    flow to judge.
  * Rule 3 - we send exactly the headers the core signed (``Host`` included) plus
    ``Content-Length``; names and values holding CR or LF never reach the wire (the core
    refuses them).
  * Rule 4 - a forked child starts with no idle socket: the ones its pools inherited are the
    parent's too, and two processes speaking on one socket read each other's answers.

Source: RFC 9112 (message format), CPython ``http.client.HTTPResponse``; urllib3's dropped
connection check (an idle socket that is readable has been closed by the peer).
"""

from __future__ import annotations

import http.client
import math
import os
import select
import socket
import ssl
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from claude_bedrock.client.errors import ConfigurationError
from claude_bedrock.client.flow import Head, ReadBody, ReadChunk, Send, Sleep, TransportFailure
from claude_bedrock.client.responses import Reply

__all__ = ["DEFAULT_TIMEOUTS", "Timeouts", "timeouts_of", "tls_context", "ConnectionPool", "PooledExchange"]

CHUNK_BYTES = 64 * 1024
MAX_IDLE_PER_ORIGIN = 10
#: An idle socket reused sooner than this is not polled first (servers keep idle connections
#: for 5 s or more: uvicorn 5, AWS longer); a socket closed even so is caught by Rule 2.
IDLE_CHECK_AFTER_S = 1.0
#: Failures of a reused socket that mean "the server had closed it" (Rule 2).
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
#: Methods that always carry a Content-Length, even for an empty body.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to connect, and to wait for each read (None: wait forever)."""

    connect: float | None = 5.0
    read: float | None = 600.0


DEFAULT_TIMEOUTS = Timeouts()


def timeouts_of(value: Any) -> Timeouts:
    """``Timeouts`` from the client's ``timeout`` argument: seconds, an ``httpx.Timeout``-like
    object (``.connect`` / ``.read``), a ``Timeouts``, or None for the defaults."""
    if value is None:
        return DEFAULT_TIMEOUTS
    if isinstance(value, Timeouts):
        timeouts = value
    elif _is_number(value):
        timeouts = Timeouts(DEFAULT_TIMEOUTS.connect, float(value))
    elif hasattr(value, "connect") and hasattr(value, "read"):  # an httpx.Timeout
        timeouts = Timeouts(value.connect, value.read)
    else:
        raise ConfigurationError(f"timeout must be seconds, an httpx.Timeout or None, not {value!r}")
    for name, seconds in (("connect", timeouts.connect), ("read", timeouts.read)):
        # None waits forever; anything else is a finite number of seconds above 0
        if seconds is not None and not (_is_number(seconds) and 0 < seconds < math.inf):
            raise ConfigurationError(f"timeout: the {name} timeout must be a number of seconds above 0, not {seconds!r}")
    return timeouts


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The TLS context of a client: the system's CAs (which ``SSL_CERT_FILE`` replaces), and
    those of the PEM file ``ca_bundle`` too (``AWS_CA_BUNDLE`` or a profile's ``ca_bundle``).

    botocore trusts such a bundle in place of every other CA; here it is added, so that a
    machine whose ``AWS_CA_BUNDLE`` names its corporate CAs can still trust a local HTTPS
    server with ``SSL_CERT_FILE``, as the README says. Building one costs tens of
    milliseconds: the pool builds it with its first HTTPS connection.

    Raises:
        ConfigurationError: ``ca_bundle`` cannot be read, or holds no certificate.
    """
    context = ssl.create_default_context()
    if ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigurationError(
                f"the CA bundle {ca_bundle!r} (AWS_CA_BUNDLE, or the profile's ca_bundle) cannot be used: {reason}"
            ) from None
    return context


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int


class Connection:
    """One open socket to an origin, the read timeout set on it, when it was last released."""

    __slots__ = ("sock", "read_timeout", "idle_since")

    def __init__(self, sock: socket.socket, read_timeout: float | None) -> None:
        self.sock = sock
        self.read_timeout = read_timeout
        self.idle_since = 0.0

    def use(self, timeouts: Timeouts) -> Connection:
        if timeouts.read != self.read_timeout:
            self.sock.settimeout(timeouts.read)
            self.read_timeout = timeouts.read
        return self

    def looks_open(self) -> bool:
        """An idle socket with something to read has been closed (or spoken to) by the peer."""
        if time.monotonic() - self.idle_since < IDLE_CHECK_AFTER_S:
            return True
        try:
            return not _readable(self.sock)
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _readable(sock: socket.socket) -> bool:
    """Whether ``sock`` has something to read (or its peer closed it), without waiting. poll
    where the platform has it: ``select.select`` refuses a descriptor from 1024 on (a busy
    process's), which made every pooled connection look closed there (Windows has no poll, and
    no such bound)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


def _failure(exc: BaseException) -> TransportFailure:
    timeout = isinstance(exc, TimeoutError)
    retryable = not isinstance(exc, (ssl.SSLCertVerificationError, http.client.InvalidURL))
    return TransportFailure(exc, retryable, timeout)


class ConnectionPool:
    """Idle keep-alive sockets per origin (thread-safe: deque pops and appends are atomic)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, ca_bundle: str | None = None) -> None:
        self._ssl_context = ssl_context
        self._ca_bundle = ca_bundle  # for the context built with the first HTTPS connection
        self._idle: dict[Origin, deque[Connection]] = {}
        self._origins: dict[str, Origin] = {}
        self._closed = False
        # A pool dropped without close() (its client never closed: the guide's samples never
        # close theirs), or alive at exit, closes its idle sockets rather than leave each to a
        # ResourceWarning, as the Anthropic SDK's client does for its httpx client.
        weakref.finalize(self, _close_idle, self._idle)
        _POOLS.add(self)

    def origin(self, origin: str) -> Origin:
        """The parsed ``scheme://host[:port]`` (memoised)."""
        found = self._origins.get(origin)
        if found is None:
            parts = urlsplit(origin)
            scheme = parts.scheme.lower()
            found = Origin(scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80))
            self._origins[origin] = found
        return found

    def acquire(self, origin: Origin, timeouts: Timeouts) -> tuple[Connection, bool]:
        """An idle socket that still looks open, else a new one; and whether it was reused.

        Raises:
            OSError: connecting failed (refused, DNS, TLS, timeout).
        """
        idle = self._idle.get(origin)
        while idle:
            try:
                connection = idle.pop()
            except IndexError:
                break
            if connection.looks_open():
                return connection.use(timeouts), True
            connection.close()
        return self.connect(origin, timeouts), False

    def connect(self, origin: Origin, timeouts: Timeouts) -> Connection:
        sock = socket.create_connection((origin.host, origin.port), timeout=timeouts.connect)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if origin.scheme == "https":
                if self._ssl_context is None:
                    self._ssl_context = tls_context(self._ca_bundle)
                sock = self._ssl_context.wrap_socket(sock, server_hostname=origin.host)
            sock.settimeout(timeouts.read)
        except BaseException:
            sock.close()
            raise
        return Connection(sock, timeouts.read)

    def release(self, origin: Origin, connection: Connection) -> None:
        idle = self._idle.get(origin)
        if idle is None:
            idle = self._idle.setdefault(origin, deque())
        if self._closed or len(idle) >= MAX_IDLE_PER_ORIGIN:
            connection.close()
        else:
            connection.idle_since = time.monotonic()
            idle.append(connection)

    def close(self) -> None:
        self._closed = True
        _close_idle(self._idle)


def _close_idle(idle_by_origin: dict[Origin, deque[Connection]]) -> None:
    for idle in list(idle_by_origin.values()):
        while idle:
            idle.pop().close()


#: Every live pool, for ``_drop_inherited_sockets``.
_POOLS: weakref.WeakSet[ConnectionPool] = weakref.WeakSet()


def _drop_inherited_sockets() -> None:
    """In a forked child: close every pool's idle sockets (Rule 4). Closing the child's copy of
    a socket the parent still holds sends nothing to the server; the parent keeps using it."""
    for pool in list(_POOLS):
        _close_idle(pool._idle)


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_drop_inherited_sockets)


def _request_bytes(send: Send) -> bytes:
    request = send.request
    lines = [f"{request.method} {request.target} HTTP/1.1\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in send.headers)
    body = request.body
    if body or request.method in _BODY_METHODS:
        lines.append(f"content-length: {len(body)}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + body


def _exchange_once(connection: Connection, payload: bytes, method: str) -> http.client.HTTPResponse:
    connection.sock.sendall(payload)
    response = http.client.HTTPResponse(connection.sock, method=method)
    try:
        response.begin()
    except BaseException:
        response.close()
        raise
    return response


def _headers(response: http.client.HTTPResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in response.msg.raw_items():
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


class PooledExchange:
    """Performs a flow's actions with a ``ConnectionPool`` (Rules 1 and 2)."""

    __slots__ = ("_pool", "_sleep", "_timeouts", "_origin", "_connection", "_response")

    def __init__(self, pool: ConnectionPool, sleep: Callable[[float], None], timeouts: Timeouts) -> None:
        self._pool = pool
        self._sleep = sleep
        self._timeouts = timeouts
        self._origin: Origin | None = None
        self._connection: Connection | None = None
        self._response: http.client.HTTPResponse | None = None

    def perform(self, action: Any) -> Any:
        kind = type(action)
        try:
            if kind is Send:
                return self._send(action)
            if kind is ReadChunk:
                assert self._response is not None
                response = self._response
                chunk = response.read1(CHUNK_BYTES)
                if not chunk:
                    if response.length:  # read1 ends a Content-Length body cut short quietly
                        raise http.client.IncompleteRead(b"", response.length)
                    self._finish()
                return chunk
            if kind is ReadBody:
                assert self._response is not None
                body = self._response.read()
                self._finish()
                return body
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return _failure(exc)
        if kind is Sleep:
            self._sleep(action.seconds)
            return None
        raise TypeError(f"unexpected flow action {action!r}")

    def _send(self, action: Send) -> Head | Reply:
        self.close()
        pool = self._pool
        origin = self._origin = pool.origin(action.request.origin)
        payload = _request_bytes(action)
        method = action.request.method
        connection, reused = pool.acquire(origin, self._timeouts)
        try:
            response = _exchange_once(connection, payload, method)
        except _STALE:
            connection.close()
            if not reused:
                raise
            connection = pool.connect(origin, self._timeouts)
            try:
                response = _exchange_once(connection, payload, method)
            except BaseException:
                connection.close()
                raise
        except BaseException:
            connection.close()
            raise
        self._connection, self._response = connection, response
        if action.stream:
            return Head(response.status, _headers(response))
        body = response.read()
        self._finish()
        return Reply(response.status, _headers(response), body)

    def _finish(self) -> None:
        """The response was read to its end: keep the socket unless told to close it."""
        connection, response = self._connection, self._response
        self._connection = self._response = None
        if connection is None or response is None:
            return
        if response.will_close or self._origin is None:
            connection.close()
        else:
            self._pool.release(self._origin, connection)

    def close(self) -> None:
        """Drop an unfinished response: its socket cannot be reused (Rule 1)."""
        if self._response is not None:
            self._response.close()
        if self._connection is not None:
            self._connection.close()
        self._connection = self._response = None
