"""Short strings that a JSON Schema ``pattern`` finds a match in (pure).

``pattern_text`` walks the pattern as Python's own regex parser reads it (``re._parser``) and
writes one string the walk predicts a match for: literals as they are, a class's member (a
range's first letters, ``\\d`` a digit, ``\\w`` a letter, ``\\s`` a space, a negated class the
first printable character outside it), ``.`` a letter, alternatives and repeat counts drawn
(each repeat its minimum plus 0 to 3; when that misses ``minLength`` / ``maxLength``, its
minimum, then more while the text is short of ``minLength``), groups and
backreferences (the group's text again); anchors, ``\\b`` and lookarounds write nothing, and
a positive lookahead's own text is tried inline too (``^(?=.*\\d).{8,}$``). A candidate must
find a match as JSON Schema reads a pattern, unanchored (``re.search``, see below), within
``minLength`` / ``maxLength``. The first candidate that passes wins; None when none does (or the pattern is not
one Python reads, such as ECMA-262's ``\\p{L}``, or is longer than ``MAX_PATTERN_SOURCE``), and
the caller keeps its own text.

Python's ``re`` backtracks without a step limit (``^(a|a)+(?=b)$`` runs for minutes), so it is
run only where the pattern's shape bounds it, and the answer never depends on a clock:

* exact shapes (literals, classes, ``.``, groups, alternatives and repeats, ``^`` / ``\\A`` only
  at the pattern's start and ``$`` / ``\\Z`` only at its end; a negated class or escaped
  non-literal only without IGNORECASE): the walk's text is a full match by construction and is
  taken without running ``re``, nested repeats such as ``^(\\w+\\s?)+$`` included. Short of
  ``minLength`` it is padded after unless the walk wrote an end anchor, else before unless it
  wrote a start anchor: the match stays one;
* other shapes (lookarounds, backreferences, ``\\b``, atomic groups, anchors elsewhere): a
  candidate of at most ``MAX_VERIFIED_CHARS`` is searched only when no repeat of a variable
  count holds a choice (another such repeat, an alternative, a backreference) and a bound on
  the paths the search explores stays within ``MAX_SEARCH_PATHS``: over each start (one when
  the pattern starts with ``^`` / ``\\A``), the ways ``k`` such repeats share ``n`` characters,
  C(n + k, k), times the alternatives' counts, each lookaround adding its own paths (a repeat
  of a fixed count holds its body's choices that many times). Otherwise the candidate is not
  taken.

``fits`` (a caller's own text) answers False, without ``re``, for a text and pattern past the
same bound. Each walk stops past ``MAX_WALK_STEPS`` nodes or ``MAX_PATTERN_CHARS`` characters
beyond ``minLength``, nesting past ``MAX_NESTING``, and at most ``MAX_ATTEMPTS`` candidates are
walked.

Deterministic: the same pattern, bounds and draws give the same text.
Source: JSON Schema 2020-12 validation, 6.3.3 (``pattern``: a match anywhere in the string).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from re import _parser  # type: ignore[attr-defined]  # Python's own regex parser (3.11+)
from typing import Any

from claude_bedrock.domain.prose import Draws

__all__ = ["MAX_SEARCH_PATHS", "MAX_TRIED_CHARS", "MAX_VERIFIED_CHARS", "fits", "pattern_text"]

MAX_WALK_STEPS = 10_000
MAX_PATTERN_CHARS = 512
MAX_NESTING = 64
MAX_ATTEMPTS = 6
#: A longer pattern is not read at all (None / False): every step here is linear in its length.
MAX_PATTERN_SOURCE = 2048
#: A caller's own text is tested against a pattern only up to this length (see the docstring).
MAX_TRIED_CHARS = 20
#: ``re`` runs only where the shape bounds its backtracking to this many paths (see the docstring).
MAX_SEARCH_PATHS = 100_000
#: A candidate is searched (a shape the walk does not follow exactly) only up to this length.
MAX_VERIFIED_CHARS = 64

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


_START_ANCHORS = frozenset({"AT_BEGINNING", "AT_BEGINNING_STRING"})
_END_ANCHORS = frozenset({"AT_END", "AT_END_STRING"})
_CHOICES = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT", "BRANCH", "GROUPREF", "GROUPREF_EXISTS"})


class _GiveUp(Exception):
    """The walk went past its bounds, or met what it does not read."""


def _compiled(pattern: str) -> re.Pattern[str] | None:
    if len(pattern) > MAX_PATTERN_SOURCE:
        return None
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None


def fits(pattern: str, text: str) -> bool:
    """Does ``pattern`` find a match in ``text``? False for a pattern Python does not read, and
    for one whose search in a text this long could backtrack past ``MAX_SEARCH_PATHS`` (see
    the module docstring): ``re`` is not asked then."""
    compiled = _compiled(pattern)
    if compiled is None:
        return False
    try:
        shape = _Shape(_parser.parse(pattern))
    except (re.error, RecursionError, OverflowError, ValueError):
        return False
    return shape.affordable(len(text)) and compiled.search(text) is not None


def pattern_text(pattern: str, draws: Draws, low: int = 0, high: int = -1, pad: str = "x") -> str | None:
    """A string of ``low`` to ``high`` characters (``high`` -1: no limit) in which ``pattern``
    finds a match, or None (see the module docstring); ``pad`` lengthens an unanchored match."""
    compiled = _compiled(pattern)
    if compiled is None or (0 <= high < low):
        return None
    try:
        parsed = _parser.parse(pattern)
        shape = _Shape(parsed)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None
    pad = pad or "x"
    outside: dict[int, str] = {}  # each negated class's character, found once for every walk
    missed = False  # the last walk missed the lengths: the next one takes each repeat's minimum
    for attempt in range(MAX_ATTEMPTS):  # count, then repeats again while short of ``low``
        least = missed and attempt % 2 == 1
        inline = attempt >= 2  # from the third walk, positive lookaheads' text is written inline
        walk = _Walk(draws, least, low, low + MAX_PATTERN_CHARS, inline, outside)
        try:
            text = walk.sequence(parsed, 0)
        except (_GiveUp, RecursionError):
            continue
        missed = len(text) < low or 0 <= high < len(text)
        for candidate in _candidates(text, low, pad, walk.anchors if shape.exact else set()):
            if low <= len(candidate) and (high < 0 or len(candidate) <= high):
                if shape.exact:  # the walk's text is a full match by construction: no search
                    return candidate
                if len(candidate) <= MAX_VERIFIED_CHARS and shape.affordable(len(candidate)) \
                        and compiled.search(candidate):
                    return candidate
    return None


def _candidates(text: str, low: int, pad: str, anchors: set[str]) -> tuple[str, ...]:
    """The text, then (short of ``low``) padded after it unless its end is anchored, and before
    it unless its start is."""
    if len(text) >= low:
        return (text,)
    filler = (pad * (low // len(pad) + 1))[: low - len(text)]
    padded = ([] if "end" in anchors else [text + filler]) + ([] if "start" in anchors else [filler + text])
    return (text, *padded)


class _Risky(Exception):
    """A shape whose search this module does not bound: ``re`` is not run on it."""


class _Scope:
    """One consumption scope of a pattern (the pattern, or a lookaround's body): its repeats
    of a variable count, the product of its alternatives' counts, and its lookarounds."""

    __slots__ = ("repeats", "alternatives", "lookarounds")

    def __init__(self) -> None:
        self.repeats = 0
        self.alternatives = 1
        self.lookarounds: list[tuple[_Scope, int]] = []  # each with the times the pattern holds it

    def paths(self, length: int, budget: int) -> int:
        """A bound on the paths a backtracking search from one position explores in a text of
        ``length`` characters (anything past ``budget`` reads as ``budget + 1``)."""
        total = min(self.alternatives, budget + 1)
        for i in range(1, self.repeats + 1 if length else 1):  # C(length + repeats, repeats)
            total = total * (length + i) // i  # each factor above 1: stop once past the budget
            if total > budget:
                return budget + 1
        inner = 1
        for scope, times in self.lookarounds:  # each tried once per path (re's are atomic)
            inner += scope.paths(length, budget) * times
            if total * inner > budget:
                return budget + 1
        return total * inner


class _Shape:
    """What a parsed pattern's structure allows: ``exact`` (the walk's text is a full match by
    construction) and ``affordable`` (a search whose backtracking is bounded)."""

    def __init__(self, parsed: Any) -> None:
        flags = parsed.state.flags
        items = list(parsed)
        self.exact = _exact(items, flags, True, True, 0)
        self._scope: _Scope | None = _Scope()
        try:
            _scan(items, self._scope, False, 0)
        except _Risky:
            self._scope = None
        self._anchored = bool(items) and items[0][0].name == "AT" and items[0][1].name in _START_ANCHORS \
            and not (items[0][1].name == "AT_BEGINNING" and flags & re.MULTILINE)

    def affordable(self, length: int) -> bool:
        """Is a search of a text of ``length`` characters bounded by ``MAX_SEARCH_PATHS``?"""
        if self._scope is None:
            return False
        starts = 1 if self._anchored else length + 1
        return starts * self._scope.paths(length, MAX_SEARCH_PATHS) <= MAX_SEARCH_PATHS


def _exact(items: Any, flags: int, first: bool, last: bool, depth: int) -> bool:
    """Is every string the walk writes for ``items`` a full match of them? Literals, classes
    (a negated one or ``NOT_LITERAL`` only without IGNORECASE: the walk picks its character
    case-sensitively), ``.``, groups, alternatives and repeats; ``^`` / ``\\A`` only at the
    pattern's start, ``$`` / ``\\Z`` only at its end (``first`` / ``last``: nothing can precede
    / follow these items)."""
    if depth > MAX_NESTING:
        return False
    items = list(items)
    for index, (op, av) in enumerate(items):
        name = op.name
        at_start, at_end = first and index == 0, last and index == len(items) - 1
        if name in ("LITERAL", "ANY"):
            continue
        if name == "NOT_LITERAL" or (name == "IN" and av and av[0][0].name == "NEGATE"):
            if flags & re.IGNORECASE:
                return False
        elif name == "IN":
            continue
        elif name == "AT":
            if not ((av.name in _START_ANCHORS and at_start) or (av.name in _END_ANCHORS and at_end)):
                return False
        elif name == "BRANCH":
            if not all(_exact(alternative, flags, at_start, at_end, depth + 1) for alternative in av[1]):
                return False
        elif name == "SUBPATTERN":
            _, added, removed, body = av
            if not _exact(body, (flags | added) & ~removed, at_start, at_end, depth + 1):
                return False
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            if not _exact(av[2], flags, False, False, depth + 1):
                return False
        else:  # lookarounds, backreferences, \b, atomic / possessive: ask ``re``
            return False
    return True


def _scan(items: Any, scope: _Scope, varying: bool, depth: int, times: int = 1) -> None:
    """Count ``items``' choices into ``scope`` (``times``: how often a repeat of a fixed count
    around them holds them); _Risky for a choice inside a repeat of a variable count
    (``varying``: its body is then matched one way, so a search stays polynomial), a variable
    repeat of a body that may be empty, or an unknown opcode."""
    if depth > MAX_NESTING:
        raise _Risky
    cap = MAX_SEARCH_PATHS + 1
    for op, av in items:
        name = op.name
        if varying and name in _CHOICES and not (name.endswith("REPEAT") and av[0] == av[1]):
            raise _Risky
        if name in ("LITERAL", "NOT_LITERAL", "ANY", "IN", "AT", "GROUPREF"):
            continue
        if name == "BRANCH":
            scope.alternatives = min(scope.alternatives * min(len(av[1]) ** min(times, 64), cap), cap)
            for alternative in av[1]:
                _scan(alternative, scope, varying, depth + 1, times)
        elif name == "GROUPREF_EXISTS":
            scope.alternatives = min(scope.alternatives * 2 ** min(times, 64), cap)
            for branch in av[1:]:
                if branch is not None:
                    _scan(branch, scope, varying, depth + 1, times)
        elif name == "SUBPATTERN":
            _scan(av[3], scope, varying, depth + 1, times)
        elif name == "ATOMIC_GROUP":
            _scan(av, scope, varying, depth + 1, times)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, body = av
            if low != high:
                if body.getwidth()[0] == 0:
                    raise _Risky
                scope.repeats = min(scope.repeats + times, cap)
                _scan(body, scope, True, depth + 1, times)
            else:  # a fixed count: its body's choices, that many times over
                _scan(body, scope, varying, depth + 1, min(times * low, cap))
        elif name in ("ASSERT", "ASSERT_NOT"):
            inner = _Scope()
            scope.lookarounds.append((inner, times))
            _scan(av[1], inner, varying, depth + 1)
        else:
            raise _Risky


class _Walk:
    def __init__(self, draws: Draws, least: bool, target: int, limit: int, inline: bool,
                 outside: dict[int, str]) -> None:
        self._draws = draws
        self._least = least
        self._target = target
        self._limit = limit
        self._inline = inline
        self._steps = 0
        self._length = 0
        self._groups: dict[int, str] = {}
        self._outside = outside  # a negated class's character, once found
        #: "start" / "end" once the walk wrote ``^`` / ``\\A`` or ``$`` / ``\\Z`` (edges, in an exact shape)
        self.anchors: set[str] = set()

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
        if op == "AT":
            if av.name in _START_ANCHORS:
                self.anchors.add("start")
            elif av.name in _END_ANCHORS:
                self.anchors.add("end")
            return ""
        if op == "ASSERT_NOT":
            return ""
        raise _GiveUp  # an opcode this walk does not know (a later Python's)

    def _member(self, items: Sequence[tuple[Any, Any]]) -> str:
        """A character of the class ``items`` (a negated class: the first printable one outside)."""
        if items and items[0][0].name == "NEGATE":
            known = self._outside.get(id(items))
            if known is None:  # once per class: a class of many members repeated stays cheap
                rest = items[1:]
                known = next((c for c in _PRINTABLE if not any(_holds(op.name, av, c) for op, av in rest)), "")
                self._outside[id(items)] = known
            if not known:
                raise _GiveUp
            return known
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
