"""Who is calling: SigV4 or Bedrock API key authentication, in dev or strict mode.

Rules (issue "Runtime API", section Authentication):

* Keys listed in the config are always verified (signature, clock skew, scope, session token).
  A short-term Bedrock API key is a presigned URL signed with an access key: when that access
  key is listed, the key is verified as such and its calls are that credential's (account,
  identity), as AWS scopes a short-term key to the principal that made it.
* Development mode (default on a loopback bind): an unlisted access key or API key is accepted
  as the default development account, and the server log says the signature was not checked.
* Strict mode rejects unlisted keys with UnrecognizedClientException.
* A request with no Authorization at all is refused in both modes.
* Two steps, so that a request is refused before its body is read whenever the refusal does
  not depend on the body (``admit``: no or malformed Authorization, unlisted or wrong key,
  session token, date window, scope), and an anonymous client cannot make a strict server
  buffer 25 MB bodies; only a listed access key's signature waits for the body (``finish``).

Secrets never reach a log line: only access key IDs and account IDs are logged.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from claude_bedrock.domain.log_text import one_line
from claude_bedrock.domain.region_name import REGION_NAME_RE
from claude_bedrock.domain.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationException,
    UnrecognizedClientException,
)
from claude_bedrock.service.http import Request, utf8_value
from claude_bedrock.settings import DEFAULT_REGION, ApiKey, Credential, Settings
from claude_bedrock.wire import sigv4

if TYPE_CHECKING:  # API keys' formats: loaded when a Bearer header first arrives
    from claude_bedrock.wire.bearer import ShortTermApiKey

log = logging.getLogger("claude_bedrock.auth")

_INVALID_TOKEN = "The security token included in the request is invalid."
#: Unlisted keys remembered for the "signature not checked" warning (one line per key): the
#: most recently new ones, so a key met again after this many others is named once more.
MAX_WARNED_KEYS = 1024
#: Region names of credential scopes seen valid, remembered so a request pays a set lookup.
MAX_KNOWN_REGIONS = 256


@dataclass
class Identity:
    account_id: str
    arn: str
    user_id: str
    region: str
    #: "sigv4", "bearer", or "sigv4-unverified"/"bearer-unverified" in development mode.
    method: str
    access_key_id: str | None = None
    #: a configured key marked ``admin = true``: may use a strict server's admin API
    admin: bool = False


@functools.lru_cache(maxsize=1024)  # pure; a server sees a handful of ARNs
def _user_id(arn: str) -> str:
    """A stable IAM-style unique ID (``AIDA`` + 17 chars) derived from the ARN."""
    digest = hashlib.sha256(arn.encode()).hexdigest().upper()
    return "AIDA" + digest[:17]


@dataclass(slots=True)
class PendingSignature:
    """A listed access key's request that passed every check of its head (``admit``): its
    signature is checked once the body is read (``finish``)."""

    auth: sigv4.SigV4Authorization
    credential: Credential
    service: str
    head: sigv4.CheckedHead


class Authenticator:
    """Turns a request into an Identity or raises the AWS front-door error."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] | None = None) -> None:
        self._strict = settings.effective_strict_auth
        self._default_account = settings.account_id
        self._default_region = DEFAULT_REGION
        self._credentials: dict[str, Credential] = {c.access_key_id: c for c in settings.credentials}
        # API keys are looked up by their SHA-256, so no key comparison leaks timing.
        self._api_keys: dict[bytes, ApiKey] = {
            hashlib.sha256(k.key.encode()).digest(): k for k in settings.api_keys
        }
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._warned: dict[str, None] = {}  # insertion-ordered: the oldest key goes first
        self._valid_regions: set[str] = set()
        self._key_cache = sigv4.SigningKeyCache(maxsize=256)

    @property
    def strict(self) -> bool:
        return self._strict

    def admit(self, request: Request, service: str) -> Identity | PendingSignature:
        """Every check the request's head decides (its body is not read): the caller's
        Identity, or, for a listed access key, the signature left to check with the body.

        Raises:
            BedrockError: the AWS front-door error.
        """
        try:
            parsed = sigv4.credentials_from(request.header_lists.get("authorization"), request.raw_query)
        except sigv4.SignatureError as exc:  # malformed, repeated, or header and query at once
            raise IncompleteSignatureException(exc.aws_message()) from None
        if parsed is None:
            raise MissingAuthenticationException("Authorization header is missing")
        if isinstance(parsed, sigv4.SigV4Authorization):
            return self._sigv4(request, service, parsed)
        if service != "bedrock":  # API keys are for the signing name bedrock only (wire 6.4)
            raise IncompleteSignatureException(
                f"Bedrock API keys (Bearer) are not accepted by {service.upper()}; sign the request with SigV4."
            )
        return self._bearer(parsed.token, request)  # a BearerToken

    def finish(self, request: Request, admitted: Identity | PendingSignature) -> Identity:
        """The Identity of an admitted request, now that its body is read: a listed access
        key's signature (and claimed payload hash) checked.

        Raises:
            BedrockError: the AWS front-door error.
        """
        if type(admitted) is Identity:
            return admitted
        auth, credential, service = admitted.auth, admitted.credential, admitted.service
        self._verify_signature(request, auth, credential, service, admitted.head)
        return _credential_identity(credential, auth.region, "sigv4", auth.access_key)

    def _bearer(self, token: str, request: Request) -> Identity:
        key = self._api_keys.get(hashlib.sha256(token.encode()).digest())
        if key is not None:
            region = self._region_of(request, token, key.region)
            return Identity(key.account_id, key.arn, _user_id(key.arn), region, "bearer", admin=key.admin)
        short_term = self._short_term_key(token)
        if short_term is not None:
            return self._short_term(short_term, token, request)
        if self._strict:
            raise UnrecognizedClientException(_INVALID_TOKEN)
        self._warn_once("bearer", "API key not listed in the config: accepted without checking (development mode)")
        arn = f"arn:aws:iam::{self._default_account}:user/developer"
        return Identity(
            self._default_account, arn, _user_id(arn), self._region_of(request, token, None), "bearer-unverified"
        )

    def _sigv4(self, request: Request, service: str, auth: sigv4.SigV4Authorization) -> Identity | PendingSignature:
        if auth.service != service:
            raise InvalidSignatureException(
                f"Credential should be scoped to correct service: '{service}'. "
            )
        if auth.region not in self._valid_regions:  # it scopes the caller's state and is logged
            self._check_region(auth.region)
        credential = self._credentials.get(auth.access_key)
        if credential is None:
            if self._strict:
                raise UnrecognizedClientException(_INVALID_TOKEN)
            self._warn_once(
                auth.access_key,
                # a presigned URL's key is percent-decoded from the query: it may hold a line break
                f"access key {one_line(auth.access_key)} is not listed in the config: "
                "signature not checked (development mode)",
            )
            arn = f"arn:aws:iam::{self._default_account}:user/developer"
            return Identity(
                self._default_account, arn, _user_id(arn), auth.region, "sigv4-unverified", auth.access_key
            )
        head = self._verify_head(request, auth, credential, service, request.header_lists)
        return PendingSignature(auth, credential, service, head)

    def _verify_head(
        self,
        request: sigv4.SignableRequest,
        auth: sigv4.SigV4Authorization,
        credential: Credential,
        service: str,
        header_index: Mapping[str, list[str]] | None,
    ) -> sigv4.CheckedHead:
        """A listed credential's checks that need no body: date, scope, window, then its
        session token (checked, like the access key, before the signature: a wrong one is
        refused without reading the body); or raise the AWS error."""
        try:
            head = sigv4.verify_head(request, auth, self._clock(), expected_service=service,
                                     header_index=header_index)
        except sigv4.SignatureError as exc:
            raise _aws_error(exc) from None
        token = head.security_token  # the header, or the query parameter of a presigned URL
        if token is not None or credential.session_tokens:
            from_header = not isinstance(auth, sigv4.PresignedAuthorization)
            if not _known_token(token or "", credential.session_tokens, from_header):
                if credential.session_tokens or self._strict:
                    raise UnrecognizedClientException(_INVALID_TOKEN)
        return head

    def _verify_signature(
        self,
        request: sigv4.SignableRequest,
        auth: sigv4.SigV4Authorization,
        credential: Credential,
        service: str,
        head: sigv4.CheckedHead,
    ) -> None:
        """Check the signature of a request ``_verify_head`` passed, or raise the AWS error.

        Header values are read one byte per character (latin-1), which is how the npm SDK's
        runtime sends what it signs. boto3 sends a value outside ASCII as UTF-8 bytes and signs
        those bytes. When the signature does not match and a header holds such bytes, it is
        checked again with them read as UTF-8: the bytes as received, as SigV4 hashes them.
        """
        try:
            try:
                sigv4.verify_signature(request, auth, head, credential.secret_access_key, key_cache=self._key_cache)
            except sigv4.SignatureMismatch:
                as_utf8 = _utf8_headers(request)
                if as_utf8 is None:
                    raise
                # The window was checked when the head arrived: the head is read again as UTF-8 at
                # its own signing time, so only the signature is checked again (a slow upload is
                # not "expired" here).
                utf8_head = sigv4.verify_head(as_utf8, auth, head.request_time, expected_service=service)
                sigv4.verify_signature(as_utf8, auth, utf8_head, credential.secret_access_key,
                                       key_cache=self._key_cache)
        except sigv4.SignatureMismatch as exc:
            log.info("signature mismatch for access key %s", auth.access_key)
            raise InvalidSignatureException(exc.aws_message()) from None
        except sigv4.SignatureError as exc:
            raise _aws_error(exc) from None

    def _short_term_key(self, token: str) -> ShortTermApiKey | None:
        """The short-term API key ``token`` is, when an access key of the config signed it."""
        from claude_bedrock.wire import bearer  # API keys' formats: loaded on first use

        if not token.startswith(bearer.SHORT_TERM_KEY_PREFIX):
            return None
        described = bearer.describe_bearer(token)
        if isinstance(described, bearer.ShortTermApiKey) and described.access_key in self._credentials:
            return described
        return None

    def _short_term(self, key: ShortTermApiKey, token: str, request: Request) -> Identity:
        """A short-term API key made with a listed credential: verified like that credential's
        own presigned request (signature, expiry, session token), and its calls are the
        credential's, in the key's region (or an AWS-like Host's)."""
        credential = self._credentials[key.access_key]
        try:
            presigned_request, auth = sigv4.short_term_key_request(key)
        except sigv4.SignatureError as exc:
            raise IncompleteSignatureException(exc.aws_message()) from None
        head = self._verify_head(presigned_request, auth, credential, "bedrock", None)
        self._verify_signature(presigned_request, auth, credential, "bedrock", head)
        return _credential_identity(credential, self._region_of(request, token, None), "bearer", key.access_key)

    def _region_of(self, request: Request, token: str, configured: str | None) -> str:
        """A bearer request carries no credential scope. Its region is, in order: the Host's,
        when AWS-like (``bedrock-runtime.<region>.amazonaws.com``); the key's ``region`` in
        the config; the scope of a short-term key's presigned URL; else us-east-1."""
        host = request.header("host") or ""
        parts = host.split(".")
        if (len(parts) >= 4 and parts[0] in ("bedrock-runtime", "bedrock") and parts[-2] == "amazonaws"
                and REGION_NAME_RE.fullmatch(parts[1])):
            return parts[1]
        if configured is not None:
            return configured
        from claude_bedrock.wire import bearer  # API keys' formats: loaded on first use

        if token.startswith(bearer.SHORT_TERM_KEY_PREFIX):
            described = bearer.describe_bearer(token)
            if isinstance(described, bearer.ShortTermApiKey) and REGION_NAME_RE.fullmatch(described.region):
                return described.region
        return self._default_region

    def _check_region(self, region: str) -> None:
        """Refuse a credential scope whose region is not a region name (the AWS words); the
        names seen valid are kept (bounded: clients choose them), so a request pays a set lookup."""
        if not REGION_NAME_RE.fullmatch(region):
            raise InvalidSignatureException("Credential should be scoped to a valid region. ")
        if len(self._valid_regions) < MAX_KNOWN_REGIONS:
            self._valid_regions.add(region)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            if len(self._warned) >= MAX_WARNED_KEYS:  # bounded: keys are chosen by clients
                del self._warned[next(iter(self._warned))]
            self._warned[key] = None
            log.warning(message)


