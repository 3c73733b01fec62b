"""The answer to an HTTP/1.0 request, as HTTP/1.0 can read it.

HTTP/1.0 has neither chunked encoding nor 1xx answers: a server must not send
``Transfer-Encoding`` to an HTTP/1.0 request (RFC 9112, 6.1) nor a 1xx answer to an HTTP/1.0
client (RFC 9110, 15.2). uvicorn's httptools protocol did both: a stream (no ``Content-Length``)
went out chunked, so an HTTP/1.0 client (a proxy speaking 1.0 upstream) read chunk-size lines
inside the event stream, and ``Expect: 100-continue`` had a "100 Continue" that such a client
takes for its answer. Here a response without ``Content-Length`` is ended by closing the
connection, as HTTP/1.0 frames it (uvicorn closes every HTTP/1.0 connection after its answer),
and the expectation is ignored, as RFC 9110 (10.1.1) requires.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle


class Http10Cycle(RequestResponseCycle):
    """uvicorn's request cycle, answering an HTTP/1.0 request (a ``RequestResponseCycle``
    becomes one before its app starts: ``adopt``)."""

    _close_delimited = False

    @classmethod
    def adopt(cls, cycle: RequestResponseCycle) -> None:
        cycle.__class__ = cls
        cycle.waiting_for_100_continue = False  # the body is simply sent after the head

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.response_started:
            if not any(name.lower() == b"content-length" for name, _ in message.get("headers", ())):
                # decided before uvicorn decides "chunked" for want of a length
                self.chunked_encoding = False
                self._close_delimited = True
        elif message["type"] == "http.response.body" and self._close_delimited:
            # uvicorn counts the body down from a length: the length of what is written
            self.expected_content_length = len(message.get("body", b""))
        await super().send(message)
