"""What every JSON request body must satisfy, whatever route it reaches (pure).

* at most ``MAX_BODY_BYTES`` (botocore's InvokeModel ``Body`` maximum);
* nested at most ``MAX_JSON_DEPTH`` levels: bodies are serialized again with orjson (simulator
  seed, call history, invocation logs), which stops at 255 levels, and those records wrap the
  body in a few levels of their own;
* no string holding an unpaired UTF-16 surrogate (``"\\ud800"``): no UTF-8 reply could carry it.
"""

from __future__ import annotations

import re
from typing import Any

MAX_BODY_BYTES = 25_000_000
MAX_JSON_DEPTH = 200
TOO_LARGE_MESSAGE = (
    f"Input is too long for requested model. The request body exceeds {MAX_BODY_BYTES} bytes."
)

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
