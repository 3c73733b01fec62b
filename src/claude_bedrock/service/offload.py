"""The CPU-heavy part of a request that carries documents, off the event loop.

Reading a request's documents (``pdf_text`` counting a PDF's pages or extracting its text,
``office_text`` parsing a docx or xlsx) costs up to seconds of CPU for one request, within the
bounds of ``document_budget``. Run on the event loop, that work held every other call: health
checks, other requests, streams in flight between two events. ``run`` hands it to a small
pool of worker threads instead: the event loop keeps serving while it runs (the worker gives
the GIL back every few milliseconds; the readers feed their parsers in pieces, so that no
single C call holds it long).

What is handed over is pure: it reads the request's own body (and the documents' bytes) and
returns a value or raises, touching no shared state (no cache, memo or counter: those of the
call are updated on the event loop, with the result). So its errors are the same as on the
loop, and a call that ends while its work runs only drops the result.

A call that ends while its work runs (its client left: the ``DisconnectWatch`` cancels the wait;
the server stopping: uvicorn, or ``asyncio.run`` after a forced quit, cancels the call) sets its
work's stop flag (``document_budget.READING_STOP``): the readers look at it between two pieces
and stop there, so the worker is free for the next call within milliseconds, and a stopping
server is not held (the pool's threads are joined at the interpreter's exit) by readings
nobody waits for. Before, such work ran to its end, seconds for a large docx.

Only requests holding documents pay the hand-over (``ValidatedRequest.documents``, Converse's
``text_only_documents``): the usual request is served as before, on the loop.

``MAX_WORKERS`` bounds the work running at once: further document requests wait their turn in
the pool's queue (their work not started yet is dropped if the call ends first), so many of
them cannot take more of the machine than before; the work of a call whose client left
while it waited is dropped, and stopped if it had started.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from claude_bedrock.domain.document_budget import READING_STOP

if TYPE_CHECKING:
    from claude_bedrock.service.disconnect import DisconnectWatch

__all__ = ["MAX_WORKERS", "run"]

#: Document readings running at once (the rest wait): the cores of a small machine.
MAX_WORKERS = 2

_T = TypeVar("_T")
#: Threads start with the first document request, and end with the process.
_POOL = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="claude-bedrock-documents")


async def run(watch: DisconnectWatch | None, work: Callable[..., _T], *args: Any) -> _T:
    """``work(*args)`` in a worker thread (in this context: its log records are the call's),
    awaited: its value, or its exception. ``watch``: the call's (``Invocation.disconnect``): a
    client that leaves ends the wait with ``ClientDisconnected``, and work not started yet is
    dropped from the queue, so that abandoned calls (and their clients' retries) do not hold
    the pool; work already running is told to stop (its ``READING_STOP`` flag, set once the
    wait has ended whatever the way: a worker that finished has nothing left to stop)."""
    context = contextvars.copy_context()
    stop = threading.Event()
    context.run(READING_STOP.set, stop)
    try:
        with contextlib.nullcontext() if watch is None else watch:
            return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(context.run, work, *args))
    finally:
        stop.set()
