"""A runtime call's client leaving: the response tracker and the disconnect watch.

The ASGI server drops writes to a closed connection silently, and tells the app that the client
left only through ``receive`` (an ``http.disconnect`` message), which nobody reads once the
body is in. So a call whose client has left would run to its end, be recorded as answered, and
keep its scripted turn. ``DisconnectWatch`` reads ``receive`` for it, from the call's first wait
on the engine on (a short answer that is ready leaves at once, with nothing to watch: the
watcher is a task, started lazily, so such calls pay nothing). Once the client has left:

* the ``ResponseTracker`` raises ``ClientDisconnected`` at the next write;
* a wait on the engine in progress (``with watch:`` around it: an injected latency fault, the
  simulator's time to first token, ...) ends at once: the call's task is cancelled there, and
  the cancellation becomes ``ClientDisconnected``. The call is then recorded as cut short
  without waiting for an answer nobody would read (``app._runtime``);
* until the call has ended, it is in the ``ending`` set the watch was given
  (``ServiceState.calls_ending``): a read of the call history waits for it (``admin``), so a
  test that asserts on the call right after its client gave up finds it recorded.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from claude_bedrock.service.http import ClientDisconnected, Receive, Send


class ResponseTracker:
    """Wraps ``send`` to know whether the response has started (errors must not follow) and,
    once ``disconnected`` is set, to raise ClientDisconnected rather than write to nobody (the
    ASGI server drops such writes silently, so a stream would run on to its end)."""

    __slots__ = ("send", "started", "disconnected")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False
        self.disconnected = False

    async def __call__(self, message: dict[str, Any]) -> None:
        if self.disconnected:
            raise ClientDisconnected()
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


class DisconnectWatch:
    """Watches one call's connection (module docstring). ``start`` begins watching; used as a
    context manager, it marks a wait on the engine that the client leaving ends with
    ``ClientDisconnected`` (raised at once when the client has left already)."""

    __slots__ = ("_receive", "_tracker", "_ending", "_ended", "_task", "_watcher", "_waiting", "_cancelled",
                 "cut")

    def __init__(self, receive: Receive, tracker: ResponseTracker, ending: set[asyncio.Future[None]]) -> None:
        self._receive = receive
        self._tracker = tracker
        self._ending = ending
        self._ended: asyncio.Future[None] | None = None  # in ``ending`` once the client has left
        self._task: asyncio.Task[Any] | None = None  # the call's
        self._watcher: asyncio.Future[None] | None = None
        self._waiting = False
        self._cancelled = False  # the call's task, by this watch: not taken back yet
        #: a wait on the engine was cut: the engine's stream got the cancellation (it is over)
        self.cut = False

    def start(self) -> None:
        """Watch from now on (idempotent; called from the call's own task)."""
        if self._watcher is None:
            self._task = asyncio.current_task()
            self._watcher = asyncio.ensure_future(self._watch())

    def stop(self) -> None:
        """The call is over: stop watching (and wake the history reads waiting for it)."""
        if self._watcher is not None:
            self._watcher.cancel()
        ended = self._ended
        if ended is not None:
            self._ending.discard(ended)
            ended.set_result(None)

    async def _watch(self) -> None:
        # The body is already read, so the next ASGI message is the disconnect.
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self._tracker.disconnected = True
        self._ended = asyncio.get_running_loop().create_future()
        self._ending.add(self._ended)
        if self._waiting and self._task is not None:
            self.cut = self._cancelled = True
            self._task.cancel()

    def __enter__(self) -> None:
        if self._tracker.disconnected:
            raise ClientDisconnected()
        self.start()
        self._waiting = True

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._waiting = False
        if self._cancelled:  # the wait ended with this watch's cancellation (not the server's)
            self._cancelled = False
            assert self._task is not None
            self._task.uncancel()
            raise ClientDisconnected() from None
