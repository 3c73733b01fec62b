"""AWS Signature Version 4: sign and verify HTTP requests, sans-I/O.

Purpose: the one implementation of SigV4 used by our server (verification of what boto3,
the AWS CLI and both Anthropic Bedrock SDKs send) and by our own client (signing). Each spec
step is a function named after it: :func:`canonical_uri`, :func:`canonical_query`,
:func:`canonical_headers`, :func:`canonical_request`, :func:`string_to_sign`,
:func:`derive_signing_key`, :func:`signature`; :func:`sign` / :func:`presign` /
:func:`verify` put them together (:func:`verify` in two steps, :func:`verify_head` before the
body is read and :func:`verify_signature` after, for a server).

Invariants:
  * Rule 1 - no ambient state: the clock is the ``now`` argument of :func:`verify` and the
    ``amz_date`` argument of :func:`sign`; nothing reads time, environment or randomness, and
    there are no mutable module globals (the signing-key cache is an object the caller owns).
  * Rule 2 - verify the request exactly as received: the raw, still-percent-encoded path is
    normalised (empty and ``.`` segments dropped, ``..`` resolved) and percent-encoded once
    more (``%3A`` -> ``%253A``, raw ``:`` -> ``%3A``); the query is decoded and re-encoded;
    the ``SignedHeaders`` list is used verbatim (its order, its names). The same rule
    reproduces every case of the AWS SigV4 test suite and every captured client request.
  * Rule 3 - every failure is a typed :class:`SignatureError` whose ``reason`` names the check
    that failed and whose ``aws_message()`` is the text AWS would send; signatures are
    compared with :func:`hmac.compare_digest`.
  * Text is bytes decoded as UTF-8 with ``surrogateescape`` (see :meth:`HttpRequest.from_wire`)
    and re-encoded the same way before hashing, so any wire byte survives exactly.

Source: wire-protocol reference sections 6.1-6.3 and 11 (items 1, 2, 11); botocore 1.44.8
``botocore/auth.py`` ``SigV4Auth`` / ``SigV4QueryAuth`` (the behaviour our signatures must
match) and ``utils.remove_dot_segments``; AWS SigV4 test suite (vectors/sigv4, SOURCE.md).
AWS error texts: doc 6.3 [field]; scope, host and incomplete-header texts from public AWS
error reports; the date-scope and presigned texts are reconstructed, not captured.

Errors (``aws_code`` is the AWS error code the service layer should render)::

    SignatureError
    ├── MalformedAuthorization   IncompleteSignatureException  (unparsable / unsupported)
    ├── MissingDate              IncompleteSignatureException  (no X-Amz-Date nor Date)
    ├── MalformedDate            IncompleteSignatureException  (not yyyymmddTHHMMSSZ)
    ├── HostNotSigned            IncompleteSignatureException
    ├── CredentialScopeMismatch  InvalidSignatureException     (date / region / service)
    ├── SignedHeaderMissing      InvalidSignatureException
    ├── SignatureExpired         InvalidSignatureException     (skew, or X-Amz-Expires passed)
    ├── SignatureNotYetCurrent   InvalidSignatureException
    ├── PayloadHashMismatch      InvalidSignatureException     (x-amz-content-sha256 vs body)
    └── SignatureMismatch        InvalidSignatureException     (+ canonical request, STS)
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import quote, unquote, unquote_to_bytes

if TYPE_CHECKING:  # loaded when a Bearer header first arrives (start-up: see __getattr__)
    from claude_bedrock.wire.bearer import BearerToken, ShortTermApiKey

__all__ = [
    "ALGORITHM", "AMZ_DATE_FORMAT", "DEFAULT_SKEW", "EMPTY_SHA256", "MAX_PRESIGN_EXPIRES_S",
    "SCOPE_TERMINATOR", "UNSIGNED_PAYLOAD", "BearerToken", "CheckedHead", "CredentialScopeMismatch",
    "HostNotSigned", "HttpRequest", "SignableRequest", "MalformedAuthorization", "MalformedDate", "MissingDate",
    "PayloadHashMismatch", "PresignedAuthorization", "Reason", "SigV4Authorization",
    "SignatureError", "SignatureExpired", "SignatureMismatch", "SignatureNotYetCurrent",
    "SignedHeaderMissing", "Signer", "SigningKeyCache", "VerifiedRequest", "canonical_headers",
    "canonical_query", "canonical_request", "canonical_uri", "derive_signing_key",
    "credentials_from", "extract_authorization", "parse_authorization", "parse_presigned", "presign",
    "redact_session_tokens", "short_term_key_request", "sign", "signature", "string_to_sign", "verify", "with_headers",
    "verify_head", "verify_signature", "PRESIGN_PARAMS",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    """``sigv4.BearerToken``: the bearer module is imported on first use, not at start-up."""
    if name == "BearerToken":
        from claude_bedrock.wire.bearer import BearerToken

        return BearerToken
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ALGORITHM = "AWS4-HMAC-SHA256"
SCOPE_TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DEFAULT_SKEW = timedelta(minutes=5)
MAX_PRESIGN_EXPIRES_S = 604_800  # one week, the AWS maximum for X-Amz-Expires
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_TEXT_ENCODING = ("utf-8", "surrogateescape")
_AMZ_DATE_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z", re.ASCII)
_SCOPE_DATE_RE = re.compile(r"[0-9]{8}", re.ASCII)
_SIGNATURE_RE = re.compile(r"[0-9a-f]{64}", re.ASCII)
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9a-z]+"  # RFC 9110 token, lowercase only
_SIGNED_HEADERS_RE = re.compile(rf"{_TOKEN}(?:;{_TOKEN})*", re.ASCII)
#: Path bytes that need no encoding besides "%" itself (RFC 3986 unreserved, "/", "%").
_PATH_KEEP_OR_PERCENT_RE = re.compile(r"[A-Za-z0-9\-._~/%]*", re.ASCII)
_PATH_ESCAPE_RE = re.compile(rb"[^A-Za-z0-9\-._~/%]")
_PERCENT_ESCAPES = MappingProxyType({bytes([b]): b"%%%02X" % b for b in range(256)})
_AUTH_PARAMS = ("Credential", "SignedHeaders", "Signature")
#: botocore's exact layout, which nearly every request has: the part before the signature
#: (credential scope and signed headers, the same on every request of a client and day) is
#: parsed by one match and kept. Anything else (other order, spacing, extra components,
#: errors) takes the general parser.
_BOTOCORE_PREFIX = "AWS4-HMAC-SHA256 Credential="
_BOTOCORE_SIGNATURE = ", Signature="
_BOTOCORE_HEAD_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/,=\s]+)/([0-9]{8})/([^/,=\s]+)/([^/,=\s]+)/aws4_request, "
    rf"SignedHeaders=({_TOKEN}(?:;{_TOKEN})*)",
    re.ASCII,
)
_MAX_KEPT_HEAD = 1024  # longer heads are parsed every time, not kept
#: The query parameters of a presigned URL (what a handler reading its own query leaves out).
PRESIGN_PARAMS = (
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
)  # fmt: skip
_PRESIGN_REQUIRED = PRESIGN_PARAMS[:6]
#: Headers :func:`sign` signs by default, besides every ``x-amz-*`` / ``x-amzn-*`` header.
_DEFAULT_SIGNED = frozenset({"host", "content-type"})
_SIGNATURE_PARAM = "X-Amz-Signature"
#: Secrets an error message must not repeat (it reaches client and proxy logs): the signature
#: of an echoed Authorization value, the session token in a canonical request or query.
_SIGNATURE_VALUE_RE = re.compile(r"(Signature=)[^,\s]*")
_TOKEN_HEADER_LINE_RE = re.compile(r"^(x-amz-security-token:).*$", re.MULTILINE)
_TOKEN_QUERY_RE = re.compile(r"(X-Amz-Security-Token=)[^&\n]*")
_REDACTED = "<redacted>"
#: The action a short-term API key's presigned URL signs (aws-bedrock-token-generator).
_BEARER_TOKEN_ACTION = "CallWithBearerToken"
#: The longest unknown scheme name an error message repeats (a longer word may be a key).
_MAX_SHOWN_SCHEME = 40


class Reason(StrEnum):
    """Which check failed (``SignatureError.reason``)."""

    MALFORMED_AUTHORIZATION = "malformed-authorization"
    UNSUPPORTED_ALGORITHM = "unsupported-algorithm"
    MISSING_DATE = "missing-date"
    MALFORMED_DATE = "malformed-date"
    SCOPE_DATE_MISMATCH = "scope-date-mismatch"
    SCOPE_REGION_MISMATCH = "scope-region-mismatch"
    SCOPE_SERVICE_MISMATCH = "scope-service-mismatch"
    HOST_NOT_SIGNED = "host-not-signed"
    SIGNED_HEADER_MISSING = "signed-header-missing"
    SIGNATURE_EXPIRED = "signature-expired"
    PRESIGNED_URL_EXPIRED = "presigned-url-expired"
    SIGNATURE_NOT_YET_CURRENT = "signature-not-yet-current"
    PAYLOAD_HASH_MISMATCH = "payload-hash-mismatch"
    UNSIGNED_PAYLOAD_REFUSED = "unsigned-payload-refused"
    SIGNATURE_MISMATCH = "signature-mismatch"


# --------------------------------------------------------------------------- errors


class SignatureError(Exception):
    """A request failed SigV4 authentication. Never raised directly."""

    aws_code: ClassVar[str] = "InvalidSignatureException"
    default_reason: ClassVar[Reason]

    def __init__(self, message: str, reason: Reason | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason: Reason = reason or self.default_reason

    def aws_message(self) -> str:
        """The ``message`` AWS puts in the error body for this failure."""
        return self.message


class MalformedAuthorization(SignatureError):
    aws_code = "IncompleteSignatureException"
    default_reason = Reason.MALFORMED_AUTHORIZATION


class MissingDate(SignatureError):
    aws_code = "IncompleteSignatureException"
    default_reason = Reason.MISSING_DATE


class MalformedDate(SignatureError):
    aws_code = "IncompleteSignatureException"
    default_reason = Reason.MALFORMED_DATE


class HostNotSigned(SignatureError):
    aws_code = "IncompleteSignatureException"
    default_reason = Reason.HOST_NOT_SIGNED


class CredentialScopeMismatch(SignatureError):
    """``reason`` is one of the ``SCOPE_*`` members; ``expected`` / ``actual`` name the values."""

    default_reason = Reason.SCOPE_DATE_MISMATCH

    def __init__(self, message: str, reason: Reason, *, expected: str, actual: str) -> None:
        super().__init__(message, reason)
        self.expected = expected
        self.actual = actual


class SignedHeaderMissing(SignatureError):
    default_reason = Reason.SIGNED_HEADER_MISSING

    def __init__(self, header: str) -> None:
        super().__init__(
            f"Header '{header}' is listed in SignedHeaders but is not present in the request.",
        )
        self.header = header


class SignatureExpired(SignatureError):
    default_reason = Reason.SIGNATURE_EXPIRED


class SignatureNotYetCurrent(SignatureError):
    default_reason = Reason.SIGNATURE_NOT_YET_CURRENT


class PayloadHashMismatch(SignatureError):
    default_reason = Reason.PAYLOAD_HASH_MISMATCH


class SignatureMismatch(SignatureError):
    """The signature differs; carries what the server computed, as AWS shows it."""

    default_reason = Reason.SIGNATURE_MISMATCH
    SUMMARY: ClassVar[str] = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    )

    def __init__(self, canonical_request: str, string_to_sign: str) -> None:
        super().__init__(self.SUMMARY)
        self.canonical_request = canonical_request
        self.string_to_sign = string_to_sign

    def aws_message(self) -> str:
        # Header bytes that are not UTF-8 are kept as surrogates (``_text``), which no response
        # can encode: they are shown as U+FFFD.
        shown = _shown_text(redact_session_tokens(self.canonical_request))
        return (
            f"{self.SUMMARY}\n\nThe Canonical String for this request should have been\n"
            f"'{shown}'\n\nThe String-to-Sign should have been\n"
            f"'{self.string_to_sign}'\n"
        )


# --------------------------------------------------------------------------- values


class SignableRequest(Protocol):
    """What verification reads from a request: an ``HttpRequest``, or any object with these
    attributes (a server passes its own request object instead of copying it on every call)."""

    @property
    def method(self) -> str: ...
    @property
    def raw_path(self) -> str: ...
    @property
    def raw_query(self) -> str: ...
    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...
    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An HTTP request as it is (or will be) on the wire.

    ``raw_path`` is the request target before ``?``, still percent-encoded; ``raw_query`` the
    part after ``?`` (undecoded, ``""`` when absent); ``headers`` are in wire order, names in
    any case, duplicates allowed.
    """

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes = b""

    @classmethod
    def from_wire(
        cls,
        method: str | bytes,
        target: str | bytes,
        headers: Iterable[tuple[str | bytes, str | bytes]],
        body: bytes = b"",
    ) -> HttpRequest:
        """Build from server-side bytes (e.g. ASGI ``raw_path`` + ``query_string``, h11 events).

        Bytes are decoded as UTF-8 with ``surrogateescape``, which every function here undoes
        before hashing, so non-UTF-8 bytes are signed exactly as received.
        """
        path, _, query = _text(target).partition("?")
        pairs = tuple((_text(name), _text(value)) for name, value in headers)
        return cls(_text(method), path, query, pairs, body)


