"""What every JSON request body must satisfy, whatever route it reaches (pure).

* at most ``MAX_BODY_BYTES`` (botocore's InvokeModel ``Body`` maximum);
* nested at most ``MAX_JSON_DEPTH`` levels: bodies are serialized again with orjson (simulator
  seed, call history, invocation logs), which stops at 255 levels, and those records wrap the
  body in a few levels of their own;
* no string holding an unpaired UTF-16 surrogate (``"\\ud800"``): no UTF-8 reply could carry it.

``json_bytes`` writes JSON for every reply and record: orjson, or the standard library for
what orjson refuses but a request may carry (integers beyond 64 bits); ``exact_fast_loads``
reads it with orjson where that reading is certainly the standard parser's.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

MAX_BODY_BYTES = 25_000_000
MAX_JSON_DEPTH = 200
#: What AWS's request validation says of a body beyond the ``Body`` maximum (Coral wording, as
#: quoted from InvokeModel in public issue threads; a blob's value is not repeated).
TOO_LARGE_MESSAGE = (
    "1 validation error detected: Value at 'body' failed to satisfy constraint: "
    f"Member must have length less than or equal to {MAX_BODY_BYTES}"
)


def json_bytes(value: Any, *, sort_keys: bool = False, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact UTF-8 JSON of ``value`` (orjson: this runs once per streamed event).

    Integers beyond 64 bits, which orjson refuses and a valid request may hold (``top_k``,
    a tool input), and non-string keys are written by the standard library instead, with
    non-ASCII characters escaped (so that even a lone surrogate gives valid UTF-8) and NaN or
    infinities as null, as orjson writes them.
    """
    try:
        if sort_keys:
            return orjson.dumps(value, default=default, option=orjson.OPT_SORT_KEYS)
        return orjson.dumps(value, default=default)
    except orjson.JSONEncodeError:
        try:
            text = json.dumps(value, separators=(",", ":"), sort_keys=sort_keys, default=default, allow_nan=False)
        except ValueError:  # a NaN or an infinity as well: null, as orjson writes them
            text = json.dumps(_finite(value), separators=(",", ":"), sort_keys=sort_keys, default=default)
        return text.encode("ascii")


def _finite(value: Any) -> Any:
    """``value`` with every NaN and infinity replaced by None (orjson's rule)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def json_problem(value: Any, raw: bytes) -> str | None:
    """Why parsed ``value`` breaks the rules above, or None.

    ``raw`` (the bytes ``value`` was parsed from) makes the common case free: with too few
    brackets to be deep and no surrogate escape, nothing is walked.
    """
    deep = raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH
    surrogates = _SURROGATE_ESCAPE.search(raw) is not None
    if not (deep or surrogates):
        return None
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if surrogates and _LONE_SURROGATE.search(item):
                return "unpaired UTF-16 surrogate in a string"
            continue
        if isinstance(item, dict):
            children: Any = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= MAX_JSON_DEPTH:
            return f"JSON nested more than {MAX_JSON_DEPTH} levels deep"
        stack.extend((child, depth + 1) for child in children)
    return None


#: A run this long may be an integer beyond 64 bits: below -2**63 takes 19 digits, above 2**64-1 20.
_LONG_DIGITS = re.compile(rb"[0-9]{19}")
_NOT_DIGITS = bytes(byte for byte in range(256) if not 0x30 <= byte <= 0x39)


def exact_fast_loads(data: bytes) -> Any | None:
    """orjson's reading of ``data`` when it is certainly the same as ``json.loads``', else None.

    orjson accepts a subset of what the standard parser accepts (no NaN, BOM, lone surrogate,
    infinite float), with one difference: integers beyond 64 bits (below -2**63, above
    2**64 - 1) become floats. Bodies with a run of 19+ digits, and every body orjson refuses,
    take the standard parser, whose errors give the messages.
    """
    if len(data.translate(None, _NOT_DIGITS)) >= 19 and _LONG_DIGITS.search(data) is not None:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
