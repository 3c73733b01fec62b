"""Review regression: the server caps the request head. uvicorn's httptools protocol buffered
a header of any size before authentication, so one anonymous client could grow the server
by hundreds of megabytes."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest

from claude_bedrock.service.server import MAX_HEAD_BYTES

from support.servers import start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("head-limit"))
    yield running
    running.stop()


def _connect(server) -> socket.socket:
    parsed = urlparse(server.url)
    return socket.create_connection((parsed.hostname, parsed.port), timeout=10)


def _response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_endless_header_is_refused_before_it_is_buffered(server):
    sock = _connect(server)
    sock.sendall(b"GET /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
    # Kernel socket buffers on loopback absorb several MB before the close is felt, so the
    # cap is far above them: a server that buffered the whole head would never close.
    cap = 64 * 1024 * 1024
    sent = 0
    try:
        while sent < cap:
            sock.sendall(b"a" * 65536)
            sent += 65536
    except OSError:
        pass  # the server closed the connection: what we want
    assert _response(sock).startswith(b"HTTP/1.1 431")
    assert sent < cap
    sock.close()


def test_an_unfinished_head_just_past_the_cap_is_refused_at_once(server):
    # the cap is the bound on what is buffered: the first bytes past it are refused, without
    # waiting for more (the endless header above sends megabytes, so it missed a looser bound)
    sock = _connect(server)
    sock.sendall(b"GET /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * MAX_HEAD_BYTES)
    assert _response(sock).startswith(b"HTTP/1.1 431")
    sock.close()


def test_the_second_head_on_a_kept_alive_connection_is_capped_too(server):
    sock = _connect(server)
    sock.sendall(b"GET /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert _response(sock).startswith(b"HTTP/1.1 200")
    sock.sendall(b"GET /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * MAX_HEAD_BYTES)
    assert b"HTTP/1.1 431" in _response(sock)  # (after what is left of the first answer's body)
    sock.close()


def test_ordinary_requests_pass_on_a_kept_alive_connection(server):
    sock = _connect(server)
    body = b"x" * (2 * MAX_HEAD_BYTES)  # a body is not head: it does not count
    for _ in range(2):
        sock.sendall(b"POST /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"p" * 8000
                     + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        head = _response(sock)
        assert head.startswith(b"HTTP/1.1 404"), head[:100]
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        rest = head.split(b"\r\n\r\n", 1)[1]
        while len(rest) < length:
            rest += sock.recv(65536)
    sock.close()


def test_oversized_head_arriving_in_one_piece_is_refused(server):
    """A head over the cap that arrives whole in one read (with its body behind it) is refused
    too: the parser's own count of the head, not only the bytes seen while it was incomplete."""
    sock = _connect(server)
    head = (b"POST /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * (MAX_HEAD_BYTES + 10)
            + b"\r\nContent-Length: 2\r\n\r\n{}")
    sock.sendall(head)
    assert _response(sock).startswith(b"HTTP/1.1 431")
    sock.close()


def test_a_head_of_many_short_lines_counts_each_line_whole(server):
    """Each header line counts with its ": " and CRLF: 2,000 lines whose names and values hold
    62,000 bytes make a head of 70,000 bytes, over the cap (a count of names and values only
    let it through)."""
    sock = _connect(server)
    lines = b"".join(b"X-%04d: %s\r\n" % (n, b"v" * 25) for n in range(2000))  # 6 + 25 bytes, 4 more per line
    sock.sendall(b"GET /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\n" + lines + b"\r\n")
    assert _response(sock).startswith(b"HTTP/1.1 431")
    sock.close()


def test_head_just_under_the_cap_passes(server):
    sock = _connect(server)
    pad = MAX_HEAD_BYTES - 200
    sock.sendall(b"GET /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"p" * pad + b"\r\n\r\n")
    assert _response(sock).startswith(b"HTTP/1.1 200")
    sock.close()
