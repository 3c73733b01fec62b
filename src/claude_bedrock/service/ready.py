"""Take from an async iterator everything it can hand over *without waiting*.

The streaming handlers write one event-stream frame per engine event, as soon as it exists.
When an engine produces several events at the same instant (the simulator without simulated
latency produces a whole answer at once) those frames can leave in one socket write instead
of one write each; when the engine waits (simulated latency, an upstream), whatever is ready
is written before the wait. Nothing is ever held back for a future event.

``next_ready(it)`` steps the iterator's ``__anext__`` awaitable by hand: if it completes
without suspending, the item is ready now; if it suspends, the partly run awaitable is
returned wrapped in ``Pending``, which finishes it under the running event loop exactly as
``await`` would have (the futures it yields pass through to the task unchanged).
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
