"""Waits that last at least what they are asked: the latency faults' and the simulator's.

uvloop's timers (libuv: a millisecond clock read once per loop turn) end up to a millisecond or
more early, so a 300 ms latency was recorded (``first_byte_ms``, ``firstByteLatency``), and seen
by the client, as 299 ms: a test's ``first_byte_ms >= 300`` failed now and then.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["sleep_at_least"]


async def sleep_at_least(seconds: float) -> None:
    """``asyncio.sleep``, then the rest of ``seconds`` by the clock the call records use
    (``time.perf_counter``: ``runtime.elapsed_ms``)."""
    deadline = time.perf_counter() + seconds
    await asyncio.sleep(seconds)
    while (left := deadline - time.perf_counter()) > 0:
        await asyncio.sleep(left)
