"""The body of a request whose ``Upgrade`` offer the server ignores.

A client may offer to switch protocols on any HTTP/1.1 request: ``curl --http2`` on an
``http://`` URL, Java's ``HttpClient`` and Ktor send ``Connection: Upgrade, HTTP2-Settings`` and
``Upgrade: h2c``. The server speaks HTTP/1.1 only, and a server "MAY ignore a received Upgrade
header field" and answer the request as it is (RFC 9110, 7.8). httptools (llhttp) does not let
it: it ends the request at its head, as if it had no body, and leaves the body's bytes unread
(uvicorn issue #2722), so the app saw an empty body ("Malformed input request", a signature
mismatch) and the body's bytes were read as the next request.

``UpgradeBody`` reads that body instead, framed as the head declared it (``Content-Length`` or
``Transfer-Encoding: chunked``), with h11 (a dependency of uvicorn), and hands back the bytes
that follow it, which belong to the next request.
"""

from __future__ import annotations

import h11

#: The head h11 is told the body follows: only the framing headers matter to it.
_HEAD = b"POST / HTTP/1.1\r\nhost: upgrade\r\n"
_FRAMING_HEADERS = (b"content-length", b"transfer-encoding")


class UpgradeBody:
    """Reads one request body given its framing headers (lower-case names, as received)."""

    __slots__ = ("_reader", "done")

    @classmethod
    def after(cls, headers: list[tuple[bytes, bytes]]) -> UpgradeBody | None:
        """The reader of the body a head with these ``headers`` declares; None without one."""
        framing = [(name, value) for name, value in headers if name in _FRAMING_HEADERS]
        if not framing:
            return None
        body = cls(framing)
        body.feed(b"")  # a zero length, however written (``0``, ``00``): no body to wait for
        return None if body.done else body

    def __init__(self, framing: list[tuple[bytes, bytes]]) -> None:
        self._reader = h11.Connection(h11.SERVER)
        self._reader.receive_data(_HEAD + b"".join(name + b": " + value + b"\r\n" for name, value in framing) + b"\r\n")
        self._reader.next_event()  # the request's head
        self.done = False

    def feed(self, data: bytes) -> tuple[list[bytes], bytes]:
        """The body's pieces in ``data``, and the bytes after the body (``done`` then).

        Raises ValueError for a body that breaks its framing.
        """
        if data:  # h11 reads an empty receive_data as the end of the connection
            self._reader.receive_data(data)
        pieces: list[bytes] = []
        while True:
            try:
                event = self._reader.next_event()
            except h11.RemoteProtocolError as exc:
                raise ValueError(str(exc)) from None
            if event is h11.NEED_DATA:
                return pieces, b""
            if isinstance(event, h11.Data):
                pieces.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self.done = True
                return pieces, self._reader.trailing_data[0]
