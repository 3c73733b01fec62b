"""Reading control-plane input (query strings, JSON bodies) and checking it the way AWS does.

AWS's front end checks every member against the constraints of its botocore shape (length,
pattern, enum, range, required) before the operation runs, and reports all failures in one
``ValidationException``::

    1 validation error detected: Value 'AUDIO' at 'byOutputModality' failed to satisfy
    constraint: Member must satisfy enum value set: [TEXT, IMAGE, EMBEDDING]

Several failures are joined with ``; `` after "N validation errors detected: ". A missing
required member reads ``Value null at 'x' failed to satisfy constraint: Member must not be null``.
Rules are data (``Rule``), declared next to the handlers from the botocore shapes they copy.

Also here: opaque pagination tokens and ISO-8601 timestamps for rest-json responses.
Source: botocore bedrock 2023-04-20 shapes; wire-protocol reference 3.3 (message style), 4.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qs

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.service.http import Request

INVALID_PAGINATION_TOKEN = "The pagination token is invalid."


@dataclass(frozen=True, slots=True)
class Rule:
    """The constraints of one botocore shape member (strings: length; integers: value)."""

    min: int | None = None
    max: int | None = None
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    required: bool = False

    def violations(self, value: Any, path: str) -> list[str]:
        """The constraint failures of ``value`` (None means absent), in AWS's wording."""
        if value is None:
            return [_violation(None, path, "Member must not be null")] if self.required else []
        failures: list[str] = []
        if isinstance(value, int) and not isinstance(value, bool):
            size: int | None = value
        else:  # a JSON value of the wrong type (true, 1.5) has no size: its type check reports it
            size = len(value) if hasattr(value, "__len__") else None
        unit = "value" if isinstance(value, int) else "length"
        if self.min is not None and size is not None and size < self.min:
            failures.append(_violation(value, path, f"Member must have {unit} greater than or equal to {self.min}"))
        if self.max is not None and size is not None and size > self.max:
            failures.append(_violation(value, path, f"Member must have {unit} less than or equal to {self.max}"))
        if self.pattern is not None and isinstance(value, str) and not re.fullmatch(self.pattern, value):
            failures.append(
                _violation(value, path, f"Member must satisfy regular expression pattern: {self.pattern}")
            )
        if self.enum is not None and value not in self.enum:
            failures.append(
                _violation(value, path, f"Member must satisfy enum value set: [{', '.join(self.enum)}]")
            )
        return failures


def _violation(value: Any, path: str, constraint: str) -> str:
    """One failure; blobs are not echoed (AWS's form for binary and sensitive members)."""
    if isinstance(value, (bytes, bytearray)):
        return f"Value at '{path}' failed to satisfy constraint: {constraint}"
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


class Violations:
    """Collects constraint failures of one request; ``raise_if_any`` raises them together."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def check(self, value: Any, path: str, rule: Rule) -> Any:
        """Record ``rule``'s failures for ``value`` and return ``value`` unchanged."""
        self.messages.extend(rule.violations(value, path))
        return value

    def check_all(self, values: dict[str, Any], rules: dict[str, Rule]) -> None:
        for name, rule in rules.items():
            self.check(values.get(name), name, rule)

    def raise_if_any(self) -> None:
        """Raises: ValidationException listing every recorded failure."""
        count = len(self.messages)
        if count:
            noun = "error" if count == 1 else "errors"
            raise ValidationException(f"{count} validation {noun} detected: " + "; ".join(self.messages))


