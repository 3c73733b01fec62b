"""Drive ``flow`` generators to their result or through their emitted items, sync or async.

Purpose: the loop that feeds a flow's actions to an *exchange* (the object doing the I/O for
one call: ``connections.PooledExchange``, ``httpx_transport.HttpxExchange`` /
``AsyncHttpxExchange``) and sends the outcomes back. Written once per concurrency model; no
I/O of its own.

Invariant: the exchange is closed when the flow ends, whatever the reason (result, error, or
the caller abandoning a stream), so no response is left open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Generator, Iterator
from typing import Any, Protocol, TypeVar

from claude_bedrock.client.flow import Emit

__all__ = ["SyncExchange", "AsyncExchange", "run_sync", "iterate_sync", "run_async", "iterate_async"]

T = TypeVar("T")


class SyncExchange(Protocol):
    """Performs one flow action (``flow`` module docstring) and returns its outcome."""

    def perform(self, action: Any) -> Any: ...
    def close(self) -> None: ...


class AsyncExchange(Protocol):
    def perform(self, action: Any) -> Awaitable[Any]: ...
    def close(self) -> Awaitable[None]: ...


def run_sync(exchange: SyncExchange, flow: Generator[Any, Any, T]) -> T:
    """Drive ``flow`` to its return value."""
    value: Any = None
    try:
        while True:
            try:
                action = flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value = exchange.perform(action)
    finally:
        exchange.close()


def iterate_sync(exchange: SyncExchange, flow: Generator[Any, Any, None]) -> Iterator[Any]:
    """Drive ``flow``, yielding what it emits."""
    value: Any = None
    try:
        while True:
            try:
                action = flow.send(value)
            except StopIteration:
                return
            if type(action) is Emit:
                value = None
                yield action.item
            else:
                value = exchange.perform(action)
    finally:
        flow.close()
        exchange.close()



async def run_async(exchange: AsyncExchange, flow: Generator[Any, Any, T]) -> T:
    value: Any = None
    try:
        while True:
            try:
                action = flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value = await exchange.perform(action)
    finally:
        await exchange.close()


async def iterate_async(exchange: AsyncExchange, flow: Generator[Any, Any, None]) -> AsyncIterator[Any]:
    value: Any = None
    try:
        while True:
            try:
                action = flow.send(value)
            except StopIteration:
                return
            if type(action) is Emit:
                value = None
                yield action.item
            else:
                value = await exchange.perform(action)
    finally:
        flow.close()
        await exchange.close()
