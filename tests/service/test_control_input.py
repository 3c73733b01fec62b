"""Control-plane input checks: AWS's validation message format and opaque pagination tokens."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.service.control_input import (
    INVALID_PAGINATION_TOKEN,
    Rule,
    Violations,
    decode_page_token,
    encode_after_token,
    encode_page_token,
    integer_param,
    iso_timestamp,
    paginate,
    query_params,
    typed_member,
)
from claude_bedrock.service.http import Request


def test_control_input_enum_message():
    assert Rule(enum=("TEXT", "IMAGE")).violations("AUDIO", "byOutputModality") == [
        "Value 'AUDIO' at 'byOutputModality' failed to satisfy constraint: "
        "Member must satisfy enum value set: [TEXT, IMAGE]"
    ]


def test_control_input_length_pattern_range_and_null_messages():
    rule = Rule(min=3, max=5, pattern=r"[a-z]+", required=True)
    assert rule.violations(None, "name") == [
        "Value null at 'name' failed to satisfy constraint: Member must not be null"
    ]
    assert rule.violations("AB", "name") == [
        "Value 'AB' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 3",
        "Value 'AB' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z]+",
    ]
    assert Rule(min=1, max=10).violations(11, "maxResults") == [
        "Value '11' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10"
    ]
    assert Rule(min=10).violations(b"short", "formData") == [
        "Value at 'formData' failed to satisfy constraint: Member must have length greater than or equal to 10"
    ]
    assert rule.violations("abcd", "name") == [] and Rule().violations(None, "optional") == []


def test_control_input_violations_are_counted_and_joined():
    violations = Violations()
    violations.check("x", "a", Rule(enum=("Y",)))
    violations.check(None, "b", Rule(required=True))
    with pytest.raises(ValidationException) as info:
        violations.raise_if_any()
    assert info.value.message == (
        "2 validation errors detected: Value 'x' at 'a' failed to satisfy constraint: Member must satisfy enum "
        "value set: [Y]; Value null at 'b' failed to satisfy constraint: Member must not be null"
    )
    Violations().raise_if_any()  # nothing recorded: no error


@given(st.integers(min_value=0, max_value=10**9))
def test_control_input_page_token_round_trip(offset):
    token = encode_page_token(offset)
    assert token.isascii() and " " not in token
    assert decode_page_token(token) == offset


@pytest.mark.parametrize("token", ["", "!!!", "bm90IGpzb24", "eyJ2IjoyLCJvZmZzZXQiOjF9", "eyJ2IjoxLCJvZmZzZXQiOiJ4In0",
                                   "eyJ2IjoxLCJvZmZzZXQiOnRydWV9", "é"])
def test_control_input_bad_page_token(token):
    with pytest.raises(ValidationException, match=INVALID_PAGINATION_TOKEN):
        decode_page_token(token)


def test_control_input_paginate_walks_every_item_once():
    items = list(range(7))
    page, token = paginate(items, 3, None, 100)
    assert page == [0, 1, 2] and token is not None
    page, token = paginate(items, 3, token, 100)
    assert page == [3, 4, 5]
    page, token = paginate(items, 3, token, 100)
    assert page == [6] and token is None
    assert paginate(items, None, None, 100) == (items, None)
    with pytest.raises(ValidationException):
        paginate(items, 3, encode_page_token(8), 100)


def test_control_input_token_belongs_to_its_listing():
    items = list(range(7))
    _, token = paginate(items, 3, None, 100, listing="SYSTEM_DEFINED")
    assert paginate(items, 3, token, 100, listing="SYSTEM_DEFINED")[0] == [3, 4, 5]
    with pytest.raises(ValidationException, match=INVALID_PAGINATION_TOKEN):
        paginate(items, 3, token, 100, listing="APPLICATION")
    with pytest.raises(ValidationException, match=INVALID_PAGINATION_TOKEN):
        decode_page_token(encode_page_token(3, "APPLICATION"), "SYSTEM_DEFINED")


def test_control_input_iso_timestamp():
    from datetime import date

    assert iso_timestamp(date(2025, 9, 29)) == "2025-09-29T00:00:00+00:00"
    assert iso_timestamp(0) == "1970-01-01T00:00:00+00:00"


@pytest.mark.parametrize("raw", ["ten", "1.0", "", "1" * 5000], ids=["word", "float", "empty", "5000 digits"])
def test_control_input_integer_param_refuses_what_is_no_integer(raw):
    # 5000 digits: int() refuses more than 4300 (ListInferenceProfiles answered a 500)
    with pytest.raises(ValidationException, match="Member must be an integer"):
        integer_param({"maxResults": raw}, "maxResults")
    assert integer_param({"maxResults": "-0012"}, "maxResults") == -12


# -- mutation-audit regressions: boundaries and edge values the tests above left open ------------


def test_control_input_bounds_are_inclusive():
    assert Rule(min=3, max=5).violations("abc", "name") == []
    assert Rule(min=3, max=5).violations("abcde", "name") == []
    assert Rule(min=1, max=100).violations(1, "maxResults") == []
    assert Rule(min=1, max=100).violations(100, "maxResults") == []


def test_control_input_a_boolean_has_no_size():
    # ``false`` where an integer goes is a type error (``typed_member``), not also a range one
    assert Rule(min=1, max=10).violations(False, "maxResults") == []
    with pytest.raises(ValidationException, match="Invalid type for 'maxResults': expected an integer"):
        typed_member({"maxResults": True}, "maxResults", int)
    assert typed_member({"maxResults": 3}, "maxResults", int) == 3


def test_control_input_pattern_must_match_the_whole_value():
    assert Rule(pattern=r"[a-z]+").violations("abc1", "name") == [
        "Value 'abc1' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z]+"
    ]


def test_control_input_one_violation_is_one_error():
    violations = Violations()
    violations.check(None, "b", Rule(required=True))
    with pytest.raises(ValidationException) as info:
        violations.raise_if_any()
    assert info.value.message.startswith("1 validation error detected: Value null at 'b'")


def test_control_input_query_params_first_value_and_blank_values():
    request = Request("GET", "/foundation-models", "byProvider=Anthropic&byProvider=Meta&byOutputModality=", [])
    assert query_params(request) == {"byProvider": "Anthropic", "byOutputModality": ""}


@pytest.mark.parametrize("raw", ["1_000", " 5", "5 "])
def test_control_input_integer_param_reads_as_java_does(raw):
    with pytest.raises(ValidationException, match="Member must be an integer"):
        integer_param({"maxResults": raw}, "maxResults")


@pytest.mark.parametrize("payload", [b'{"v":1,"offset":-1}', b"[1]", b'"x"', b"1"],
                         ids=["negative offset", "a list", "a string", "a number"])
def test_control_input_page_token_of_another_shape_is_invalid(payload):
    import base64

    token = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    with pytest.raises(ValidationException, match=INVALID_PAGINATION_TOKEN):
        decode_page_token(token)


def test_control_input_paginate_edges():
    assert paginate([], None, None, 100) == ([], None)  # an empty listing is one empty page
    page, token = paginate(list(range(4)), 2, None, 100)
    assert page == [0, 1] and token is not None
    assert paginate(list(range(4)), 2, token, 100) == ([2, 3], None)  # ends exactly: no next page


def test_control_input_paginate_by_key_resumes_after_the_last_item():
    """Keyed pages (application profiles) resume after the last item handed out: items deleted
    meanwhile make the next page skip no other (an offset would), items added later are reached."""
    items = [(1.0, "a"), (1.0, "b"), (2.5, "c"), (3.0, "d")]
    same = lambda item: item  # noqa: E731
    page, token = paginate(items, 2, None, 100, "APPLICATION", key=same)
    assert page == items[:2] and token == encode_after_token((1.0, "b"), "APPLICATION")
    remaining = [items[2], items[3], (4.0, "e")]  # a and b deleted, e created
    assert paginate(remaining, 2, token, 100, "APPLICATION", key=same) == (
        remaining[:2], encode_after_token((3.0, "d"), "APPLICATION"))
    assert paginate(remaining, 5, token, 100, "APPLICATION", key=same) == (remaining, None)
    with pytest.raises(ValidationException, match=INVALID_PAGINATION_TOKEN):  # another listing's
        paginate(items, 2, token, 100, "SYSTEM_DEFINED")
    for bad in (encode_page_token(1, "APPLICATION"), encode_after_token(("x", 1.0), "APPLICATION"), "garbage"):
        with pytest.raises(ValidationException, match=INVALID_PAGINATION_TOKEN):
            paginate(items, 2, bad, 100, "APPLICATION", key=same)
