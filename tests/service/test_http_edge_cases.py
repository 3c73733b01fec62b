"""HTTP/1.1 edge cases (pipelining, Upgrade offers, Host lines, undecodable header bytes), over a
real socket against ``claude-bedrock serve``."""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timezone
from urllib.parse import urlparse

import httpx
import pytest

from claude_bedrock.service.server import MAX_QUEUED_REQUESTS
from claude_bedrock.wire.sigv4 import HttpRequest, sign

from support.servers import ACCESS_KEY, CONFIG_TOML, REGION, SECRET_KEY, start_server

INVOKE = "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"
BODY = (b'{"max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}], '
        b'"anthropic_version": "bedrock-2023-05-31"}')
STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("http-edges"), "--strict-auth", config=CONFIG_TOML)
    yield running
    running.stop()


def signed_head(method: str, path: str, body: bytes, *, service: str = "bedrock",
                content_type: str = "application/json") -> list[tuple[str, str]]:
    headers = [("host", "localhost"), ("content-type", content_type)]
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return headers + list(sign(HttpRequest(method, path, "", headers, body), ACCESS_KEY, SECRET_KEY, REGION,
                               service, amz_date))


def exchange(server, requests: bytes, answers: int) -> list[bytes]:
    """Send ``requests`` on one connection; the first ``answers`` responses, each head and body."""
    parsed = urlparse(server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(requests)
        return read_responses(sock, answers)


def read_responses(sock: socket.socket, answers: int) -> list[bytes]:
    """The next ``answers`` responses on ``sock`` (Content-Length framed), each head and body."""
    received = b""
    responses: list[bytes] = []
    while len(responses) < answers:
        head, sep, rest = received.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.lower().split(b"\r\n")
                       if line.startswith(b"content-length:")), None)
        if sep and length is not None and len(rest) >= length:
            responses.append(head + sep + rest[:length])
            received = rest[length:]
            continue
        chunk = sock.recv(65536)
        assert chunk, (responses, received)
        received += chunk
    return responses


def raw_request(method: str, path: str, headers: list[tuple[str, bytes | str]], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode()]
    lines += [name.encode() + b": " + (value if isinstance(value, bytes) else value.encode("latin-1"))
              for name, value in headers]
    lines.append(b"content-length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@pytest.mark.parametrize(("method", "path", "body", "service", "content_type", "marker"), [
    ("POST", INVOKE, BODY, "bedrock", "application/json", b"x-amzn-errortype: invalidsignatureexception"),
    ("GET", "/foundation-models", b"", "bedrock", "application/json", b"x-amzn-errortype: invalidsignatureexception"),
    ("POST", "/", STS_BODY, "sts", "application/x-www-form-urlencoded", b"<code>signaturedoesnotmatch</code>"),
], ids=["runtime", "control-plane", "sts"])
def test_a_signed_header_not_utf8_with_a_wrong_signature_is_a_403_not_a_500(
        strict_server, method, path, body, service, content_type, marker):
    """Review: a listed key's request whose signature did not match, with a signed header
    holding bytes that are not UTF-8 (the Host here), was a 500 and a traceback: the
    signature-mismatch message repeats the canonical request, read as UTF-8 with those bytes
    kept as surrogates, which no response body can encode. The request is answered 403 (the
    bytes shown as U+FFFD) and the connection serves the next request."""
    headers: list[tuple[str, bytes | str]] = [
        (name, b"localhost\xe9" if name == "host" else value)
        for name, value in signed_head(method, path, body, service=service, content_type=content_type)]
    good: list[tuple[str, bytes | str]] = list(signed_head(method, path, body, service=service,
                                                            content_type=content_type))
    refused, served = exchange(strict_server, raw_request(method, path, headers, body)
                               + raw_request(method, path, good, body), 2)
    assert refused.startswith(b"HTTP/1.1 403"), refused[:300]
    assert marker in refused.lower()
    assert "host:localhost\ufffd".encode() in refused
    assert served.startswith(b"HTTP/1.1 200"), served[:300]
    assert "Traceback" not in strict_server.log_text()


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    """A development server whose answers take about a second."""
    running = start_server(tmp_path_factory.mktemp("http-edges-slow"), "--simulator-latency", "1000:1000")
    yield running
    running.stop()


