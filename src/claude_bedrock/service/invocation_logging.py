"""Invocation logging on the request path: decide whether a finished call is logged, and queue it.

``install(app, writer)`` (called by ``create_app``) adds an ``InvocationLogObserver`` to the
call observers and the writer's start / close to the app's lifespan hooks. For every finished
runtime call the observer looks up the caller's logging configuration (account and region) and,
when logging is on, hands the call and that configuration snapshot to the writer's queue. The
record itself is built later, on the writer's thread (``domain.invocation_log``).

Invariants
    Rule 1: the observer never blocks and never raises: a config lookup is a memory read in
            the common case, and the writer's ``submit`` only appends to a queue.
    Rule 2: the configuration is cached per (account, region) and the cache follows the store:
            it is keyed by the store's write ``generation`` (every Put/Delete, and a reset, bump
            it), with a short time-to-live as the fallback for stores without one.
            ``config_changed(state)`` drops the cache explicitly.
    Rule 3: only InvokeModel, InvokeModelWithResponseStream, Converse and ConverseStream are
            logged, failed calls included (CountTokens is not, as on AWS).
    Rule 4: the writer (and the sinks it imports) is built on first use: by the first logged
            call, or ``WRITER_START_DELAY_S`` after start-up, when it starts and purges expired
            logs. A server that is starting does not pay for it before its first request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Awaitable, Protocol

from claude_bedrock.service.calls import CallRecord
from claude_bedrock.service.control_state import ControlStore, StoreUnavailable
from claude_bedrock.service.state import ServiceState

if TYPE_CHECKING:  # the record module is loaded with the writer (Rule 4), or by a config
    from claude_bedrock.domain.invocation_log import DeliveryConfig

__all__ = ["DeferredWriter", "InvocationLogObserver", "LogWriter", "config_changed", "install"]

log = logging.getLogger("claude_bedrock.invocation_log")

#: How long a cached configuration is trusted when the store has no write generation.
CONFIG_TTL_S = 1.0
#: (account, region) logging configurations kept in memory at most.
MAX_CACHED_CONFIGS = 4096
#: Rule 3: the operations whose calls are logged.
LOGGED_OPERATIONS = frozenset({"InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"})
#: The writer starts (and runs its retention purge) this long after the server (Rule 4).
WRITER_START_DELAY_S = 1.0


class LogWriter(Protocol):
    """What the observer needs from the writer (``adapters.invocation_log.InvocationLogWriter``)."""

    def submit(self, call: CallRecord, config: DeliveryConfig) -> None: ...

    def start(self) -> None: ...

    def close(self) -> None: ...


class DeferredWriter:
    """A ``LogWriter`` built by ``factory`` on first use (Rule 4). Thread-safe."""

    def __init__(self, factory: Callable[[], LogWriter]) -> None:
        self._factory = factory
        self._writer: LogWriter | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def built(self) -> bool:
        return self._writer is not None

    def writer(self) -> LogWriter:
        """The writer, built now if it was not yet; built after ``close`` (the first logged
        call ended after the shutdown hooks ran), closed at once: it writes what it is given
        in the caller's thread, and leaves no thread running with records queued."""
        writer = self._writer
        if writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = self._factory()
                    if self._closed:
                        self._writer.close()
                writer = self._writer
        return writer

    def submit(self, call: CallRecord, config: DeliveryConfig) -> None:
        self.writer().submit(call, config)

    def start(self) -> None:
        """Build and start the writer, unless the app is already shutting down. Under the lock:
        a ``close`` meanwhile waits, then closes the started writer (never one started after)."""
        with self._lock:
            if self._closed:
                return
            if self._writer is None:
                self._writer = self._factory()
            self._writer.start()

    def start_later(self, delay_s: float = WRITER_START_DELAY_S) -> None:
        """Startup hook: start the writer ``delay_s`` from now, off the event loop."""
        def launch() -> None:
            threading.Thread(target=self.start, name="invocation-log-start", daemon=True).start()

        asyncio.get_running_loop().call_later(delay_s, launch)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            writer = self._writer
        if writer is not None:
            writer.close()


class LifespanHooks(Protocol):
    startup_hooks: list[Callable[[], Awaitable[None] | None]]
    shutdown_hooks: list[Callable[[], Awaitable[None] | None]]
    state: ServiceState


class InvocationLogObserver:
    """The call observer (Rule 1). ``store`` is read lazily: ``create_app`` attaches it."""

    def __init__(self, store: Callable[[], ControlStore], writer: LogWriter, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self.writer = writer
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[Any, DeliveryConfig | None]] = {}

    def __call__(self, record: CallRecord) -> None:
        try:
            if record.operation not in LOGGED_OPERATIONS:
                return
            config = self.config_for(record.account_id, record.region)
            if config is not None:
                self.writer.submit(record, config)
        except StoreUnavailable as exc:  # the configuration could not be read: one line, no traceback
            log.error("invocation logging skipped request %s: %s", record.request_id, exc)
        except Exception:  # noqa: BLE001 - never break a response (Rule 1)
            log.exception("invocation logging failed for request %s", record.request_id)

    def config_for(self, account_id: str, region: str) -> DeliveryConfig | None:
        """The delivery configuration in force, or None when logging is off (Rule 2)."""
        store = self._store()
        generation = getattr(store, "generation", None)
        stamp: Any = generation if generation is not None else self._monotonic() // CONFIG_TTL_S
        key = (account_id, region)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        raw = store.get_logging_config(account_id, region)
        config = _delivery_config(raw) if raw else None
        if config is not None and not config.enabled:
            config = None
        with self._lock:
            if len(self._cache) >= MAX_CACHED_CONFIGS:  # accounts and regions come from clients
                self._cache.clear()
            self._cache[key] = (stamp, config)
        return config

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()


def install(app: LifespanHooks, writer_factory: Callable[[], LogWriter]) -> InvocationLogObserver:
    """Attach invocation logging to ``app``: the observer, a writer built on first use and
    started soon after startup (Rule 4), drained at shutdown."""
    state = app.state
    writer = DeferredWriter(writer_factory)
    observer = InvocationLogObserver(lambda: state.store, writer)
    # A state reused by a second app must not log every call twice.
    state.observers[:] = [o for o in state.observers if not isinstance(o, InvocationLogObserver)]
    state.observers.append(observer)
    app.startup_hooks.append(writer.start_later)
    app.shutdown_hooks.append(writer.close)
    return observer


def config_changed(state: ServiceState) -> None:
    """Drop every cached logging configuration (after changing the store behind its back)."""
    for observer in state.observers:
        if isinstance(observer, InvocationLogObserver):
            observer.invalidate()


def _delivery_config(raw: dict[str, Any]) -> DeliveryConfig:
    from claude_bedrock.domain.invocation_log import DeliveryConfig  # loaded on first use (Rule 4)

    return DeliveryConfig.from_logging_config(raw)