@dataclass(slots=True)
class SigV4Authorization:
    """The parts of ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., ...``."""

    access_key: str
    date: str  # credential-scope date, yyyymmdd
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        """``yyyymmdd/region/service/aws4_request``."""
        return f"{self.date}/{self.region}/{self.service}/{SCOPE_TERMINATOR}"

    def to_header(self) -> str:
        """The ``Authorization`` header value, in botocore's layout."""
        return (
            f"{ALGORITHM} Credential={self.access_key}/{self.scope}, "
            f"SignedHeaders={';'.join(self.signed_headers)}, Signature={self.signature}"
        )


@dataclass(slots=True)
class PresignedAuthorization(SigV4Authorization):
    """The ``X-Amz-*`` query parameters of a presigned URL (values percent-decoded)."""

    amz_date: str
    expires: int
    security_token: str | None = None


@dataclass(slots=True)
class VerifiedRequest:
    """What a successful :func:`verify` established about the request."""

    access_key: str
    region: str
    service: str
    amz_date: str
    request_time: datetime
    signed_headers: tuple[str, ...]
    #: ``x-amz-security-token`` header (or ``X-Amz-Security-Token`` query parameter) value;
    #: the caller checks it against the tokens it issued.
    security_token: str | None
    #: True when the signature covers the token (signed header, or presigned query).
    security_token_signed: bool
    presigned: bool
    payload_hash: str
    canonical_request: str
    string_to_sign: str


