"""Bedrock API keys: ``Authorization: Bearer <token>`` parsing and token-format recognition.

Purpose: turn the value of an ``Authorization`` header that uses the ``Bearer`` scheme into a
:class:`BearerToken`, and tell what kind of Bedrock API key a token is, without any network
call and without judging whether a real AWS key is valid.

Invariants:
  * Sans-I/O and pure: no clock, no environment, no network. Nothing here verifies a key
    against AWS; ``claude_bedrock.wire.sigv4.short_term_key_request`` turns a short-term key
    into a request that the SigV4 verifier can check against a configured secret.
  * The token text never appears in ``repr()`` (tokens are credentials and end up in logs).
  * This module does not import ``sigv4`` (``sigv4`` imports this one; the arrow points one way).

Source: wire-protocol reference section 6.4 (wire form, captured ``Bearer FAKE-BEDROCK-API-KEY``
from boto3 / anthropic-py / anthropic-js), token formats: long-term ``ABSK`` +
base64(``BedrockAPIKey-<name>-at-<account>:<secret>``); short-term ``bedrock-api-key-`` +
base64 of a SigV4 presigned URL ``bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-...
&X-Amz-Signature=...&Version=1`` (aws-bedrock-token-generator: botocore ``SigV4QueryAuth``,
POST, host ``bedrock.amazonaws.com``, ``&Version=1`` appended *after* signing, so unsigned).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

__all__ = [
    "LONG_TERM_KEY_PREFIX",
    "SHORT_TERM_KEY_MAX_LIFETIME_S",
    "SHORT_TERM_KEY_PREFIX",
    "BearerToken",
    "LongTermApiKey",
    "MalformedBearer",
    "ShortTermApiKey",
    "describe_bearer",
    "parse_bearer",
]

LONG_TERM_KEY_PREFIX = "ABSK"
SHORT_TERM_KEY_PREFIX = "bedrock-api-key-"
#: A short-term key lasts no longer than 12 hours (AWS Bedrock user guide, "Generate an Amazon
#: Bedrock API key"; the token generator's ``TOKEN_DURATION``), whatever its URL's X-Amz-Expires.
SHORT_TERM_KEY_MAX_LIFETIME_S = 43_200
_LONG_TERM_ID_PREFIX = "BedrockAPIKey-"
_LONG_TERM_ACCOUNT_SEPARATOR = "-at-"

#: RFC 6750 section 2.1 ``b64token``: the only characters a bearer token may hold.
_B64TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*", re.ASCII)
_ACCOUNT_ID_RE = re.compile(r"[0-9]{12}", re.ASCII)
#: Query parameters every SigV4 presigned URL carries (X-Amz-Security-Token is optional).
_PRESIGN_REQUIRED = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Signature")


class MalformedBearer(ValueError):
    """The ``Authorization`` value is not ``Bearer <b64token>``. ``reason`` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BearerToken:
    """The token of an ``Authorization: Bearer <token>`` header, exactly as sent."""

    token: str

    def __repr__(self) -> str:
        return f"BearerToken({_mask(self.token)})"


@dataclass(frozen=True, slots=True)
class LongTermApiKey:
    """A long-term Bedrock API key: ``ABSK`` + base64(``<key_id>:<secret>``).

    ``key_id`` is the IAM service-specific credential id ``BedrockAPIKey-<name>-at-<account>``.
    """

    key_id: str
    name: str
    account_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ShortTermApiKey:
    """A short-term Bedrock API key: ``bedrock-api-key-`` + base64 of a SigV4 presigned URL.

    ``raw_query`` is the signed part of the query (everything up to and including the last
    ``X-Amz-*`` parameter); ``unsigned_params`` holds what was appended after signing
    (``Version=1``). The ``X-Amz-*`` summary fields are percent-decoded for display; use
    ``sigv4.short_term_key_request(key)`` to verify the signature.
    """

    presigned_url: str
    host: str
    raw_path: str
    raw_query: str
    unsigned_params: tuple[tuple[str, str], ...]
    access_key: str
    region: str
    service: str
    amz_date: str
    expires: int | None

    @property
    def version(self) -> str | None:
        """The token format version (``Version`` parameter), if present."""
        for key, value in self.unsigned_params:
            if key == "Version":
                return value
        return None


