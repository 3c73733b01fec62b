"""The ASGI application: routing, authentication, error rendering, call records.

``create_app(settings)`` builds everything; there is no work at import time. The app is a
plain ASGI callable (no framework) because every request is on the hot path and the raw
path must reach routing and SigV4 untouched.

Request flow::

    request_head ─► Router.match ─► admit ─► read_body ─► finish ─► handler ─► response
         │                          (the Authenticator's two steps: admit, finish)
         └── errors of any step are rendered once, by ``_send_error`` (rest-json, or
             query-XML for STS); a stream that has started ends with an exception frame.

The body is read only once the head passed every check it can decide (routing, and all of
authentication but a listed key's signature), so an anonymous client cannot make the server
buffer bodies. A refused body is left unread: uvicorn reads and drops what the client still
sends after the response, and the connection stays open.
"""

from __future__ import annotations

import asyncio
import logging
import time
import os
from contextvars import ContextVar
from typing import Any, Awaitable, Callable

from claude_bedrock.adapters.store import EXTERNAL_CHECK_S, StateStore
from claude_bedrock.domain.errors import (
    BedrockError,
    DropConnection,
    InternalServerException,
    ValidationException,
)
from claude_bedrock.service import invocation_logging, runtime, testing_hooks
from claude_bedrock.service.testing_hooks import ADMIN_PREFIX
from claude_bedrock.service.auth import Identity
from claude_bedrock.service.calls import CallRecord
from claude_bedrock.service.control import CONTROL_ROUTES
from claude_bedrock.service.control_state import StoreUnavailable
from claude_bedrock.service.disconnect import DisconnectWatch, ResponseTracker
from claude_bedrock.domain.json_body import json_bytes
from claude_bedrock.service.origin_guard import OriginGuard
from claude_bedrock.service.http import (
    ClientDisconnected,
    Receive,
    Request,
    Scope,
    Send,
    read_body,
    request_head,
    send_response,
)
from claude_bedrock.service.routes import LazyHandler, Match, Route, Router
from claude_bedrock.service.state import ServiceState
from claude_bedrock.settings import Settings, is_loopback
from claude_bedrock.service import errors as awserrors

log = logging.getLogger("claude_bedrock.service")

#: Set in a request's task when an injected ``drop_connection`` fault ended it (``_http``): the
#: ASGI server then logs the unfinished response as an error, which ``QuietInjectedDrops`` drops.
_INJECTED_DROP: ContextVar[bool] = ContextVar("claude_bedrock_injected_drop", default=False)


class QuietInjectedDrops(logging.Filter):
    """For uvicorn's error logger: leaves out its "ASGI callable returned without completing
    response." about a connection an injected fault dropped on purpose (logged by us, at info,
    as what it is); the line stays for every other response left unfinished. uvicorn logs it in
    the request's own task, after the app returned, where ``_INJECTED_DROP`` is still set."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_INJECTED_DROP.get() and str(record.msg).startswith("ASGI callable returned without"))



#: The message of a call that failed on the state store (the log names the file and the cause).
STORE_UNAVAILABLE = "The server could not read or write its state database (see the server log). Retry your request."


class UnknownOperationException(BedrockError):
    status = 404


_CONVERSE = "claude_bedrock.service.converse_runtime"
_STS = LazyHandler("claude_bedrock.service.sts:handle")
RUNTIME_ROUTES = [
    Route("POST", "/model/{modelId}/invoke", "InvokeModel", "runtime", runtime.invoke_model),
    Route(
        "POST",
        "/model/{modelId}/invoke-with-response-stream",
        "InvokeModelWithResponseStream",
        "runtime",
        LazyHandler("claude_bedrock.service.stream_runtime:invoke_model_with_response_stream"),
    ),
    Route("POST", "/model/{modelId}/converse", "Converse", "runtime", LazyHandler(f"{_CONVERSE}:converse")),
    Route("POST", "/model/{modelId}/converse-stream", "ConverseStream", "runtime",
          LazyHandler(f"{_CONVERSE}:converse_stream")),
    Route("POST", "/model/{modelId}/count-tokens", "CountTokens", "runtime", LazyHandler(f"{_CONVERSE}:count_tokens")),
    Route("POST", "/v1/messages/count_tokens", "CountTokens", "json", runtime.anthropic_count_tokens),
    # The query protocol takes both verbs: POST with a form body (boto3, the CLI), GET with the
    # parameters in the query string (presigned URLs, e.g. EKS tokens).
    Route("POST", "/", "GetCallerIdentity", "sts", _STS, service="sts"),
    Route("GET", "/", "GetCallerIdentity", "sts", _STS, service="sts"),
]


_UUID_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_request_id() -> str:
    """A random version-4 UUID string, as AWS request IDs are (``str(uuid.uuid4())`` costs
    five times as much, on every request)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