@dataclass(slots=True)
class CheckedHead:
    """What :func:`verify_head` established from a request's head (headers, path, query),
    handed on to :func:`verify_signature` so that nothing is parsed twice."""

    index: Mapping[str, list[str]]  # the headers by lower-cased name, values in wire order
    amz_date: str
    request_time: datetime
    #: the ``x-amz-content-sha256`` header's value, when sent
    claimed_hash: str | None
    #: as in :class:`VerifiedRequest`: the caller may check the token before the signature
    security_token: str | None
    security_token_signed: bool


class SigningKeyCache:
    """Bounded LRU cache of :func:`derive_signing_key`, owned by the caller (thread-safe).

    A signing key is valid for one (secret, date, region, service), so a server sees a handful
    of distinct keys per day; caching saves four HMACs per request, and the key's
    :class:`Signer` (its HMAC pads hashed once) makes the fifth cheap.
    """

    def __init__(self, maxsize: int = 256) -> None:
        self.get = functools.lru_cache(maxsize=maxsize)(derive_signing_key)
        self._signers = functools.lru_cache(maxsize=maxsize)(self._new_signer)

    def signer(self, secret_key: str, date: str, region: str, service: str) -> Signer:
        """The :class:`Signer` of ``derive_signing_key(secret_key, date, region, service)``."""
        return self._signers(secret_key, date, region, service)

    def _new_signer(self, secret_key: str, date: str, region: str, service: str) -> Signer:
        return Signer(self.get(secret_key, date, region, service))

    def clear(self) -> None:
        self.get.cache_clear()


# --------------------------------------------------------------------------- spec steps


@functools.lru_cache(maxsize=1024)  # pure; a client repeats its paths (one per model and operation)
def canonical_uri(raw_path: str) -> str:
    """Canonical URI of a raw (still-encoded) path: normalise segments, then encode once.

    Equivalent to ``quote(remove_dot_segments(path) or '/', safe='/~')`` over the UTF-8 bytes:
    every byte outside ``A-Za-z0-9-._~`` and ``/`` becomes ``%XX``, an existing ``%`` too.
    """
    if not raw_path:
        return "/"
    if "//" in raw_path or "/." in raw_path or raw_path[0] == ".":
        raw_path = _remove_dot_segments(raw_path)
    if _PATH_KEEP_OR_PERCENT_RE.fullmatch(raw_path):  # e.g. ".../model/global.anthropic...v1%3A0/invoke"
        return raw_path.replace("%", "%25") if "%" in raw_path else raw_path
    data = raw_path.encode(*_TEXT_ENCODING).replace(b"%", b"%25")
    return _PATH_ESCAPE_RE.sub(_escape_byte, data).decode("ascii")


def canonical_query(raw_query: str, *, presigned: bool = False) -> str:
    """Canonical query string: decode each ``key=value`` (``+`` stays ``+``), re-encode with
    only ``A-Za-z0-9-._~`` bare, sort by key then value, join with ``&``.

    With ``presigned=True`` the ``X-Amz-Signature`` parameter is left out.
    """
    if not raw_query:
        return ""
    pairs = []
    for piece in raw_query.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        key = _requote(key)
        if presigned and key == _SIGNATURE_PARAM:
            continue
        pairs.append((key, _requote(value)))
    pairs.sort()
    return "&".join([f"{key}={value}" for key, value in pairs])


