"""Strings generated for a JSON Schema ``pattern`` are found by it (re.search, as JSON Schema
reads a pattern), within minLength / maxLength, deterministically and within bounds."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_bedrock.domain import pattern_text as module
from claude_bedrock.domain.pattern_text import MAX_TRIED_CHARS, fits, pattern_text
from claude_bedrock.domain.prose import Draws

PATTERNS = [
    r"^[A-Z]{3}-\d{4}$",
    r"^\d{5}(-\d{4})?$",
    r"^(?=.*[A-Z])(?=.*\d).{8,}$",  # a password rule: positive lookaheads
    r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
    r"^(\w+\s?)+\.$",  # nested repeats: the answer is built to match, never searched for
    r"(a|b)\1c",  # a backreference
    r"^(?!foo)[a-z]{3}$",
    r"\bcat\b",
    r"^$",
    r"^[\u0100-\u0200]+$",
    r"^(?:red|green|blue)(?:-(?:light|dark))?$",
    r"^[a-z]+?[0-9]*$",
    r"^#[0-9a-fA-F]{6}$",
    r"^v\d+\.\d+\.\d+(-[a-z0-9.]+)?$",
    r"^[^a-zA-Z0-9 ]{2}$",
    r"(?P<word>[a-z]{2})=(?P=word)",
]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("seed", range(8))
def test_pattern_text_is_found_by_the_pattern(pattern, seed):
    text = pattern_text(pattern, Draws(bytes([seed])))
    assert text is not None and re.search(pattern, text)
    assert pattern_text(pattern, Draws(bytes([seed]))) == text  # deterministic


def test_pattern_text_varies_with_the_draws():
    assert len({pattern_text(r"^[A-Z]{3}-\d{4}$", Draws(bytes([seed]))) for seed in range(8)}) > 1


@pytest.mark.parametrize(("pattern", "low", "high"), [
    (r"^[a-z]{2,}$", 30, 40),  # repeats lengthened
    (r"\d{3}", 10, 20),  # an unanchored match padded
    (r"^[A-Z0-9]{6}$", 6, 6),
    (r"^[a-z]+$", 0, 1),
])
def test_pattern_text_within_the_lengths(pattern, low, high):
    for seed in range(8):
        text = pattern_text(pattern, Draws(bytes([seed])), low, high, " hint")
        assert text is not None and re.search(pattern, text) and low <= len(text) <= high


@pytest.mark.parametrize("pattern", [
    r"^\d{3}$",  # with minLength 5: no string is both
    r"(?>a*)a",  # never matches
    r"\p{L}",  # ECMA-262 only: Python does not read it
    r"a{1000000}",  # past the walk's bounds
    r"(" * 200 + "a" + ")" * 200,  # nesting past the walk's bounds
    r"[",
])
def test_pattern_text_gives_up_quickly(pattern):
    started = time.monotonic()
    assert pattern_text(pattern, Draws(b"x"), 5 if pattern == r"^\d{3}$" else 0) is None
    assert time.monotonic() - started < 2


_ATOMS = st.sampled_from([
    "a", "Z", "7", "-", r"\.", r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", ".", "[a-f]", "[^a-f]",
    "[A-Z0-9_]", r"[^\d\s]", "[xyz]", r"\\",
])


def _regex(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(children, min_size=1, max_size=4).map("".join),
        st.lists(children, min_size=2, max_size=3).map(lambda alts: "(?:" + "|".join(alts) + ")"),
        children.map(lambda r: f"({r})"),
        st.tuples(children, st.sampled_from(["*", "+", "?", "{2}", "{1,3}", "{0,2}", "{2,}", "+?"])).map(
            lambda pair: f"(?:{pair[0]}){pair[1]}"),
    )


_BODIES = st.recursive(_ATOMS, _regex, max_leaves=12)
_PATTERNS = st.one_of(
    st.tuples(st.sampled_from(["", "^", r"\A"]), _BODIES, st.sampled_from(["", "$", r"\Z"])).map("".join),
    # anchors at the edges of alternatives at the pattern's edges: "(?:^a|b$|c)"
    st.tuples(_BODIES, _BODIES, _BODIES).map(lambda b: f"(?:^{b[0]}|{b[1]}$|{b[2]})"),
)


@settings(max_examples=300, deadline=None)
@given(pattern=_PATTERNS, seed=st.binary(min_size=1, max_size=4), low=st.integers(0, 12))
def test_pattern_text_property(pattern, seed, low):
    """Every pattern of literals, classes, categories, groups, alternatives and repeats gets a
    string it finds a match in, at least ``low`` long when it is not anchored at both ends."""
    if pattern.startswith(("^", r"\A")) and pattern.endswith(("$", r"\Z")):
        low = 0  # "^a$" has no string of 2
    with _searches() as searched:
        text = pattern_text(pattern, Draws(seed), low, -1, " pad")
    assert text is not None, pattern
    assert searched == []  # an exact shape: the text is taken without running re
    assert re.search(pattern, text) and len(text) >= low


_CASED_ATOMS = st.sampled_from(["a", "Z", "7", "\u0130", "\u017f", "K", ".", r"\w", r"\d", "[a-f]", "[K-M]",
                                "[\u0100-\u0200]", "[\u0390-\u03a0]", "(?-i:[^a-f])", "(?-i:[^A-Z])"])


@settings(max_examples=200, deadline=None)
@given(body=st.recursive(_CASED_ATOMS, _regex, max_leaves=10), seed=st.binary(min_size=1, max_size=4))
def test_pattern_text_property_ignorecase(body, seed):
    """Under IGNORECASE a class's member still matches it; a negated class (whose character is
    picked case-sensitively) is exact only where the flag is off."""
    pattern = f"(?i)^{body}$"
    with _searches() as searched:
        text = pattern_text(pattern, Draws(seed))
    assert text is not None and searched == [], pattern
    assert re.search(pattern, text)


class _Spy:
    """A compiled pattern that records the texts it is asked to search."""

    def __init__(self, compiled, searched):
        self._compiled, self._searched = compiled, searched

    def search(self, text):
        self._searched.append(text)
        return self._compiled.search(text)


class _searches:  # noqa: N801 - a context manager read as a phrase
    """The texts ``re`` searches inside the block (``module._compiled`` wrapped)."""

    def __enter__(self):
        self.searched = []
        self._original = module._compiled
        module._compiled = lambda pattern: (lambda c: c and _Spy(c, self.searched))(self._original(pattern))
        return self.searched

    def __exit__(self, *exc):
        module._compiled = self._original


# (pattern, minLength, maxLength, a pattern of the same language re searches quickly, or None)
HOSTILE = [
    (r"^(a|a)+(?=b)$", 30, 60, None),  # exponential on every failing candidate
    (r"^((a|a)+c|(a|a)+d)$", 30, -1, r"^(a+c|a+d)$"),  # exponential on a success through branch 2
    (r"^(a*a*a*a*a*a*a*c|a*d)$", 30, -1, r"^(a*c|a*d)$"),  # polynomial, degree 7
    (r"\ba*a*a*a*a*a*a*a*a*a*c", 0, -1, r"\ba*c"),  # polynomial and not exact
    (r"(?=(a|a)+b)x", 10, -1, None),
    (r"\b(\w+\s?)+\.", 0, -1, None),
    (r"(?:(?:\s|(?=.*a)|(?:[ab]*?){3})){3}b", 24, -1, None),  # choices held by a fixed count
]


@pytest.mark.parametrize(("pattern", "low", "high", "same"), HOSTILE)
def test_pattern_text_never_backtracks_without_bound(pattern, low, high, same):
    started = time.monotonic()
    for seed in range(4):
        with _searches() as searched:
            text = pattern_text(pattern, Draws(bytes([seed])), low, high, " hint")
        assert searched == []  # re is never run on these shapes: the bound is not a clock's
        if text is not None:
            assert same is not None and re.search(same, text) and low <= len(text)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(("pattern", "text"), [
    (r"^(a|a)+(?=b)$", "a" * MAX_TRIED_CHARS),
    (r"^(\w+\s?)+$", "hello world again!!"),  # exact for pattern_text, still risky to search
    (r"^((a|a)+c|(a|a)+d)$", "a" * 19 + "d"),
    (r"a*a*a*a*b", "a" * 20),  # 21 starts x C(24, 4) paths: past the bound
])
def test_fits_does_not_search_a_risky_shape(pattern, text):
    started = time.monotonic()
    with _searches() as searched:
        assert fits(pattern, text) is False
    assert searched == []
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    (r"^[A-Z]{3}-\d{4}$", "ABC-1234", True),
    (r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", "ann@example.org", True),
    (r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", "ann@example", False),
    (r"^x_", "x_12", True),
    (r"^(?=.*\d)(?=.*[A-Z]).{8,}$", "Secret123", True),
    (r"^(?=.*\d)(?=.*[A-Z]).{8,}$", "secret123", False),
    (r"\p{L}", "a", False),
])
def test_fits_answers_for_bounded_shapes(pattern, text, expected):
    assert fits(pattern, text) is expected


REAL = {  # pattern: searched (False: taken without re, as an exact shape)
    r"^[A-Z]{3}-\d{4}$": False,
    r"^\d{4}-\d{2}-\d{2}$": False,
    r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$": False,
    r"^(?=.*\d)(?=.*[A-Z]).{8,}$": True,
    r"^(\w+\s?)+$": False,
    r"^[a-z0-9_-]{3,16}$": False,
    r"^\+?[1-9]\d{1,14}$": False,
}


@pytest.mark.parametrize("pattern", list(REAL))
@pytest.mark.parametrize(("low", "high"), [(0, -1), (8, 40), (30, -1)])
def test_real_patterns_still_get_a_string(pattern, low, high):
    for seed in range(6):
        with _searches() as searched:
            text = pattern_text(pattern, Draws(bytes([seed])), low, high, " hint")
        assert bool(searched) is REAL[pattern]
        bounded = {r"^[A-Z]{3}-\d{4}$": 8, r"^\d{4}-\d{2}-\d{2}$": 10, r"^[a-z0-9_-]{3,16}$": 16,
                   r"^\+?[1-9]\d{1,14}$": 16}
        if low > bounded.get(pattern, 10**6):
            assert text is None
            continue
        assert text is not None and re.search(pattern, text), (pattern, low, seed)
        assert low <= len(text) and (high < 0 or len(text) <= high)


@pytest.mark.parametrize("pattern", [r"(?i)^[^a-z]$", r"(?i)^[^a-z]{3}\d$", r"^x(?i:[^k])$", r"a^b", r"a$|\bb"])
def test_shapes_the_walk_cannot_follow_are_searched(pattern):
    """A negated class under IGNORECASE ('A' is outside [a-z] but matches it), an anchor away
    from the pattern's edges: the walk's text is searched, and kept only when it matches."""
    for seed in range(4):
        with _searches() as searched:
            text = pattern_text(pattern, Draws(bytes([seed])))
        assert searched
        assert text is None or re.search(pattern, text)


def test_pattern_text_a_lookahead_is_first_walked_without_its_text():
    """``^(?=a)a$``: the lookahead's text written inline ("aa") misses; the first walks leave it out."""
    assert pattern_text(r"^(?=a)a$", Draws(b"\0")) == "a"


