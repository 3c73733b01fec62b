"""Strings generated for a JSON Schema ``pattern`` are found by it (re.search, as JSON Schema
reads a pattern), within minLength / maxLength, deterministically and within bounds."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_bedrock.domain.pattern_text import pattern_text
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


_PATTERNS = st.tuples(st.sampled_from(["", "^"]), st.recursive(_ATOMS, _regex, max_leaves=12),
                      st.sampled_from(["", "$"])).map("".join)


@settings(max_examples=300, deadline=None)
@given(pattern=_PATTERNS, seed=st.binary(min_size=1, max_size=4), low=st.integers(0, 12))
def test_pattern_text_property(pattern, seed, low):
    """Every pattern of literals, classes, categories, groups, alternatives and repeats gets a
    string it finds a match in, at least ``low`` long when it is not anchored at both ends."""
    if pattern.startswith("^") and pattern.endswith("$"):
        low = 0  # "^a$" has no string of 2
    text = pattern_text(pattern, Draws(seed), low, -1, " pad")
    assert text is not None, pattern
    assert re.search(pattern, text) and len(text) >= low