def _credential_identity(credential: Credential, region: str, method: str, access_key: str) -> Identity:
    """The Identity of a listed credential whose request was verified."""
    return Identity(credential.account_id, credential.arn, _user_id(credential.arn), region, method, access_key,
                    credential.admin)


def _aws_error(exc: sigv4.SignatureError) -> IncompleteSignatureException | InvalidSignatureException:
    """The front-door error AWS answers a SigV4 failure with."""
    if exc.aws_code == "IncompleteSignatureException":
        return IncompleteSignatureException(exc.aws_message())
    return InvalidSignatureException(exc.aws_message())


def _utf8_headers(request: sigv4.SignableRequest) -> sigv4.HttpRequest | None:
    """``request`` with its header values outside ASCII read as the bytes they are (UTF-8, and
    ``surrogateescape`` for bytes that are not: SigV4 hashes them back as received; ``_verify``);
    None when every value is ASCII (the reading changes nothing)."""
    headers = list(request.headers)
    if all(value.isascii() for _, value in headers):
        return None
    as_bytes = [(name, value.encode("latin-1").decode("utf-8", "surrogateescape")) for name, value in headers]
    return sigv4.HttpRequest(request.method, request.raw_path, request.raw_query, as_bytes, request.body)


def _known_token(token: str, tokens: tuple[str, ...], from_header: bool) -> bool:
    """Whether ``token`` is one of ``tokens``. A header's value outside ASCII is also read as
    the UTF-8 bytes boto3 sends (``_verify_signature`` reads headers both ways too)."""
    if any(_same_secret(token, t) for t in tokens):
        return True
    return from_header and not token.isascii() and any(_same_secret(utf8_value(token), t) for t in tokens)


def _same_secret(given: str, expected: str) -> bool:
    """Constant-time equality of two secrets, whatever characters a client sent (comparing
    ``str`` objects refuses non-ASCII text)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))
