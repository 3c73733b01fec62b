"""Text a client chose, made safe for one line of a log or of a terminal table.

A model ID is logged as the caller sent it (percent-decoded from the path), so it may hold a
line break, which would forge a second line, or an ANSI escape sequence, which would drive the
reader's terminal. ``one_line`` escapes control characters (``\\n``, ``\\x1b``, ``\\u2028``);
``logfmt_value`` also quotes a value of a ``key=value`` line that holds a space, a quote, an
``=`` or a backslash, so that it cannot forge a key either. ``terminal_json`` escapes the
characters JSON leaves raw that a terminal would still act on (C1 controls such as ``\\x9b``,
which xterm reads as CSI; bidi overrides; ``\\u2028``), keeping the JSON value exact.
"""

from __future__ import annotations

import json
import re

__all__ = ["logfmt_value", "one_line", "terminal_json"]

#: What a bare ``key=value`` value may not hold (besides control characters).
_NEEDS_QUOTES = re.compile(r'[ "=\\]')
#: What ``json.dumps(..., ensure_ascii=False)`` may leave unescaped beyond printable ASCII.
_BEYOND_ASCII = re.compile(r"[^\x00-\x7e]+")


def one_line(text: str) -> str:
    """``text`` with its control characters escaped as Python writes them."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def logfmt_value(text: str) -> str:
    """``text`` as the value of a ``key=value`` pair: bare when it can be, else in double quotes
    with ``\\`` and ``"`` escaped by a backslash and control characters as ``one_line`` writes them."""
    if text and text.isprintable() and _NEEDS_QUOTES.search(text) is None:
        return text
    return '"' + one_line(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def _json_escaped(found: re.Match[str]) -> str:
    run = found[0]
    if run.isprintable():  # the common case: text in another script
        return run
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in run)


def terminal_json(document: str) -> str:
    """``document`` (JSON written with ``ensure_ascii=False``) with its non-printable characters
    as ``\\uXXXX`` escapes: the same JSON value, harmless on a terminal. Such characters are
    only ever inside strings (JSON's own whitespace is ASCII), where the escape means them."""
    return _BEYOND_ASCII.sub(_json_escaped, document)
