"""Tool input schemas: keywords of the wrong type are refused (as the JSON Schema meta-schema
refuses them: checked against jsonschema's own meta-schema validation), and any schema that
passes gives an input with bounded work."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_bedrock.domain.prose import Draws
from claude_bedrock.domain.schema_keywords import schema_problem
from claude_bedrock.domain.tool_input import MAX_ITEMS, MAX_STRING_CHARS, MAX_TOTAL_CHARS, tool_input


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


INVALID = {
    "minLength text": obj(a={"type": "string", "minLength": "abc"}),
    "minLength null": obj(a={"type": "string", "minLength": None}),
    "minItems text": obj(a={"type": "array", "minItems": "x"}),
    "maxItems negative": obj(a={"type": "array", "maxItems": -1}),
    "properties list": {"type": "object", "properties": [1, 2], "required": ["a"]},
    "oneOf numbers": obj(a={"oneOf": [5, "x"]}),
    "allOf null": obj(a={"allOf": [None]}),
    "anyOf empty": obj(a={"anyOf": []}),
    "type number": obj(a={"type": 5}),
    "type unknown": obj(a={"type": "float"}),
    "required text": {"type": "object", "required": "a"},
    "multipleOf zero": obj(a={"type": "number", "multipleOf": 0}),
    "minimum text": obj(a={"type": "number", "minimum": "1"}),
    "items number": obj(a={"type": "array", "items": 3}),
    "enum object": obj(a={"enum": {"x": 1}}),
    "deep": obj(a=obj(b=obj(c={"type": "string", "maxLength": 1.5}))),
    "minLength negative float": obj(a={"type": "string", "minLength": -1.0}),
    "minLength boolean": obj(a={"type": "string", "minLength": True}),
    "minimum boolean": obj(a={"type": "number", "minimum": True}),
    "type repeated": obj(a={"type": ["string", "string"]}),
    "type empty list": obj(a={"type": []}),
    "required repeated": {"type": "object", "required": ["a", "a"]},
    "required empty object": {"type": "object", "required": {}},
    "required empty text": {"type": "object", "required": ""},
    "items list member": obj(a={"type": "array", "items": [{"type": "string"}, {"type": 5}]}),
    "additionalProperties number": {"type": "object", "additionalProperties": 5},
    "dependentSchemas member": {"type": "object", "dependentSchemas": {"a": 5}},
    "uniqueItems text": obj(a={"type": "array", "uniqueItems": "yes"}),
    "pattern number": obj(a={"type": "string", "pattern": 5}),
}

VALID = {
    "weather": {"type": "object", "properties": {"location": {"type": "string"},
                "unit": {"type": "string", "enum": ["c", "f"]}}, "required": ["location"]},
    "pydantic": {"type": "object", "$defs": {"Item": {"type": "object", "properties": {"n": {"type": "integer"}}}},
                 "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
                                "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}},
                 "required": ["items"], "additionalProperties": False},
    "boolean schemas": obj(a=True, b={"not": False}),
    "type list": obj(a={"type": ["string", "null"], "minLength": 2.0}),
    "tuple items (draft 7)": obj(a={"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}),
    "unknown keywords": obj(a={"type": "string", "x-widget": {"any": "thing"}, "examples": ["x"]}),
    "zero counts": obj(a={"type": "string", "minLength": 0}, b={"type": "array", "minItems": 0, "maxItems": 0.0}),
    "draft 4 exclusive bounds": obj(a={"type": "number", "minimum": 0, "exclusiveMinimum": True,
                                       "maximum": 1, "exclusiveMaximum": False}),
}


@pytest.mark.parametrize("name", INVALID)
def test_keywords_of_the_wrong_type_are_named(name: str) -> None:
    schema = INVALID[name]
    problem = schema_problem(schema)
    assert problem is not None and problem.startswith("#/")
    with pytest.raises(jsonschema.SchemaError):  # the meta-schema refuses it too
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", VALID)
def test_schemas_of_real_tools_pass(name: str) -> None:
    assert schema_problem(VALID[name]) is None


_KEYWORD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10**20), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4), st.sampled_from(["string", "object", "array", "integer", "null"]),
    st.sampled_from(["#", "#/properties/a"]),
    st.lists(st.sampled_from(["string", "null", 3, {"type": "string"}, {"$ref": "#"},
                              {"$ref": "#/properties/a"}]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.sampled_from([{"type": "string"}, 1, True]), max_size=2),
)
_KEYWORDS = st.sampled_from([
    "type", "minLength", "maxLength", "minItems", "maxItems", "minimum", "exclusiveMinimum", "multipleOf",
    "properties", "required", "items", "anyOf", "allOf", "oneOf", "enum", "uniqueItems", "format", "not", "$ref",
])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYWORDS, _KEYWORD_VALUES, max_size=4))
def test_what_is_refused_the_meta_schema_refuses_and_what_passes_is_generated(keywords: dict[str, Any]) -> None:
    schema = obj(a=keywords)
    if schema_problem(schema) is not None:
        with pytest.raises(jsonschema.SchemaError):
            jsonschema.Draft202012Validator.check_schema(schema)
    else:
        json.dumps(tool_input({"name": "t", "input_schema": schema}, Draws(b"seed"), "hello"))


HEAVY = {
    "minLength 10^9": obj(a={"type": "string", "minLength": 1_000_000_000}),
    "minItems 10^9": obj(a={"type": "array", "minItems": 1_000_000_000, "items": {"type": "integer"}}),
    "self-reference x3": {"type": "object", "properties": {"a": {"$ref": "#"}, "b": {"$ref": "#"}, "c": {"$ref": "#"}},
                          "required": ["a", "b", "c"]},
    "minimum 10^400": obj(a={"type": "integer", "minimum": 10**400}),
    "tiny multipleOf": obj(a={"type": "number", "minimum": 0, "maximum": 1e300, "multipleOf": 1e-300}),
    "integer range 10^30": obj(a={"type": "integer", "minimum": 0, "maximum": 10**30, "multipleOf": 3}),
    "anyOf itself": {"type": "object", "anyOf": [{"$ref": "#"}]},
    "oneOf itself, deeper": obj(a={"oneOf": [{"$ref": "#/properties/a"}]}),
    "allOf itself": obj(a={"allOf": [{"$ref": "#/properties/a"}]}),
    "many long strings": obj(a={"type": "array", "minItems": 1000, "items": {"type": "string", "minLength": 100_000}}),
}


@pytest.mark.parametrize("name", HEAVY)
def test_valid_but_heavy_schemas_give_a_bounded_input(name: str) -> None:
    schema = HEAVY[name]
    assert schema_problem(schema) is None
    value = tool_input({"name": "t", "input_schema": schema}, Draws(b"seed"), "hello")
    assert len(json.dumps(value)) < MAX_TOTAL_CHARS + 20 * MAX_ITEMS


def test_min_length_is_met_up_to_the_cap() -> None:
    value = tool_input({"name": "t", "input_schema": obj(a={"type": "string", "minLength": 5000})},
                       Draws(b"seed"), "hello")
    assert 5000 <= len(value["a"]) < 5010
    capped = tool_input({"name": "t", "input_schema": obj(a={"type": "string", "minLength": 10**9})},
                        Draws(b"seed"), "hello")
    assert len(capped["a"]) == MAX_STRING_CHARS