def query_params(request: Request) -> dict[str, str]:
    """Query-string parameters by wire name (the first value of a repeated name)."""
    parsed = parse_qs(request.raw_query, keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is ``{}``).

    Raises: ValidationException when the body is not JSON or not an object.
    """
    body = request.json()
    if not isinstance(body, dict):
        raise ValidationException("The request body must be a JSON object.")
    return body


def typed_member(body: dict[str, Any], name: str, kind: type | tuple[type, ...], path: str | None = None) -> Any:
    """``body[name]`` when absent or of JSON type ``kind``; else ValidationException.

    botocore checks types before sending, so only hand-written requests can get this error.
    """
    value = body.get(name)
    if value is None or (isinstance(value, kind) and not (isinstance(value, bool) and kind is int)):
        return value
    expected = {str: "a string", bool: "a boolean", int: "an integer", list: "a list", dict: "an object"}
    first = kind[0] if isinstance(kind, tuple) else kind
    raise ValidationException(f"Invalid type for '{path or name}': expected {expected.get(first, first.__name__)}.")


#: A query-string integer as AWS reads it (Java ``Integer.parseInt``: an optional sign, then
#: digits). Python's ``int()`` also takes surrounding spaces and ``_`` separators.
_INTEGER = re.compile(r"[+-]?\d+")


def integer_param(params: dict[str, str], name: str) -> int | None:
    """An integer query parameter. Raises ValidationException when it is not a number."""
    raw = params.get(name)
    if raw is None:
        return None
    if _INTEGER.fullmatch(raw):
        try:
            return int(raw)
        except ValueError:  # more than 4300 digits: no integer AWS reads either
            pass
    raise ValidationException(
        f"1 validation error detected: Value '{raw}' at '{name}' failed to satisfy constraint: "
        "Member must be an integer"
    )


# -- pagination --------------------------------------------------------------------------------


def encode_page_token(offset: int, listing: str = "") -> str:
    """An opaque ``nextToken`` for the item at ``offset`` of ``listing`` (the filters that chose
    the items, e.g. ``"APPLICATION"``)."""
    return _token({"v": 1, "offset": offset, "of": listing})


def encode_after_token(key: tuple[Any, ...], listing: str = "") -> str:
    """An opaque ``nextToken`` for the items of ``listing`` whose sort key follows ``key``."""
    return _token({"v": 1, "after": list(key), "of": listing})


def _token(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, listing: str = "") -> int:
    """The offset a ``nextToken`` of ``listing`` stands for. Raises: ValidationException for a
    bad token, or one another listing handed out (its offset means nothing here)."""
    offset = _decode_token(token, listing).get("offset")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ValidationException(INVALID_PAGINATION_TOKEN)
    return offset


def decode_after_token(token: str, listing: str = "") -> tuple[Any, ...]:
    """The sort key an ``encode_after_token`` token of ``listing`` resumes after. Raises:
    ValidationException as ``decode_page_token``."""
    after = _decode_token(token, listing).get("after")
    if not isinstance(after, list):
        raise ValidationException(INVALID_PAGINATION_TOKEN)
    return tuple(after)


def _decode_token(token: str, listing: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(data, dict) or data.get("v") != 1 or data.get("of", "") != listing:
            raise ValueError(token)
    # (RecursionError: JSON nested deeper than the recursion limit; 2048 characters can be)
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error, UnicodeEncodeError):
        raise ValidationException(INVALID_PAGINATION_TOKEN) from None
    return data


def paginate(
    items: list[Any], max_results: int | None, token: str | None, default_page: int, listing: str = "",
    key: Callable[[Any], tuple[Any, ...]] | None = None,
) -> tuple[list[Any], str | None]:
    """One page of ``items`` and the token of the next page (None on the last page). A token
    continues only the ``listing`` that handed it out.

    Items that can be deleted between two pages (application profiles) are listed with ``key``,
    their unique sort key, ascending: the token then names the last item handed out, so that
    the next page starts right after it whatever was deleted before it (an offset would move
    past as many items as were deleted). A static listing uses offsets."""
    size = max_results or default_page
    if key is None:
        start = decode_page_token(token, listing) if token is not None else 0
        if start > len(items):
            raise ValidationException(INVALID_PAGINATION_TOKEN)
    elif token is None:
        start = 0
    else:
        try:
            start = bisect_right(items, decode_after_token(token, listing), key=key)
        except TypeError:  # a key of other types than these items': not one of our tokens
            raise ValidationException(INVALID_PAGINATION_TOKEN) from None
    end = start + size
    if end >= len(items):
        return items[start:end], None
    return items[start:end], (encode_page_token(end, listing) if key is None
                              else encode_after_token(key(items[end - 1]), listing))


# -- timestamps --------------------------------------------------------------------------------


def iso_timestamp(moment: float | date) -> str:
    """A rest-json ``iso8601`` timestamp (``2025-09-29T00:00:00+00:00``) for epoch seconds or a date."""
    if isinstance(moment, date):
        value = datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc)
    else:
        value = datetime.fromtimestamp(moment, timezone.utc)
    return value.isoformat()
