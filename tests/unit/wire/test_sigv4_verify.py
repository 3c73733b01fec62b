"""SigV4 verification failures, time window, presigned form, botocore parity, bearer keys.

The tamper matrix takes captured client requests (vectors/captured-requests) that verify, and
changes one thing at a time; each change must fail with the right typed reason.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_bedrock.wire import sigv4
from claude_bedrock.wire.bearer import (
    BearerToken,
    LongTermApiKey,
    MalformedBearer,
    ShortTermApiKey,
    describe_bearer,
    parse_bearer,
)
from claude_bedrock.wire.sigv4 import HttpRequest, Reason

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "us-west-2"
HOST = "127.0.0.1:18765"
AMZ_DATE = "20150830T123600Z"
NOW = datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _moment(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _header(req: HttpRequest, name: str) -> str | None:
    return next((v for n, v in req.headers if n.lower() == name), None)


def _set_header(req: HttpRequest, name: str, value: str) -> HttpRequest:
    headers = tuple((n, value if n.lower() == name else v) for n, v in req.headers)
    return dataclasses.replace(req, headers=headers)


def _drop_header(req: HttpRequest, name: str) -> HttpRequest:
    return dataclasses.replace(req, headers=tuple(h for h in req.headers if h[0].lower() != name))


def _signed(req: HttpRequest, amz_date: str = AMZ_DATE, **kwargs: Any) -> HttpRequest:
    added = sigv4.sign(req, AKID, SECRET, REGION, "bedrock", amz_date, **kwargs)
    return sigv4.with_headers(req, added)


def _auth(req: HttpRequest) -> sigv4.SigV4Authorization:
    auth = sigv4.extract_authorization(req)
    assert isinstance(auth, sigv4.SigV4Authorization)
    return auth


def _invoke_request(body: bytes = b'{"max_tokens":1}') -> HttpRequest:
    return HttpRequest(
        "POST",
        "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
        "",
        (("Host", HOST), ("Content-Type", "application/json"), ("User-Agent", "test")),
        body,
    )


# --------------------------------------------------------------------------- captured + tamper


@dataclasses.dataclass(frozen=True)
class Captured:
    file: str
    req: HttpRequest
    auth: sigv4.SigV4Authorization

    @property
    def now(self) -> datetime:
        return _moment(_header(self.req, "x-amz-date") or "")

    @property
    def service(self) -> str:
        return "sts" if "-sts-" in self.file else "bedrock"


TAMPER_FILES = (
    "boto3-invoke_model",
    "boto3-invoke_model-session_token",
    "boto3-list_foundation_models",
    "boto3-sts-get_caller_identity",
    "awscli-bedrock-runtime-invoke-model",
    "anthropic-py-messages_create",
    "anthropic-py-messages_create-model_arn",
    "anthropic-npm-messages_create",
    "anthropic-npm-messages_create-session_token",
)


@pytest.fixture(scope="module", params=TAMPER_FILES)
def captured(request: pytest.FixtureRequest, vectors_dir: Path) -> Captured:
    document = json.loads((vectors_dir / "captured-requests" / f"{request.param}.json").read_text())
    entry = document["requests"][0]
    req = HttpRequest.from_wire(
        entry["method"],
        entry["path"],
        [tuple(h) for h in entry["headers"]],
        base64.b64decode(entry["body_base64"] or ""),
    )
    return Captured(request.param, req, _auth(req))


def test_sigv4_verify_untampered_captured_request_passes(captured: Captured) -> None:
    verified = sigv4.verify(
        captured.req, captured.auth, SECRET, captured.now,
        expected_service=captured.service, expected_region=REGION,
    )  # fmt: skip
    assert verified.signed_headers == captured.auth.signed_headers


def test_sigv4_verify_with_a_prebuilt_header_index_is_the_same_check(captured: Captured) -> None:
    """A server hands verify() the header index its request object built (``header_index``):
    the result, and a tampered header's failure, are those of verify()'s own index."""
    from claude_bedrock.service.http import Request

    server_request = Request(captured.req.method, captured.req.raw_path, captured.req.raw_query,
                             [(name.lower(), value) for name, value in captured.req.headers], captured.req.body)
    kwargs = {"expected_service": captured.service, "expected_region": REGION}
    own = sigv4.verify(captured.req, captured.auth, SECRET, captured.now, **kwargs)
    given_index = sigv4.verify(server_request, captured.auth, SECRET, captured.now,
                               header_index=server_request.header_lists, **kwargs)
    assert given_index == own
    tampered = {**server_request.header_lists, "x-amz-date": ["20991231T000000Z"]}
    with pytest.raises(sigv4.SignatureError):
        sigv4.verify(server_request, captured.auth, SECRET, captured.now, header_index=tampered, **kwargs)


def test_sigv4_verify_head_reads_no_body_and_the_two_steps_are_verify(captured: Captured) -> None:
    """A server checks the head before it reads the body (``verify_head``), the signature
    after (``verify_signature``): together, what verify() checks and finds."""

    class HeadOnly:
        method, raw_path, raw_query, headers = (captured.req.method, captured.req.raw_path,
                                                captured.req.raw_query, captured.req.headers)

        @property
        def body(self) -> bytes:
            raise AssertionError("verify_head read the body")

    kwargs = {"expected_service": captured.service, "expected_region": REGION}
    head = sigv4.verify_head(HeadOnly(), captured.auth, captured.now, **kwargs)
    verified = sigv4.verify(captured.req, captured.auth, SECRET, captured.now, **kwargs)
    matched = sigv4.verify_signature(captured.req, captured.auth, head, SECRET)
    assert matched == (verified.payload_hash, verified.canonical_request, verified.string_to_sign)
    assert (head.amz_date, head.security_token) == (verified.amz_date, verified.security_token)
    if captured.req.body:
        other = HttpRequest(captured.req.method, captured.req.raw_path, captured.req.raw_query,
                            captured.req.headers, captured.req.body + b" ")
        with pytest.raises((sigv4.SignatureMismatch, sigv4.PayloadHashMismatch)):
            sigv4.verify_signature(other, captured.auth, head, SECRET)


def _tamper_body(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    body = bytearray(c.req.body or b"x")
    if c.req.body:
        body[len(body) // 2] ^= 0x01
    return dataclasses.replace(c.req, body=bytes(body)), c.auth, c.now


def _tamper_signed_header(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    skip = {"host", "x-amz-date", "x-amz-content-sha256"}
    name = next((n for n in c.auth.signed_headers if n not in skip), "host")
    return _set_header(c.req, name, (_header(c.req, name) or "") + "x"), c.auth, c.now


def _tamper_date_second(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    later = _stamp(c.now + timedelta(seconds=1))
    return _set_header(c.req, "x-amz-date", later), c.auth, c.now


def _tamper_date_day(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    tomorrow = c.now + timedelta(days=1)
    return _set_header(c.req, "x-amz-date", _stamp(tomorrow)), c.auth, tomorrow


def _tamper_path(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    path = c.req.raw_path
    changed = path[:-1] + ("X" if path[-1] != "X" else "Y") if path != "/" else "/x"
    return dataclasses.replace(c.req, raw_path=changed), c.auth, c.now


def _tamper_path_encoding(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    """Same decoded path, different wire bytes: must not verify (we never decode first)."""
    path = c.req.raw_path
    if "%3A" in path:
        changed = path.replace("%3A", ":")
    elif ":" in path:
        changed = path.replace(":", "%3A")
    else:
        changed = path + "%2F" if path == "/" else path.replace("/", "/%2E/", 1)
    return dataclasses.replace(c.req, raw_path=changed), c.auth, c.now


def _tamper_query(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    query = c.req.raw_query + "&x=1" if c.req.raw_query else "x=1"
    return dataclasses.replace(c.req, raw_query=query), c.auth, c.now


def _tamper_region(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    return c.req, dataclasses.replace(c.auth, region="us-east-1"), c.now


def _tamper_service(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    other = "bedrock" if c.auth.service == "sts" else "sts"
    return c.req, dataclasses.replace(c.auth, service=other), c.now


def _tamper_signature(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    sig = c.auth.signature
    flipped = ("1" if sig[0] == "0" else "0") + sig[1:]
    return c.req, dataclasses.replace(c.auth, signature=flipped), c.now


def _tamper_signed_list(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    names = tuple(n for n in c.auth.signed_headers if n != "x-amz-date")
    return c.req, dataclasses.replace(c.auth, signed_headers=names), c.now


def _remove_signed_header(c: Captured) -> tuple[HttpRequest, sigv4.SigV4Authorization, datetime]:
    name = next((n for n in c.auth.signed_headers if n not in {"host", "x-amz-date"}), "host")
    return _drop_header(c.req, name), c.auth, c.now


Tamper = Callable[[Captured], tuple[HttpRequest, sigv4.SigV4Authorization, datetime]]
#: tamper -> (error, reason); the body case differs when x-amz-content-sha256 is sent (npm).
TAMPERS: dict[str, tuple[Tamper, type[sigv4.SignatureError], Reason]] = {
    "body-byte": (_tamper_body, sigv4.SignatureMismatch, Reason.SIGNATURE_MISMATCH),
    "signed-header-value": (
        _tamper_signed_header,
        sigv4.SignatureMismatch,
        Reason.SIGNATURE_MISMATCH,
    ),
    "x-amz-date-second": (_tamper_date_second, sigv4.SignatureMismatch, Reason.SIGNATURE_MISMATCH),
    "x-amz-date-day": (_tamper_date_day, sigv4.CredentialScopeMismatch, Reason.SCOPE_DATE_MISMATCH),
    "path": (_tamper_path, sigv4.SignatureMismatch, Reason.SIGNATURE_MISMATCH),
    "path-encoding": (_tamper_path_encoding, sigv4.SignatureMismatch, Reason.SIGNATURE_MISMATCH),
    "query": (_tamper_query, sigv4.SignatureMismatch, Reason.SIGNATURE_MISMATCH),
    "region": (_tamper_region, sigv4.CredentialScopeMismatch, Reason.SCOPE_REGION_MISMATCH),
    "service": (_tamper_service, sigv4.CredentialScopeMismatch, Reason.SCOPE_SERVICE_MISMATCH),
    "signature": (_tamper_signature, sigv4.SignatureMismatch, Reason.SIGNATURE_MISMATCH),
    "signed-headers-list": (
        _tamper_signed_list,
        sigv4.SignatureMismatch,
        Reason.SIGNATURE_MISMATCH,
    ),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_sigv4_verify_tamper_fails_with_reason(captured: Captured, tamper: str) -> None:
    change, error, reason = TAMPERS[tamper]
    if tamper == "body-byte" and _header(captured.req, "x-amz-content-sha256"):
        error, reason = sigv4.PayloadHashMismatch, Reason.PAYLOAD_HASH_MISMATCH
    req, auth, now = change(captured)
    with pytest.raises(error) as info:
        sigv4.verify(
            req, auth, SECRET, now, expected_service=captured.service, expected_region=REGION
        )
    assert info.value.reason is reason
    if isinstance(info.value, sigv4.SignatureMismatch):
        assert info.value.aws_code == "InvalidSignatureException"


@pytest.mark.parametrize("tamper", ["region", "service"])
def test_sigv4_verify_scope_without_expectation_is_signature_mismatch(
    captured: Captured, tamper: str
) -> None:
    req, auth, now = TAMPERS[tamper][0](captured)
    with pytest.raises(sigv4.SignatureMismatch):
        sigv4.verify(req, auth, SECRET, now, expected_service=None)


def test_sigv4_verify_wrong_secret_is_mismatch(captured: Captured) -> None:
    with pytest.raises(sigv4.SignatureMismatch) as info:
        sigv4.verify(
            captured.req, captured.auth, SECRET[:-1] + "X", captured.now,
            expected_service=captured.service,
        )  # fmt: skip
    # what we computed is still the client's canonical request (only the key differs)
    assert info.value.canonical_request.startswith(captured.req.method + "\n")


def test_sigv4_verify_removed_signed_header_is_reported(captured: Captured) -> None:
    req, auth, now = _remove_signed_header(captured)
    with pytest.raises(sigv4.SignedHeaderMissing) as info:
        sigv4.verify(req, auth, SECRET, now, expected_service=captured.service)
    assert info.value.header in auth.signed_headers
    assert _header(req, info.value.header) is None


def test_sigv4_verify_unsigned_header_change_is_accepted(captured: Captured) -> None:
    req = sigv4.with_headers(captured.req, [("user-agent", "rewritten"), ("x-unsigned", "1")])
    assert "user-agent" not in captured.auth.signed_headers
    sigv4.verify(req, captured.auth, SECRET, captured.now, expected_service=captured.service)


def test_sigv4_verify_mismatch_message_is_aws_text() -> None:
    req = _signed(_invoke_request())
    tampered = dataclasses.replace(req, body=b"{}")
    with pytest.raises(sigv4.SignatureMismatch) as info:
        sigv4.verify(tampered, _auth(req), SECRET, NOW, expected_service="bedrock")
    creq = (
        "POST\n/model/global.anthropic.claude-sonnet-4-5-20250929-v1%253A0/invoke\n\n"
        f"content-type:application/json\nhost:{HOST}\nx-amz-date:{AMZ_DATE}\n\n"
        f"content-type;host;x-amz-date\n{hashlib.sha256(b'{}').hexdigest()}"
    )
    sts = (
        f"AWS4-HMAC-SHA256\n{AMZ_DATE}\n20150830/{REGION}/bedrock/aws4_request\n"
        f"{hashlib.sha256(creq.encode()).hexdigest()}"
    )
    assert info.value.canonical_request == creq
    assert info.value.string_to_sign == sts
    assert info.value.aws_message() == (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details.\n\nThe Canonical String for this request should have "
        f"been\n'{creq}'\n\nThe String-to-Sign should have been\n'{sts}'\n"
    )


# --------------------------------------------------------------------------- scope messages


def test_sigv4_verify_scope_messages() -> None:
    req = _signed(_invoke_request())
    auth = _auth(req)
    cases = [
        (dict(expected_service="sts"), "Credential should be scoped to correct service: 'sts'. "),
        (
            dict(expected_service=("bedrock",), expected_region="eu-west-1"),
            f"Credential should be scoped to a valid region, not '{REGION}'. ",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(sigv4.CredentialScopeMismatch) as info:
            sigv4.verify(req, auth, SECRET, NOW, **kwargs)  # type: ignore[arg-type]
        assert info.value.aws_message() == message
    day_before = dataclasses.replace(auth, date="20150829")
    with pytest.raises(sigv4.CredentialScopeMismatch) as info:
        sigv4.verify(req, day_before, SECRET, NOW, expected_service="bedrock")
    assert (info.value.expected, info.value.actual) == ("20150830", "20150829")


def test_sigv4_verify_accepts_any_of_several_services() -> None:
    req = _signed(_invoke_request())
    sigv4.verify(req, _auth(req), SECRET, NOW, expected_service=["sts", "bedrock"])


# --------------------------------------------------------------------------- skew window


@pytest.mark.parametrize(
    ("offset", "error"),
    [
        (timedelta(minutes=4, seconds=59), None),
        (timedelta(minutes=5), None),
        (timedelta(minutes=5, seconds=1), sigv4.SignatureExpired),
        (-timedelta(minutes=4, seconds=59), None),
        (-timedelta(minutes=5), None),
        (-timedelta(minutes=5, seconds=1), sigv4.SignatureNotYetCurrent),
    ],
)
def test_sigv4_verify_skew_window(offset: timedelta, error: type[Exception] | None) -> None:
    req = _signed(_invoke_request())
    if error is None:
        verified = sigv4.verify(req, _auth(req), SECRET, NOW + offset, expected_service="bedrock")
        assert verified.request_time == NOW
    else:
        with pytest.raises(error):
            sigv4.verify(req, _auth(req), SECRET, NOW + offset, expected_service="bedrock")


def test_sigv4_verify_expired_message_is_aws_text() -> None:
    """Doc 6.3, verbatim from a real Bedrock 403."""
    req = _signed(_invoke_request(), "20250130T203827Z")
    with pytest.raises(sigv4.SignatureExpired) as info:
        sigv4.verify(
            req, _auth(req), SECRET, _moment("20250130T204631Z"), expected_service="bedrock"
        )
    assert info.value.reason is Reason.SIGNATURE_EXPIRED
    assert info.value.aws_message() == (
        "Signature expired: 20250130T203827Z is now earlier than 20250130T204131Z "
        "(20250130T204631Z - 5 min.)"
    )


def test_sigv4_verify_not_yet_current_message_is_aws_text() -> None:
    req = _signed(_invoke_request(), "20250130T204631Z")
    with pytest.raises(sigv4.SignatureNotYetCurrent) as info:
        sigv4.verify(
            req, _auth(req), SECRET, _moment("20250130T203827Z"), expected_service="bedrock"
        )
    assert info.value.aws_message() == (
        "Signature not yet current: 20250130T204631Z is still later than 20250130T204327Z "
        "(20250130T203827Z + 5 min.)"
    )


def test_sigv4_verify_custom_skew_and_naive_now() -> None:
    req = _signed(_invoke_request())
    naive = NOW.replace(tzinfo=None) + timedelta(seconds=61)
    with pytest.raises(sigv4.SignatureExpired) as info:
        sigv4.verify(
            req, _auth(req), SECRET, naive, expected_service="bedrock", skew=timedelta(minutes=1)
        )
    assert info.value.aws_message().endswith("(20150830T123701Z - 1 min.)")


# --------------------------------------------------------------------------- dates, payload, host


def test_sigv4_verify_missing_and_malformed_date() -> None:
    req = _signed(_invoke_request())
    auth = _auth(req)
    with pytest.raises(sigv4.MissingDate) as missing:
        sigv4.verify(
            _drop_header(req, "x-amz-date"),
            dataclasses.replace(auth, signed_headers=("host",)),
            SECRET,
            NOW,
            expected_service="bedrock",
        )
    assert missing.value.aws_code == "IncompleteSignatureException"
    assert missing.value.aws_message().startswith(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
    )
    for bad in ("2015-08-30T12:36:00Z", "20150830T123600", "20151330T123600Z"):
        with pytest.raises(sigv4.MalformedDate) as malformed:
            sigv4.verify(
                _set_header(req, "x-amz-date", bad), auth, SECRET, NOW, expected_service="bedrock"
            )
        assert malformed.value.reason is Reason.MALFORMED_DATE
        assert f"Got '{bad}'" in malformed.value.aws_message()


def test_sigv4_verify_date_header_when_no_x_amz_date() -> None:
    """botocore signs ``Date`` (RFC 2822 text) instead of X-Amz-Date when one is present."""
    url = "https://bedrock-runtime.us-west-2.amazonaws.com/model/m%3A0/invoke"
    aws = AWSRequest(
        method="POST",
        url=url,
        data=b"{}",
        headers={"Date": "x", "Content-Type": "application/json"},
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        SigV4Auth(Credentials(AKID, SECRET), "bedrock", REGION).add_auth(aws)
    assert "X-Amz-Date" not in aws.headers
    headers = [("Host", "bedrock-runtime.us-west-2.amazonaws.com"), *aws.headers.items()]
    req = HttpRequest("POST", "/model/m%3A0/invoke", "", headers, b"{}")
    verified = sigv4.verify(req, _auth(req), SECRET, NOW, expected_service="bedrock")
    assert verified.amz_date == AMZ_DATE
    assert "date" in verified.signed_headers
    # an X-Amz-Date, when present, wins over Date
    with_amz = sigv4.with_headers(req, [("X-Amz-Date", "20150830T123601Z")])
    with pytest.raises(sigv4.SignatureMismatch):
        sigv4.verify(with_amz, _auth(req), SECRET, NOW, expected_service="bedrock")


def test_sigv4_verify_content_sha256_must_match_body() -> None:
    req = _signed(_invoke_request(), add_content_sha256=True)
    verified = sigv4.verify(req, _auth(req), SECRET, NOW, expected_service="bedrock")
    assert verified.payload_hash == hashlib.sha256(req.body).hexdigest()
    assert "x-amz-content-sha256" in verified.signed_headers
    with pytest.raises(sigv4.PayloadHashMismatch) as info:
        sigv4.verify(
            dataclasses.replace(req, body=b"other"),
            _auth(req),
            SECRET,
            NOW,
            expected_service="bedrock",
        )
    assert info.value.aws_message() == (
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )


def test_sigv4_verify_refuses_unsigned_payload_on_header_auth() -> None:
    unsigned = sigv4.with_headers(_invoke_request(), [("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")])
    req = _signed(unsigned)
    with pytest.raises(sigv4.PayloadHashMismatch) as info:
        sigv4.verify(req, _auth(req), SECRET, NOW, expected_service="bedrock")
    assert info.value.reason is Reason.UNSIGNED_PAYLOAD_REFUSED


def test_sigv4_verify_host_must_be_signed() -> None:
    req = _signed(_invoke_request(), signed_headers=["x-amz-date"])
    with pytest.raises(sigv4.HostNotSigned) as info:
        sigv4.verify(req, _auth(req), SECRET, NOW, expected_service="bedrock")
    assert info.value.aws_message() == (
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    )
    assert info.value.aws_code == "IncompleteSignatureException"


def test_sigv4_verify_returns_session_token() -> None:
    req = _signed(_invoke_request(), session_token="TOKEN/+=")
    verified = sigv4.verify(req, _auth(req), SECRET, NOW, expected_service="bedrock")
    assert (verified.security_token, verified.security_token_signed) == ("TOKEN/+=", True)
    with pytest.raises(sigv4.SignatureMismatch):
        sigv4.verify(
            _set_header(req, "x-amz-security-token", "OTHER"),
            _auth(req),
            SECRET,
            NOW,
            expected_service="bedrock",
        )


def test_sigv4_from_wire_keeps_non_utf8_bytes() -> None:
    raw = HttpRequest.from_wire(
        b"POST",
        b"/model/m\xff%3A0/invoke?q=%C3%A9\xe9",
        [(b"Host", HOST.encode()), (b"X-Amz-Meta-L", b"caf\xe9")],
    )
    assert (raw.raw_path, raw.raw_query) == ("/model/m\udcff%3A0/invoke", "q=%C3%A9\udce9")
    req = _signed(raw)
    verified = sigv4.verify(req, _auth(req), SECRET, NOW, expected_service="bedrock")
    assert verified.canonical_request.split("\n")[1:3] == [
        "/model/m%FF%253A0/invoke",
        "q=%C3%A9%E9",
    ]
    assert "x-amz-meta-l:caf\udce9" in verified.canonical_request  # hashed back as byte 0xE9
    changed = _set_header(req, "x-amz-meta-l", "caf\u00e9")  # same text, UTF-8 bytes instead
    with pytest.raises(sigv4.SignatureMismatch):
        sigv4.verify(changed, _auth(req), SECRET, NOW, expected_service="bedrock")


def test_sigv4_verify_signing_key_cache() -> None:
    cache = sigv4.SigningKeyCache(maxsize=4)
    req = _signed(_invoke_request(), key_cache=cache)
    for _ in range(3):
        sigv4.verify(req, _auth(req), SECRET, NOW, expected_service="bedrock", key_cache=cache)
    assert cache.get.cache_info().misses == 1  # derived once, for signing and three checks
    assert cache.signer(SECRET, *_auth(req).scope.split("/")[:3]) is cache.signer(
        SECRET, *_auth(req).scope.split("/")[:3])
    assert cache.get(SECRET, "20150830", "us-east-1", "iam").hex() == (
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"  # AWS docs example
    )


# --------------------------------------------------------------------------- malformed headers


VALID = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "a" * 64
)


@pytest.mark.parametrize(
    ("value", "reason", "fragment"),
    [
        ("", Reason.UNSUPPORTED_ALGORITHM, "Unsupported Authorization scheme"),
        ("AWS AKIDEXAMPLE:c2lnbmF0dXJl", Reason.UNSUPPORTED_ALGORITHM, "'AWS'"),
        (
            VALID.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
            Reason.UNSUPPORTED_ALGORITHM,
            "ECDSA",
        ),
        (
            "AWS4-HMAC-SHA256",
            Reason.MALFORMED_AUTHORIZATION,
            "requires 'Credential' parameter. Authorization header requires 'SignedHeaders'",
        ),
        (
            VALID.split(", Signature=")[0],
            Reason.MALFORMED_AUTHORIZATION,
            "Authorization header requires 'Signature' parameter. Authorization=AWS4",
        ),
        (
            VALID + ", Signature=" + "b" * 64,
            Reason.MALFORMED_AUTHORIZATION,
            "Invalid key=value pair",
        ),
        (
            VALID.replace("Credential=", "Credential "),
            Reason.MALFORMED_AUTHORIZATION,
            "Invalid key=value pair",
        ),
        (
            VALID.replace("/service/", "/"),
            Reason.MALFORMED_AUTHORIZATION,
            "Credential must have the form",
        ),
        (
            VALID.replace("aws4_request", "aws5_request"),
            Reason.MALFORMED_AUTHORIZATION,
            "valid terminator: 'aws4_request', not 'aws5_request'",
        ),
        (VALID.replace("20150830", "2015-8-30"), Reason.MALFORMED_AUTHORIZATION, "scope date"),
        (
            VALID.replace("host;x-amz-date", "Host;x-amz-date"),
            Reason.MALFORMED_AUTHORIZATION,
            "lowercase",
        ),
        (VALID.replace("host;x-amz-date", ""), Reason.MALFORMED_AUTHORIZATION, "SignedHeaders"),
        (
            VALID.replace("host;x-amz-date", "host;;x-amz-date"),
            Reason.MALFORMED_AUTHORIZATION,
            "SignedHeaders",
        ),
        (VALID.replace("host;x-amz-date", "host;host"), Reason.MALFORMED_AUTHORIZATION, "twice"),
        (VALID.replace("a" * 64, "A" * 64), Reason.MALFORMED_AUTHORIZATION, "64 lowercase"),
        (VALID.replace("a" * 64, "a" * 63), Reason.MALFORMED_AUTHORIZATION, "64 lowercase"),
        ("Bearer", Reason.MALFORMED_AUTHORIZATION, "no token"),
        ("Bearer two words", Reason.MALFORMED_AUTHORIZATION, "b64token"),
    ],
)
def test_sigv4_parse_authorization_malformed(value: str, reason: Reason, fragment: str) -> None:
    with pytest.raises(sigv4.MalformedAuthorization) as info:
        sigv4.parse_authorization(value)
    assert info.value.reason is reason
    assert info.value.aws_code == "IncompleteSignatureException"
    assert fragment in info.value.aws_message()


def test_sigv4_parse_authorization_layouts() -> None:
    compact = VALID.replace(", ", ",")
    reordered = (
        "AWS4-HMAC-SHA256 Signature={}, SignedHeaders=host;x-amz-date, Credential={}".format(
            "a" * 64, "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
        )
    )
    expected = sigv4.SigV4Authorization(
        "AKIDEXAMPLE", "20150830", "us-east-1", "service", ("host", "x-amz-date"), "a" * 64
    )
    for value in (VALID, compact, reordered, f"  {VALID}  "):
        assert sigv4.parse_authorization(value) == expected
    assert expected.to_header() == VALID
    assert sigv4.parse_authorization("bearer tok") == BearerToken("tok")


def test_sigv4_extract_authorization_rules() -> None:
    req = _signed(_invoke_request())
    assert sigv4.extract_authorization(_drop_header(req, "authorization")) is None
    twice = dataclasses.replace(req, headers=(*req.headers, ("authorization", "Bearer x")))
    with pytest.raises(sigv4.MalformedAuthorization):
        sigv4.extract_authorization(twice)
    both = dataclasses.replace(req, raw_query="X-Amz-Algorithm=AWS4-HMAC-SHA256")
    with pytest.raises(sigv4.MalformedAuthorization, match="Only one auth mechanism"):
        sigv4.extract_authorization(both)


# --------------------------------------------------------------------------- presigned


def _presign_base() -> HttpRequest:
    return HttpRequest("GET", "/foundation-models", "byProvider=anthropic", (("Host", HOST),), b"")


def _presigned(expires: int = 300, **kwargs: Any) -> HttpRequest:
    base = _presign_base()
    query = sigv4.presign(base, AKID, SECRET, REGION, "bedrock", AMZ_DATE, expires, **kwargs)
    return dataclasses.replace(base, raw_query=query)


def _verify_presigned(req: HttpRequest, now: datetime = NOW) -> sigv4.VerifiedRequest:
    auth = sigv4.extract_authorization(req)
    assert isinstance(auth, sigv4.PresignedAuthorization)
    return sigv4.verify(req, auth, SECRET, now, expected_service="bedrock", expected_region=REGION)


def test_sigv4_presigned_round_trip() -> None:
    req = _presigned(session_token="TOK/EN==")
    verified = _verify_presigned(req)
    assert verified.presigned
    assert (verified.security_token, verified.security_token_signed) == ("TOK/EN==", True)
    assert "X-Amz-Signature" not in verified.canonical_request
    assert verified.canonical_request.split("\n")[2].startswith("X-Amz-Algorithm=AWS4-HMAC-SHA256&")


def test_sigv4_presigned_expiry() -> None:
    req = _presigned(expires=60)
    _verify_presigned(req, NOW + timedelta(seconds=60))
    with pytest.raises(sigv4.SignatureExpired) as info:
        _verify_presigned(req, NOW + timedelta(seconds=61))
    assert info.value.reason is Reason.PRESIGNED_URL_EXPIRED
    assert info.value.aws_message() == (
        f"Signature expired: {AMZ_DATE} is now earlier than 20150830T123601Z "
        "(20150830T123701Z - 1 min.)"
    )
    with pytest.raises(sigv4.SignatureNotYetCurrent):
        _verify_presigned(req, NOW - timedelta(minutes=5, seconds=1))
    long_lived = _presigned(expires=3600)
    _verify_presigned(long_lived, NOW + timedelta(minutes=59))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("X-Amz-Expires=300", "X-Amz-Expires=900"),
        ("byProvider=anthropic", "byProvider=meta"),
        ("us-west-2", "us-east-1"),
    ],
)
def test_sigv4_presigned_tamper_fails(old: str, new: str) -> None:
    req = _presigned()
    tampered = dataclasses.replace(req, raw_query=req.raw_query.replace(old, new))
    with pytest.raises((sigv4.SignatureMismatch, sigv4.CredentialScopeMismatch)):
        _verify_presigned(tampered)


def test_sigv4_presigned_unsigned_payload_accepted() -> None:
    base = dataclasses.replace(_presign_base(), method="PUT", body=b"payload")
    query = sigv4.presign(
        base, AKID, SECRET, REGION, "bedrock", AMZ_DATE, 60, unsigned_payload=True
    )
    verified = _verify_presigned(dataclasses.replace(base, raw_query=query))
    assert verified.payload_hash == "UNSIGNED-PAYLOAD"


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("X-Amz-Algorithm=AWS4-HMAC-SHA256", "requires the X-Amz-Algorithm"),
        ("X-Amz-Date=1&X-Amz-Date=2", "more than once"),
    ],
)
def test_sigv4_parse_presigned_malformed(query: str, fragment: str) -> None:
    with pytest.raises(sigv4.MalformedAuthorization, match=fragment):
        sigv4.parse_presigned(query)


def test_sigv4_parse_presigned_refuses_another_algorithm() -> None:
    query = _presigned().raw_query.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1")
    with pytest.raises(sigv4.MalformedAuthorization, match="only supports 'AWS4-HMAC-SHA256'") as info:
        sigv4.parse_presigned(query)
    assert info.value.reason is Reason.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize("expires", [0, -1, sigv4.MAX_PRESIGN_EXPIRES_S + 1])
def test_sigv4_presign_refuses_expires_outside_one_week(expires: int) -> None:
    with pytest.raises(ValueError, match="expires"):
        sigv4.presign(_presign_base(), AKID, SECRET, REGION, "bedrock", AMZ_DATE, expires)
    sigv4.presign(_presign_base(), AKID, SECRET, REGION, "bedrock", AMZ_DATE, sigv4.MAX_PRESIGN_EXPIRES_S)


def test_sigv4_presigned_expiry_message_names_seconds_that_are_not_whole_minutes() -> None:
    req = _presigned(expires=90)
    with pytest.raises(sigv4.SignatureExpired) as info:
        _verify_presigned(req, NOW + timedelta(seconds=91))
    assert info.value.aws_message().endswith("(20150830T123731Z - 90 sec.)")


def test_sigv4_canonical_query_drops_the_signature_only_when_presigned() -> None:
    """X-Amz-Signature is no part of a presigned URL's canonical query; any other request
    signs every parameter it sends, one of that name included."""
    query = "b=2&X-Amz-Signature=abc&a=1"
    assert sigv4.canonical_query(query, presigned=True) == "a=1&b=2"
    assert sigv4.canonical_query(query) == "X-Amz-Signature=abc&a=1&b=2"


@pytest.mark.parametrize("expires", ["0", "604801", "-1", "ten", pytest.param("1" * 5000, id="5000 digits")])
def test_sigv4_parse_presigned_expires_bounds(expires: str) -> None:
    query = _presigned().raw_query.replace("X-Amz-Expires=300", f"X-Amz-Expires={expires}")
    with pytest.raises(sigv4.MalformedAuthorization, match="X-Amz-Expires"):
        sigv4.parse_presigned(query)


def test_sigv4_parse_presigned_absent_is_none() -> None:
    assert sigv4.parse_presigned("") is None
    assert sigv4.parse_presigned("byProvider=anthropic&X-Amz-Foo=1") is None


def test_sigv4_presign_matches_botocore_query_auth() -> None:
    base = _presign_base()
    aws = AWSRequest(
        method="GET",
        url=f"http://{HOST}/foundation-models?byProvider=anthropic",
        headers={"Host": HOST},
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        SigV4QueryAuth(
            Credentials(AKID, SECRET, "TOK/EN=="), "bedrock", REGION, expires=900
        ).add_auth(aws)
    ours = sigv4.presign(
        base, AKID, SECRET, REGION, "bedrock", AMZ_DATE, 900, session_token="TOK/EN=="
    )
    assert aws.url.split("?", 1)[1] == ours


# --------------------------------------------------------------------------- botocore parity


BOTOCORE_NEVER_SIGNED = {
    "expect", "user-agent", "x-amzn-trace-id", "connection", "transfer-encoding",
    "keep-alive", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization",
    "traceparent", "tracestate", "baggage",
}  # fmt: skip


def _botocore_authorization(
    req: HttpRequest, token: str | None, amz_date: str = AMZ_DATE
) -> dict[str, str]:
    url = f"http://{_header(req, 'host')}{req.raw_path}" + (
        f"?{req.raw_query}" if req.raw_query else ""
    )
    aws = AWSRequest(method=req.method, url=url, data=req.body)
    for name, value in req.headers:
        aws.headers[name] = value
    with mock.patch(
        "botocore.auth.get_current_datetime", return_value=_moment(amz_date).replace(tzinfo=None)
    ):
        SigV4Auth(Credentials(AKID, SECRET, token), "bedrock", REGION).add_auth(aws)
    return dict(aws.headers.items())


def _botocore_signed_names(req: HttpRequest) -> list[str]:
    return sorted({n.lower() for n, _ in req.headers} - BOTOCORE_NEVER_SIGNED | {"x-amz-date"})


@pytest.mark.parametrize(
    ("path", "query", "extra", "token"),
    [
        ("/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke", "", [], None),
        (
            "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
            "",
            [],
            "FAKESESSIONTOKEN/EXAMPLE+token==",
        ),
        (
            "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A1%3Ainference-profile%2Fm%3A0/converse",
            "",
            [("X-Amzn-Bedrock-Trace", "ENABLED")],
            None,
        ),
        (
            "/model/m:0/invoke-with-response-stream",
            "",
            [("X-Amzn-Bedrock-Accept", "application/json")],
            None,
        ),
        ("/foundation-models", "byProvider=anthropic&byOutputModality=TEXT", [], None),
        ("//a/./b/../c%20d", "k=%2F%20&k=a", [("X-Amz-Meta-Spaces", "  a   b  ")], None),
        # a repeated header: each value trimmed and its spaces collapsed, then joined with ","
        ("/model/m:0/invoke", "", [("X-Amz-Meta-Dup", "  a   b "), ("X-Amz-Meta-Dup", " c  d  ")], None),
    ],
)
def test_sigv4_sign_matches_botocore_default_headers(
    path: str, query: str, extra: list[tuple[str, str]], token: str | None
) -> None:
    """Only headers both signers sign by default: the Authorization values must be equal."""
    headers = (("Host", HOST), ("Content-Type", "application/json"), ("User-Agent", "ua"), *extra)
    req = HttpRequest("POST", path, query, headers, b'{"a": 1}')
    ours = dict(sigv4.sign(req, AKID, SECRET, REGION, "bedrock", AMZ_DATE, session_token=token))
    theirs = _botocore_authorization(req, token)
    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == theirs.get("X-Amz-Security-Token")


def test_sigv4_sign_matches_botocore_with_extra_signed_headers() -> None:
    headers = (
        ("Host", HOST), ("Accept", "application/json"), ("Accept-Encoding", "gzip, deflate"),
        ("Content-Length", "8"), ("Content-Type", "application/json"), ("anthropic-beta", "a,b"),
        ("x-stainless-timeout", "NOT_GIVEN"), ("Connection", "keep-alive"), ("User-Agent", "ua"),
    )  # fmt: skip
    req = HttpRequest("POST", "/model/m:0/invoke", "", headers, b'{"a": 1}')
    names = _botocore_signed_names(req)
    ours = dict(sigv4.sign(req, AKID, SECRET, REGION, "bedrock", AMZ_DATE, signed_headers=names))
    assert ours["Authorization"] == _botocore_authorization(req, None)["Authorization"]


def test_sigv4_sign_content_sha256_matches_botocore() -> None:
    req = _invoke_request()
    ours = dict(sigv4.sign(req, AKID, SECRET, REGION, "bedrock", AMZ_DATE, add_content_sha256=True))
    with_header = sigv4.with_headers(req, [("X-Amz-Content-Sha256", ours["X-Amz-Content-Sha256"])])
    assert ours["Authorization"] == _botocore_authorization(with_header, None)["Authorization"]
    assert ours["X-Amz-Content-Sha256"] == hashlib.sha256(req.body).hexdigest()


def test_sigv4_sign_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="amz_date"):
        sigv4.sign(_invoke_request(), AKID, SECRET, REGION, "bedrock", "2015-08-30")
    with pytest.raises(ValueError, match="Host"):
        sigv4.sign(
            _drop_header(_invoke_request(), "host"), AKID, SECRET, REGION, "bedrock", AMZ_DATE
        )
    with pytest.raises(ValueError, match="absent"):
        sigv4.sign(
            _invoke_request(),
            AKID,
            SECRET,
            REGION,
            "bedrock",
            AMZ_DATE,
            signed_headers=["host", "accept"],
        )


# --------------------------------------------------------------------------- properties

_PATH_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="?#")
_paths = st.lists(st.text(_PATH_CHARS, max_size=12), max_size=5).map(lambda s: "/" + "/".join(s))
_query_pairs = st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=4)
_header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
_header_names = st.from_regex(r"x-amz-meta-[a-z0-9]{1,6}", fullmatch=True)


def _encoded_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=_paths,
    raw_query=st.text(st.characters(codec="utf-8", exclude_characters="#"), max_size=20),
    values=st.dictionaries(_header_names, _header_values, max_size=3),
    body=st.binary(max_size=64),
)
def test_sigv4_property_sign_then_verify_round_trips(
    path: str, raw_query: str, values: dict[str, str], body: bytes
) -> None:
    req = HttpRequest("PUT", path, raw_query, (("Host", HOST), *values.items()), body)
    signed = _signed(req)
    verified = sigv4.verify(signed, _auth(signed), SECRET, NOW, expected_service="bedrock")
    assert set(values) <= set(verified.signed_headers)


@settings(max_examples=60, deadline=None)
@given(position=st.integers(0, 63), digit=st.sampled_from("0123456789abcdef"))
def test_sigv4_property_any_signature_change_fails(position: int, digit: str) -> None:
    req = _signed(_invoke_request())
    auth = _auth(req)
    if auth.signature[position] == digit:
        digit = "0" if digit != "0" else "1"
    changed = auth.signature[:position] + digit + auth.signature[position + 1 :]
    with pytest.raises(sigv4.SignatureMismatch):
        sigv4.verify(
            req,
            dataclasses.replace(auth, signature=changed),
            SECRET,
            NOW,
            expected_service="bedrock",
        )


@settings(max_examples=60, deadline=None)
@given(
    path=_paths,
    pairs=_query_pairs,
    values=st.dictionaries(_header_names, _header_values, max_size=3),
)
def test_sigv4_property_sign_matches_botocore(
    path: str, pairs: list[tuple[str, str]], values: dict[str, str]
) -> None:
    req = HttpRequest("POST", path, _encoded_query(pairs), (("Host", HOST), *values.items()), b"{}")
    ours = dict(sigv4.sign(req, AKID, SECRET, REGION, "bedrock", AMZ_DATE))
    assert ours["Authorization"] == _botocore_authorization(req, None)["Authorization"]


# --------------------------------------------------------------------------- bearer keys


def test_bearer_parse() -> None:
    assert parse_bearer("Bearer FAKE-BEDROCK-API-KEY") == BearerToken("FAKE-BEDROCK-API-KEY")
    assert parse_bearer("BEARER  abc/+=") == BearerToken("abc/+=")
    assert "FAKE-BEDROCK-API-KEY" not in repr(BearerToken("FAKE-BEDROCK-API-KEY"))
    for bad in ("Basic abc", "Bearer", "Bearer a b", "Bearer a=b"):
        with pytest.raises(MalformedBearer):
            parse_bearer(bad)


def _long_term(text: str) -> str:
    return "ABSK" + base64.b64encode(text.encode()).decode()


def test_bearer_describe_long_term_key() -> None:
    key = describe_bearer(
        BearerToken(_long_term("BedrockAPIKey-my-at-key-at-123456789012:s3cr/t+="))
    )
    assert key == LongTermApiKey(
        key_id="BedrockAPIKey-my-at-key-at-123456789012",
        name="my-at-key",
        account_id="123456789012",
        secret="s3cr/t+=",
    )
    assert "s3cr" not in repr(key)
    for text in (
        "BedrockAPIKey-a-at-123456789012",
        "Other-a-at-123456789012:s",
        "BedrockAPIKey-a-at-12:s",
    ):
        assert describe_bearer(_long_term(text)) is None
    assert describe_bearer("ABSK!!!") is None
    assert describe_bearer("something-else") is None


def _short_term_token(now: datetime, secret: str = SECRET, expires: int = 43200) -> str:
    """What aws-bedrock-token-generator does (botocore SigV4QueryAuth, then ``&Version=1``)."""
    aws = AWSRequest(
        method="POST",
        url="https://bedrock.amazonaws.com/",
        headers={"host": "bedrock.amazonaws.com"},
        params={"Action": "CallWithBearerToken"},
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=now.replace(tzinfo=None)):
        SigV4QueryAuth(Credentials(AKID, secret), "bedrock", REGION, expires=expires).add_auth(aws)
    url = aws.url.replace("https://", "") + "&Version=1"
    return "bedrock-api-key-" + base64.b64encode(url.encode()).decode()


def test_bearer_short_term_key_verifies() -> None:
    key = describe_bearer(_short_term_token(NOW))
    assert isinstance(key, ShortTermApiKey)
    assert (key.access_key, key.region, key.service, key.amz_date) == (
        AKID,
        REGION,
        "bedrock",
        AMZ_DATE,
    )
    assert (key.host, key.raw_path, key.expires, key.version) == (
        "bedrock.amazonaws.com",
        "/",
        43200,
        "1",
    )
    req, auth = sigv4.short_term_key_request(key)
    verified = sigv4.verify(
        req, auth, SECRET, NOW + timedelta(hours=11), expected_service="bedrock"
    )
    assert verified.presigned
    with pytest.raises(sigv4.SignatureExpired):
        sigv4.verify(
            req, auth, SECRET, NOW + timedelta(hours=12, seconds=1), expected_service="bedrock"
        )
    with pytest.raises(sigv4.SignatureMismatch):
        sigv4.verify(req, auth, "wrong-secret", NOW, expected_service="bedrock")


def test_bearer_short_term_key_lives_at_most_twelve_hours() -> None:
    # A short-term API key lasts no longer than 12 hours (AWS Bedrock user guide; wire
    # reference 6.4: "<=12 h"), whatever lifetime its presigned URL claims (up to a week).
    key = describe_bearer(_short_term_token(NOW, expires=604_800))
    assert isinstance(key, ShortTermApiKey) and key.expires == 604_800
    req, auth = sigv4.short_term_key_request(key)
    sigv4.verify(req, auth, SECRET, NOW + timedelta(hours=12), expected_service="bedrock")
    with pytest.raises(sigv4.SignatureExpired, match=r"- 720 min\.\)") as caught:
        sigv4.verify(req, auth, SECRET, NOW + timedelta(hours=12, seconds=1), expected_service="bedrock")
    assert caught.value.reason is Reason.PRESIGNED_URL_EXPIRED
    # a shorter lifetime is the key's own
    key = describe_bearer(_short_term_token(NOW, expires=900))
    req, auth = sigv4.short_term_key_request(key)
    with pytest.raises(sigv4.SignatureExpired):
        sigv4.verify(req, auth, SECRET, NOW + timedelta(minutes=15, seconds=1), expected_service="bedrock")


def test_bearer_short_term_key_with_thousands_of_expires_digits() -> None:
    # int() refuses more than 4300 digits: describing the key raised ValueError (a 500)
    token = _short_term_token(NOW)
    url = base64.b64decode(token[len("bedrock-api-key-"):]).decode()
    url = url.replace("X-Amz-Expires=43200", "X-Amz-Expires=" + "1" * 5000)
    key = describe_bearer("bedrock-api-key-" + base64.b64encode(url.encode()).decode())
    assert isinstance(key, ShortTermApiKey) and key.expires is None
    with pytest.raises(sigv4.MalformedAuthorization, match="X-Amz-Expires"):
        sigv4.short_term_key_request(key)


@pytest.mark.parametrize(("path", "params"), [
    ("/", {"Action": "Other"}),
    ("/", {}),
    ("/model/m/invoke", {"Action": "CallWithBearerToken"}),
    ("/_claude-bedrock/reset", {}),
])
def test_only_a_presigned_call_with_bearer_token_url_is_a_short_term_key(path, params) -> None:
    # Any other presigned POST of the same access key (one handed out for a single call, its
    # body empty or unsigned) verified as a key to every operation of that identity.
    aws = AWSRequest(method="POST", url=f"https://bedrock.amazonaws.com{path}",
                     headers={"host": "bedrock.amazonaws.com"}, params=params)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        SigV4QueryAuth(Credentials(AKID, SECRET), "bedrock", REGION, expires=3600).add_auth(aws)
    key = describe_bearer("bedrock-api-key-" + base64.b64encode(aws.url.replace("https://", "").encode()).decode())
    assert isinstance(key, ShortTermApiKey)
    with pytest.raises(sigv4.MalformedAuthorization, match="not a presigned 'CallWithBearerToken' URL"):
        sigv4.short_term_key_request(key)


@pytest.mark.parametrize(("path", "query", "after_signature"), [
    ("/", "", "&Action=CallWithBearerToken&Version=1"),  # the action outside the signed part
    ("/", "Action=Other", "&Action=CallWithBearerToken&Version=1"),
    ("/", "Action=CallWithBearerToken&Action=Other", ""),
    ("/", "Action=Other&Action=CallWithBearerToken", ""),
    ("/", "action=CallWithBearerToken", ""),
    ("//", "Action=CallWithBearerToken", ""),
    ("/%2F", "Action=CallWithBearerToken", ""),
    ("/.", "Action=CallWithBearerToken", ""),
])
def test_a_short_term_key_is_checked_on_what_its_signature_covers(path, query, after_signature) -> None:
    # Only the part of the URL up to X-Amz-Signature is signed: an Action appended after it
    # (anyone can) or a second Action next to another must not make any presigned POST a key.
    signed = sigv4.presign(HttpRequest("POST", path, query, [("host", "bedrock.amazonaws.com")], b""),
                           AKID, SECRET, REGION, "bedrock", AMZ_DATE, 3600)
    url = f"bedrock.amazonaws.com{path}?{signed}{after_signature}"
    key = describe_bearer("bedrock-api-key-" + base64.b64encode(url.encode()).decode())
    assert isinstance(key, ShortTermApiKey)
    with pytest.raises(sigv4.MalformedAuthorization, match="not a presigned 'CallWithBearerToken' URL"):
        sigv4.short_term_key_request(key)


def test_bearer_short_term_key_of_the_javascript_generator_verifies() -> None:
    """Audit regression: @aws/bedrock-token-generator (smithy's presign, then ``formatUrl``,
    which sorts the query) puts X-Amz-SignedHeaders after X-Amz-Signature; the key was cut
    at the signature and refused ('requires the ... X-Amz-SignedHeaders ... parameters')."""
    query = sigv4.presign(HttpRequest("POST", "/", "Action=CallWithBearerToken", [("host", "bedrock.amazonaws.com")], b""),
                          AKID, SECRET, REGION, "bedrock", AMZ_DATE, 43200, session_token="session/token")
    ordered = "&".join(sorted(query.split("&"), key=lambda piece: piece.partition("=")[0]))
    assert ordered.endswith("&X-Amz-SignedHeaders=host")
    url = f"bedrock.amazonaws.com/?{ordered}&Version=1"
    key = describe_bearer("bedrock-api-key-" + base64.b64encode(url.encode()).decode())
    assert isinstance(key, ShortTermApiKey)
    assert key.unsigned_params == (("Version", "1"),)
    req, auth = sigv4.short_term_key_request(key)
    verified = sigv4.verify(req, auth, SECRET, NOW + timedelta(hours=11), expected_service="bedrock")
    assert verified.presigned and verified.security_token == "session/token"


def test_bearer_short_term_key_tampered() -> None:
    key = describe_bearer(_short_term_token(NOW))
    assert isinstance(key, ShortTermApiKey)
    forged = dataclasses.replace(
        key, raw_query=key.raw_query.replace("X-Amz-Expires=43200", "X-Amz-Expires=43199")
    )
    req, auth = sigv4.short_term_key_request(forged)
    with pytest.raises(sigv4.SignatureMismatch):
        sigv4.verify(req, auth, SECRET, NOW, expected_service="bedrock")
    assert describe_bearer("bedrock-api-key-" + base64.b64encode(b"host/?a=b").decode()) is None


# --------------------------------------------------------------------------- parse fast path

_PARTS = st.text(alphabet="AKIDaz09-_/=,; .~é", min_size=0, max_size=12)


@settings(max_examples=400, deadline=None)
@given(
    key=_PARTS, date=st.sampled_from(["20251126", "2025112", "2025-11-26", ""]), region=_PARTS,
    service=_PARTS, signed=st.sampled_from(["host", "host;x-amz-date", "host;host", "Host", "host;", "a;b;c"]),
    signature=st.sampled_from(["a" * 64, "A" * 64, "a" * 63, "0123456789abcdef" * 4]),
    sep=st.sampled_from([", ", ",", " , "]),
)
def test_botocore_layout_fast_path_parses_as_the_general_parser(key, date, region, service, signed, signature, sep):
    """The one-regex fast path must give the general parser's result, or defer to it."""
    assert_parsed_as_the_general_parser(
        f"AWS4-HMAC-SHA256 Credential={key}/{date}/{region}/{service}/aws4_request{sep}"
        f"SignedHeaders={signed}{sep}Signature={signature}"
    )


