"""Review regression: the server read a request's whole body (up to 25 MB) before it checked
who sent it, so on a strict server an anonymous client made it buffer 25 MB per open
connection before refusing it (100 connections: some 2.5 GB). Every refusal the head decides
(no or malformed Authorization, unlisted or wrong key, session token, date window, scope) now
comes before the body is read, with the same answer; a listed key's signature is checked once
the body is read, as before."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from claude_bedrock.service.app import create_app
from claude_bedrock.settings import ApiKey, Credential, Settings
from claude_bedrock.wire.sigv4 import HttpRequest, sign

from support.servers import start_server

KEY, SECRET, TOKEN = "AKIDKNOWN", "known-secret", "issued-session-token"
TEMPORARY = "ASIATEMPORARY"
ADMIN_KEY = "AKIDADMIN"
INVOKE = "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"
MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
BODY = json.dumps({"max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}],
                   "anthropic_version": "bedrock-2023-05-31"}).encode()
LARGE = 5_000_000  # the declared size of the bodies an early refusal must leave unread
CHUNK = 65536  # uvicorn hands the app a body in pieces about this size


def strict_app(tmp_path, *, strict: bool = True):
    credentials = (Credential(KEY, SECRET, account_id="111122223333"),
                   Credential(TEMPORARY, SECRET, account_id="111122223333", session_tokens=(TOKEN,)),
                   Credential(ADMIN_KEY, SECRET, account_id="111122223333", admin=True))
    return create_app(Settings(data_dir=str(tmp_path), strict_auth=strict, credentials=credentials,
                               api_keys=(ApiKey("listed-api-key"),)))


def signed(method: str, path: str, body: bytes, *, key: str = KEY, secret: str = SECRET, service: str = "bedrock",
           when: datetime | None = None, token: str | None = None) -> list[tuple[str, str]]:
    headers = [("host", "localhost"), ("content-type", "application/json")]
    amz_date = (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    request = HttpRequest(method, path, "", headers, body)
    return headers + list(sign(request, key, secret, "us-west-2", service, amz_date, session_token=token))


def serve(app, method: str, path: str, headers: list[tuple[str, str]], body: bytes, *, declared: int | None = None):
    """Run one request through the app, its body handed over in CHUNK pieces as uvicorn does.
    Returns (status, response headers, response body, body bytes the app received)."""
    size = len(body) if declared is None else declared
    head = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [*head, (b"content-length", str(size).encode())], "client": ("203.0.113.9", 1)}
    pieces = [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
    received = 0
    sent: list[dict] = []

    async def receive():
        nonlocal received
        if not pieces:
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}
        piece = pieces.pop(0)
        received += len(piece)
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 60))  # a regression fails, not hangs an hour
    start = sent[0]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict(start["headers"]), payload, received


def large_body() -> bytes:
    return json.dumps({"max_tokens": 5, "anthropic_version": "bedrock-2023-05-31",
                       "messages": [{"role": "user", "content": "x" * LARGE}]}).encode()


def _error(headers: dict[bytes, bytes]) -> str:
    return headers[b"x-amzn-errortype"].decode().split(":", 1)[0]


REFUSED_FROM_THE_HEAD = {
    "no authorization": (lambda body: [("host", "localhost")], 403, "AccessDeniedException",
                         "Authorization header is missing"),
    "malformed authorization": (lambda body: [("host", "localhost"), ("authorization", "AWS4-HMAC-SHA256 x")],
                                400, "IncompleteSignatureException", None),
    "unlisted access key": (lambda body: signed("POST", INVOKE, body, key="AKIDUNKNOWN"), 403,
                            "UnrecognizedClientException", "The security token included in the request is invalid."),
    "unlisted api key": (lambda body: [("host", "localhost"), ("authorization", "Bearer not-a-listed-key")], 403,
                         "UnrecognizedClientException", "The security token included in the request is invalid."),
    "wrong session token": (lambda body: signed("POST", INVOKE, body, key=TEMPORARY, token="stolen"), 403,
                            "UnrecognizedClientException", "The security token included in the request is invalid."),
    "missing session token": (lambda body: signed("POST", INVOKE, body, key=TEMPORARY), 403,
                              "UnrecognizedClientException", "The security token included in the request is invalid."),
    # the issued token with one character more, or less: the whole token is compared
    "session token longer than the issued one": (
        lambda body: signed("POST", INVOKE, body, key=TEMPORARY, token=TOKEN + "x"), 403,
        "UnrecognizedClientException", "The security token included in the request is invalid."),
    "session token shorter than the issued one": (
        lambda body: signed("POST", INVOKE, body, key=TEMPORARY, token=TOKEN[:-1]), 403,
        "UnrecognizedClientException", "The security token included in the request is invalid."),
    # a strict server: a listed key that was issued no session token accepts none
    "session token for a key issued none": (lambda body: signed("POST", INVOKE, body, token="any-token"), 403,
                                            "UnrecognizedClientException",
                                            "The security token included in the request is invalid."),
    "signed an hour ago": (lambda body: signed("POST", INVOKE, body, when=datetime.now(timezone.utc)
                                               - timedelta(hours=1)), 403, "InvalidSignatureException", None),
    "signed for another service": (lambda body: signed("POST", INVOKE, body, service="bedrock-runtime"), 403,
                                   "InvalidSignatureException", "Credential should be scoped to correct service: "
                                   "'bedrock'. "),
}


def _timeless(payload: bytes) -> dict:
    """An error body with its clock readings (an expired signature's "now" and "now - 5 min")
    masked: two servers asked a second apart say another time, and nothing else."""
    return {key: re.sub(r"\d{8}T\d{6}Z", "<time>", value) if isinstance(value, str) else value
            for key, value in json.loads(payload).items()}


@pytest.mark.parametrize("case", sorted(REFUSED_FROM_THE_HEAD))
def test_a_refusal_the_head_decides_leaves_the_body_unread(tmp_path, case):
    make_headers, status, code, message = REFUSED_FROM_THE_HEAD[case]
    body = large_body()
    headers = make_headers(body)
    got_status, got_headers, payload, received = serve(strict_app(tmp_path), "POST", INVOKE, headers, body)
    assert (got_status, _error(got_headers)) == (status, code), payload
    assert received == 0
    # The same answer as a development server gives (keys it does not accept unchecked).
    dev_status, dev_headers, dev_payload, _ = serve(strict_app(tmp_path / "whole", strict=False), "POST", INVOKE,
                                                    headers, body)
    # accepted unchecked in development mode (a listed key issued no token: any token it sends)
    if case not in ("unlisted access key", "unlisted api key", "session token for a key issued none"):
        assert (dev_status, _error(dev_headers), _timeless(dev_payload)) == (status, code, _timeless(payload))
    if message is not None:
        assert message in json.loads(payload).values()


def test_a_listed_keys_signature_is_checked_once_the_body_is_read(tmp_path):
    app = strict_app(tmp_path)
    status, _, payload, received = serve(app, "POST", INVOKE, signed("POST", INVOKE, BODY), BODY)
    assert status == 200 and received == len(BODY), payload
    status, headers, payload, received = serve(app, "POST", INVOKE, signed("POST", INVOKE, BODY, secret="wrong"), BODY)
    assert (status, _error(headers), received) == (403, "InvalidSignatureException", len(BODY))
    assert "The String-to-Sign should have been" in json.loads(payload)["message"]
    temporary = signed("POST", INVOKE, BODY, key=TEMPORARY, token=TOKEN)
    assert serve(app, "POST", INVOKE, temporary, BODY)[0] == 200
    # The body is the one signed: another body of the same size is a signature mismatch.
    tampered = BODY.replace(b"Hi", b"Ho")
    status, headers, _, received = serve(app, "POST", INVOKE, signed("POST", INVOKE, BODY), tampered)
    assert (status, _error(headers), received) == (403, "InvalidSignatureException", len(tampered))


def test_the_strict_admin_api_refuses_an_unlisted_key_before_the_body(tmp_path):
    app = strict_app(tmp_path)
    path = "/_claude-bedrock/faults"
    body = b'{"kind": "ThrottlingException", "count": 1, "pad": "' + b"p" * LARGE + b'"}'
    status, headers, _, received = serve(app, "POST", path, signed("POST", path, body, key="AKIDUNKNOWN"), body)
    assert (status, _error(headers), received) == (403, "UnrecognizedClientException", 0)
    fault = b'{"kind": "ThrottlingException", "count": 1}'
    status, _, payload, received = serve(app, "POST", path, signed("POST", path, fault, key=ADMIN_KEY), fault)
    assert status in (200, 201) and received == len(fault), payload


def test_the_strict_admin_health_route_leaves_an_anonymous_body_unread(tmp_path):
    """Review: the open health route read (buffered) a 5 MB anonymous body before answering."""
    status, _, payload, received = serve(strict_app(tmp_path), "GET", "/_claude-bedrock/health", [], large_body())
    assert (status, received) == (200, 0), payload


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    config = (f'[[credentials]]\naccess_key_id = "{KEY}"\nsecret_access_key = "{SECRET}"\n'
              'account_id = "111122223333"\n')
    running = start_server(tmp_path_factory.mktemp("early-auth"), "--strict-auth", config=config)
    yield running
    running.stop()


def test_strict_server_answers_an_unlisted_key_without_waiting_for_the_body(strict_server):
    """Over a socket: the head and a first kilobyte of a 5 MB body are sent, and the refusal
    comes back at once (a server that read the body first would wait for the rest)."""
    parsed = urlparse(strict_server.url)
    headers = signed("POST", INVOKE, b"", key="AKIDUNKNOWN")
    head = "".join(f"{name}: {value}\r\n" for name, value in headers if name != "host")
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: localhost\r\n{head}Content-Length: {LARGE}\r\n\r\n".encode()
                     + b"x" * 1024)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert b"x-amzn-errortype: unrecognizedclientexception" in answer.lower()


def test_boto3_sending_a_large_body_gets_the_refusal_not_a_reset(strict_server):
    """The refused body is left unread; uvicorn drops what the client still sends, so boto3
    receives the AWS error (twice: the kept-alive connection stays usable)."""
    client = boto3.client("bedrock-runtime", endpoint_url=strict_server.url, region_name="us-west-2",
                          aws_access_key_id="AKIDUNKNOWN", aws_secret_access_key="x",
                          config=Config(retries={"max_attempts": 1}))
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            client.invoke_model(modelId=MODEL_ID, body=large_body())
        error = caught.value.response["Error"]
        assert (error["Code"], error["Message"]) == ("UnrecognizedClientException",
                                                     "The security token included in the request is invalid.")
    listed = boto3.client("bedrock-runtime", endpoint_url=strict_server.url, region_name="us-west-2",
                          aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    assert listed.invoke_model(modelId=MODEL_ID, body=BODY)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_the_anthropic_sdk_sending_a_large_body_gets_the_refusal(strict_server):
    import anthropic

    client = anthropic.AnthropicBedrock(aws_access_key="AKIDUNKNOWN", aws_secret_key="x", aws_region="us-west-2",
                                        base_url=strict_server.url, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        client.messages.create(model=MODEL_ID, max_tokens=5, messages=[{"role": "user", "content": "x" * LARGE}])
    assert caught.value.body == {"message": "The security token included in the request is invalid."}


def test_a_session_token_outside_ascii_sent_as_utf8_is_still_accepted(tmp_path):
    """The token is now checked before the signature: a header value outside ASCII is read as
    the UTF-8 bytes boto3 sends, as the signature check reads it."""
    token = "jeton-d\u00e9j\u00e0-\u00e9mis"
    app = create_app(Settings(data_dir=str(tmp_path), strict_auth=True, credentials=(
        Credential(TEMPORARY, SECRET, account_id="111122223333", session_tokens=(token,)),)))
    headers = signed("POST", INVOKE, BODY, key=TEMPORARY, token=token)
    as_sent = [(name, value.encode("utf-8").decode("latin-1")) for name, value in headers]  # http.client's bytes
    status, _, payload, received = serve(app, "POST", INVOKE, as_sent, BODY)
    assert (status, received) == (200, len(BODY)), payload


def test_a_slow_upload_whose_headers_are_read_as_utf8_is_not_expired(tmp_path):
    """Review: the UTF-8 retry of a signature (boto3 signs non-ASCII header bytes as UTF-8)
    read the clock again once the body had arrived, so an upload of more than five minutes
    was "Signature expired" on that path only; the head's window was checked when it arrived."""
    token = "jeton-d\u00e9j\u00e0-\u00e9mis"
    app = create_app(Settings(data_dir=str(tmp_path), strict_auth=True, credentials=(
        Credential(TEMPORARY, SECRET, account_id="111122223333", session_tokens=(token,)),)))
    reads: list[int] = []

    def clock() -> datetime:  # the head is checked at once; the body arrives ten minutes later
        reads.append(1)
        return datetime.now(timezone.utc) + (timedelta(minutes=10) if len(reads) > 1 else timedelta())

    app.state.authenticator._clock = clock
    headers = [(name, value.encode("utf-8").decode("latin-1"))  # the bytes boto3 sends, read one per character
               for name, value in signed("POST", INVOKE, BODY, key=TEMPORARY, token=token)]
    status, _, payload, _ = serve(app, "POST", INVOKE, headers, BODY)
    assert status == 200, payload
