"""The baseline: a bare ASGI app on the same uvicorn configuration as claude-bedrock, answering
every POST with a fixed body (``/invoke``) or a fixed pre-encoded event stream sent one frame
per body message (``/invoke-with-response-stream``).

Usage: python bench/bare_app.py PORT FRAMES_FILE [ACCESS_KEY:SECRET]

With ``ACCESS_KEY:SECRET``, the app first verifies each request's SigV4 signature as
claude-bedrock does (``wire.sigv4``: the header parsed, the signing key cached, the signature
and the payload hash checked; 403 otherwise): the "bare app that also verifies SigV4" baseline
of ``server_bench.py --sigv4-baseline``."""

from __future__ import annotations

import json
import socket
import sys

import uvicorn

FIXED = json.dumps({"id": "msg_bdrk_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
                    "content": [{"type": "text", "text": "Hello! How can I help you today?"}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": 10, "output_tokens": 12}}).encode()


def sigv4_check(access_key: str, secret: str):
    """A function telling whether an ASGI request (scope, body) is signed by this key."""
    from datetime import datetime, timezone

    from claude_bedrock.wire import sigv4

    cache = sigv4.SigningKeyCache()

    def signed(scope, body: bytes) -> bool:
        request = sigv4.HttpRequest.from_wire(scope["method"], scope["raw_path"], scope["headers"], body)
        try:
            auth = sigv4.extract_authorization(request)
            if not isinstance(auth, sigv4.SigV4Authorization) or auth.access_key != access_key:
                return False
            sigv4.verify(request, auth, secret, datetime.now(timezone.utc),
                         expected_service="bedrock", key_cache=cache)
        except sigv4.SignatureError:
            return False
        return True

    return signed


def make_app(frames: list[bytes], signed=None):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        message = await receive()
        body = message.get("body", b"")
        while message.get("more_body"):
            message = await receive()
            body += message.get("body", b"")
        if signed is not None and not signed(scope, body):
            await send({"type": "http.response.start", "status": 403, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
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
    signed = sigv4_check(*sys.argv[3].split(":", 1)) if len(sys.argv) > 3 else None
    # Not claude_bedrock's bind_socket: importing the package would slow the baseline's start-up.
    sock = socket.create_server(("127.0.0.1", port), backlog=2048)
    config = uvicorn.Config(make_app(frames, signed), log_level="warning", access_log=False, lifespan="off",
                            server_header=False, proxy_headers=False)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
