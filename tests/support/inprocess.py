"""A real uvicorn server in a background thread, for tests that need to inject an engine or
a clock into the app while still talking over a real socket."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import uvicorn

from claude_bedrock.service.app import BedrockApp
from claude_bedrock.service.server import bind_socket


@contextmanager
def serve_in_thread(app: BedrockApp, *, timeout_graceful_shutdown: float | None = None) -> Iterator[str]:
    """The app served on a free loopback port (its URL) until the block ends; the server then
    stops as on SIGTERM, waiting ``timeout_graceful_shutdown`` seconds (None: forever) for the
    calls still running before cancelling them."""
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=timeout_graceful_shutdown)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("in-thread server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