def canonical_headers(headers: Sequence[tuple[str, str]], signed_headers: Iterable[str]) -> str:
    """``name:value\\n`` for each signed header in the order given; repeated headers are joined
    with ``,``; each value is trimmed and its whitespace runs collapsed to one space.

    Raises:
        SignedHeaderMissing: a signed header is not in ``headers``.
    """
    return _canonical_headers(_index_headers(headers), signed_headers)


def canonical_request(
    req: HttpRequest, signed_headers: Sequence[str], payload_hash: str, *, presigned: bool = False
) -> str:
    """``METHOD\\nURI\\nQUERY\\nHEADERS\\nSIGNED_HEADERS\\nPAYLOAD_HASH`` (headers end in ``\\n``).

    Raises:
        SignedHeaderMissing: a signed header is not in ``req.headers``.
    """
    index = _index_headers(req.headers)
    return _canonical_request(req, index, signed_headers, payload_hash, presigned)


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    """``AWS4-HMAC-SHA256\\n<amz_date>\\n<scope>\\n<hex sha256(canonical_request)>``."""
    digest = hashlib.sha256(canonical_request.encode(*_TEXT_ENCODING)).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _signer(secret_key: str, date: str, region: str, service: str) -> Signer:
    return Signer(derive_signing_key(secret_key, date, region, service))


