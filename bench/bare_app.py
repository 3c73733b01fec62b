"""The baseline: a bare ASGI app on the same uvicorn configuration as claude-bedrock, answering
every POST with a fixed body (``/invoke``) or a fixed pre-encoded event stream sent one frame
per body message (``/invoke-with-response-stream``). Usage: python bench/bare_app.py PORT FRAMES_FILE"""

from __future__ import annotations

import json
import socket
import sys

import uvicorn

FIXED = json.dumps({"id": "msg_bdrk_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
                    "content": [{"type": "text", "text": "Hello! How can I help you today?"}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": 10, "output_tokens": 12}}).encode()


def make_app(frames: list[bytes]):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        if scope["path"].endswith("/invoke-with-response-stream"):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/vnd.amazon.eventstream")]})
            for frame in frames:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(FIXED)).encode())]})
            await send({"type": "http.response.body", "body": FIXED})

    return app


if __name__ == "__main__":
    port = int(sys.argv[1])
    frames = [bytes.fromhex(line) for line in open(sys.argv[2]).read().split()]
    # Not claude_bedrock's bind_socket: importing the package would slow the baseline's start-up.
    sock = socket.create_server(("127.0.0.1", port), backlog=2048)
    config = uvicorn.Config(make_app(frames), log_level="warning", access_log=False, lifespan="off",
                            server_header=False, proxy_headers=False)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
