"""SigV4 against the AWS test suite (vectors/sigv4, botocore's copy; see its SOURCE.md).

Each case folder holds ``<case>.req`` (unsigned request), ``.creq``, ``.sts``, ``.authz``
and ``.sreq``. Fixed inputs: AKIDEXAMPLE / the example secret, us-east-1, service
``service``, 20150830T123600Z.

One canonical-URI rule serves both the suite and real clients: normalise segments of the path
*as received*, then percent-encode it once (``quote(path, safe='/~')`` over its UTF-8 bytes).
The suite's ``.req`` paths are not pre-encoded (``get-utf8`` holds raw UTF-8, ``get-space`` a
space, ``get-special-character`` a ``$``), and none holds a ``%``, so "encode the received
bytes once" gives exactly the suite's ``.creq`` (``%E1%88%B4``, ``%20``, ``%24``) while giving
``%253A`` for a wire ``%3A`` (captured clients, see test_sigv4_captured.py). No case needs a
different rule, so nothing here is xfailed.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from claude_bedrock.wire import sigv4

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
SERVICE = "service"
AMZ_DATE = "20150830T123600Z"
NOW = datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC)
SCOPE = f"20150830/{REGION}/{SERVICE}/aws4_request"
EXPECTED_CASES = 34
#: Every case folder of the suite (34: 24 top level, 8 normalize-path, 2 post-sts-token);
#: test_sigv4_suite_has_every_case checks this list against the folder.
CASES = (
    "get-header-key-duplicate",
    "get-header-value-multiline",
    "get-header-value-order",
    "get-header-value-trim",
    "get-unreserved",
    "get-utf8",
    "get-vanilla",
    "get-vanilla-empty-query-key",
    "get-vanilla-query",
    "get-vanilla-query-order-encoded",
    "get-vanilla-query-order-key",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-order-value",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "get-vanilla-with-session-token",
    "normalize-path/get-relative",
    "normalize-path/get-relative-relative",
    "normalize-path/get-slash",
    "normalize-path/get-slash-dot-slash",
    "normalize-path/get-slash-pointless-dot",
    "normalize-path/get-slashes",
    "normalize-path/get-space",
    "normalize-path/get-special-character",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-sts-token/post-sts-header-after",
    "post-sts-token/post-sts-header-before",
    "post-vanilla",
    "post-vanilla-empty-query-value",
    "post-vanilla-query",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
)
#: SOURCE.md "Fixed inputs": the token the signer adds in this case (absent from its .req).
ADDED_TOKEN = {
    "get-vanilla-with-session-token": (
        "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
    ),
}
#: SOURCE.md item 10: this .sreq repeats get-vanilla's signature; its .authz is right.
KNOWN_BAD_SREQ = {"get-vanilla-with-session-token"}


def _case_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("*.req") if p.stem == p.parent.name)


def _parse_raw_request(data: bytes) -> sigv4.HttpRequest:
    """Parse a suite ``.req``/``.sreq``: LF lines, ``Name:value`` headers, folded lines, body."""
    head, sep, body = data.partition(b"\n\n")
    lines = head.decode("utf-8", "surrogateescape").split("\n")
    method, _, rest = lines[0].partition(" ")
    target = rest.rpartition(" ")[0]  # the path may hold a space (normalize-path/get-space)
    headers: list[list[str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":  # obs-fold (get-header-value-multiline): RFC 9112 says use SP
            headers[-1][1] += " " + line.strip(" \t")
            continue
        name, _, value = line.partition(":")
        headers.append([name, value.lstrip(" \t")])
    path, _, query = target.partition("?")
    pairs = tuple((name, value) for name, value in headers)
    return sigv4.HttpRequest(method, path, query, pairs, body if sep else b"")


def _signed_header_names(req: sigv4.HttpRequest, case: str) -> list[str]:
    names = {name.lower() for name, _ in req.headers}
    if case in ADDED_TOKEN:
        names.add("x-amz-security-token")
    return sorted(names)


class Case:
    def __init__(self, folder: Path) -> None:
        self.name = folder.name
        self.folder = folder
        self.req = _parse_raw_request(self._read("req"))
        self.creq = self._read("creq")
        self.sts = self._read("sts")
        self.authz = self._read("authz").decode()
        self.sreq = self._read("sreq")
        self.token = ADDED_TOKEN.get(self.name)
        self.signed_headers = _signed_header_names(self.req, self.name)

    def _read(self, ext: str) -> bytes:
        return (self.folder / f"{self.name}.{ext}").read_bytes()

    def request_for_signing(self) -> sigv4.HttpRequest:
        """The request .creq describes (with the token header when the signer adds one)."""
        if self.token is None:
            return self.req
        return sigv4.with_headers(self.req, [("X-Amz-Security-Token", self.token)])


@pytest.fixture(scope="module")
def suite_root(vectors_dir: Path) -> Path:
    return vectors_dir / "sigv4"


@pytest.fixture(params=CASES)
def case(suite_root: Path, request: pytest.FixtureRequest) -> Case:
    return Case(suite_root / request.param)


def test_sigv4_suite_has_every_case(suite_root: Path) -> None:
    dirs = _case_dirs(suite_root)
    assert len(dirs) == EXPECTED_CASES
    assert tuple(str(d.relative_to(suite_root)) for d in dirs) == CASES
    assert sum(1 for d in dirs if d.parent.name == "normalize-path") == 8
    assert sum(1 for d in dirs if d.parent.name == "post-sts-token") == 2


def test_sigv4_canonical_request_matches_creq(case: Case) -> None:
    req = case.request_for_signing()
    payload_hash = hashlib.sha256(req.body).hexdigest()
    creq = sigv4.canonical_request(req, case.signed_headers, payload_hash)
    assert creq.encode("utf-8") == case.creq


def test_sigv4_string_to_sign_matches_sts(case: Case) -> None:
    sts = sigv4.string_to_sign(AMZ_DATE, SCOPE, case.creq.decode("utf-8"))
    assert sts.encode("utf-8") == case.sts


def test_sigv4_sign_authorization_matches_authz(case: Case) -> None:
    added = sigv4.sign(
        case.req,
        ACCESS_KEY,
        SECRET,
        REGION,
        SERVICE,
        AMZ_DATE,
        session_token=case.token,
        signed_headers=case.signed_headers,
    )
    assert dict(added)["Authorization"] == case.authz
    assert dict(added)["X-Amz-Date"] == AMZ_DATE


def test_sigv4_verify_accepts_request_with_authz(case: Case) -> None:
    auth = sigv4.parse_authorization(case.authz)
    assert isinstance(auth, sigv4.SigV4Authorization)
    req = sigv4.with_headers(case.request_for_signing(), [("Authorization", case.authz)])
    verified = sigv4.verify(
        req, auth, SECRET, NOW, expected_service=SERVICE, expected_region=REGION
    )
    assert verified.canonical_request.encode("utf-8") == case.creq
    assert verified.string_to_sign.encode("utf-8") == case.sts
    sent_token = dict((n.lower(), v) for n, v in req.headers).get("x-amz-security-token")
    assert verified.security_token == sent_token
    assert verified.security_token_signed == ("x-amz-security-token" in case.signed_headers)


def test_sigv4_verify_signed_request_sreq(case: Case) -> None:
    req = _parse_raw_request(case.sreq)
    auth = sigv4.extract_authorization(req)
    assert isinstance(auth, sigv4.SigV4Authorization)
    if case.name in KNOWN_BAD_SREQ:
        with pytest.raises(sigv4.SignatureMismatch):
            sigv4.verify(req, auth, SECRET, NOW, expected_service=SERVICE)
        return
    verified = sigv4.verify(req, auth, SECRET, NOW, expected_service=SERVICE)
    assert verified.canonical_request.encode("utf-8") == case.creq


def test_sigv4_token_added_after_signing_is_returned_unsigned(suite_root: Path) -> None:
    case = Case(suite_root / "post-sts-token" / "post-sts-header-after")
    verified = sigv4.verify(
        _parse_raw_request(case.sreq),
        sigv4.parse_authorization(case.authz),  # type: ignore[arg-type]
        SECRET,
        NOW,
        expected_service=SERVICE,
    )
    assert verified.security_token is not None
    assert verified.security_token.startswith("AQoDYXdzEPT//")
    assert verified.security_token_signed is False


def test_sigv4_token_signed_before_is_returned_signed(suite_root: Path) -> None:
    case = Case(suite_root / "post-sts-token" / "post-sts-header-before")
    verified = sigv4.verify(
        _parse_raw_request(case.sreq),
        sigv4.parse_authorization(case.authz),  # type: ignore[arg-type]
        SECRET,
        NOW,
        expected_service=SERVICE,
    )
    assert verified.security_token_signed is True
    assert "x-amz-security-token" in verified.signed_headers


@pytest.mark.parametrize(
    ("raw_path", "expected"),
    [
        ("/\u1234", "/%E1%88%B4"),  # get-utf8: raw UTF-8 on the "wire", encoded once
        ("/example space/", "/example%20space/"),  # normalize-path/get-space
        ("/example/$delete", "/example/%24delete"),  # normalize-path/get-special-character
        ("/model/m-v1%3A0/invoke", "/model/m-v1%253A0/invoke"),  # boto3 sends %3A
        ("/model/m-v1:0/invoke", "/model/m-v1%3A0/invoke"),  # Anthropic SDKs send raw ':'
        (
            "/model/arn:aws:b:r:1:p%2Fm:0/invoke",
            "/model/arn%3Aaws%3Ab%3Ar%3A1%3Ap%252Fm%3A0/invoke",
        ),
        ("/a\udcff", "/a%FF"),  # non-UTF-8 wire byte kept by HttpRequest.from_wire
        ("//a/./b/../c//", "/a/c/"),
        ("/a/..", "/"),
        ("", "/"),
    ],
)
def test_sigv4_canonical_uri_encodes_received_path_once(raw_path: str, expected: str) -> None:
    assert sigv4.canonical_uri(raw_path) == expected
