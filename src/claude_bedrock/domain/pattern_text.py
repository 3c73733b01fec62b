"""Short strings that a JSON Schema ``pattern`` finds a match in (pure).

``pattern_text`` walks the pattern as Python's own regex parser reads it (``re._parser``) and
writes one string the walk predicts a match for: literals as they are, a class's member (a
range's first letters, ``\\d`` a digit, ``\\w`` a letter, ``\\s`` a space, a negated class the
first printable character outside it), ``.`` a letter, alternatives and repeat counts drawn
(each repeat its minimum plus 0 to 3; when that misses ``minLength`` / ``maxLength``, its
minimum, then more while the text is short of ``minLength``), groups and
backreferences (the group's text again); anchors, ``\\b`` and lookarounds write nothing, and
a positive lookahead's own text is tried inline too (``^(?=.*\\d).{8,}$``). Every candidate is
checked as JSON Schema checks a pattern, unanchored (``re.search``), within ``minLength`` /
``maxLength``; an unanchored match short of ``minLength`` is padded. The first candidate that
passes wins; None when none does (or the pattern is not one Python reads, such as ECMA-262's
``\\p{L}``), and the caller keeps its own text.

Bounded whatever the pattern: a walk stops past ``MAX_WALK_STEPS`` nodes or
``MAX_PATTERN_CHARS`` characters beyond ``minLength``, nesting past ``MAX_NESTING``, and at
most ``MAX_ATTEMPTS`` candidates are walked. Every candidate is built to match, so the checks
do not meet the backtracking a failing subject costs a nested repeat such as ``(\\w+\\s?)+\\.``;
``fits`` (for a caller's own text) is only asked of texts up to ``MAX_TRIED_CHARS``.

Deterministic: the same pattern, bounds and draws give the same text.
Source: JSON Schema 2020-12 validation, 6.3.3 (``pattern``: a match anywhere in the string).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from re import _parser  # type: ignore[attr-defined]  # Python's own regex parser (3.11+)
from typing import Any

from claude_bedrock.domain.prose import Draws

__all__ = ["MAX_TRIED_CHARS", "fits", "pattern_text"]

MAX_WALK_STEPS = 10_000
MAX_PATTERN_CHARS = 512
MAX_NESTING = 64
MAX_ATTEMPTS = 6
#: A caller's own text is tested against a pattern only up to this length (see the docstring).
MAX_TRIED_CHARS = 20

_PRINTABLE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:/@#+=()[]!?*&%$~'\""
_CATEGORY_TEXT = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_NOT_DIGIT": "abcdefghijklmnopqrstuvwxyz",
    "CATEGORY_WORD": "abcdefghijklmnopqrstuvwxyz",
    "CATEGORY_NOT_WORD": " -.,",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "abcdefghijklmnopqrstuvwxyz",
}
_CATEGORY_TEST = {
    "CATEGORY_DIGIT": str.isdigit,
    "CATEGORY_NOT_DIGIT": lambda c: not c.isdigit(),
    "CATEGORY_WORD": lambda c: c.isalnum() or c == "_",
    "CATEGORY_NOT_WORD": lambda c: not (c.isalnum() or c == "_"),
    "CATEGORY_SPACE": str.isspace,
    "CATEGORY_NOT_SPACE": lambda c: not c.isspace(),
}


class _GiveUp(Exception):
    """The walk went past its bounds, or met what it does not read."""


def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None


def fits(pattern: str, text: str) -> bool:
    """Does ``pattern`` find a match in ``text`` (False for a pattern Python does not read)?"""
    compiled = _compiled(pattern)
    return compiled is not None and compiled.search(text) is not None


def pattern_text(pattern: str, draws: Draws, low: int = 0, high: int = -1, pad: str = "x") -> str | None:
    """A string of ``low`` to ``high`` characters (``high`` -1: no limit) in which ``pattern``
    finds a match, or None (see the module docstring); ``pad`` lengthens an unanchored match."""
    compiled = _compiled(pattern)
    if compiled is None or (0 <= high < low):
        return None
    try:
        parsed = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None
    pad = pad or "x"
    missed = False  # the last walk missed the lengths: the next one takes each repeat's minimum
    for attempt in range(MAX_ATTEMPTS):  # count, then repeats again while short of ``low``
        least = missed and attempt % 2 == 1
        inline = attempt >= 2  # from the third walk, positive lookaheads' text is written inline
        try:
            text = _Walk(draws, least, low, low + MAX_PATTERN_CHARS, inline).sequence(parsed, 0)
        except (_GiveUp, RecursionError):
            continue
        missed = len(text) < low or 0 <= high < len(text)
        for candidate in (text, *_padded(text, low, pad)):
            if low <= len(candidate) and (high < 0 or len(candidate) <= high) and compiled.search(candidate):
                return candidate
    return None


def _padded(text: str, low: int, pad: str) -> tuple[str, ...]:
    if len(text) >= low:
        return ()
    filler = (pad * (low // len(pad) + 1))[: low - len(text)]
    return text + filler, filler + text


class _Walk:
    def __init__(self, draws: Draws, least: bool, target: int, limit: int, inline: bool) -> None:
        self._draws = draws
        self._least = least
        self._target = target
        self._limit = limit
        self._inline = inline
        self._steps = 0
        self._length = 0
        self._groups: dict[int, str] = {}

    def sequence(self, items: Any, depth: int) -> str:
        if depth > MAX_NESTING:
            raise _GiveUp
        return "".join(self._item(op.name, av, depth) for op, av in items)

    def _item(self, op: str, av: Any, depth: int) -> str:
        self._steps += 1
        if self._steps > MAX_WALK_STEPS or self._length > self._limit:
            raise _GiveUp
        text = self._text(op, av, depth)
        self._length += len(text) if op in ("LITERAL", "NOT_LITERAL", "ANY", "IN", "GROUPREF") else 0
        return text

    def _text(self, op: str, av: Any, depth: int) -> str:
        if op == "LITERAL":
            return chr(av)
        if op == "NOT_LITERAL":
            return next(c for c in _PRINTABLE if ord(c) != av)
        if op == "ANY":
            return self._draws.choice("abcdefghijklmnopqrstuvwxyz")
        if op == "IN":
            return self._member(av)
        if op == "BRANCH":
            alternatives = av[1]
            return self.sequence(alternatives[self._draws.below(len(alternatives))], depth + 1)
        if op == "SUBPATTERN":
            group, _, _, items = av
            text = self.sequence(items, depth + 1)
            if group is not None:
                self._groups[group] = text
            return text
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, items = av
            count = min(low if self._least else low + self._draws.below(4), high)
            if count > self._limit:
                raise _GiveUp
            parts = [self.sequence(items, depth + 1) for _ in range(count)]
            while self._least and self._length < self._target and len(parts) < high:
                before = self._length
                parts.append(self.sequence(items, depth + 1))
                if self._length == before:  # the item writes nothing: more will not help
                    break
            return "".join(parts)
        if op == "ATOMIC_GROUP":
            return self.sequence(av, depth + 1)
        if op == "GROUPREF":
            return self._groups.get(av, "")
        if op == "GROUPREF_EXISTS":
            group, yes, no = av
            branch = yes if group in self._groups else no
            return self.sequence(branch, depth + 1) if branch is not None else ""
        if op == "ASSERT":
            direction, items = av
            return self.sequence(items, depth + 1) if self._inline and direction == 1 else ""
        if op in ("AT", "ASSERT_NOT"):
            return ""
        raise _GiveUp  # an opcode this walk does not know (a later Python's)

    def _member(self, items: Sequence[tuple[Any, Any]]) -> str:
        """A character of the class ``items`` (a negated class: the first printable one outside)."""
        if items and items[0][0].name == "NEGATE":
            rest = items[1:]
            for char in _PRINTABLE:
                if not any(_holds(op.name, av, char) for op, av in rest):
                    return char
            raise _GiveUp
        op, av = items[self._draws.below(len(items))]
        name = op.name
        if name == "LITERAL":
            return chr(av)
        if name == "RANGE":
            first, last = av
            return chr(first + self._draws.below(min(last - first + 1, 26)))
        if name == "CATEGORY":
            options = _CATEGORY_TEXT.get(av.name)
            if options is None:
                raise _GiveUp
            return self._draws.choice(options)
        raise _GiveUp


def _holds(op: str, av: Any, char: str) -> bool:
    if op == "LITERAL":
        return ord(char) == av
    if op == "RANGE":
        return av[0] <= ord(char) <= av[1]
    if op == "CATEGORY":
        test = _CATEGORY_TEST.get(av.name)
        return test(char) if test is not None else True
    return True  # unknown member: assume it holds, so the character is not chosen
