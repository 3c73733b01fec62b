"""SigV4 against requests captured from real, unmodified clients (vectors/captured-requests).

boto3 / awscli / anthropic-py / @anthropic-ai/bedrock-sdk, fake credentials AKIDEXAMPLE and
the example secret, region us-west-2, endpoint 127.0.0.1:18765 (see that folder's README).
Requests are rebuilt from ``raw_head`` (the bytes as received) and ``body_base64``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from claude_bedrock.wire import sigv4
from claude_bedrock.wire.bearer import BearerToken, describe_bearer

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
ACCESS_KEY = "AKIDEXAMPLE"
REGION = "us-west-2"
SESSION_TOKEN = "FAKESESSIONTOKEN/EXAMPLE+token=="
#: README "Signature check": 29 SigV4-signed requests; plus 2 bearer-key requests.
EXPECTED_SIGNED = 29
EXPECTED_BEARER = 2


@dataclass(frozen=True)
class Captured:
    file: str
    index: int
    req: sigv4.HttpRequest
    authorization: str

    @property
    def id(self) -> str:
        return f"{self.file}#{self.index}"

    @property
    def service(self) -> str:
        return "sts" if "-sts-" in self.file else "bedrock"

    def header(self, name: str) -> str:
        return next(v for n, v in self.req.headers if n.lower() == name)

    @property
    def now(self) -> datetime:
        return datetime.strptime(self.header("x-amz-date"), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _from_raw_head(raw_head: str, body: bytes) -> sigv4.HttpRequest:
    lines = raw_head.encode("latin-1").split(b"\r\n")
    method, target, _version = lines[0].split(b" ")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(b":")
            headers.append((name, value.strip(b" \t")))
    return sigv4.HttpRequest.from_wire(method, target, headers, body)


def load_captured(folder: Path) -> list[Captured]:
    found = []
    for path in sorted(folder.glob("*.json")):
        if path.name == "versions.json":
            continue
        document = json.loads(path.read_text())
        for index, entry in enumerate(document["requests"]):
            body = base64.b64decode(entry["body_base64"] or "")
            req = _from_raw_head(entry["raw_head"], body)
            auth = [v for n, v in req.headers if n.lower() == "authorization"]
            found.append(Captured(path.stem, index, req, auth[0] if auth else ""))
    return found


def _verify(c: Captured, service: str | None = None) -> sigv4.VerifiedRequest:
    auth = sigv4.extract_authorization(c.req)
    assert isinstance(auth, sigv4.SigV4Authorization), c.id
    return sigv4.verify(c.req, auth, SECRET, c.now, expected_service=service or c.service)


@pytest.fixture(scope="module")
def captured(vectors_dir: Path) -> list[Captured]:
    return load_captured(vectors_dir / "captured-requests")


@pytest.fixture(scope="module")
def signed(captured: list[Captured]) -> list[Captured]:
    return [c for c in captured if c.authorization.startswith("AWS4-HMAC-SHA256 ")]


def test_sigv4_captured_counts(captured: list[Captured], signed: list[Captured]) -> None:
    assert len(signed) == EXPECTED_SIGNED
    bearer = [c for c in captured if c.authorization.startswith("Bearer ")]
    assert len(bearer) == EXPECTED_BEARER
    assert len(captured) == EXPECTED_SIGNED + EXPECTED_BEARER


def test_sigv4_captured_every_signed_request_verifies(signed: list[Captured]) -> None:
    failures = []
    for c in signed:
        auth = sigv4.extract_authorization(c.req)
        assert isinstance(auth, sigv4.SigV4Authorization), c.id
        try:
            verified = sigv4.verify(
                c.req, auth, SECRET, c.now, expected_service=c.service, expected_region=REGION
            )
        except sigv4.SignatureError as exc:
            failures.append(f"{c.id}: {type(exc).__name__}: {exc.aws_message()}")
            continue
        assert verified.access_key == ACCESS_KEY
        assert verified.service == c.service
        assert verified.amz_date == c.header("x-amz-date")
    assert not failures, "\n".join(failures)


def test_sigv4_captured_session_tokens_are_returned_signed(signed: list[Captured]) -> None:
    with_token = [c for c in signed if "session_token" in c.file]
    assert len(with_token) == 4  # boto3 invoke_model, awscli sts, anthropic-py, npm
    for c in with_token:
        verified = _verify(c)
        assert verified.security_token == SESSION_TOKEN, c.id
        assert verified.security_token_signed, c.id
    for c in signed:
        if "session_token" not in c.file:
            assert _verify(c).security_token is None, c.id


def test_sigv4_captured_sign_reproduces_client_authorization(signed: list[Captured]) -> None:
    """Our signer, given the client's date, token and SignedHeaders, writes its exact header."""
    for c in signed:
        auth = sigv4.parse_authorization(c.authorization)
        assert isinstance(auth, sigv4.SigV4Authorization)
        tokens = [v for n, v in c.req.headers if n.lower() == "x-amz-security-token"]
        added = dict(
            sigv4.sign(
                c.req,
                ACCESS_KEY,
                SECRET,
                auth.region,
                auth.service,
                c.header("x-amz-date"),
                session_token=tokens[0] if tokens else None,
                signed_headers=auth.signed_headers,
            )
        )
        assert sigv4.parse_authorization(added["Authorization"]) == auth, c.id


@pytest.mark.parametrize(
    ("file", "uri_line"),
    [
        (
            "boto3-invoke_model-model_arn",
            "/model/arn%253Aaws%253Abedrock%253Aus-west-2%253A123456789012%253Ainference-profile"
            "%252Fglobal.anthropic.claude-sonnet-4-5-20250929-v1%253A0/invoke",
        ),
        (
            "anthropic-py-messages_create-model_arn",
            "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile"
            "%252Fglobal.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
        ),
        (
            "anthropic-npm-messages_create",
            "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
        ),
        (
            "boto3-invoke_model",
            "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%253A0/invoke",
        ),
    ],
)
def test_sigv4_captured_canonical_uri_is_wire_path_encoded_once(
    signed: list[Captured], file: str, uri_line: str
) -> None:
    c = next(c for c in signed if c.file == file)
    assert _verify(c, "bedrock").canonical_request.split("\n")[1] == uri_line


def test_sigv4_captured_query_is_canonicalised(signed: list[Captured]) -> None:
    c = next(c for c in signed if c.file == "boto3-list_foundation_models")
    lines = _verify(c, "bedrock").canonical_request.split("\n")
    assert lines[:3] == ["GET", "/foundation-models", "byProvider=anthropic"]


def test_sigv4_captured_npm_payload_hash_comes_from_header(signed: list[Captured]) -> None:
    npm = [c for c in signed if c.file.startswith("anthropic-npm-")]
    assert npm
    for c in npm:
        verified = _verify(c, "bedrock")
        assert verified.payload_hash == c.header("x-amz-content-sha256")
        assert "x-amz-content-sha256" in verified.signed_headers


def test_sigv4_captured_bearer_requests_parse_as_bearer_token(captured: list[Captured]) -> None:
    bearer = [c for c in captured if c.authorization.startswith("Bearer ")]
    for c in bearer:
        assert sigv4.extract_authorization(c.req) == BearerToken("FAKE-BEDROCK-API-KEY")
        assert not any(n.lower() == "x-amz-date" for n, _ in c.req.headers)
        assert describe_bearer("FAKE-BEDROCK-API-KEY") is None
