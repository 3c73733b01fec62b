"""Generated tool inputs validate against their input_schema (checked with jsonschema)."""

from __future__ import annotations

import math
from typing import Any

import jsonschema
import pytest

from claude_bedrock.domain.prose import Draws
from claude_bedrock.domain.tool_input import BUILTIN_TOOL_INPUTS, schema_value, tool_input

SCHEMAS: dict[str, dict[str, Any]] = {
    "weather": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "City and state"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
    "numbers": {
        "type": "object",
        "properties": {
            "count": {"type": "integer", "minimum": 3, "maximum": 5},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "step": {"type": "integer", "multipleOf": 7, "minimum": 10, "maximum": 40},
            "price": {"type": "number", "minimum": 0.5, "maximum": 0.75},
            "negative": {"type": "integer", "maximum": -10},
        },
        "required": ["count", "ratio", "step", "price", "negative"],
    },
    "float_steps": {  # 0.1 * 3 came back as 0.30000000000000004, 2.5 * 25 as the integer 62
        "type": "object",
        "properties": {
            "tenth": {"type": "number", "multipleOf": 0.1, "minimum": 0.05, "maximum": 0.95},
            "cents": {"type": "number", "multipleOf": 0.01},
            "quarter": {"type": "number", "multipleOf": 0.25, "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "halves": {"type": "integer", "multipleOf": 2.5},
        },
        "required": ["tenth", "cents", "quarter", "halves"],
    },
    "draft4_bounds": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {
            "open": {"type": "number", "minimum": 0, "maximum": 10, "exclusiveMinimum": True, "exclusiveMaximum": True},
            "whole": {"type": "integer", "minimum": 0, "maximum": 1, "exclusiveMinimum": True},
            "below": {"type": "integer", "minimum": 0, "maximum": 1, "exclusiveMaximum": True},
        },
        "required": ["open", "whole", "below"],
    },
    "strings": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "minLength": 40, "maxLength": 45},
            "tiny": {"type": "string", "maxLength": 2},
            "none": {"type": "string", "maxLength": 0},
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "email": {"type": "string", "format": "email"},
            "id": {"type": "string", "format": "uuid"},
            "link": {"type": "string", "format": "uri"},
            "fixed": {"const": "v1"},
        },
        "required": ["code", "tiny", "none", "when", "day", "email", "id", "link", "fixed"],
        "additionalProperties": False,
    },
    "nested": {
        "type": "object",
        "properties": {
            "order": {
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 4,
                        "items": {
                            "type": "object",
                            "properties": {
                                "sku": {"type": "string"},
                                "quantity": {"type": "integer", "minimum": 1},
                                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "minItems": 3},
                            },
                            "required": ["sku", "quantity", "tags"],
                        },
                    },
                    "express": {"type": "boolean"},
                    "note": {"type": ["string", "null"]},
                },
                "required": ["items", "express", "note"],
            }
        },
        "required": ["order"],
    },
    "pydantic_refs": {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "child": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
                },
                "required": ["name", "child"],
            },
            "Color": {"enum": ["red", "green"], "type": "string"},
        },
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Node"}, "color": {"$ref": "#/$defs/Color"}},
        "required": ["root", "color"],
    },
    "chained_refs": {  # a $ref whose target is itself a $ref (an alias of a definition) is followed to the end
        "$defs": {
            "Alias": {"$ref": "#/$defs/Count"},
            "Count": {"type": "integer", "minimum": 5, "maximum": 7},
        },
        "type": "object",
        "properties": {"count": {"$ref": "#/$defs/Alias"}},
        "required": ["count"],
    },
    "combinators": {
        "type": "object",
        "properties": {
            "maybe": {"oneOf": [{"type": "null"}, {"type": "integer", "minimum": 100}]},
            "merged": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
                ]
            },
            "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "minItems": 2, "maxItems": 2},
            # a closed tuple: no third item (one was added as a free string)
            "closed": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}], "items": False},
            "defaulted": {"type": "string", "default": "auto"},
        },
        "required": ["maybe", "merged", "pair", "closed", "defaulted"],
    },
    "max_properties": {  # optional properties were drawn past maxProperties
        "type": "object",
        "properties": {key: {"type": "string"} for key in ("city", "unit", "day", "note", "lang", "tz")},
        "required": ["city"],
        "maxProperties": 2,
        "additionalProperties": False,
    },
    "patterns": {  # pattern was not honoured: free text came back
        "type": "object",
        "properties": {
            "city": {"type": "string", "pattern": "^[A-Z][a-z]+$"},  # the place, which matches
            "flight": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{3,4}$"},
            "ref": {"type": "string", "pattern": "^[A-Z0-9]+$", "minLength": 6, "maxLength": 6},
            "zip": {"type": "string", "pattern": "\\d{5}", "minLength": 12},  # unanchored: padded
            "day": {"type": "string", "format": "date", "pattern": "^2025-"},
            "codes": {"type": "array", "items": {"type": "string", "pattern": "^#[0-9a-f]{6}$"}, "minItems": 2},
        },
        "required": ["city", "flight", "ref", "zip", "day", "codes"],
    },
    "undeclared": {  # required names outside properties got a string whatever the schema said
        "type": "object",
        "properties": {"a": {"type": "string"}, "off": False, "b": {"type": "string"}},
        "patternProperties": {"^n_": {"type": "integer"}},
        "additionalProperties": {"type": "boolean"},
        "required": ["a", "n_count", "flag"],
        "dependentRequired": {"b": ["c"]},  # b was drawn without c
        "minProperties": 6,  # only the declared properties were added
    },
    "pattern_names_only": {
        "type": "object", "patternProperties": {"^x_": {"type": "integer"}},
        "additionalProperties": False, "minProperties": 2,
    },
    "contains": {  # contains was ignored: [21, 56] for contains {"const": 42}
        "type": "object",
        "properties": {
            "answer": {"type": "array", "items": {"type": "integer"}, "contains": {"const": 42}},
            "big": {"type": "array", "contains": {"type": "integer", "minimum": 5}, "minContains": 2},
            "tuple": {"type": "array", "prefixItems": [{"type": "string"}], "contains": {"type": "boolean"}},
            # the prefix item matches contains itself: maxItems still bounds the array
            "capped": {"type": "array", "prefixItems": [{"type": "integer"}], "contains": {"type": "integer"},
                       "maxItems": 1},
        },
        "required": ["answer", "big", "tuple", "capped"],
    },
    "typed_enums": {  # a member of another type than the schema's could be drawn
        "type": "object",
        "properties": {
            "word": {"type": "string", "enum": ["a", 1, None, True]},
            "whole": {"type": ["integer", "null"], "enum": [1.5, "x", 2, None]},
            "mixed": {"enum": [1, "a", None, {"x": 1}, [1], False]},
        },
        "required": ["word", "whole", "mixed"],
    },
    "empty": {"type": "object", "properties": {}},
    "required_only": {"type": "object", "required": ["query"]},
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@pytest.mark.parametrize("seed", range(12))
def test_tool_input_validates_against_schema(name: str, seed: int) -> None:
    schema = SCHEMAS[name]
    value = tool_input({"name": name, "input_schema": schema}, Draws(bytes([seed, 7])), "weather forecast")
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator(schema).validate(value)


