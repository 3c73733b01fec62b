"""next_ready: items an async iterator can hand over without waiting, and nothing else."""

from __future__ import annotations

import asyncio

import pytest

from claude_bedrock.service.ready import END, Pending, next_ready


async def drain(iterator):
    """[(item, was_ready)] for every item, as the streaming handlers take them."""
    out = []
    while True:
        item = next_ready(iterator)
        ready = not isinstance(item, Pending)
        if not ready:
            item = await item
        if item is END:
            return out
        out.append((item, ready))


def test_ready_items_produced_without_waiting_are_ready():
    async def gen():
        for i in range(3):
            yield i

    assert asyncio.run(drain(gen())) == [(0, True), (1, True), (2, True)]


def test_ready_items_after_a_wait_are_pending_then_delivered_in_order():
    async def gen():
        yield "a"
        await asyncio.sleep(0.01)
        yield "b"
        yield "c"
        await asyncio.sleep(0)
        yield "d"

    assert asyncio.run(drain(gen())) == [("a", True), ("b", False), ("c", True), ("d", False)]


def test_ready_end_after_a_wait():
    async def gen():
        yield 1
        await asyncio.sleep(0.001)

    assert asyncio.run(drain(gen())) == [(1, True)]


def test_ready_errors_propagate_whether_ready_or_after_a_wait():
    async def now():
        yield 1
        raise ValueError("now")

    async def later():
        yield 1
        await asyncio.sleep(0.001)
        raise KeyError("later")

    with pytest.raises(ValueError):
        asyncio.run(drain(now()))
    with pytest.raises(KeyError):
        asyncio.run(drain(later()))


def test_ready_plain_async_iterator_class():
    class Countdown:
        def __init__(self):
            self.n = 2

        def __aiter__(self):
            return self

        async def __anext__(self):
            await asyncio.sleep(0)
            if self.n == 0:
                raise StopAsyncIteration
            self.n -= 1
            return self.n

    assert [item for item, _ in asyncio.run(drain(Countdown()))] == [1, 0]


def test_ready_cancellation_reaches_the_iterator():
    closed = []

    async def gen():
        try:
            yield 1
            await asyncio.sleep(10)
            yield 2
        finally:
            closed.append(True)

    async def main():
        task = asyncio.ensure_future(drain(gen()))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert closed == [True]


def test_ready_events_are_taken_without_awaiting_and_also_iterate_asynchronously():
    from claude_bedrock.domain.engine import ReadyEvents

    events = [{"type": "message_start"}, {"type": "ping"}, {"type": "message_stop"}]
    assert asyncio.run(drain(ReadyEvents(events))) == [(event, True) for event in events]

    async def collect(iterator):
        return [event async for event in iterator]

    assert asyncio.run(collect(ReadyEvents(events))) == events
    partly = ReadyEvents(events)
    assert partly.next_now() is events[0]
    assert asyncio.run(collect(partly)) == events[1:]  # what is left
    assert partly.next_now() is None
    rest = ReadyEvents(events)
    assert rest.next_now() is events[0]
    assert list(rest.take_rest()) == events[1:]
    assert list(rest.take_rest()) == [] and rest.next_now() is None
    assert ReadyEvents(events).take_rest() is events  # nothing taken yet: no copy

    async def first_then_close():
        ready = ReadyEvents(events)
        first = await ready.__anext__()
        await ready.aclose()
        with pytest.raises(StopAsyncIteration):
            await ready.__anext__()
        return first

    assert asyncio.run(first_then_close()) is events[0]


def test_ready_events_with_a_shared_tail_hand_out_the_tail_itself():
    from claude_bedrock.domain.engine import ReadyEvents

    head = [{"type": "message_start"}]
    tail = ({"type": "ping"}, {"type": "message_delta"}, {"type": "message_stop"})
    whole = [*head, *tail]

    async def collect(iterator):
        return [event async for event in iterator]

    assert ReadyEvents(head, tail).take_rest() == whole
    assert asyncio.run(collect(ReadyEvents(head, tail))) == whole
    assert asyncio.run(drain(ReadyEvents(head, tail))) == [(event, True) for event in whole]
    ready = ReadyEvents(head, tail)
    assert ready.next_now() is head[0]
    assert ready.take_rest() is tail  # the head is taken: the very tuple, for identity caches
    assert ready.next_now() is None and ready.take_rest() == ()
    one_in = ReadyEvents(head, tail)
    assert [one_in.next_now(), one_in.next_now()] == [head[0], tail[0]]
    assert one_in.take_rest() == tail[1:]
    assert ReadyEvents([], tail).take_rest() is tail
    closed = ReadyEvents(head, tail)
    asyncio.run(closed.aclose())
    assert closed.next_now() is None


def test_end_hands_a_step_not_awaited_the_cancellation_and_runs_its_clean_up():
    """A step begun then left (the task cancelled during another await) is ended with that
    cancellation: the generator's clean-up runs, waits included, and it closes normally after."""
    cleaned = []

    async def gen():
        try:
            yield 1
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.001)  # a clean-up that waits (an upstream response's close)
            cleaned.append(True)

    async def run():
        iterator = gen()
        assert next_ready(iterator) == 1
        step = next_ready(iterator)
        assert isinstance(step, Pending)
        await step.end(asyncio.CancelledError())
        await iterator.aclose()  # no "asynchronous generator is already running"
        await step.end(asyncio.CancelledError())  # once only

    asyncio.run(run())
    assert cleaned == [True]


def test_end_after_the_step_was_awaited_does_nothing():
    async def gen():
        await asyncio.sleep(0.001)
        yield 1

    async def run():
        step = next_ready(gen())
        assert await step == 1
        await step.end(asyncio.CancelledError())

    asyncio.run(run())


@pytest.mark.parametrize("after", ["yields", "returns"])
def test_end_drops_what_an_iterator_that_catches_the_cancellation_ends_with(after):
    """An engine that catches the cancellation and yields an item anyway, or ends: ``end``
    returns quietly (no RuntimeError "coroutine raised StopIteration"), its clean-up run."""
    cleaned = []

    async def gen():
        yield 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cleaned.append(True)
            if after == "yields":
                yield 2

    async def run():
        iterator = gen()
        assert next_ready(iterator) == 1
        step = next_ready(iterator)
        await step.end(asyncio.CancelledError())
        await iterator.aclose()

    asyncio.run(run())
    assert cleaned == [True]
