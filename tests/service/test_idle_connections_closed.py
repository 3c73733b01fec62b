"""A connection that goes quiet is closed. uvicorn's keep-alive timeout ran only after a
response, so a connection that never sent a byte, or whose request head or body stopped
halfway, held its file descriptor for as long as the server ran (a gateway collecting crashed
clients' half-open connections for days runs out of descriptors). And a client that stops
reading its answer held the connection, the buffered answer and (for a stream) the call
producing it for as long as it lived."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from datetime import datetime, timezone

import pytest
import uvicorn

from claude_bedrock.service import server as server_module
from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Settings
from claude_bedrock.wire.sigv4 import HttpRequest, sign


@pytest.fixture
def url_port(tmp_path, monkeypatch):
    monkeypatch.setattr(server_module, "REQUEST_READ_TIMEOUT_S", 0.3)
    monkeypatch.setattr(server_module, "RESPONSE_WRITE_TIMEOUT_S", 0.5)
    sock = server_module.bind_socket("127.0.0.1", 0)
    # Accepted sockets inherit small kernel buffers: a few hundred KB of answer fill them.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(Settings(data_dir=str(tmp_path))), http=server_module._bounded_http_protocol(),
                            log_level="warning", lifespan="on", timeout_keep_alive=0.3)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(20)  # far beyond the timeouts: a server that never closes fails the test
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (TimeoutError, socket.timeout):
        return False
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("sent", [
    b"",  # connected, never wrote
    b"POST /model/m/invoke HTTP/1.1\r\nHost: localhost\r\n",  # a head that stopped halfway
    b"POST /model/m/invoke HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{",  # a body that did
    # the same, admitted (the one above is refused before its body, and its connection closed
    # with the answer): the app waits for the body, and only the read timeout ends the wait
    b"POST /model/m/invoke HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer dev\r\n"
    b"Content-Length: 100\r\n\r\n{",
])
def test_a_quiet_connection_is_closed(url_port, sent):
    sock = socket.create_connection(("127.0.0.1", url_port))
    if sent:
        sock.sendall(sent)
    assert _closed_by_server(sock)
    sock.close()


def _cut_while_trickling(sock: socket.socket, started: float) -> bool:
    """Send a byte every 50 ms for up to 3 s; whether the server closed the connection."""
    while time.monotonic() - started < 3:  # ten times the deadline
        time.sleep(0.05)  # each byte well within the timeout
        try:
            sock.sendall(b"a")
        except OSError:
            return True
    sock.settimeout(0.05)
    try:
        return sock.recv(65536) == b""
    except (TimeoutError, socket.timeout):
        return False
    except ConnectionResetError:
        return True


def test_a_head_trickled_a_byte_at_a_time_is_cut_at_its_deadline(url_port):
    """Security audit: the read timeout was re-armed by every byte, so a head trickled a byte
    every 59 s (a slowloris) held its connection for up to 64 KB x 59 s, 45 days: a few
    hundred bytes a second held every descriptor of the server. A head must now be whole
    REQUEST_READ_TIMEOUT_S (0.3 s here) after its first byte, as nginx's client_header_timeout."""
    sock = socket.create_connection(("127.0.0.1", url_port), timeout=5)
    sock.sendall(b"GET /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
    started = time.monotonic()
    closed = _cut_while_trickling(sock, started)
    sock.close()
    assert closed and time.monotonic() - started < 2


def test_the_refused_body_trickled_after_its_answer_is_cut_at_its_deadline(url_port):
    """Security audit: a request refused from its head (here: no credentials) leaves its body
    to be read and dropped after the answer, each byte restarting the timeout: an anonymous
    client declaring a 25 MB body and trickling it held the connection for months. The rest
    of a refused body must now arrive within REQUEST_READ_TIMEOUT_S."""
    sock = socket.create_connection(("127.0.0.1", url_port), timeout=5)
    sock.sendall(b"POST /model/anthropic.claude-3-haiku-20240307-v1:0/invoke HTTP/1.1\r\nHost: localhost\r\n"
                 b"Content-Length: 25000000\r\n\r\n{")
    assert sock.recv(65536).startswith(b"HTTP/1.1 403")
    started = time.monotonic()
    closed = _cut_while_trickling(sock, started)
    sock.close()
    assert closed and time.monotonic() - started < 2


def test_a_body_trickled_a_byte_at_a_time_is_not_cut(url_port):
    """A body's bytes each restart its timeout (nginx's client_body_timeout): a slow upload
    that keeps sending is read to its end."""
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    sock = socket.create_connection(("127.0.0.1", url_port), timeout=5)
    sock.sendall(b"POST /model/anthropic.claude-3-haiku-20240307-v1:0/invoke HTTP/1.1\r\nHost: localhost\r\n"
                 b"Authorization: Bearer any\r\nContent-Length: %d\r\n\r\n" % len(body))
    for i in range(0, len(body), 10):  # about 1 s in all: past the 0.3 s timeout
        time.sleep(0.1)
        sock.sendall(body[i:i + 10])
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    sock.close()


def test_a_complete_request_still_gets_its_answer(url_port):
    sock = socket.create_connection(("127.0.0.1", url_port), timeout=20)
    sock.sendall(b"GET /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    sock.close()


ANSWER_WORDS = 40_000  # about 200 KB of JSON: far more than the socket buffers and the transport's


def _large_answer_request(port: int, operation: str = "invoke",
                          words: int = ANSWER_WORDS) -> tuple[socket.socket, int, int]:
    """A connection (small receive buffer) that asked for a ~200 KB InvokeModel answer, read
    only as far as its head; the body bytes read with it, and the body's full length."""
    rule = json.dumps({"respond": {"text": " ".join(["word"] * words)}}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as admin:
        admin.sendall(b"POST /_claude-bedrock/rules HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(rule), rule))
        assert admin.recv(65536).startswith(b"HTTP/1.1 20")
    path = f"/model/anthropic.claude-sonnet-4-5-20250929-v1:0/{operation}"
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64000,
                       "messages": [{"role": "user", "content": "Talk."}]}).encode()
    headers = [("host", "localhost"), ("content-type", "application/json")]
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers += sign(HttpRequest("POST", path.replace(":", "%3A"), "", headers, body),
                    "AKIDUNLISTED000001", "secret", "us-east-1", "bedrock", amz_date)
    head = f"POST {path.replace(':', '%3A')} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"content-length: {len(body)}\r\n\r\n"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(20)
    sock.connect(("127.0.0.1", port))
    sock.sendall(head.encode() + body)
    first = sock.recv(4096)
    if operation != "invoke":
        return sock, 0, 0
    length = int(first.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    return sock, len(first) - first.index(b"\r\n\r\n") - 4, length


def _read_all(sock: socket.socket, pause: float = 0.0) -> int:
    received = 0
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return received
            received += len(data)
            time.sleep(pause)
    except (ConnectionResetError, TimeoutError, socket.timeout):
        return received


@pytest.mark.parametrize("words", [ANSWER_WORDS, 8_000], ids=["over the buffer's mark", "under it"])
def test_a_client_that_reads_none_of_its_answer_is_cut(url_port, caplog, words):
    """Whether the answer left waiting fills the transport's buffer (writing paused) or not (its
    end waits below the mark, and the keep-alive close waits for it)."""
    caplog.set_level(logging.INFO, logger="claude_bedrock.server")
    sock, body_read, length = _large_answer_request(url_port, words=words)
    time.sleep(3)  # six times the write timeout, reading nothing
    body_read += _read_all(sock)
    sock.close()
    assert body_read < length  # the server aborted the connection: the answer never arrived whole
    assert "read none of its response" in caplog.text


def test_a_client_that_reads_slowly_gets_its_whole_answer(url_port):
    sock, body_read, length = _large_answer_request(url_port)
    sock.settimeout(0.8)  # the answer's end: the server keeps the connection alive, sending nothing
    body_read += _read_all(sock, pause=0.05)  # 4 KB every 50 ms: slower than the buffers drain
    sock.close()
    assert body_read == length


def test_a_stream_whose_client_reads_nothing_ends_as_the_client_having_left(url_port):
    sock, _, _ = _large_answer_request(url_port, "invoke-with-response-stream")
    time.sleep(3)  # the client, still connected, has read nothing
    with socket.create_connection(("127.0.0.1", url_port), timeout=20) as admin:
        admin.sendall(b"GET /_claude-bedrock/calls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := admin.recv(65536):
            answer += chunk
    sock.close()
    calls = json.loads(answer.split(b"\r\n\r\n", 1)[1])["calls"]
    streamed = [(call["status"], call["error_code"]) for call in calls
                if call["operation"] == "InvokeModelWithResponseStream"]
    assert streamed == [(0, "ClientDisconnected")]  # ended while the client was still connected
