"""The value a cut-off JSON text begins with: what a tool input cut by ``max_tokens`` reads as.

``parse_partial`` keeps every value that is complete in the prefix and closes the containers
left open; a string or literal still being written is dropped, with its key (a number at the very end is
kept as far as it goes, unless cut in its fraction or exponent). This is
what the anthropic SDK's stream accumulator does (``jiter.from_json(..., partial_mode=True)``
in ``lib/streaming/_messages.py``), so a whole answer (``message.MessageAccumulator``, the
Converse builder) reads a cut tool input as a client reading the stream does::

    parse_partial('{"city": "Paris", "unit": "cel')   ->  {"city": "Paris"}
    parse_partial('{"tags": ["a", "b')                 ->  {"tags": ["a"]}
    parse_partial('')                                  ->  None
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["parse_partial"]

_SCALAR_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_CLOSERS = {"{": "}", "[": "]"}
#: After a number's longest match, these start a fraction or exponent that was cut off.
_NUMBER_GOES_ON = frozenset(".eE")


def parse_partial(raw: str) -> Any:
    """The complete part of the JSON text ``raw`` starts with (see module docstring); None when
    no value has begun, or when ``raw`` is not the start of a JSON text."""
    stack: list[list[str]] = []  # open containers: [bracket, what comes next]
    keep: tuple[int, str] | None = None  # (characters kept, closers that end them)
    i, n = 0, len(raw)

    def completed(end: int) -> None:
        nonlocal keep
        if stack and stack[-1][0] == "{":
            stack[-1][1] = "comma"
        keep = (end, "".join(_CLOSERS[frame[0]] for frame in reversed(stack)))

    while i < n:
        char = raw[i]
        if char in " \t\r\n":
            i += 1
        elif char == '"':
            end = _string_end(raw, i)
            if end is None:
                break
            if stack and stack[-1] == ["{", "key"]:
                stack[-1][1] = "colon"
            else:
                completed(end)
            i = end
        elif char in "{[":
            stack.append([char, "key" if char == "{" else "value"])
            keep = (i + 1, "".join(_CLOSERS[frame[0]] for frame in reversed(stack)))
            i += 1
        elif char in "}]":
            if not stack:
                return None
            stack.pop()
            completed(i + 1)
            i += 1
        elif char in ":," and stack:
            stack[-1][1] = "value" if char == ":" or stack[-1][0] == "[" else "key"
            i += 1
        else:
            match = _SCALAR_RE.match(raw, i)
            if match is None or raw[match.end():match.end() + 1] in _NUMBER_GOES_ON:
                break  # not JSON, or a number cut in its fraction or exponent
            completed(match.end())
            i = match.end()
        if not stack and keep is not None:
            break  # the top-level value is complete
    if keep is None:
        return None
    end, closers = keep
    try:
        return json.loads(raw[:end] + closers)
    except ValueError:
        return None


def _string_end(raw: str, start: int) -> int | None:
    """The index after the string literal opening at ``start``; None when it is unterminated."""
    i = start + 1
    while i < len(raw):
        char = raw[i]
        if char == "\\":
            i += 2
        elif char == '"':
            return i + 1
        else:
            i += 1
    return None
