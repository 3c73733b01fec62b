"""The listening socket: SO_REUSEADDR where it means "reuse a port in TIME_WAIT" only."""

from __future__ import annotations

import os
import socket

import pytest

from claude_bedrock.service.server import bind_socket


@pytest.mark.skipif(os.name != "posix", reason="SO_REUSEADDR's POSIX meaning")
def test_a_posix_server_restarts_on_its_port_at_once():
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    finally:
        sock.close()


def test_a_windows_server_does_not_share_a_port_in_use(monkeypatch):
    """Audit regression: on Windows SO_REUSEADDR lets a socket bind a port another one listens
    on, so a second ``serve --port 8787`` started without "cannot listen" and the two servers
    shared the port's connections. asyncio sets it on POSIX only, for that reason."""
    with monkeypatch.context() as windows:
        windows.setattr(os, "name", "nt")
        sock = bind_socket("127.0.0.1", 0)
    try:
        assert not sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    finally:
        sock.close()
