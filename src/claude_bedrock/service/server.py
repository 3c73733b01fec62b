"""Run the ASGI app on uvicorn over a socket we bind ourselves (so port 0 works and the
announced URL is the real one). Stops cleanly on SIGINT/SIGTERM (uvicorn's handlers) and SIGHUP, running
the app's shutdown hooks (log flushing) first; a second Ctrl-C stops without waiting for open
connections, and the hooks still run.

The request head (request line and headers) is capped at ``MAX_HEAD_BYTES``: uvicorn's
httptools protocol buffers a head of any size, before any authentication, so a client could
make the server hold gigabytes. A longer head is answered 431 and the connection closed.

A connection is not held open forever by a client that went quiet: uvicorn's keep-alive
timeout closes a connection idle between requests, but not one that never sent its first byte,
nor one whose request stopped halfway (a crashed client, a half-open TCP connection, a
slowloris), so a gateway running for days would pile up file descriptors until it could accept
no more. Here the keep-alive timeout also runs before the first request (as uvicorn's author
says it should: uvicorn issue #160), a request head not whole ``REQUEST_READ_TIMEOUT_S`` after
its first byte, or a body that receives no byte for as long, is cut (the app sees the client
disconnect): a head trickled a byte a minute (a slowloris) held its connection for 45 days. The
rest of a body already answered (a refusal's, which is read and dropped so that the client
reads its answer) has as long in all after the answer. Nor by a client that
stops reading its answer: a connection whose client takes none of the response for
``RESPONSE_WRITE_TIMEOUT_S``, while the socket's buffers are full or the answer's end waits
unread in them, is aborted (nginx's ``send_timeout``), so
that neither the bytes waiting for it nor the call still producing them (a gateway's upstream
stream) are held for as long as the client lives.

A client that pipelines requests does not make the server hold more than
``MAX_QUEUED_REQUESTS`` of them: uvicorn parsed every request a read brought, each queued with
its scope (about 1 KB for a 26-byte request), and read on after every answer (and whenever the
running call waits on its client), so one anonymous client sending tiny requests faster than
they were answered grew the server by gigabytes. The requests past the cap are not read: those
queued are answered, the last with ``connection: close``, and the client sends the rest again
on a new connection, as any pipelining client must be ready to.

A client that pipelines requests and closes the connection while the first is answered has
that first call told it left, as without pipelining: uvicorn tells only the last request read
(a queued one), so the running call went on to its end, wrote to the closed connection and was
logged and recorded as a 500 with a traceback.

A request that offers an ``Upgrade`` (``curl --http2`` on http://, Java's HttpClient: ``h2c``)
is answered in HTTP/1.1 with its body, as RFC 9110 allows (``ignored_upgrade``): httptools
ended it at its head, so the app saw an empty body.

An HTTP/1.1 request without a ``Host`` header, or with more than one, is answered 400 and the
connection closed, as RFC 9112 (3.2) requires of a server (uvicorn served it).

An HTTP/1.0 request gets no "100 Continue" and, when its answer has no ``Content-Length`` (a
stream), an answer ended by the connection's close rather than chunked (``http10_response``):
HTTP/1.0 has neither.

HTTPS is uvicorn's own (``ssl_certfile`` / ``ssl_keyfile``), with the ``tls_cert`` and
``tls_key`` settings; the files are loaded before the app starts, and one that cannot be used
is a one-line ``ConfigError`` naming it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
import ssl
import sys
from pathlib import Path
from typing import Any, TextIO

import uvicorn

from claude_bedrock.service.app import BedrockApp, QuietInjectedDrops, create_app
from claude_bedrock.settings import GUIDE_RETENTION_DAYS, ConfigError, Settings, is_loopback, read_user_bytes

log = logging.getLogger("claude_bedrock.server")

#: The largest request head accepted (SigV4 headers with a session token take a few KB).
MAX_HEAD_BYTES = 64 * 1024
#: How long a request head may take to arrive whole, and a body go without a byte, before the
#: connection is closed (nginx's client_header_timeout / client_body_timeout default).
REQUEST_READ_TIMEOUT_S = 60.0
#: How long a response may wait, the socket's buffers full, for its client to read a byte before
#: the connection is aborted (nginx's send_timeout default).
RESPONSE_WRITE_TIMEOUT_S = 60.0
#: How many pipelined requests a connection may have waiting for the one answered (no client
#: library pipelines; the requests past it are left unread and the connection closed).
MAX_QUEUED_REQUESTS = 32
#: How long an idle TLS connection is given, at shutdown, to answer the server's close_notify
#: before it is aborted.
TLS_CLOSE_GRACE_S = 1.0

try:
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - no httptools: h11, whose head limit is 16 KB
    HttpToolsProtocol = None  # type: ignore[assignment, misc]


def _bounded_http_protocol() -> Any:
    """uvicorn's httptools protocol with the head capped at MAX_HEAD_BYTES, or "h11"."""
    if HttpToolsProtocol is None:  # pragma: no cover
        return "h11"

    class BoundedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc, valid-type]
        """The bytes received while a head is incomplete are counted (a head that never ends is
        cut before it is buffered); when they pass the cap by the time the head is complete
        (a head that arrived whole in one read, perhaps with a body behind it), the head's own
        size, as parsed, decides."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_bytes = 0  # bytes received since the current head began; -1 in a body
            self._head_too_large = False
            self._queue_full = False  # a pipelined request past MAX_QUEUED_REQUESTS was refused
            self._read_timer: asyncio.TimerHandle | None = None  # while a request is incomplete
            self._write_timer: asyncio.TimerHandle | None = None  # while the client reads nothing
            self._write_backlog = 0  # the transport's buffered bytes when the write timer was armed
            self._running: Any = None  # the request cycle whose app runs (others may be queued)
            self._upgrade_body: Any = None  # an ``ignored_upgrade.UpgradeBody``: a body httptools leaves unread

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            # Idle before the first request as after a response (uvicorn arms it only then).
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

        def data_received(self, data: bytes) -> None:
            reading_head = self._head_bytes >= 0
            if reading_head:
                self._head_bytes += len(data)
            self._parse(data)
            if reading_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self._refuse_head()
            if self._read_timer is not None:  # inline: the usual request arrives whole, no timer
                if self._head_bytes > 0 if reading_head else self.cycle.response_complete:
                    # the same head, still incomplete, or the rest of a body already answered (a
                    # refusal's, read to be dropped): its deadline stands (a byte a minute held a
                    # connection for weeks)
                    return
                self._cancel_read_timer()
            if self._head_bytes != 0 and not self.transport.is_closing():  # a request is incomplete
                self._read_timer = self.loop.call_later(REQUEST_READ_TIMEOUT_S, self._read_timed_out)

        def _parse(self, data: bytes) -> None:
            """uvicorn's ``data_received``, except that an ``Upgrade`` offer is ignored: its
            request's body is read (``ignored_upgrade``), and the bytes after it parsed."""
            self._unset_keepalive_if_required()
            while data and not self.transport.is_closing():
                if self._upgrade_body is not None:
                    data = self._read_upgrade_body(data)
                    continue
                try:
                    self.parser.feed_data(data)
                except httptools.HttpParserError:
                    self._invalid_request()
                except httptools.HttpParserUpgrade as upgrade:  # the head is parsed; what follows is not
                    if self._should_upgrade():  # a WebSocket, were ``ws`` not "none": uvicorn's hand-off
                        self.handle_websocket_upgrade()
                        return
                    data = data[upgrade.args[0]:]
                    continue
                return

        def _read_upgrade_body(self, data: bytes) -> bytes:
            """Hand ``data`` to the body being read; the bytes after the body."""
            body = self._upgrade_body
            assert body is not None
            try:
                pieces, rest = body.feed(data)
            except ValueError:  # the body breaks its framing
                self._upgrade_body = None
                self._invalid_request()
                return b""
            for piece in pieces:
                self.on_body(piece)
            if body.done:
                self._upgrade_body = None
                self._message_done()
            return rest

        def _invalid_request(self) -> None:
            if self._queue_full:  # not invalid: past the queue's cap (``_close_after_queue``)
                self.flow.pause_reading()  # uvicorn reads on after an answer, or for the running call
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)

        def _read_timed_out(self) -> None:
            self._read_timer = None
            if self.flow.read_paused:  # the server stopped reading, not the client: not idle
                self._read_timer = self.loop.call_later(REQUEST_READ_TIMEOUT_S, self._read_timed_out)
            elif not self.transport.is_closing():
                self.transport.close()

        def _cancel_read_timer(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

        def pause_writing(self) -> None:
            """The transport's buffer is full: the client has this long to read (the usual
            answer never fills it, so this costs nothing per request)."""
            super().pause_writing()
            if self._write_timer is None:
                self._arm_write_timer()

        def _arm_write_timer(self) -> None:
            self._write_backlog = self.transport.get_write_buffer_size()
            self._write_timer = self.loop.call_later(RESPONSE_WRITE_TIMEOUT_S, self._write_timed_out)

        def resume_writing(self) -> None:
            super().resume_writing()
            self._cancel_write_timer()

        def _write_timed_out(self) -> None:
            self._write_timer = None
            backlog = self.transport.get_write_buffer_size()
            if backlog == 0:  # all taken
                return
            if backlog < self._write_backlog:  # slow, but reading
                self._arm_write_timer()
                return
            log.info("closed a connection from %s whose client read none of its response for %g s",
                     _peer(self.client), RESPONSE_WRITE_TIMEOUT_S)
            self.transport.abort()  # close() would wait for the client to take the buffered bytes

        def _cancel_write_timer(self) -> None:
            if self._write_timer is not None:
                self._write_timer.cancel()
                self._write_timer = None

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_read_timer()
            self._cancel_write_timer()
            running = self._running
            if running is not None and running is not self.cycle and not running.response_complete:
                running.disconnected = True  # uvicorn tells ``self.cycle`` only: a queued request
                running.message_event.set()
            super().connection_lost(exc)

        def shutdown(self) -> None:
            """uvicorn's graceful shutdown; an idle TLS connection's close waits for the client's
            close_notify, which a client keeping it in its pool (boto3) never sends: the server
            waited its whole graceful timeout (10 s). Such a connection is aborted after
            ``TLS_CLOSE_GRACE_S``; over plain HTTP the close is at once."""
            idle = self.cycle is None or self.cycle.response_complete
            super().shutdown()
            if idle and self.transport.get_extra_info("sslcontext") is not None:
                self.loop.call_later(TLS_CLOSE_GRACE_S, self._abort_if_open)

        def _abort_if_open(self) -> None:
            if self in self.connections:  # connection_lost not called yet
                self.transport.abort()

        def _refuse_head(self) -> None:
            self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                 b"content-length: 0\r\nconnection: close\r\n\r\n")
            self.transport.close()

        def on_headers_complete(self) -> None:
            if self._head_bytes > MAX_HEAD_BYTES and self._parsed_head_size() > MAX_HEAD_BYTES:
                self._head_too_large = True
                raise ValueError("request head too large")  # the parser stops: send_400_response
            if _host_lines(self.headers) != 1 and self.parser.get_http_version() not in _HOST_OPTIONAL:
                raise ValueError("an HTTP/1.1 request has exactly one Host header")  # RFC 9112 3.2: a 400
            if len(self.pipeline) >= MAX_QUEUED_REQUESTS:
                self._close_after_queue()
                raise ValueError("too many pipelined requests")  # the parser stops: _invalid_request
            self._head_bytes = -1  # the body is not counted
            super().on_headers_complete()
            if not (self.pipeline and self.pipeline[0][0] is self.cycle):  # started, not queued
                self._running = self.cycle

        def _start_asgi_task(self, cycle: Any, app: Any) -> None:
            if cycle.scope["http_version"] == "1.0":  # httptools parses no HTTP/0.9
                from claude_bedrock.service.http10_response import Http10Cycle  # rare: loaded on first use
                Http10Cycle.adopt(cycle)
            super()._start_asgi_task(cycle, app)

        def _parsed_head_size(self) -> int:
            """The request line's URL and every header line (": " and CRLF included)."""
            return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

        def send_400_response(self, msg: str) -> None:
            if self._head_too_large:
                self._refuse_head()
            else:
                super().send_400_response(msg)

        def _close_after_queue(self) -> None:
            """Read nothing more; the requests queued are answered, the last one's answer with
            ``connection: close`` (a 400 now would land in the middle of another answer)."""
            self._queue_full = True
            self.cycle.keep_alive = False  # the last request read: queued, not started
            log.info("a client at %s pipelined more than %d requests: the rest are left unread and the "
                     "connection closed after the queued ones' answers", _peer(self.client), MAX_QUEUED_REQUESTS)

        def on_response_complete(self) -> None:
            queued = self.pipeline[-1][0] if self.pipeline else None  # the next to start
            super().on_response_complete()
            if self._write_timer is None and self.transport.get_write_buffer_size():
                # the answer's end waits in the buffer, below the mark that pauses writing: a
                # client that never takes it would hold the connection (close() waits for it)
                self._arm_write_timer()
            if queued is not None and not (self.pipeline and self.pipeline[-1][0] is queued):
                self._running = queued

        def on_message_complete(self) -> None:
            if self.parser.should_upgrade() and not self._should_upgrade():
                # httptools ends the request at its head: a body it declared is still to come.
                from claude_bedrock.service.ignored_upgrade import UpgradeBody  # rare: loaded on first use

                self._upgrade_body = UpgradeBody.after(self.headers)
                if self._upgrade_body is not None:
                    return
            self._message_done()

        def _message_done(self) -> None:
            super().on_message_complete()
            self._head_bytes = 0  # the next request's head starts
            self._cancel_read_timer()

    return BoundedHttpToolsProtocol


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"


