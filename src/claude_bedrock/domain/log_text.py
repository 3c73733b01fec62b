"""Text a client chose, made safe for one line of a log or of a terminal table.

A model ID is logged as the caller sent it (percent-decoded from the path), so it may hold a
line break, which would forge a second line, or an ANSI escape sequence, which would drive the
reader's terminal. ``one_line`` escapes control characters (``\\n``, ``\\x1b``, ``\\u2028``);
``logfmt_value`` also quotes a value of a ``key=value`` line that holds a space, a quote, an
``=`` or a backslash, so that it cannot forge a key either.
"""

from __future__ import annotations

import re

__all__ = ["logfmt_value", "one_line"]

#: What a bare ``key=value`` value may not hold (besides control characters).
_NEEDS_QUOTES = re.compile(r'[ "=\\]')


def one_line(text: str) -> str:
    """``text`` with its control characters escaped as Python writes them."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def logfmt_value(text: str) -> str:
    """``text`` as the value of a ``key=value`` pair: bare when it can be, else in double quotes
    with ``\\`` and ``"`` escaped by a backslash and control characters as ``one_line`` writes them."""
    if text and text.isprintable() and _NEEDS_QUOTES.search(text) is None:
        return text
    return '"' + one_line(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'