def test_tool_input_is_deterministic() -> None:
    tool = {"name": "nested", "input_schema": SCHEMAS["nested"]}
    assert tool_input(tool, Draws(b"s"), "x") == tool_input(tool, Draws(b"s"), "x")


def test_tool_input_varies_with_draws() -> None:
    tool = {"name": "nested", "input_schema": SCHEMAS["nested"]}
    values = {repr(tool_input(tool, Draws(bytes([i])), "x")) for i in range(8)}
    assert len(values) > 1


def test_tool_input_prefers_place_from_user_message() -> None:
    tool = {"name": "get_weather", "input_schema": SCHEMAS["weather"]}
    assert tool_input(tool, Draws(b"a"), "weather", place="Lisbon")["location"] == "Lisbon"


def test_tool_input_free_text_uses_hint() -> None:
    tool = {"name": "search", "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}
    assert tool_input(tool, Draws(b"a"), "otters rivers")["query"] == "otters rivers"


def test_tool_input_builtin_tool_without_schema() -> None:
    assert tool_input({"type": "bash_20250124", "name": "bash"}, Draws(b"a"), "x") == BUILTIN_TOOL_INPUTS["bash"]
    assert tool_input({"type": "custom_thing", "name": "mystery"}, Draws(b"a"), "x") == {}


def test_tool_input_memory_tool_is_a_command_the_sdk_accepts() -> None:
    # Anthropic "Memory tool": every call names a command and a path; Claude starts by viewing
    # /memories. The SDK's memory tool helpers dispatch on ``command`` (BetaMemoryTool20250818Command).
    import pydantic
    from anthropic.types.beta import BetaMemoryTool20250818Command

    value = tool_input({"type": "memory_20250818", "name": "memory"}, Draws(b"a"), "x")
    command = pydantic.TypeAdapter(BetaMemoryTool20250818Command).validate_python(value)
    assert command.command == "view" and command.path == "/memories"


def test_schema_value_honours_bounds_carried_in_the_description():
    """The anthropic SDK's transform_schema moves keywords into the description; a schema's own
    keyword wins over a described one, and what is not a number is left alone."""
    from claude_bedrock.domain.tool_input import schema_value

    described = {"type": "integer", "description": "Stars\n\n{maximum: 7, minimum: 5}"}
    own_wins = {"type": "integer", "minimum": 100, "description": "{minimum: 5, maximum: 200}"}
    words = {"type": "string", "description": "{pattern: ^[a-z]+$, minLength: 2}"}
    for seed in range(20):
        draws = Draws(bytes([seed]))
        assert 5 <= schema_value(described, draws, "x") <= 7
        assert 100 <= schema_value(own_wins, draws, "x") <= 200
        assert len(schema_value(words, draws, "x")) >= 2
    endless = {"type": "number", "description": "{maximum: 1e999, minimum: -1e999}"}
    assert math.isfinite(schema_value(endless, Draws(b"x"), "x"))  # not NaN: JSON has no NaN


def test_schema_value_honours_a_pattern_carried_in_the_description():
    """What transform_schema writes for pydantic's Field(pattern=...): the pattern may hold the
    braces and commas the bounds' reading stopped at."""
    import re

    from claude_bedrock.domain.tool_input import schema_value

    flight = {"type": "string", "description": "Flight\n\n{pattern: ^[A-Z]{2}[0-9]{3,4}$, minLength: 5}"}
    bare = {"type": "string", "description": "{maxLength: 6, pattern: ^(a|b), c{1,2}$}"}
    for seed in range(12):
        text = schema_value(flight, Draws(bytes([seed])), "x")
        assert re.search(r"^[A-Z]{2}[0-9]{3,4}$", text) and len(text) >= 5
        text = schema_value(bare, Draws(bytes([seed])), "x")
        assert re.search(r"^(a|b), c{1,2}$", text) and len(text) <= 6


def test_schema_value_keeps_its_text_when_no_string_fits_the_pattern():
    from claude_bedrock.domain.tool_input import schema_value

    assert schema_value({"type": "string", "pattern": r"\p{L}"}, Draws(b"x"), "hello") == "hello"


@pytest.mark.parametrize("digits", [400, 5000], ids=["past a float", "past int()'s 4300 digits"])
def test_schema_value_ignores_described_bounds_no_number_holds(digits):
    # was OverflowError (math.isfinite of a 400-digit int) or ValueError (int() of 5000 digits): a 500
    from claude_bedrock.domain.tool_input import schema_value

    for kind in ("integer", "string", "array"):
        for keyword in ("minimum", "maxLength", "minItems"):
            schema = {"type": kind, "description": f"{{{keyword}: {'1' * digits}}}"}
            assert schema_value(schema, Draws(b"x"), "x") is not None


@pytest.mark.parametrize("keyword", ["minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"])
def test_schema_value_integer_with_an_infinite_bound(keyword):
    # JSON's 1e400 reads as inf: int(inf) raised OverflowError (InvokeModel/Converse answered 500)
    from claude_bedrock.domain.tool_input import schema_value

    assert isinstance(schema_value({"type": "integer", keyword: math.inf}, Draws(b"x"), "x"), int)


@pytest.mark.parametrize("seed", range(12))
def test_schema_value_parses_as_the_pydantic_model_behind_each_string_format(seed):
    """Every string format the anthropic SDK passes on for structured outputs
    (``lib/_parse/_transform.py``, SupportedStringFormats: the Anthropic "Structured outputs"
    list) yields a string the model's own type reads, so ``messages.parse`` works; a
    ``timedelta`` field (``format: duration``) got free text and failed to parse."""
    import datetime
    import ipaddress
    import uuid

    import pydantic
    from anthropic import transform_schema

    from claude_bedrock.domain.tool_input import schema_value

    class Formats(pydantic.BaseModel):
        length: datetime.timedelta
        when: datetime.datetime
        day: datetime.date
        at: datetime.time
        id: uuid.UUID
        v4: ipaddress.IPv4Address
        v6: ipaddress.IPv6Address
        link: pydantic.AnyUrl

    schema = transform_schema(Formats)
    Formats.model_validate(schema_value(schema, Draws(bytes([seed, 3])), "plan a trip"))


def test_schema_value_with_a_pattern_whose_search_is_unbounded_stays_quick():
    """A nested repeat (exponential for re on a failing text): the name and the string are
    built to match without searching, and a name written for a patternProperties pattern
    takes that pattern's schema although ``fits`` does not search it."""
    import re
    import time

    from claude_bedrock.domain.tool_input import schema_value

    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": r"^((a|a)+c|(a|a)+d)$", "minLength": 30}},
        "patternProperties": {r"^(x|x)+y$": {"type": "integer"}},
        "additionalProperties": False, "required": ["code"], "minProperties": 2,
    }
    started = time.monotonic()
    value = schema_value(schema, Draws(b"s"), "hello")
    assert time.monotonic() - started < 2
    assert re.fullmatch(r"(a+c|a+d)", value["code"]) and len(value["code"]) >= 30
    names = [key for key in value if key != "code"]
    assert len(names) == 1
    assert all(re.fullmatch(r"x+y", key) and isinstance(value[key], int) for key in names)
    jsonschema.validate(value, {**schema, "properties": {"code": {"type": "string", "pattern": "^(a+c|a+d)$",
                                                                  "minLength": 30}},
                                "patternProperties": {"^x+y$": {"type": "integer"}}})


@pytest.mark.parametrize("pattern", [r"^\d*$", r"^[a-z]*$", r"^(abc)?$", r"^$"])
def test_a_pattern_whose_match_may_be_empty_gets_a_text_it_matches(pattern):
    """Review: pattern_text's "" (a match) was taken for "none found" (``or text``), and the
    property kept its own text, which the pattern refuses: 20 seeds in 100."""
    import re

    for seed in range(40):
        value = schema_value({"type": "string", "pattern": pattern}, Draws(f"s{seed}".encode()),
                             "What is the Weather in Paris")
        assert re.search(pattern, value), (seed, value)


def test_bounds_the_sdk_appends_are_read_after_a_description_that_opens_with_a_brace():
    """Review: a field's own description starting with "{" hid the SDK's "\\n\\n{...}" block."""
    described = {"type": "integer", "description": "{literally} stars\n\n{maximum: 7, minimum: 5}"}
    for seed in range(20):
        assert 5 <= schema_value(described, Draws(bytes([seed])), "x") <= 7