def calls(server) -> list[dict]:
    response = httpx.get(f"{server.url}/_claude-bedrock/calls", headers={"authorization": "Bearer any"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["calls"]


@pytest.mark.parametrize("suffix", ["invoke", "invoke-with-response-stream"])
def test_a_pipelining_client_that_leaves_has_its_running_call_cut_not_a_500(slow_server, suffix):
    """Review: a client that sent two requests at once (HTTP pipelining) and closed the
    connection while the first was answered: uvicorn told only the queued second request, so
    the first call ran to its end, wrote to the closed connection and was logged as an
    unhandled error (a traceback) and recorded as a 500 InternalServerException. It is now cut
    short as the client leaving, as without pipelining."""
    path = INVOKE.replace("/invoke", f"/{suffix}")
    request = raw_request("POST", path, [("host", "localhost"), ("authorization", "Bearer any-development-key"),
                                         ("content-type", "application/json")], BODY)
    before = len(calls(slow_server))
    parsed = urlparse(slow_server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(request + request)
        time.sleep(0.3)  # the first call waits on the simulated latency; the second is queued
    deadline = time.monotonic() + 10
    while not (recorded := calls(slow_server)[before:]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [(call["status"], call["error_code"]) for call in recorded] == [(0, "ClientDisconnected")], recorded
    log = slow_server.log_text()
    assert "Traceback" not in log and "unhandled error" not in log, log


def test_a_pipelined_call_started_after_the_first_is_cut_when_the_client_leaves(slow_server):
    """The call a pipelining client's queue started next (the second of three) is the one told
    the client left, not the last one read."""
    request = raw_request("POST", INVOKE, [("host", "localhost"), ("authorization", "Bearer any-development-key"),
                                           ("content-type", "application/json")], BODY)
    before = len(calls(slow_server))
    parsed = urlparse(slow_server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(request * 3)
        read_responses(sock, 1)  # the first answer (about 1 s); the second call starts after it
        time.sleep(0.3)  # and waits on its own latency (1 s) when the client leaves
    deadline = time.monotonic() + 10
    while len(recorded := calls(slow_server)[before:]) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [(call["status"], call["error_code"]) for call in recorded] == [(200, None), (0, "ClientDisconnected")]
    log = slow_server.log_text()
    assert "Traceback" not in log and "unhandled error" not in log, log


HEALTH = b"GET /_claude-bedrock/health HTTP/1.1\r\nHost: localhost\r\n\r\n"


def responses_until_closed(sock: socket.socket) -> list[bytes]:
    """Every response on ``sock`` until the server closes it (a socket timeout fails the test)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return [part for part in received.split(b"HTTP/1.1 ") if part]


def test_a_client_pipelining_past_the_queue_cap_has_the_queued_answered_then_the_connection_closed(strict_server):
    """Security audit: uvicorn parsed every pipelined request a read brought and queued each
    (about 1 KB of scope for a 26-byte request), reading on after every answer: 20 anonymous
    connections sending 1 MB of tiny requests grew a strict server from 37 MB to 1.3 GB. A
    connection now queues at most MAX_QUEUED_REQUESTS behind the one answered: those are
    answered, the last with ``connection: close``, and the rest is never read."""
    parsed = urlparse(strict_server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=5) as sock:
        sock.sendall(HEALTH * (MAX_QUEUED_REQUESTS + 200))
        answers = responses_until_closed(sock)
    assert len(answers) == MAX_QUEUED_REQUESTS + 1
    assert all(answer.startswith(b"200 OK") for answer in answers)
    assert b"connection: close" in answers[-1].lower() and b"connection: close" not in answers[-2].lower()
    log = strict_server.log_text()
    assert f"pipelined more than {MAX_QUEUED_REQUESTS} requests" in log and "Invalid HTTP request" not in log


UPGRADE = [("connection", "Upgrade, HTTP2-Settings"), ("upgrade", "h2c"), ("http2-settings", "AAMAAABkAAQCAAAAAAIAAAAA")]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_request_offering_an_upgrade_is_answered_with_its_body(strict_server, framing):
    """Review: ``curl --http2`` on an http:// URL (and Java's HttpClient) offers ``Upgrade: h2c``
    on every request. The server may ignore the offer (RFC 9110, 7.8), but httptools ended such
    a request at its head: the app saw an empty body (a signature mismatch here, "Malformed input
    request" in development mode) and the body's bytes were parsed as the next request. The
    request is now answered with its body, here sent apart from its head, and the connection
    serves the next request."""
    headers = signed_head("POST", INVOKE, BODY) + UPGRADE
    if framing == "chunked":
        headers.append(("transfer-encoding", "chunked"))
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    else:
        headers.append(("content-length", str(len(BODY))))
        body = BODY
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    parsed = urlparse(strict_server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(f"POST {INVOKE} HTTP/1.1\r\n{head}\r\n".encode())
        time.sleep(0.2)  # the body comes in a later read, as from a client that writes it apart
        sock.sendall(body)
        answer = b""
        while answer.count(b"HTTP/1.1 ") < 1 or not answer.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:400]
    second = exchange(strict_server, raw_request("POST", INVOKE, signed_head("POST", INVOKE, BODY) + UPGRADE, BODY)
                      + raw_request("POST", INVOKE, signed_head("POST", INVOKE, BODY), BODY), 2)
    assert [response[:12] for response in second] == [b"HTTP/1.1 200", b"HTTP/1.1 200"], second


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_an_upgrade_offer_whose_body_breaks_its_framing_is_a_400(strict_server):
    """Mutation audit: a chunked body read for an ignored ``Upgrade`` offer that is not chunked
    (a bad chunk size) is answered 400 at once, as httptools answers one without the offer; a
    mutant that dropped the framing error left the connection waiting for ever."""
    headers = signed_head("POST", INVOKE, BODY) + UPGRADE + [("transfer-encoding", "chunked")]
    head = f"POST {INVOKE} HTTP/1.1\r\n".encode() + b"".join(
        f"{name}: {value}\r\n".encode() for name, value in headers) + b"\r\n"
    parsed = urlparse(strict_server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(head)
        time.sleep(0.05)
        sock.sendall(b"zz\r\nnot a chunk\r\n")
        answers = read_responses(sock, 1)  # a timeout (10 s) fails the test
    assert answers[0].startswith(b"HTTP/1.1 400"), answers


@pytest.mark.parametrize("case", ["no body", "a zero length written 00", "chunked, in small pieces"])
def test_an_upgrade_offer_without_a_body_or_with_one_in_pieces_is_answered_at_once(strict_server, case):
    """``curl --http2`` on http:// sends the offer on a GET without a body: the server must not
    wait for one (nor for a zero length however written), and a body arriving in many small
    pieces is read whole; the connection then serves the next request."""
    if case == "no body":
        first = [b"GET /_claude-bedrock/health HTTP/1.1\r\nhost: localhost\r\n"
                 + b"".join(f"{name}: {value}\r\n".encode() for name, value in UPGRADE) + b"\r\n"]
        expected = b"HTTP/1.1 200"
    elif case == "a zero length written 00":
        headers = signed_head("POST", INVOKE, b"") + UPGRADE + [("content-length", "00")]
        first = [f"POST {INVOKE} HTTP/1.1\r\n".encode()
                 + b"".join(f"{name}: {value}\r\n".encode() for name, value in headers) + b"\r\n"]
        expected = b"HTTP/1.1 400"  # an empty InvokeModel body: answered, not waited for
    else:
        headers = signed_head("POST", INVOKE, BODY) + UPGRADE + [("transfer-encoding", "chunked")]
        body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in _pieces(BODY, 7)) + b"0\r\n\r\n"
        first = [f"POST {INVOKE} HTTP/1.1\r\n".encode()
                 + b"".join(f"{name}: {value}\r\n".encode() for name, value in headers) + b"\r\n",
                 *_pieces(body, 5)]
        expected = b"HTTP/1.1 200"
    parsed = urlparse(strict_server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        for piece in first:  # a timeout (10 s) fails the test: the server waited for a body
            sock.sendall(piece)
            time.sleep(0.002)
        answers = read_responses(sock, 1)  # before anything else is sent
        sock.sendall(b"GET /_claude-bedrock/health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        answers += read_responses(sock, 1)
    assert [answer[:12] for answer in answers] == [expected, b"HTTP/1.1 200"], answers


@pytest.mark.parametrize("hosts", [[], ["localhost", "localhost"]], ids=["no Host", "two Host lines"])
def test_an_http11_request_without_exactly_one_host_is_a_400(strict_server, hosts):
    """Review: RFC 9112 (3.2) requires a 400 for an HTTP/1.1 request without a Host header or
    with more than one; the server answered it (a development server even ran the call). An
    HTTP/1.0 request may still come without one."""
    head = "".join(f"host: {host}\r\n" for host in hosts)
    parsed = urlparse(strict_server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(f"GET /_claude-bedrock/health HTTP/1.1\r\n{head}\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"connection: close" in answer.lower()
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(b"GET /_claude-bedrock/health HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_head_on_the_health_check_answers_its_headers_without_a_body(strict_server):
    """Load balancers (AWS ALB, HAProxy's ``option httpchk HEAD``) check health with HEAD: it
    was a 404 on every server. It needs no credentials, like GET, and sends no body: the
    GET that follows on the same connection is read as the next answer."""
    parsed = urlparse(strict_server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(b"HEAD /_claude-bedrock/health HTTP/1.1\r\nhost: localhost\r\n\r\n"
                     b"GET /_claude-bedrock/health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        received = b""
        while received.count(b"\r\n\r\n") < 2 or not received.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    get_head, _, get_body = rest.partition(b"\r\n\r\n")
    assert get_head.startswith(b"HTTP/1.1 200"), rest[:200]
    assert json.loads(get_body)["status"] == "ok"
    length = [line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
    assert length == [f"content-length: {len(get_body)}".encode()]


STREAM = "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"


def test_an_http10_stream_is_framed_by_the_connection_close_not_chunked(strict_server):
    """HTTP/1.0 has no chunked encoding, and a server must not send ``Transfer-Encoding`` to an
    HTTP/1.0 request (RFC 9112 6.1) nor any 1xx answer (RFC 9110 15.2): uvicorn's httptools
    protocol did both, so an HTTP/1.0 client (a proxy speaking 1.0 upstream, ``curl --http1.0``
    without chunked decoding) read chunk-size lines inside the event stream, and took an
    ``Expect: 100-continue``'s "100 Continue" for its answer."""
    from claude_bedrock.wire.eventstream import decode_messages

    headers = signed_head("POST", STREAM, BODY) + [("expect", "100-continue")]
    parsed = urlparse(strict_server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        request = raw_request("POST", STREAM, headers, BODY).replace(b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", 1)
        sock.sendall(request[:-len(BODY)])
        sock.settimeout(1)
        with pytest.raises(socket.timeout):  # no 100 Continue: the body is simply sent
            assert not sock.recv(65536)
        sock.settimeout(10)
        sock.sendall(BODY)
        answer = b""
        while chunk := sock.recv(65536):  # the answer ends with the connection
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer[:300]
    assert b"transfer-encoding" not in head.lower() and b"connection: close" in head.lower()
    events = [dict(message.headers)[":event-type"] for message in decode_messages(body)]
    assert events and set(events) == {"chunk"}, events