def assert_parsed_as_the_general_parser(value: str) -> None:
    """``parse_authorization`` gives the general parser's result, or its very error."""
    try:
        expected = sigv4._parse_authorization(value)
    except sigv4.MalformedAuthorization as exc:
        with pytest.raises(sigv4.MalformedAuthorization) as caught:
            sigv4.parse_authorization(value)
        assert caught.value.args == exc.args
    else:
        assert sigv4.parse_authorization(value) == expected


def test_botocore_layout_takes_the_fast_path():
    value = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251126/us-west-2/bedrock/aws4_request, "
             "SignedHeaders=content-type;host;x-amz-date, Signature=" + "0a" * 32)
    with mock.patch.object(sigv4, "_parse_authorization", side_effect=AssertionError("slow path")):
        parsed = sigv4.parse_authorization(value)
    assert parsed == sigv4._parse_authorization(value)
    assert parsed.signed_headers == ("content-type", "host", "x-amz-date")


LONG_HEAD = ("AWS4-HMAC-SHA256 Credential=AKID/20251126/us-west-2/bedrock/aws4_request, "
             "SignedHeaders=host;" + ";".join(f"x-amz-h{i}" for i in range(200)) + ", Signature=" + "c" * 64)


@pytest.mark.parametrize("value", [
    # a second Signature component: the general parser's error, not the last one taken
    "AWS4-HMAC-SHA256 Credential=AKID/20251126/us-west-2/bedrock/aws4_request, "
    "SignedHeaders=host, Signature=" + "a" * 64 + ", Signature=" + "b" * 64,
    LONG_HEAD,  # a head too long to be kept (see the next test): parsed all the same
], ids=["two signatures", "head too long to keep"])
def test_fast_path_edge_layouts_agree_with_the_general_parser(value):
    assert_parsed_as_the_general_parser(value)


def test_the_long_head_case_is_beyond_what_is_kept():
    assert len(LONG_HEAD) > sigv4._MAX_KEPT_HEAD


@settings(max_examples=500, deadline=None)
@given(path=st.text(alphabet="abcXYZ019-._~/%:é ?+", min_size=1, max_size=30).map(lambda p: "/" + p))
def test_canonical_uri_is_the_documented_quote_of_the_normalised_path(path):
    """Every fast path of canonical_uri gives botocore's formulation (``quote`` after dot-segment
    removal; ``%`` itself re-encoded)."""
    normalised = sigv4._remove_dot_segments(path)
    assert sigv4.canonical_uri(path) == quote(normalised.encode("utf-8", "surrogateescape"), safe="/~")


@settings(max_examples=300, deadline=None)
@given(key=st.binary(min_size=0, max_size=100), message=st.text(max_size=300))
def test_signer_is_hmac_sha256(key, message):
    import hmac as std_hmac

    expected = std_hmac.new(key, message.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
    assert sigv4.Signer(key).signature(message) == expected
    assert sigv4.signature(key, message) == expected