def parse_bearer(value: str) -> BearerToken:
    """Parse an ``Authorization`` header value of the form ``Bearer <token>``.

    The scheme name is case-insensitive (RFC 7235 section 2.1); exactly one run of spaces
    separates it from the token, which must be an RFC 6750 ``b64token``.

    Raises:
        MalformedBearer: wrong scheme, missing token, or characters a token cannot hold.
    """
    scheme, sep, rest = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MalformedBearer(f"authorization scheme is {scheme!r}, not 'Bearer'")
    token = rest.strip(" ")
    if not sep or not token:
        raise MalformedBearer("'Bearer' authorization carries no token")
    if not _B64TOKEN_RE.fullmatch(token):
        raise MalformedBearer("bearer token holds characters outside the RFC 6750 b64token set")
    return BearerToken(token)


def describe_bearer(token: str | BearerToken) -> LongTermApiKey | ShortTermApiKey | None:
    """Recognise a Bedrock API key format; ``None`` when the token is in neither format.

    Only parses: the key is not checked with AWS (no network) and a short-term key's
    signature is not checked here.
    """
    text = token.token if isinstance(token, BearerToken) else token
    if text.startswith(SHORT_TERM_KEY_PREFIX):
        return _describe_short_term(text[len(SHORT_TERM_KEY_PREFIX) :])
    if text.startswith(LONG_TERM_KEY_PREFIX):
        return _describe_long_term(text[len(LONG_TERM_KEY_PREFIX) :])
    return None


def _describe_long_term(encoded: str) -> LongTermApiKey | None:
    decoded = _b64decode_text(encoded)
    if decoded is None:
        return None
    key_id, sep, secret = decoded.partition(":")
    if not sep or not secret or not key_id.startswith(_LONG_TERM_ID_PREFIX):
        return None
    name, sep, account_id = key_id[len(_LONG_TERM_ID_PREFIX) :].rpartition(
        _LONG_TERM_ACCOUNT_SEPARATOR
    )
    if not sep or not name or not _ACCOUNT_ID_RE.fullmatch(account_id):
        return None
    return LongTermApiKey(key_id=key_id, name=name, account_id=account_id, secret=secret)


def _describe_short_term(encoded: str) -> ShortTermApiKey | None:
    url = _b64decode_text(encoded)
    if url is None:
        return None
    for scheme in ("https://", "http://"):
        if url.startswith(scheme):
            url_rest = url[len(scheme) :]
            break
    else:
        url_rest = url
    host, slash, target = url_rest.partition("/")
    path, _, query = ("/" + target).partition("?")
    if not host or not slash or not query:
        return None
    pieces = query.split("&")
    # The signed part ends with the last X-Amz-* parameter: botocore (the Python generator)
    # puts X-Amz-Signature last, smithy (the JavaScript one) sorts the query, X-Amz-SignedHeaders
    # after X-Amz-Signature; both append Version=1 after signing.
    signed_count = 1 + max((index for index, piece in enumerate(pieces) if piece.startswith("X-Amz-")),
                           default=len(pieces) - 1)
    params: dict[str, str] = {}
    for piece in pieces[:signed_count]:
        key, _, raw_value = piece.partition("=")
        params.setdefault(unquote(key), unquote(raw_value))
    if any(name not in params for name in _PRESIGN_REQUIRED):
        return None
    unsigned = tuple(
        (unquote(key), unquote(value))
        for key, _, value in (piece.partition("=") for piece in pieces[signed_count:] if piece)
    )
    scope = params["X-Amz-Credential"].split("/")
    if len(scope) != 5:
        return None
    expires_text = params.get("X-Amz-Expires", "")
    return ShortTermApiKey(
        presigned_url=url,
        host=host,
        raw_path=path,
        raw_query="&".join(pieces[:signed_count]),
        unsigned_params=unsigned,
        access_key=scope[0],
        region=scope[2],
        service=scope[3],
        amz_date=params["X-Amz-Date"],
        expires=int(expires_text) if expires_text.isascii() and expires_text.isdigit() and len(expires_text) <= 18
        else None,  # (int() refuses over 4300 digits; sigv4 refuses anything past a week)
    )


def _b64decode_text(encoded: str) -> str | None:
    """Standard base64 (padding optional) to UTF-8 text, or ``None``."""
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        return base64.b64decode(padded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _mask(secret: str) -> str:
    return f"'{secret[:4]}…' ({len(secret)} chars)" if len(secret) > 8 else "'…'"
