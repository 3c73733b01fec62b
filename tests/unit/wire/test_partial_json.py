"""``parse_partial`` reads every prefix of a JSON text as the anthropic SDK's stream
accumulator does (``jiter.from_json(..., partial_mode=True)``, the oracle here)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jiter import from_json

from claude_bedrock.wire.partial_json import parse_partial

SAMPLES = [
    {"title": 'plan "x" meeting', "n": 12.5, "m": -3e5, "tags": ["a", "b", {"c": None, "d": True, "g": False}],
     "e": {}, "f": [], "u": "é\u2028\\"},
    [1, [2, [3]], "x"],
    {"k": {"a": {"b": []}}},
]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


def _jiter(prefix: str) -> object:
    return from_json(prefix.encode(), partial_mode=True) if prefix.strip() else None


@pytest.mark.parametrize("value", SAMPLES)
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_parse_partial_reads_every_prefix_as_the_sdk(value, ensure_ascii) -> None:
    text = json.dumps(value, ensure_ascii=ensure_ascii)
    for end in range(len(text) + 1):
        assert parse_partial(text[:end]) == _jiter(text[:end]), text[:end]


@given(JSON_VALUES.filter(lambda v: isinstance(v, (dict, list))), st.data())
def test_parse_partial_matches_the_sdk_on_any_prefix(value, data) -> None:
    text = json.dumps(value, ensure_ascii=False)
    end = data.draw(st.integers(0, len(text)))
    assert parse_partial(text[:end]) == _jiter(text[:end])


@pytest.mark.parametrize("raw", ["", "   ", "garbage", "}", '{"a" 5}', '{"a": tru', ",", ":"])
def test_parse_partial_of_nothing_complete(raw) -> None:
    assert parse_partial(raw) in (None, {})


@pytest.mark.parametrize(("raw", "value"), [
    ('{\n\t"a":\r\n1,', {"a": 1}),  # any JSON whitespace, not only the spaces json.dumps writes
    ('{"a": 1E', {}),  # a number cut in its exponent, upper-case E as well
    ('{"a": 1.5E+', {}),
    ("[1] [2", [1]),  # the complete value the text starts with: what follows it is not read
])
def test_parse_partial_edges_json_dumps_never_writes(raw, value) -> None:
    assert parse_partial(raw) == value