#: HTTP versions whose requests may come without ``Host`` (RFC 9112 3.2 requires it of HTTP/1.1).
_HOST_OPTIONAL = frozenset({"0.9", "1.0"})


def _host_lines(headers: list[tuple[bytes, bytes]]) -> int:
    """How many ``Host`` lines a head holds (names lower-case, as uvicorn keeps them). A plain
    loop: it runs on every request, and a generator costs twice as much."""
    count = 0
    for name, _ in headers:
        if name == b"host":
            count += 1
    return count


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if os.name == "posix":  # a restart binds at once; on Windows it binds a port in use too (as asyncio)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


ALL_INTERFACES = ("0.0.0.0", "::", "")


def client_url(host: str, port: int, *, tls: bool = False) -> str:
    """The URL a client on this machine uses: an all-interfaces bind (0.0.0.0, ::) is
    reached through loopback."""
    if host in ALL_INTERFACES:
        host = "::1" if ":" in host else "127.0.0.1"
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def tls_files(settings: Settings) -> dict[str, str | None]:
    """uvicorn's TLS options (none for plain HTTP). Each file given must be readable; a key
    needs its certificate (a certificate file may hold its key too).

    Raises:
        ConfigError: a key without a certificate, or a file missing or unreadable.
    """
    cert, key = settings.tls_cert, settings.tls_key
    if not cert:
        if key:
            raise ConfigError("tls_key is set without tls_cert: give the certificate too (--tls-cert FILE)")
        return {}
    read_user_bytes(Path(cert), "TLS certificate")  # readable; uvicorn judges the contents
    if key:
        read_user_bytes(Path(key), "TLS key")
    return {"ssl_certfile": cert, "ssl_keyfile": key}


