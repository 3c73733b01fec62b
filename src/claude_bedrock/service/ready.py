"""Take from an async iterator everything it can hand over *without waiting*.

The streaming handlers write one event-stream frame per engine event, as soon as it exists.
When an engine produces several events at the same instant (the simulator without simulated
latency produces a whole answer at once) those frames can leave in one socket write instead
of one write each; when the engine waits (simulated latency, an upstream), whatever is ready
is written before the wait. Nothing is ever held back for a future event.

``next_ready(it)`` steps the iterator's ``__anext__`` awaitable by hand: if it completes
without suspending, the item is ready now; if it suspends, the partly run awaitable is
returned wrapped in ``Pending``, which finishes it under the running event loop exactly as
``await`` would have (the futures it yields pass through to the task unchanged); or, when the
task is cancelled before it awaits it (the server stopping during a write), ``end`` hands it
that cancellation, so the iterator is left neither mid-step nor open.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Generator

#: Returned (or produced by a Pending) when the iterator is exhausted.
END: Any = object()


class Pending:
    """The rest of an ``__anext__`` call that suspended; await it for the item (or END)."""

    __slots__ = ("_awaitable", "_yielded")

    def __init__(self, awaitable: Any, yielded: Any) -> None:
        self._awaitable = awaitable
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        awaitable, value = self._awaitable, self._yielded
        self._awaitable = None  # begun: the step ends with this await (``end`` has nothing to do)
        while True:
            try:
                try:
                    received = yield value
                except BaseException as exc:  # cancellation and the like go to the iterator
                    value = awaitable.throw(exc)
                else:
                    value = awaitable.send(received)
            except StopIteration as stop:
                return stop.value
            except StopAsyncIteration:
                return END

    async def end(self, exc: BaseException) -> None:
        """End the step without taking its item, as an ``await`` of it interrupted by ``exc``
        would have (the task was cancelled while it waited on something else): ``exc`` is
        thrown where the iterator waits and its clean-up (``finally``) runs to its end here.
        Left mid-step, an async generator can neither be resumed nor closed (its ``aclose()``
        fails: "asynchronous generator is already running"), so its clean-up never runs.
        What the iterator ends with (an item, its end, ``exc`` again) is dropped; any other
        exception propagates. Nothing to do once the step was awaited."""
        awaitable, self._awaitable = self._awaitable, None
        if awaitable is None:
            return
        try:
            try:
                value = awaitable.throw(exc)
            except StopIteration:  # it caught ``exc`` and yielded an item anyway
                return
            await Pending(awaitable, value)  # its clean-up waits: run it on
        except StopAsyncIteration:
            return
        except BaseException as raised:
            if raised is not exc:
                raise


def next_ready(iterator: AsyncIterator[Any]) -> Any:
    """The next item if it is ready now, END if the iterator is done, else an awaitable
    (``Pending``) that gives the item or END.

    Exceptions the iterator raises while producing a ready item propagate from here.
    """
    awaitable = iterator.__anext__()
    send = getattr(awaitable, "send", None)
    if send is None:  # a plain awaitable (e.g. a Future): it cannot be stepped by hand
        return _Awaiting(awaitable)
    try:
        yielded = send(None)
    except StopIteration as stop:
        return stop.value
    except StopAsyncIteration:
        return END
    return Pending(awaitable, yielded)


class _Awaiting(Pending):
    """Adapter for ``__anext__`` results that are awaitable but not steppable."""

    __slots__ = ()

    def __init__(self, awaitable: Any) -> None:
        super().__init__(awaitable, None)

    def __await__(self) -> Generator[Any, Any, Any]:
        try:
            return (yield from self._awaitable.__await__())
        except StopAsyncIteration:
            return END

    async def end(self, exc: BaseException) -> None:
        """Nothing ran yet (such an awaitable starts when awaited): nothing to end."""
