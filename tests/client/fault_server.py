"""A scripted HTTP/1.1 server on 127.0.0.1 for the client's failure tests.

It answers each request with the next ``Canned`` reply of its script (then repeats the last
one) and records every request, so tests can count attempts and check that a refused call
never reached the network. Replies: plain status + headers + body; an event stream sent one
frame per HTTP chunk; or a dropped connection (closed without a byte of response).

Runs an asyncio loop in a daemon thread; no dependency beyond the standard library. Frames
are built with ``claude_bedrock.wire.eventstream``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from claude_bedrock.wire.eventstream import chunk_frame, error_frame, event_frame, exception_frame

REQUEST_ID = "00000000-1111-2222-3333-444444444444"


@dataclass
class Canned:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    #: When set, the Content-Length announced for ``body`` (a longer one: the body is cut short).
    declared_length: int | None = None
    #: When set, the body is an event stream: one chunked-encoding chunk per frame.
    frames: list[bytes] | None = None
    #: Close the connection without answering.
    drop: bool = False
    #: Answer without "connection: close" and wait for the next request on the connection.
    keep_alive: bool = False
    #: With keep_alive: close the connection right after answering anyway (as a server whose
    #: idle timeout expired does), so the client's pooled connection is stale.
    close_after: bool = False


@dataclass
class RecordedRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int = 0  # serial number of the TCP connection it came on


# --------------------------------------------------------------------------- canned replies


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def error_reply(status: int, code: str, message: str, *extra_headers: tuple[str, str]) -> Canned:
    headers = [
        ("content-type", "application/json"),
        ("x-amzn-requestid", REQUEST_ID),
        ("x-amzn-errortype", f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        *extra_headers,
    ]
    return Canned(status, headers, _json({"message": message}))


def throttled(retry_after: str | None = None, retry_after_ms: str | None = None) -> Canned:
    extra = []
    if retry_after is not None:
        extra.append(("retry-after", retry_after))
    if retry_after_ms is not None:
        extra.append(("retry-after-ms", retry_after_ms))
    return error_reply(429, "ThrottlingException", "Too many requests, please wait before trying again.", *extra)


def message_json(text: str = "Hello!", model: str = "claude-sonnet-4-5-20250929") -> dict[str, Any]:
    return {
        "id": "msg_bdrk_01FAULTSERVER", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 1000, "output_tokens": 100, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0},
    }  # fmt: skip


def invoke_ok(text: str = "Hello!") -> Canned:
    headers = [("content-type", "application/json"), ("x-amzn-requestid", REQUEST_ID),
               ("x-amzn-bedrock-input-token-count", "1000"), ("x-amzn-bedrock-output-token-count", "100"),
               ("x-amzn-bedrock-invocation-latency", "42")]  # fmt: skip
    return Canned(200, headers, _json(message_json(text)))


def anthropic_events(text_parts: list[str]) -> list[dict[str, Any]]:
    """The Anthropic stream events of a text answer made of ``text_parts``."""
    start = message_json("")
    start["content"] = []
    start["stop_reason"] = None
    start["usage"] = {"input_tokens": 1000, "output_tokens": 1}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}
               for t in text_parts]
    events += [
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 100}},
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": 1000, "outputTokenCount": 100, "invocationLatency": 42, "firstByteLatency": 7}},
    ]  # fmt: skip
    return events


def chunks(events: list[dict[str, Any]]) -> list[bytes]:
    return [chunk_frame(_json(event), "abc") for event in events]


def stream_reply(frames: list[bytes]) -> Canned:
    headers = [("content-type", "application/vnd.amazon.eventstream"), ("x-amzn-requestid", REQUEST_ID),
               ("x-amzn-bedrock-content-type", "application/json")]
    return Canned(200, headers, frames=frames)


def stream_exception(member: str, message: str = "boom", **fields: Any) -> bytes:
    return exception_frame(member, _json({"message": message, **fields}))


def stream_error_frame(code: str, message: str) -> bytes:
    return error_frame(code, message)


def converse_frames(text_parts: list[str]) -> list[bytes]:
    frames = [event_frame("messageStart", _json({"role": "assistant", "p": "ab"}))]
    frames += [event_frame("contentBlockDelta", _json({"delta": {"text": t}, "contentBlockIndex": 0}))
               for t in text_parts]
    frames += [
        event_frame("contentBlockStop", _json({"contentBlockIndex": 0})),
        event_frame("messageStop", _json({"stopReason": "end_turn"})),
        event_frame("metadata", _json({"usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
                                       "metrics": {"latencyMs": 12}})),
    ]  # fmt: skip
    return frames


# --------------------------------------------------------------------------- server


class FaultServer:
    """``with FaultServer() as server: server.script(...); ... server.requests``."""

    def __init__(self) -> None:
        self._script: list[Canned] = [invoke_ok()]
        self._served = 0
        self._connections = 0
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-server", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self.url = ""

    def script(self, *replies: Canned) -> None:
        with self._lock:
            self._script = list(replies)
            self._served = 0
            self.requests.clear()

    def __enter__(self) -> FaultServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            port = self._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def _next_reply(self) -> Canned:
        with self._lock:
            reply = self._script[min(self._served, len(self._script) - 1)]
            self._served += 1
            return reply

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one connection until a reply closes it."""
        with self._lock:
            self._connections += 1
            connection = self._connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                with self._lock:
                    self.requests.append(RecordedRequest(method, target, headers, body, connection))
                reply = self._next_reply()
                if reply.drop:
                    return
                await self._answer(writer, reply)
                if not reply.keep_alive or reply.close_after:
                    return
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError):
            return
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, reply: Canned) -> None:
        head = [f"HTTP/1.1 {reply.status} X"] + ([] if reply.keep_alive else ["connection: close"])
        head += [f"{name}: {value}" for name, value in reply.headers]
        if reply.frames is None:
            head.append(f"content-length: {reply.declared_length or len(reply.body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply.body)
        else:
            head.append("transfer-encoding: chunked")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            for frame in reply.frames:
                writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        await writer.drain()