def test_pattern_text_a_pattern_past_its_source_bound_is_not_read():
    assert fits("a" * module.MAX_PATTERN_SOURCE, "a" * module.MAX_PATTERN_SOURCE) is True
    assert fits("a" * (module.MAX_PATTERN_SOURCE + 1), "a" * (module.MAX_PATTERN_SOURCE + 1)) is False
    assert pattern_text("a" * (module.MAX_PATTERN_SOURCE + 1), Draws(b"\0")) is None


def test_pattern_text_a_searched_candidate_is_at_most_the_verified_length():
    """A shape that is not exact (``\\b``) is searched only on candidates of MAX_VERIFIED_CHARS or fewer."""
    short = pattern_text(r"\bcat", Draws(b"\0"), module.MAX_VERIFIED_CHARS)
    assert short is not None and len(short) == module.MAX_VERIFIED_CHARS and re.search(r"\bcat", short)
    assert pattern_text(r"\bcat", Draws(b"\0"), module.MAX_VERIFIED_CHARS + 1) is None


def test_pattern_text_a_range_gives_its_last_character_too():
    text = pattern_text(r"^[x-y]{40}$", Draws(b"\0"))
    assert text is not None and set(text) == {"x", "y"}


def test_pattern_text_a_negated_class_with_no_printable_character_outside_gives_no_text():
    """No printable ASCII character is outside ``[^\\x00-\\x7f]``: no text, not an empty one."""
    for seed in range(4):
        text = pattern_text("[^\x00-\x7f]", Draws(bytes([seed])))
        assert text is None or re.search("[^\x00-\x7f]", text)


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    # a fixed repeat is no choice: inside a variable one it keeps the shape bounded
    (r"(?:ab{2})+c", "abbc", True),
    # 60 starts under MULTILINE (``^`` at each line) x C(62, 3) paths: past the bound; anchored once, within it
    (r"(?m)^a*b*c*d", "a" * 59 + "d", False),
    (r"^a*b*c*d", "a" * 59 + "d", True),
    # a lookaround held 1000 times by a fixed repeat counts 1000 times
    (r"(?:(?=a*b)){1000}a", "a" * 9 + "b", False),
    (r"(?:(?=a*b)){2}a", "a" * 9 + "b", True),
    # a conditional held 20 times: 2^20 alternatives
    (r"(a)?(?:(?(1)b|c)){20}", "c" * 20, False),
    (r"(a)?(?:(?(1)b|c)){2}", "c" * 20, True),
    # a variable repeat of a body that may match empty is not searched
    (r"(?:\b)*a", "a", False),
])
def test_fits_bounds_count_what_the_shape_holds(pattern, text, expected):
    assert fits(pattern, text) is expected
