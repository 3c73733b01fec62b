"""A stand-in for a misbehaving upstream of a gateway: a loopback HTTP server that answers
every POST with the reply the test set (status, content type, body), whatever the request;
one that stalls (before its answer, or after its body without ending it) notes when the gateway
hung up on it."""

from __future__ import annotations

import base64
import json
import select
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

from claude_bedrock.wire.eventstream import event_frame


@dataclass
class Reply:
    status: int = 200
    content_type: str = "application/vnd.amazon.eventstream"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: seconds of silence before the answer's head
    stall_before: float = 0.0
    #: seconds of silence after ``body``, the answer not ended (no Content-Length: it ends with
    #: the connection)
    stall_after: float = 0.0
    #: when (``time.monotonic()``) the gateway hung up during a stall
    hung_up: list[float] = field(default_factory=list)


def chunk(event: dict[str, Any]) -> bytes:
    """An InvokeModelWithResponseStream ``chunk`` frame carrying ``event``."""
    payload = {"bytes": base64.b64encode(json.dumps(event).encode()).decode()}
    return event_frame("chunk", json.dumps(payload).encode())


#: The events of a short text answer, message_start to message_stop.
TEXT_ANSWER: list[dict[str, Any]] = [
    {"type": "message_start", "message": {
        "id": "msg_upstream", "type": "message", "role": "assistant", "model": "claude", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
     "usage": {"output_tokens": 3}},
    {"type": "message_stop"},
]  # fmt: skip


@contextmanager
def fake_upstream(reply: Reply) -> Iterator[str]:
    """Serve ``reply`` (changeable while it runs) on a free loopback port; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if reply.stall_before and self._stall(reply.stall_before):
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            if not reply.stall_after:
                self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
            if reply.stall_after:
                self.wfile.flush()
                self._stall(reply.stall_after)

        def _stall(self, seconds: float) -> bool:
            """Stay silent ``seconds``, or until the gateway hangs up (noted; True)."""
            readable, _, _ = select.select([self.connection], [], [], seconds)
            if readable and not self.connection.recv(1):
                reply.hung_up.append(time.monotonic())
                return True
            return False

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