def load_tls(config: uvicorn.Config, settings: Settings) -> None:
    """Load ``config`` (uvicorn loads it at start, TLS context included) now, so that TLS files
    uvicorn cannot use are a one-line ``ConfigError`` saying which, not a traceback."""
    try:
        config.load()
    except OSError as exc:  # ssl.SSLError included; an encrypted key without a terminal: EINVAL
        cert, key = settings.tls_cert, settings.tls_key
        if not _holds_certificate(str(cert)):
            raise ConfigError(f"TLS certificate {cert}: no PEM certificate in it") from None
        if getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH":
            raise ConfigError(f"TLS key {key or cert} is not the key of the certificate {cert}") from None
        if not key:
            raise ConfigError(f"TLS certificate {cert}: no PEM private key in it; give the key file "
                              "with --tls-key FILE") from None
        raise ConfigError(f"TLS key {key}: not a PEM private key, or an encrypted one "
                          "(give the key unencrypted)") from None


def _holds_certificate(path: str) -> bool:
    try:
        ssl.create_default_context(cafile=path)
    except (OSError, ValueError):
        return False
    return True


def upstream_is_self(upstream: str, bind_host: str, port: int) -> bool:
    """``upstream`` (a URL) names the server bound to ``bind_host``:``port``: the same port on
    a loopback name or the bound address."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(upstream)
        upstream_port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    host = parts.hostname or ""
    return upstream_port == port and (is_loopback(host) or host == bind_host.strip("[]"))


def announce(url: str, settings: Settings, out: TextIO | None) -> None:
    """Write the ``export ...`` line to ``out`` (standard output); when it cannot be written
    there (closed, as by a daemon's ``>&-``: None; a full disk, a pipe nobody reads), to the
    server log: the line is for a person, and the server serves all the same."""
    mode = "strict" if settings.effective_strict_auth else "development (unknown keys accepted)"
    where = f"{url} (bound to all interfaces)" if settings.host in ALL_INTERFACES else url
    # One line, a shell command as a whole: pasted, it exports the endpoints (the rest is a comment).
    line = (
        f"export AWS_ENDPOINT_URL_BEDROCK_RUNTIME={url} AWS_ENDPOINT_URL_BEDROCK={url} "
        f"AWS_ENDPOINT_URL_STS={url} ANTHROPIC_BEDROCK_BASE_URL={url}"
        f"  # claude-bedrock listening on {where} (auth: {mode})"
    )
    try:
        if out is not None:
            out.write(line + "\n")
            out.flush()
            return
        problem = "closed"
    except OSError as exc:
        problem = exc.strerror or str(exc)
    log.warning("standard output cannot be written (%s); %s", problem, line)


def _warn_about_risky_settings(settings: Settings, *, tls: bool) -> None:
    """One warning line for each setting that exposes the server, loses logs early or refuses
    every request."""
    if not is_loopback(settings.host) and not tls:
        log.warning("bound beyond loopback without TLS: bearer API keys, session tokens, prompts and answers "
                    "travel in clear; serve HTTPS with --tls-cert FILE --tls-key FILE")
    if not is_loopback(settings.host) and not settings.effective_strict_auth:
        log.warning("bound beyond loopback with strict auth explicitly disabled: anyone can call this server")
    if 0 < settings.log_retention_days < GUIDE_RETENTION_DAYS:  # logs purge asks before this; the server cannot
        log.warning("invocation logs are kept %d days (--log-retention-days), fewer than the guide's %d: each "
                    "hour the server deletes older ones", settings.log_retention_days, GUIDE_RETENTION_DAYS)
    if settings.effective_strict_auth and not settings.credentials and not settings.api_keys:
        log.warning("strict auth and no credentials or API keys in the config: every request will be refused; "
                    "list keys in the --config file ([[credentials]], [[api_keys]]) or pass --no-strict-auth")


def serve(settings: Settings, app: BedrockApp | None = None, out: TextIO | None = sys.stdout) -> None:
    tls = tls_files(settings)
    app = app or create_app(settings)
    config = uvicorn.Config(
        app,
        http=_bounded_http_protocol(),
        log_level=settings.log_level,
        use_colors=log_colours(sys.stderr),
        access_log=False,  # uvicorn's own; ours is the access_log setting (service/access_log.py)
        lifespan="on",
        timeout_graceful_shutdown=10,
        server_header=False,
        date_header=True,
        # X-Forwarded-* are not trusted by default: auth decisions never depend on them.
        proxy_headers=False,
        ws="none",  # no WebSocket routes: do not import a WebSocket implementation
        **tls,
    )
    if tls:  # before binding: a bad file stops the start-up with one line
        load_tls(config, settings)
    sock = bind_socket(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    if settings.upstream and upstream_is_self(settings.upstream, settings.host, port):
        sock.close()
        raise ConfigError(f"--upstream {settings.upstream} is this server itself: every call would come back "
                          "to it; name the Bedrock to forward to ('aws' or another server's URL)")
    url = client_url(host, port, tls=bool(tls))
    _warn_about_risky_settings(settings, tls=bool(tls))
    describe = getattr(app.state.engine, "describe", None)
    if describe is not None:
        log.info("gateway mode: model calls are answered by %s", describe())
    _quiet_injected_drops(logging.getLogger("uvicorn.error"))
    server = uvicorn.Server(config)
    # uvicorn handles SIGINT and SIGTERM once it runs (graceful shutdown, log flush), then
    # re-raises them with the handlers that were installed before. Those ask uvicorn to stop: a
    # signal before uvicorn listens (start-up) then stops it as soon as it has started, and a
    # re-raised one changes nothing, so the process ends with exit code 0 either way. (Raising
    # an exception from the handler instead, SystemExit or Python's own KeyboardInterrupt, could
    # land in a weakref callback during an import, where Python ignores it: the signal was lost
    # and the server ran on.)
    stop = functools.partial(_request_stop, server)
    previous = {sig: signal.signal(sig, stop) for sig in _stop_signals()}
    announce(url, settings, out)
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # A second Ctrl-C (uvicorn's force quit) skips the lifespan shutdown: flush the
        # invocation logs anyway (a no-op when the lifespan ran the hooks).
        asyncio.run(app.shutdown())


def log_colours(stream: TextIO) -> bool:
    """Whether uvicorn colours its log lines. Left to itself it does when stdout is a terminal,
    whatever stream the lines go to: ``serve 2> server.log`` run from a shell filled the file with
    escape codes. Colour only a terminal's ``stream`` (the log's), and not with ``NO_COLOR`` set
    to anything but the empty string (no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _quiet_injected_drops(logger: logging.Logger) -> None:
    """Install ``QuietInjectedDrops`` on uvicorn's error logger, once per process."""
    if not any(isinstance(existing, QuietInjectedDrops) for existing in logger.filters):
        logger.addFilter(QuietInjectedDrops())


def _stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that stop the server gracefully: SIGINT and SIGTERM, and SIGHUP (its
    terminal closed) unless it is ignored, as under ``nohup``. Left to its default, a hangup
    killed the server at once, and the invocation-log records still in memory were lost."""
    hangup = getattr(signal, "SIGHUP", None)  # not on Windows
    if hangup is None or signal.getsignal(hangup) is signal.SIG_IGN:
        return signal.SIGINT, signal.SIGTERM
    return signal.SIGINT, signal.SIGTERM, hangup


def _request_stop(server: uvicorn.Server, signum: int, frame: object) -> None:
    server.should_exit = True
