"""Mutation-audit regressions for ``service.disconnect`` (its watch, driven with a scripted
``receive``): a watch reads the connection once, stops reading when the call ends, and leaves
nothing for the call history's reads to wait for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from claude_bedrock.service.disconnect import DisconnectWatch, ResponseTracker
from claude_bedrock.service.http import ClientDisconnected


class Connection:
    """An ASGI ``receive`` whose client leaves when told (``leave``); counts its readers."""

    def __init__(self) -> None:
        self.left = asyncio.Event()
        self.reads = 0

    async def receive(self) -> dict[str, Any]:
        self.reads += 1
        await self.left.wait()
        return {"type": "http.disconnect"}


async def _sent(message: dict[str, Any]) -> None:
    pass


def _watch(connection: Connection, ending: set[asyncio.Future[None]]) -> tuple[DisconnectWatch, ResponseTracker]:
    tracker = ResponseTracker(_sent)
    return DisconnectWatch(connection.receive, tracker, ending), tracker


def test_a_watch_started_twice_reads_the_connection_once():
    async def go() -> int:
        connection = Connection()
        watch, _ = _watch(connection, set())
        watch.start()
        watch.start()
        await asyncio.sleep(0)
        watch.stop()
        await asyncio.sleep(0)
        return connection.reads

    assert asyncio.run(go()) == 1


def test_a_stopped_watch_no_longer_reads_the_connection():
    # uvicorn answers ``receive`` with a disconnect once the response is complete: a watcher
    # left running took that for the client leaving, and left a call in ``ending`` that no one
    # ends (the next read of the call history waited its whole ENDING_WAIT_S)
    async def go() -> tuple[bool, set[asyncio.Future[None]]]:
        connection = Connection()
        ending: set[asyncio.Future[None]] = set()
        watch, tracker = _watch(connection, ending)
        watch.start()
        await asyncio.sleep(0)
        watch.stop()
        connection.left.set()
        for _ in range(3):
            await asyncio.sleep(0)
        return tracker.disconnected, ending

    disconnected, ending = asyncio.run(go())
    assert not disconnected and not ending


def test_a_call_whose_client_left_leaves_the_ending_set_once_stopped():
    async def go() -> tuple[set[asyncio.Future[None]], list[asyncio.Future[None]]]:
        connection = Connection()
        ending: set[asyncio.Future[None]] = set()
        watch, tracker = _watch(connection, ending)
        watch.start()
        connection.left.set()
        for _ in range(3):
            await asyncio.sleep(0)
        assert tracker.disconnected and len(ending) == 1
        waiting = list(ending)
        with pytest.raises(ClientDisconnected):  # a wait entered after the client left ends at once
            with watch:
                pass
        watch.stop()
        return ending, waiting

    ending, waiting = asyncio.run(go())
    assert not ending  # nothing kept per call that was cut short
    assert all(future.done() for future in waiting)  # history reads waiting for it wake


def test_the_tracker_knows_when_the_response_has_started():
    async def go() -> list[bool]:
        tracker = ResponseTracker(_sent)
        seen = [tracker.started]
        await tracker({"type": "http.response.start", "status": 200, "headers": []})
        seen.append(tracker.started)
        await tracker({"type": "http.response.body", "body": b""})
        return seen + [tracker.started]

    assert asyncio.run(go()) == [False, True, True]


def test_a_wait_cut_by_the_client_leaving_takes_its_cancellation_back():
    # the call's task goes on (it records the call): a cancellation left pending on it would
    # turn its next ``asyncio.timeout`` into a cancellation, and be counted again at the next cut
    async def go() -> tuple[bool, int]:
        connection = Connection()
        watch, _ = _watch(connection, set())
        asyncio.get_running_loop().call_later(0.01, connection.left.set)
        with pytest.raises(ClientDisconnected):
            with watch:
                await asyncio.sleep(60)
        watch.stop()
        task = asyncio.current_task()
        assert task is not None
        return watch.cut, task.cancelling()

    assert asyncio.run(asyncio.wait_for(go(), 10)) == (True, 0)
