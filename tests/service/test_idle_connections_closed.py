"""Review regression: a connection that goes quiet is closed. uvicorn's keep-alive timeout ran
only after a response, so a connection that never sent a byte, or whose request head or body
stopped halfway, held its file descriptor for as long as the server ran (a gateway collecting
crashed clients' half-open connections for days runs out of descriptors)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn

from claude_bedrock.service import server as server_module
from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Settings


@pytest.fixture
def url_port(tmp_path, monkeypatch):
    monkeypatch.setattr(server_module, "REQUEST_READ_TIMEOUT_S", 0.3)
    sock = server_module.bind_socket("127.0.0.1", 0)
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
])
def test_a_quiet_connection_is_closed(url_port, sent):
    sock = socket.create_connection(("127.0.0.1", url_port))
    if sent:
        sock.sendall(sent)
    assert _closed_by_server(sock)
    sock.close()


def test_a_complete_request_still_gets_its_answer(url_port):
    sock = socket.create_connection(("127.0.0.1", url_port), timeout=20)
    sock.sendall(b"GET /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    sock.close()