def derive_signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").

    Pure, so callers may cache it (see :class:`SigningKeyCache`).
    """
    key = hmac.digest(f"AWS4{secret_key}".encode(), date.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, service.encode(), "sha256")
    return hmac.digest(key, SCOPE_TERMINATOR.encode(), "sha256")


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_SHA256_BLOCK = 64


class Signer:
    """HMAC-SHA256 under one signing key (RFC 2104), with the key's padded blocks hashed once:
    each signature then costs two hash copies instead of a whole OpenSSL HMAC set-up, which
    is most of the cost of ``hmac.digest`` for a string to sign."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, signing_key: bytes) -> None:
        if len(signing_key) > _SHA256_BLOCK:
            signing_key = hashlib.sha256(signing_key).digest()
        block = signing_key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(block.translate(_IPAD))
        self._outer = hashlib.sha256(block.translate(_OPAD))

    def signature(self, string_to_sign: str) -> str:
        """Hex HMAC-SHA256 of ``string_to_sign`` (= ``signature(signing_key, string_to_sign)``)."""
        inner = self._inner.copy()
        inner.update(string_to_sign.encode(*_TEXT_ENCODING))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def signature(signing_key: bytes, string_to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign under the signing key."""
    return hmac.digest(signing_key, string_to_sign.encode(*_TEXT_ENCODING), "sha256").hex()


# --------------------------------------------------------------------------- parsing


def parse_authorization(value: str) -> SigV4Authorization | BearerToken:
    """Parse an ``Authorization`` header value (SigV4 or ``Bearer``).

    Components are separated by ``,`` with optional spaces, in any order.

    Raises:
        MalformedAuthorization: unknown scheme, missing or duplicate component, bad credential
            scope, bad ``SignedHeaders`` list, signature not 64 lowercase hex digits.
    """
    if value.startswith(_BOTOCORE_PREFIX):
        head, found, signature = value.rpartition(_BOTOCORE_SIGNATURE)
        if found and _SIGNATURE_RE.fullmatch(signature) is not None:
            scope = (_botocore_head if len(head) <= _MAX_KEPT_HEAD else _botocore_head.__wrapped__)(head)
            if scope is not None:
                return SigV4Authorization(*scope, signature)
    return _parse_authorization(value)


@functools.lru_cache(maxsize=256)  # pure; a client sends the same head all day
def _botocore_head(head: str) -> tuple[str, str, str, str, tuple[str, ...]] | None:
    """Access key, scope date, region, service and signed headers of an Authorization value
    in botocore's layout, up to its signature; None for any other layout or a repeated header."""
    match = _BOTOCORE_HEAD_RE.fullmatch(head)
    if match is None:
        return None
    access_key, date, region, service, signed = match.groups()
    names = tuple(signed.split(";"))
    return (access_key, date, region, service, names) if len(set(names)) == len(names) else None


def _parse_authorization(value: str) -> SigV4Authorization | BearerToken:
    """The general parser behind ``parse_authorization`` (any layout; every error message)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() == "bearer":
        from claude_bedrock.wire.bearer import MalformedBearer, parse_bearer

        try:
            return parse_bearer(value)
        except MalformedBearer as exc:
            raise MalformedAuthorization(f"Invalid Bearer authorization: {exc.reason}.") from exc
    if scheme != ALGORITHM:
        # A lone word is more likely a key sent without its scheme than a scheme: not repeated.
        shown = f" '{scheme}'" if rest.strip() and len(scheme) <= _MAX_SHOWN_SCHEME else ""
        raise MalformedAuthorization(
            f"Unsupported Authorization scheme{shown}; expected '{ALGORITHM}' or 'Bearer'.",
            Reason.UNSUPPORTED_ALGORITHM,
        )
    params: dict[str, str] = {}
    for component in rest.split(","):
        component = component.strip()
        if not component:
            continue
        name, sep, param = component.partition("=")
        if not sep or name in params:
            raise MalformedAuthorization(
                f"Invalid key=value pair in Authorization header: '{_redact_signature(component)}'. "
                f"Authorization={_redact_signature(value)}"
            )
        params[name] = param
    missing = [name for name in _AUTH_PARAMS if name not in params]
    if missing:
        raise MalformedAuthorization(
            "".join(f"Authorization header requires '{name}' parameter. " for name in missing)
            + f"Authorization={_redact_signature(value)}"
        )
    return SigV4Authorization(
        *_parse_credential(params["Credential"]),
        _parse_signed_headers(params["SignedHeaders"]),
        _parse_signature(params["Signature"]),
    )


def parse_presigned(raw_query: str) -> PresignedAuthorization | None:
    """Parse the SigV4 query-string form; ``None`` when the query carries none of it.

    Raises:
        MalformedAuthorization: some but not all required ``X-Amz-*`` parameters, a repeated
            one, an algorithm other than AWS4-HMAC-SHA256, X-Amz-Expires outside 1..604800.
    """
    if "X-Amz-" not in raw_query:
        return None
    found: dict[str, str] = {}
    for piece in raw_query.split("&"):
        key, _, value = piece.partition("=")
        key = unquote(key)
        if key in PRESIGN_PARAMS:
            if key in found:
                raise MalformedAuthorization(f"Query parameter '{key}' appears more than once.")
            found[key] = unquote(value)
    if not found:
        return None
    if any(name not in found for name in _PRESIGN_REQUIRED):
        raise MalformedAuthorization(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
            "and X-Amz-Expires parameters."
        )
    if found["X-Amz-Algorithm"] != ALGORITHM:
        raise MalformedAuthorization(
            f"X-Amz-Algorithm only supports '{ALGORITHM}', not '{found['X-Amz-Algorithm']}'.",
            Reason.UNSUPPORTED_ALGORITHM,
        )
    expires_text = found["X-Amz-Expires"]
    # not "²" (int() refuses it), nor thousands of digits (int() refuses over 4300)
    digits = expires_text.isascii() and expires_text.isdigit() and len(expires_text.lstrip("0")) <= 6
    if not digits or not 0 < int(expires_text) <= MAX_PRESIGN_EXPIRES_S:
        raise MalformedAuthorization(
            f"X-Amz-Expires must be an integer between 1 and {MAX_PRESIGN_EXPIRES_S} "
            f"(one week, in seconds), not '{expires_text}'."
        )
    return PresignedAuthorization(
        *_parse_credential(found["X-Amz-Credential"]),
        _parse_signed_headers(found["X-Amz-SignedHeaders"]),
        _parse_signature(found["X-Amz-Signature"]),
        amz_date=found["X-Amz-Date"],
        expires=int(expires_text),
        security_token=found.get("X-Amz-Security-Token"),
    )


def extract_authorization(
    req: HttpRequest,
) -> SigV4Authorization | PresignedAuthorization | BearerToken | None:
    """The request's credentials: its ``Authorization`` header, else its presigned query.

    Returns ``None`` when the request carries neither (AWS: "Authorization header is missing").

    Raises:
        MalformedAuthorization: malformed, repeated, or both forms at once.
    """
    return credentials_from([value for name, value in req.headers if name.lower() == "authorization"], req.raw_query)


def credentials_from(
    authorization: Sequence[str] | None, raw_query: str
) -> SigV4Authorization | PresignedAuthorization | BearerToken | None:
    """:func:`extract_authorization` given the ``Authorization`` values (in wire order) and
    the raw query: for a server that has indexed the headers already."""
    if not authorization:
        return parse_presigned(raw_query)
    if len(authorization) > 1:
        raise MalformedAuthorization("The request carries more than one Authorization header.")
    if "X-Amz-Signature=" in raw_query or "X-Amz-Algorithm=" in raw_query:
        raise MalformedAuthorization(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified"
        )
    return parse_authorization(authorization[0])


def short_term_key_request(key: ShortTermApiKey) -> tuple[HttpRequest, PresignedAuthorization]:
    """The presigned request a short-term Bedrock API key encodes, ready for :func:`verify`.

    The token generator presigns ``POST https://<host>/?Action=CallWithBearerToken`` with an
    empty body and only ``host`` signed (wire-protocol reference 6.4). The key expires when its
    URL does, or 12 hours after it was made if that comes first (``auth.expires`` says which).

    Only such a URL is a key: any other presigned URL of the same access key (a presigned
    ``POST`` handed out for one call, its body unsigned or empty) would otherwise become a key
    to every operation of that identity, the admin API's included, for 12 hours.

    Raises:
        MalformedAuthorization: the embedded presigned query is malformed, or it does not
            sign ``POST /?Action=CallWithBearerToken``.
    """
    from claude_bedrock.wire.bearer import SHORT_TERM_KEY_MAX_LIFETIME_S  # loaded with the key

    auth = parse_presigned(key.raw_query)
    if auth is None:  # describe_bearer guarantees the parameters; keep the type checker honest
        raise MalformedAuthorization("Short-term API key carries no presigned signature.")
    actions = [unquote(piece.partition("=")[2]) for piece in key.raw_query.split("&")
               if unquote(piece.partition("=")[0]) == "Action"]
    if key.raw_path != "/" or actions != [_BEARER_TOKEN_ACTION]:
        raise MalformedAuthorization(
            f"Short-term API key is not a presigned '{_BEARER_TOKEN_ACTION}' URL; "
            "make one with aws-bedrock-token-generator."
        )
    auth.expires = min(auth.expires, SHORT_TERM_KEY_MAX_LIFETIME_S)
    return HttpRequest("POST", key.raw_path, key.raw_query, (("host", key.host),), b""), auth


# --------------------------------------------------------------------------- sign


def sign(
    req: HttpRequest,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    amz_date: str,
    *,
    session_token: str | None = None,
    signed_headers: Iterable[str] | None = None,
    add_content_sha256: bool = False,
    key_cache: SigningKeyCache | None = None,
) -> list[tuple[str, str]]:
    """Sign ``req`` as botocore ``SigV4Auth`` does; return the headers to add.

    Returned, in order: ``X-Amz-Date``, ``X-Amz-Security-Token`` (with a session token),
    ``X-Amz-Content-Sha256`` (with ``add_content_sha256``), ``Authorization``. Any header of
    those names already in ``req`` is ignored (the caller replaces it: :func:`with_headers`).
    The payload hash is an existing ``X-Amz-Content-Sha256`` value, else SHA-256 of the body.

    ``signed_headers`` defaults to ``host``, ``content-type`` and every ``x-amz-*`` /
    ``x-amzn-*`` header present (``x-amz-date``, the token and content hash included).

    Raises:
        ValueError: ``amz_date`` is not ``yyyymmddTHHMMSSZ``, no ``Host`` header, or a
            requested signed header is absent.
    """
    if not _AMZ_DATE_RE.fullmatch(amz_date):
        raise ValueError(f"amz_date must look like 20150830T123600Z, not {amz_date!r}")
    replaced = {"authorization", "x-amz-date"}
    added = [("X-Amz-Date", amz_date)]
    if session_token is not None:
        replaced.add("x-amz-security-token")
        added.append(("X-Amz-Security-Token", session_token))
    if add_content_sha256:
        replaced.add("x-amz-content-sha256")
        added.append(("X-Amz-Content-Sha256", hashlib.sha256(req.body).hexdigest()))
    headers = [(n, v) for n, v in req.headers if n.lower() not in replaced] + added
    index = _index_headers(headers)
    names = _choose_signed_headers(index, signed_headers)
    claimed = index.get("x-amz-content-sha256")
    payload_hash = claimed[0] if claimed else hashlib.sha256(req.body).hexdigest()
    signing_req = HttpRequest(req.method, req.raw_path, req.raw_query, headers, req.body)
    creq = _canonical_request(signing_req, index, names, payload_hash, False)
    scope = f"{amz_date[:8]}/{region}/{service}/{SCOPE_TERMINATOR}"
    key = (key_cache.get if key_cache else derive_signing_key)(
        secret_key, amz_date[:8], region, service
    )
    sig = signature(key, string_to_sign(amz_date, scope, creq))
    auth = SigV4Authorization(access_key, amz_date[:8], region, service, names, sig)
    return [*added, ("Authorization", auth.to_header())]


def presign(
    req: HttpRequest,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    amz_date: str,
    expires: int,
    *,
    session_token: str | None = None,
    signed_headers: Iterable[str] = ("host",),
    unsigned_payload: bool = False,
) -> str:
    """Presign ``req`` as botocore ``SigV4QueryAuth`` does; return the new raw query.

    The query is ``req.raw_query`` followed by the ``X-Amz-*`` parameters and, last,
    ``X-Amz-Signature``. The payload hash is SHA-256 of the body (botocore, non-S3), or
    ``UNSIGNED-PAYLOAD`` with ``unsigned_payload`` (S3 style).

    Raises:
        ValueError: bad ``amz_date`` / ``expires``, or a signed header is absent.
    """
    if not _AMZ_DATE_RE.fullmatch(amz_date):
        raise ValueError(f"amz_date must look like 20150830T123600Z, not {amz_date!r}")
    if not 0 < expires <= MAX_PRESIGN_EXPIRES_S:
        raise ValueError(f"expires must be in 1..{MAX_PRESIGN_EXPIRES_S}, not {expires}")
    index = _index_headers(req.headers)
    names = _choose_signed_headers(index, signed_headers)
    scope = f"{amz_date[:8]}/{region}/{service}/{SCOPE_TERMINATOR}"
    auth_params = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{access_key}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", ";".join(names)),
    ]
    if session_token is not None:
        auth_params.append(("X-Amz-Security-Token", session_token))
    encoded = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in auth_params)
    query = f"{req.raw_query}&{encoded}" if req.raw_query else encoded
    payload_hash = UNSIGNED_PAYLOAD if unsigned_payload else hashlib.sha256(req.body).hexdigest()
    signing_req = HttpRequest(req.method, req.raw_path, query, req.headers, req.body)
    creq = _canonical_request(signing_req, index, names, payload_hash, True)
    key = derive_signing_key(secret_key, amz_date[:8], region, service)
    return f"{query}&{_SIGNATURE_PARAM}={signature(key, string_to_sign(amz_date, scope, creq))}"


def with_headers(req: HttpRequest, added: Sequence[tuple[str, str]]) -> HttpRequest:
    """``req`` with ``added`` appended, dropping earlier headers of the same names."""
    names = {name.lower() for name, _ in added}
    kept = [(n, v) for n, v in req.headers if n.lower() not in names]
    return HttpRequest(req.method, req.raw_path, req.raw_query, (*kept, *added), req.body)


# --------------------------------------------------------------------------- verify


def verify(
    req: SignableRequest,
    auth: SigV4Authorization,
    secret_key: str,
    now: datetime,
    *,
    expected_service: str | Iterable[str] | None,
    expected_region: str | None = None,
    skew: timedelta = DEFAULT_SKEW,
    key_cache: SigningKeyCache | None = None,
    header_index: Mapping[str, list[str]] | None = None,
) -> VerifiedRequest:
    """Check ``auth`` (header or presigned form) against ``req`` exactly as received:
    :func:`verify_head`, then :func:`verify_signature`.

    Order of checks: date present and well formed (``X-Amz-Date``, else ``Date``; presigned:
    ``X-Amz-Date`` parameter), scope date = request date, service, region, ``host`` signed,
    every signed header present, time window (``now`` ± ``skew``; presigned: not before
    ``now + skew`` and not after ``X-Amz-Date + X-Amz-Expires``), ``UNSIGNED-PAYLOAD`` only
    when presigned, signature, then ``x-amz-content-sha256`` against the body.

    Args:
        now: the current time (naive means UTC); never read from the clock here.
        expected_service: the signing name(s) accepted (``"bedrock"``, ``"sts"``); None = any.
        expected_region: the only region accepted; None = any (clients sign with their
            configured region, which need not match the host).
        header_index: ``req.headers`` by lower-cased name, values in wire order, when the
            caller has built it already (a server's request object); built here otherwise.

    Raises:
        SignatureError: the subclass and ``reason`` of the first check that failed.
    """
    head = verify_head(req, auth, now, expected_service=expected_service, expected_region=expected_region,
                       skew=skew, header_index=header_index)
    payload_hash, creq, sts = verify_signature(req, auth, head, secret_key, key_cache=key_cache)
    return VerifiedRequest(
        access_key=auth.access_key,
        region=auth.region,
        service=auth.service,
        amz_date=head.amz_date,
        request_time=head.request_time,
        signed_headers=auth.signed_headers,
        security_token=head.security_token,
        security_token_signed=head.security_token_signed,
        presigned=isinstance(auth, PresignedAuthorization),
        payload_hash=payload_hash,
        canonical_request=creq,
        string_to_sign=sts,
    )


def verify_head(
    req: SignableRequest,
    auth: SigV4Authorization,
    now: datetime,
    *,
    expected_service: str | Iterable[str] | None,
    expected_region: str | None = None,
    skew: timedelta = DEFAULT_SKEW,
    header_index: Mapping[str, list[str]] | None = None,
) -> CheckedHead:
    """The checks of :func:`verify` that need neither the body nor the secret key, up to
    the signature: a server runs them before it reads the body (an anonymous client cannot
    make it buffer one), then :func:`verify_signature`. ``req.body`` is not read.

    Raises:
        SignatureError: the subclass and ``reason`` of the first check that failed.
    """
    index = _index_headers(req.headers) if header_index is None else header_index
    presigned = isinstance(auth, PresignedAuthorization)
    amz_date, request_time = _request_date(index, auth)
    _check_scope(auth, amz_date, expected_service, expected_region)
    if "host" not in auth.signed_headers:
        raise HostNotSigned(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    for name in auth.signed_headers:
        if name not in index:
            raise SignedHeaderMissing(name)
    _check_time(amz_date, request_time, now, skew, auth)

    claimed = index.get("x-amz-content-sha256")
    claimed_hash = claimed[0] if claimed else None
    if claimed_hash == UNSIGNED_PAYLOAD and not presigned:
        raise PayloadHashMismatch(
            "UNSIGNED-PAYLOAD is only accepted on presigned requests.",
            Reason.UNSIGNED_PAYLOAD_REFUSED,
        )
    if presigned:
        token = auth.security_token  # type: ignore[attr-defined]
        token_signed = token is not None
    else:
        tokens = index.get("x-amz-security-token")
        token = tokens[0] if tokens else None
        token_signed = "x-amz-security-token" in auth.signed_headers
    return CheckedHead(index, amz_date, request_time, claimed_hash, token, token_signed)


def verify_signature(
    req: SignableRequest,
    auth: SigV4Authorization,
    head: CheckedHead,
    secret_key: str,
    *,
    key_cache: SigningKeyCache | None = None,
) -> tuple[str, str, str]:
    """The rest of :func:`verify` once :func:`verify_head` passed for ``req`` and ``auth``:
    the signature (over the body's hash when no ``x-amz-content-sha256`` is claimed), then
    the claimed hash against the body.

    Returns:
        The payload hash, canonical request and string to sign that matched.

    Raises:
        SignatureMismatch, PayloadHashMismatch.
    """
    claimed_hash = head.claimed_hash
    signer = (key_cache.signer if key_cache else _signer)(secret_key, auth.date, auth.region, auth.service)
    matched = _match_signature(req, head.index, auth, head.amz_date, signer, claimed_hash)
    if claimed_hash is not None and claimed_hash != UNSIGNED_PAYLOAD:
        body_hash = hashlib.sha256(req.body).hexdigest().encode()
        if not hmac.compare_digest(claimed_hash.lower().encode(*_TEXT_ENCODING), body_hash):
            raise PayloadHashMismatch(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
    return matched


# --------------------------------------------------------------------------- internals


def redact_session_tokens(text: str) -> str:
    """``text`` (a canonical request, or an error message quoting one) with the session token
    of its ``x-amz-security-token`` header line and ``X-Amz-Security-Token`` parameter replaced."""
    return _TOKEN_QUERY_RE.sub(rf"\1{_REDACTED}", _TOKEN_HEADER_LINE_RE.sub(rf"\1{_REDACTED}", text))


def _redact_signature(authorization: str) -> str:
    """An Authorization value fit for an error message: its signature replaced."""
    return _SIGNATURE_VALUE_RE.sub(rf"\1{_REDACTED}", authorization)


def _text(value: str | bytes) -> str:
    return value.decode(*_TEXT_ENCODING) if isinstance(value, bytes) else value


def _shown_text(text: str) -> str:
    """``text`` (wire bytes read by ``_text``) fit for a message: bytes that are not UTF-8 as U+FFFD."""
    return text if text.isascii() else text.encode(*_TEXT_ENCODING).decode("utf-8", "replace")


def _escape_byte(match: re.Match[bytes]) -> bytes:
    return _PERCENT_ESCAPES[match.group()]


def _requote(component: str) -> str:
    """Percent-decode (``+`` is not a space) then encode all but ``A-Za-z0-9-._~``."""
    return quote(unquote_to_bytes(component.encode(*_TEXT_ENCODING)), safe="-_.~")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 plus AWS's removal of empty segments (botocore ``remove_dot_segments``)."""
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if output:
                output.pop()
        elif segment and segment != ".":
            output.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and output else ""
    return first + "/".join(output) + last or "/"


def _index_headers(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for name, value in headers:
        index.setdefault(name.lower(), []).append(value)
    return index


def _canonical_headers(index: Mapping[str, list[str]], signed_headers: Iterable[str]) -> str:
    lines = []
    for name in signed_headers:
        values = index.get(name)
        if values is None:
            raise SignedHeaderMissing(name)
        if len(values) == 1:
            lines.append(f"{name}:{' '.join(values[0].split())}\n")
        else:
            lines.append(f"{name}:{','.join([' '.join(v.split()) for v in values])}\n")
    return "".join(lines)


def _canonical_request(
    req: SignableRequest,
    index: Mapping[str, list[str]],
    signed_headers: Sequence[str],
    payload_hash: str,
    presigned: bool,
) -> str:
    return (
        f"{req.method}\n{canonical_uri(req.raw_path)}\n"
        f"{canonical_query(req.raw_query, presigned=presigned)}\n"
        f"{_canonical_headers(index, signed_headers)}\n{';'.join(signed_headers)}\n{payload_hash}"
    )


def _choose_signed_headers(
    index: dict[str, list[str]], requested: Iterable[str] | None
) -> tuple[str, ...]:
    if requested is None:
        if "host" not in index:
            raise ValueError("sign() needs a Host header in the request")
        chosen = {n for n in index if n in _DEFAULT_SIGNED or n.startswith(("x-amz-", "x-amzn-"))}
    else:
        chosen = {n.lower() for n in requested}
        absent = sorted(chosen - index.keys())
        if absent:
            raise ValueError(f"cannot sign headers absent from the request: {absent}")
    return tuple(sorted(chosen))


def _parse_credential(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise MalformedAuthorization(
            f"Credential must have the form '<access key>/<yyyymmdd>/<region>/<service>/"
            f"{SCOPE_TERMINATOR}', not '{credential}'."
        )
    access_key, date, region, service, terminator = parts
    if terminator != SCOPE_TERMINATOR:
        raise MalformedAuthorization(
            f"Credential should be scoped with a valid terminator: '{SCOPE_TERMINATOR}', "
            f"not '{terminator}'. "
        )
    if not _SCOPE_DATE_RE.fullmatch(date):
        raise MalformedAuthorization(f"Credential scope date must be yyyymmdd, not '{date}'.")
    return access_key, date, region, service


def _parse_signed_headers(value: str) -> tuple[str, ...]:
    if not _SIGNED_HEADERS_RE.fullmatch(value):
        raise MalformedAuthorization(
            f"SignedHeaders must be lowercase header names separated by ';', not '{value}'."
        )
    names = tuple(value.split(";"))
    if len(set(names)) != len(names):
        raise MalformedAuthorization(f"SignedHeaders lists a header twice: '{value}'.")
    return names


def _parse_signature(value: str) -> str:
    if not _SIGNATURE_RE.fullmatch(value):
        raise MalformedAuthorization(
            "Signature must be 64 lowercase hexadecimal digits."
        )
    return value


@functools.lru_cache(maxsize=64)  # pure; requests signed in the same second share the value
def _parse_amz_date(value: str) -> datetime | None:
    if not _AMZ_DATE_RE.fullmatch(value):
        return None
    try:
        return datetime(
            int(value[0:4]), int(value[4:6]), int(value[6:8]),
            int(value[9:11]), int(value[11:13]), int(value[13:15]), tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        return None


def _parse_http_date(value: str) -> datetime | None:
    """``Date`` header: IMF-fixdate / RFC 850 / asctime (``email.utils``), or SigV4 basic."""
    parsed = _parse_amz_date(value)
    if parsed is not None:
        return parsed
    try:
        parsed = parsedate_to_datetime(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):  # year 9999 -2300 overflows
        return None


def _request_date(index: Mapping[str, list[str]], auth: SigV4Authorization) -> tuple[str, datetime]:
    """The request's SigV4 timestamp (string used in the string to sign) and its datetime."""
    if isinstance(auth, PresignedAuthorization):
        value, parse = auth.amz_date, _parse_amz_date
    elif "x-amz-date" in index:
        value, parse = ",".join(index["x-amz-date"]), _parse_amz_date
    elif "date" in index:
        value, parse = ",".join(index["date"]), _parse_http_date
    else:
        raise MissingDate(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
            f"header. Authorization={_redact_signature(auth.to_header())}"
        )
    parsed = parse(value)
    if parsed is None:
        raise MalformedDate(
            f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        )
    return parsed.strftime(AMZ_DATE_FORMAT) if parse is _parse_http_date else value, parsed


def _match_signature(
    req: SignableRequest,
    index: Mapping[str, list[str]],
    auth: SigV4Authorization,
    amz_date: str,
    signer: Signer,
    claimed_hash: str | None,
) -> tuple[str, str, str]:
    """Compare signatures; return (payload hash, canonical request, string to sign) that matched.

    The payload hash is the ``x-amz-content-sha256`` claim, else SHA-256 of the body; a
    presigned request without the claim may also have signed ``UNSIGNED-PAYLOAD`` (S3 style).

    Raises:
        SignatureMismatch: with the first (body-hash) canonical request and string to sign.
    """
    presigned = isinstance(auth, PresignedAuthorization)
    payload_hash = claimed_hash or hashlib.sha256(req.body).hexdigest()
    creq = _canonical_request(req, index, auth.signed_headers, payload_hash, presigned)
    sts = string_to_sign(amz_date, auth.scope, creq)
    if hmac.compare_digest(signer.signature(sts), auth.signature):
        return payload_hash, creq, sts
    if presigned and claimed_hash is None:
        alt_creq = _canonical_request(req, index, auth.signed_headers, UNSIGNED_PAYLOAD, True)
        alt_sts = string_to_sign(amz_date, auth.scope, alt_creq)
        if hmac.compare_digest(signer.signature(alt_sts), auth.signature):
            return UNSIGNED_PAYLOAD, alt_creq, alt_sts
    raise SignatureMismatch(creq, sts)


def _check_scope(
    auth: SigV4Authorization,
    amz_date: str,
    expected_service: str | Iterable[str] | None,
    expected_region: str | None,
) -> None:
    if auth.date != amz_date[:8]:
        raise CredentialScopeMismatch(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{auth.date}' != '{amz_date[:8]}', from '{amz_date}'.",
            Reason.SCOPE_DATE_MISMATCH,
            expected=amz_date[:8],
            actual=auth.date,
        )
    if expected_service is not None:
        services = (
            (expected_service,) if isinstance(expected_service, str) else tuple(expected_service)
        )
        if auth.service not in services:
            raise CredentialScopeMismatch(
                f"Credential should be scoped to correct service: '{services[0]}'. ",
                Reason.SCOPE_SERVICE_MISMATCH,
                expected=services[0],
                actual=auth.service,
            )
    if expected_region is not None and auth.region != expected_region:
        raise CredentialScopeMismatch(
            f"Credential should be scoped to a valid region, not '{auth.region}'. ",
            Reason.SCOPE_REGION_MISMATCH,
            expected=expected_region,
            actual=auth.region,
        )


def _check_time(
    amz_date: str, request_time: datetime, now: datetime, skew: timedelta, auth: SigV4Authorization
) -> None:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if request_time > now + skew:
        raise SignatureNotYetCurrent(
            f"Signature not yet current: {amz_date} is still later than "
            f"{_stamp(now + skew)} ({_stamp(now)} + {_duration(skew)})"
        )
    if isinstance(auth, PresignedAuthorization):
        lifetime = timedelta(seconds=auth.expires)
        reason = Reason.PRESIGNED_URL_EXPIRED
    else:
        lifetime, reason = skew, Reason.SIGNATURE_EXPIRED
    if request_time < now - lifetime:
        raise SignatureExpired(
            f"Signature expired: {amz_date} is now earlier than "
            f"{_stamp(now - lifetime)} ({_stamp(now)} - {_duration(lifetime)})",
            reason,
        )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(AMZ_DATE_FORMAT)


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 60} min." if seconds % 60 == 0 else f"{seconds} sec."