class BedrockApp:
    def __init__(self, state: ServiceState, router: Router) -> None:
        self.state = state
        self.router = router
        #: None on a strict server: every signature is checked there
        self._guard = None if state.authenticator.strict else OriginGuard(loopback_bind=is_loopback(state.settings.host))
        self.startup_hooks: list[Callable[[], Awaitable[None] | None]] = []
        self.shutdown_hooks: list[Callable[[], Awaitable[None] | None]] = []
        self._stopped = False  # the shutdown hooks ran (``shutdown``)
        #: Serves one HTTP request: ``_http``, or the access log's wrapping of it (``access_log.install``).
        self.handle_http: Callable[[Scope, Receive, Send], Awaitable[None]] = self._http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.handle_http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            try:
                message = await receive()
            except asyncio.CancelledError:
                # A forced exit (second Ctrl-C) cancels the lifespan instead of shutting it down;
                # ``server.serve`` runs the shutdown hooks. Raised, uvicorn logs a traceback.
                return
            if message["type"] == "lifespan.startup":
                self._stopped = False
                for hook in self.startup_hooks:
                    result = hook()
                    if result is not None:
                        await result
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def shutdown(self) -> None:
        """Run the shutdown hooks (log flushing, store closing) once per start: the lifespan
        shutdown runs them, and ``server.serve`` after a forced exit, which skips the lifespan."""
        if self._stopped:
            return
        self._stopped = True
        for hook in self.shutdown_hooks:
            try:
                result = hook()
                if result is not None:
                    await result
            except Exception:  # noqa: BLE001
                log.exception("shutdown hook failed")

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        tracker = ResponseTracker(send)
        match: Match | None = None
        try:
            request = request_head(scope)
            if self._guard is not None:
                self._guard.check(request)
            if request.raw_path.startswith(ADMIN_PREFIX):
                await self._admin(request, receive, tracker)
                return
            match = self.router.match(request.method, request.raw_path)
            if match is None:
                raise UnknownOperationException(
                    f"No operation matches {request.method} {request.raw_path}"
                )
            route = match.route
            authenticator = self.state.authenticator
            admitted = authenticator.admit(request, route.service)
            await read_body(request, receive)
            identity = authenticator.finish(request, admitted)
            if route.kind == "runtime":
                await self._runtime(request, identity, match, tracker, request_id, receive)
            elif route.kind == "sts":
                await route.handler(self.state, request, identity, tracker, request_id)
            else:
                status, body = await route.handler(self.state, request, identity, match.params)
                payload = b"" if body is None else json_bytes(body)
                headers = [("x-amzn-requestid", request_id), ("content-type", "application/json"),
                           ("content-length", str(len(payload)))]
                await send_response(tracker, status if status else route.status, headers, payload)
        except ClientDisconnected:
            return
        except asyncio.CancelledError:
            # The server is stopping (graceful-shutdown wait exceeded, second Ctrl-C) and cut this
            # request short after its response started (a runtime call not started yet is
            # answered a 503 by ``_runtime``). Returning with the response incomplete makes
            # uvicorn close the connection, where the exception would be logged as "Exception
            # in ASGI application" with a traceback.
            return
        except DropConnection:
            # Injected fault: returning with the response incomplete makes the ASGI server
            # close the connection (its error line left out: ``QuietInjectedDrops``). Before
            # the start, promise a body that never comes.
            _INJECTED_DROP.set(True)
            log.info("request %s: connection dropped by an injected drop_connection fault", request_id)
            if not tracker.started and not tracker.disconnected:
                await tracker({"type": "http.response.start", "status": 200,
                               "headers": [(b"content-type", b"application/json"), (b"content-length", b"1024")]})
            return
        except BedrockError as error:
            await self._send_error(tracker, error, request_id, match)
        except StoreUnavailable as exc:  # a fault of the host, not of the code: one line, no traceback
            log.error("request %s failed: %s", request_id, exc)
            await self._send_error(tracker, InternalServerException(STORE_UNAVAILABLE), request_id, match)
        except Exception:  # noqa: BLE001 - the last line of defence: log, answer 500
            log.exception("unhandled error on request %s", request_id)
            await self._send_error(
                tracker, InternalServerException("The server encountered an internal error."), request_id, match
            )

    async def _send_error(
        self, tracker: ResponseTracker, error: BedrockError, request_id: str, match: Match | None
    ) -> None:
        if tracker.started or tracker.disconnected:
            return
        if match is not None and match.route.kind == "sts":
            status, headers, body = awserrors.query_xml_error(error, request_id)
        else:
            status, headers, body = awserrors.rest_json_error(error, request_id)
        await send_response(tracker, status, headers, body)

    async def _runtime(
        self, request: Request, identity: Identity, match: Match, tracker: ResponseTracker, request_id: str,
        receive: Receive,
    ) -> None:
        started = time.perf_counter()
        watch = DisconnectWatch(receive, tracker, self.state.calls_ending)
        model_id = match.params["modelId"]
        record = CallRecord(
            request_id=request_id,
            operation=match.route.operation,
            account_id=identity.account_id,
            region=identity.region,
            identity_arn=identity.arn,
            model_id=model_id,
            started_at=self.state.clock(),
            input_bytes=request.body,
            input_content_type=request.header("content-type") or "application/json",
        )
        try:
            record.request_metadata = runtime.request_metadata(request)
            resolution = self.state.resolve(model_id, identity.region, identity.account_id)
            record.resolved_model_id = resolution.model.model_id
            record.endpoint_type = resolution.endpoint_type
            record.geography = resolution.geography
            record.price_multiplier = resolution.price_multiplier
            if resolution.destination_regions:
                record.inference_region = (
                    identity.region
                    if identity.region in resolution.destination_regions
                    else resolution.destination_regions[0]
                )
            self.state.check_model_access(identity.account_id, identity.region, resolution.model)
            inv = runtime.Invocation(self.state, request, record, resolution, started, watch)
            await match.route.handler(inv, tracker)
        except BedrockError as error:
            _record_error(record, started, error)
            raise
        except ClientDisconnected:  # a whole answer the client gave up waiting for
            _cut_short(record, started, "ClientDisconnected", "the client closed the connection before the response")
            raise
        except DropConnection:
            raise
        except asyncio.CancelledError:
            # uvicorn cancels the calls still running when it stops (graceful-shutdown timeout,
            # second Ctrl-C). Nothing sent yet: an AWS error the clients retry (uvicorn would
            # answer a plain-text 500). A stream already started has ended with its exception
            # frame (``stream_runtime``), or is cut.
            if not tracker.started:
                error = runtime.stopping_error()
                _record_error(record, started, error)
                raise error from None
            _cut_short(record, started, "Cancelled", "the server stopped before the response was complete")
            raise
        except Exception:
            record.status = 500
            record.error_code = "InternalServerException"
            raise
        finally:
            watch.stop()
            self.state.publish(record)

    async def _admin(self, request: Request, receive: Receive, send: Send) -> None:
        from claude_bedrock.service import admin  # the testing toolkit's API: loaded on first use

        await admin.handle(self.state, request, receive, send)


