"""The access log: one ``key=value`` line per request on the server log, for the operators of a
shared gateway (setting ``access_log``, off by default).

Lines go to the ``claude_bedrock.access`` logger at INFO, keys in this order, a key without a
value left out::

    request_id=2f1c... method=POST operation=InvokeModel status=200 account=111122223333
    region=us-west-2 model=us.anthropic.claude-haiku-4-5-20251001-v1:0 endpoint=regional
    input_tokens=12 output_tokens=40 latency_ms=31 client=127.0.0.1   (one line)

Rules
    Rule 1: off, nothing is installed: the app's request entry (``BedrockApp.handle_http``) is
            its own, no call observer is listed and the authenticator is untouched. ``install``
            (called by ``create_app`` when the setting is on) wraps that entry.
    Rule 2: one line per request, written when the app is done with it (a stream: after its
            last frame). A runtime call that reached its handler is told by its ``CallRecord``
            (status, error code, model as sent, endpoint type, tokens), as the call history and
            invocation logs tell it: status 0 is a call cut short, its error code says how
            (``ClientDisconnected``, ``ConnectionDropped``), and a stream that ended with an
            exception frame has that error's status. Any other request (control plane, STS, the
            admin API, a refusal before the handler: authentication, routing, body size) has the
            status sent (0: none was) and the error code of its error response. Its account and
            region are the caller's once authenticated.
    Rule 3: never a secret, a signature, a session token, an API key, a body, a prompt or an
            answer; never the query string (a presigned URL carries its signature there). The
            values a client chooses (the model ID as sent, the path of a request that names no
            operation) are written by ``domain.log_text.logfmt_value``: they can forge neither
            a key nor a second line, nor drive a terminal.
    Rule 4: on, a request costs one formatted line: nothing is serialised again, the status,
            request ID and error code are read from the response head as it is sent.
"""

from __future__ import annotations

import logging
import re
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from claude_bedrock.domain.log_text import logfmt_value
from claude_bedrock.service.auth import Identity, PendingSignature
from claude_bedrock.service.calls import CallRecord
from claude_bedrock.service.http import Receive, Request, Scope, Send, raw_path_of
from claude_bedrock.service.testing_hooks import ADMIN_PREFIX

if TYPE_CHECKING:
    from claude_bedrock.service.app import BedrockApp

__all__ = ["LOGGER_NAME", "install"]

LOGGER_NAME = "claude_bedrock.access"
log = logging.getLogger(LOGGER_NAME)

HttpEntry = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The code of an STS (query-XML) error document; rest-json errors name it in a header.
_XML_ERROR_CODE = re.compile(rb"<Code>([^<]{1,128})</Code>")


class _Entry:
    """What one request's line says, gathered while the app serves it."""

    __slots__ = ("status", "request_id", "error", "identity", "record")

    def __init__(self) -> None:
        self.status = 0
        self.request_id: str | None = None
        self.error: str | None = None
        self.identity: Identity | None = None
        self.record: CallRecord | None = None


#: The entry of the request the current task serves (Rule 2).
_current: ContextVar[_Entry | None] = ContextVar("claude_bedrock_access_entry", default=None)


def install(app: BedrockApp) -> None:
    """Log every request ``app`` serves (Rule 1)."""
    state = app.state
    if _note_call not in state.observers:  # a state reused by a second app is set up once
        state.observers.append(_note_call)
        state.authenticator.finish = _noting_identity(state.authenticator.finish)  # type: ignore[method-assign]
    app.handle_http = _logged(app, app.handle_http)


def _note_call(record: CallRecord) -> None:
    """Call observer: the runtime call of the request being served."""
    entry = _current.get()
    if entry is not None:
        entry.record = record


def _noting_identity(
    finish: Callable[[Request, Identity | PendingSignature], Identity],
) -> Callable[[Request, Identity | PendingSignature], Identity]:
    def noting(request: Request, admitted: Identity | PendingSignature) -> Identity:
        identity = finish(request, admitted)
        entry = _current.get()
        if entry is not None:
            entry.identity = identity
        return identity

    return noting


def _logged(app: BedrockApp, serve: HttpEntry) -> HttpEntry:
    async def logged(scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        entry = _Entry()
        token = _current.set(entry)

        async def noting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                _note_head(entry, message)
            elif entry.status >= 400 and entry.error is None:  # an STS error: its code is in the body
                found = _XML_ERROR_CODE.search(message.get("body", b""))
                if found is not None:
                    entry.error = found.group(1).decode("latin-1")
            await send(message)

        try:
            await serve(scope, receive, noting_send)
        finally:
            _current.reset(token)
            if log.isEnabledFor(logging.INFO):
                log.info(_line(app, scope, entry, int((time.perf_counter() - started) * 1000)))

    return logged


def _note_head(entry: _Entry, message: dict[str, Any]) -> None:
    entry.status = message["status"]
    for name, value in message.get("headers", ()):
        if name == b"x-amzn-requestid":
            entry.request_id = value.decode("latin-1")
        elif name == b"x-amzn-errortype":  # "Code:namespace"
            entry.error = value.decode("latin-1").partition(":")[0]


def _line(app: BedrockApp, scope: Scope, entry: _Entry, latency_ms: int) -> str:
    method = scope.get("method", "-")
    record = entry.record
    if record is not None:  # a runtime call: its record tells it (Rule 2)
        usage = record.usage
        parts = [
            f"request_id={record.request_id}",
            f"method={method}",
            f"operation={record.operation}",
            f"status={record.status}",
            *([f"error={record.error_code}"] if record.error_code else ()),
            f"account={record.account_id}",
            f"region={logfmt_value(record.region)}",
            f"model={logfmt_value(record.model_id)}",
            *([f"endpoint={record.endpoint_type}"] if record.endpoint_type else ()),
            f"input_tokens={usage.get('inputTokens', 0)}",
            f"output_tokens={usage.get('outputTokens', 0)}",
        ]
    else:
        raw_path = raw_path_of(scope)
        parts = [f"request_id={entry.request_id or '-'}", f"method={method}"]
        match = None if raw_path.startswith(ADMIN_PREFIX) else app.router.match(method, raw_path)
        if match is not None:
            parts.append(f"operation={match.route.operation}")
        else:  # the admin API, or no operation: the path says what was asked
            parts.append(f"operation={'Admin' if raw_path.startswith(ADMIN_PREFIX) else '-'}")
            parts.append(f"path={logfmt_value(raw_path)}")
        parts.append(f"status={entry.status}")
        if entry.error:
            parts.append(f"error={logfmt_value(entry.error)}")
        identity = entry.identity
        if identity is not None:
            parts.append(f"account={identity.account_id}")
            parts.append(f"region={logfmt_value(identity.region)}")
        if match is not None and "modelId" in match.params:  # a runtime call refused before its handler
            parts.append(f"model={logfmt_value(match.params['modelId'])}")
    client = scope.get("client")
    parts.append(f"latency_ms={latency_ms}")
    parts.append(f"client={logfmt_value(str(client[0])) if client else '-'}")
    return " ".join(parts)