def _log_writer(state: ServiceState) -> invocation_logging.LogWriter:
    # Imported here, on first use (invocation_logging Rule 4): the writer's sinks and record
    # builder are not needed to serve, and importing them costs a fifth of start-up.
    from claude_bedrock.adapters.invocation_log.writer import InvocationLogWriter

    return InvocationLogWriter.for_settings(state.settings, catalog=state.catalog, clock=state.clock)


def _record_error(record: CallRecord, started: float, error: BedrockError) -> None:
    record.status = error.status
    record.error_code = error.code
    record.error_message = error.message
    record.latency_ms = runtime.elapsed_ms(started)


def _cut_short(record: CallRecord, started: float, code: str, message: str) -> None:
    """Record a call that ended without its whole response (status 0), unless a more precise
    ending (a stream's own) was recorded already."""
    if record.error_code is None:
        record.status = 0
        record.error_code = code
        record.error_message = message
        record.latency_ms = runtime.elapsed_ms(started)


def create_app(settings: Settings | None = None, *, state: ServiceState | None = None) -> BedrockApp:
    """Build the ASGI application for ``settings`` (defaults when omitted)."""
    settings = settings or Settings()
    state = state or ServiceState(settings, engine=_upstream_engine(settings))
    if not state.has_store:
        state.store = StateStore.open(state.settings.data_dir, clock=state.clock)
    router = Router(RUNTIME_ROUTES + CONTROL_ROUTES)
    app = BedrockApp(state, router)
    testing_hooks.install(state)
    invocation_logging.install(app, lambda: _log_writer(state))
    if state.settings.access_log:  # off: nothing installed, nothing imported (access_log Rule 1)
        from claude_bedrock.service import access_log

        access_log.install(app)
    _follow_other_writers(app, state.store)
    app.shutdown_hooks.append(state.store.close)
    engine_close = getattr(state.engine, "aclose", None)
    if engine_close is not None:  # the gateway's upstream connections
        app.shutdown_hooks.append(engine_close)
    return app


def _upstream_engine(settings: Settings) -> Any:
    """The gateway's engine when ``settings.upstream`` names one, else None (the simulator)."""
    if not settings.upstream:
        return None
    from claude_bedrock.adapters.bedrock_upstream import BedrockUpstreamEngine

    return BedrockUpstreamEngine(settings)


def _follow_other_writers(app: BedrockApp, store: Any) -> None:
    """While the app runs, have its store look for other processes' writes every
    ``EXTERNAL_CHECK_S`` (``StateStore`` Rule 6: a second server on the data folder revoking
    a model), in a worker thread, since the look may wait for a lock."""
    look = getattr(store, "look_for_external_writes", None)
    if look is None or not getattr(store, "shared", False):
        return
    running: list[asyncio.Task[None]] = []

    async def follow() -> None:
        while True:
            await asyncio.sleep(EXTERNAL_CHECK_S)
            try:
                await asyncio.to_thread(look)
            except Exception:  # noqa: BLE001 - looked for again next time; reads report store faults
                log.debug("looking for other processes' state writes failed", exc_info=True)

    def start() -> None:
        running.append(asyncio.get_running_loop().create_task(follow()))

    def stop() -> None:
        while running:
            running.pop().cancel()

    app.startup_hooks.append(start)
    app.shutdown_hooks.append(stop)


__all__ = ["BedrockApp", "create_app", "ADMIN_PREFIX", "ValidationException"]
