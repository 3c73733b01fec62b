"""Is a tool's ``input_schema`` a JSON Schema? The keyword types of draft 2020-12 (pure).

The Anthropic API refuses a tool whose ``input_schema`` does not match the JSON Schema
meta-schema. This checks what that meta-schema says of the keywords' types, which is what
anything reading the schema (the simulator's tool inputs among them) relies on:

* a schema is an object or a boolean;
* ``type`` is one of the seven type names, or a non-empty list of distinct ones;
* ``minLength``, ``maxLength``, ``minItems``, ``maxItems``, ``minProperties``,
  ``maxProperties``, ``minContains``, ``maxContains`` are non-negative integers (``2.0`` counts);
* ``minimum``, ``maximum``, ``multipleOf`` are numbers (``multipleOf`` above 0);
  ``exclusiveMinimum`` / ``exclusiveMaximum`` are numbers, or booleans (draft 4's form, which
  older generators still write: accepted here, leniently);
* ``properties``, ``patternProperties``, ``$defs``, ``definitions``, ``dependentSchemas`` map
  names to schemas; ``allOf``, ``anyOf``, ``oneOf``, ``prefixItems`` are non-empty lists of
  schemas; ``items`` is a schema (or, draft 4 to 7, a list of schemas); ``additionalProperties``,
  ``propertyNames``, ``contains``, ``not``, ``if``, ``then``, ``else``,
  ``unevaluatedItems``, ``unevaluatedProperties``, ``additionalItems`` are schemas;
* ``required`` is a list of distinct strings; ``enum`` a list; ``uniqueItems`` a boolean;
  ``$ref``, ``format``, ``pattern`` are strings.

Other keywords (annotations, vocabularies of their own) are not judged. ``pattern`` is not
compiled: JSON Schema patterns are ECMA-262 regular expressions, which Python's ``re`` does
not fully read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["as_count", "schema_problem"]

_TYPE_NAMES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
           "minContains", "maxContains")
_NUMBERS = ("minimum", "maximum")
_EXCLUSIVE = ("exclusiveMinimum", "exclusiveMaximum")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMAS = ("additionalProperties", "propertyNames", "contains", "not", "if", "then", "else",
            "unevaluatedItems", "unevaluatedProperties", "additionalItems")
_STRINGS = ("$ref", "format", "pattern")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_count(value: Any) -> int | None:
    """``value`` as a non-negative integer keyword (``minLength``...: ``2.0`` counts), or None."""
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _is_schema(value: Any) -> bool:
    return isinstance(value, (dict, bool))


def _type_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return None if value in _TYPE_NAMES else f"'{value}' is not a JSON Schema type"
    if isinstance(value, list) and value:
        if all(isinstance(name, str) and name in _TYPE_NAMES for name in value) and len(set(value)) == len(value):
            return None
    return "type must be a type name or a non-empty list of distinct type names"


def _keyword_problem(schema: dict[str, Any], push: Callable[[Any, str], None], pointer: str) -> str | None:
    """What is wrong with ``schema``'s own keywords; its subschemas are handed to ``push``."""
    if "type" in schema:
        problem = _type_problem(schema["type"])
        if problem is not None:
            return f"{pointer}/type: {problem}"
    for key in _COUNTS:
        if key in schema and as_count(schema[key]) is None:
            return f"{pointer}/{key}: must be a non-negative integer"
    for key in _NUMBERS:
        if key in schema and not _is_number(schema[key]):
            return f"{pointer}/{key}: must be a number"
    for key in _EXCLUSIVE:
        if key in schema and not (_is_number(schema[key]) or isinstance(schema[key], bool)):
            return f"{pointer}/{key}: must be a number"
    if "multipleOf" in schema and not (_is_number(schema["multipleOf"]) and schema["multipleOf"] > 0):
        return f"{pointer}/multipleOf: must be a number above 0"
    for key in _STRINGS:
        if key in schema and not isinstance(schema[key], str):
            return f"{pointer}/{key}: must be a string"
    if "uniqueItems" in schema and not isinstance(schema["uniqueItems"], bool):
        return f"{pointer}/uniqueItems: must be a boolean"
    if "enum" in schema and not isinstance(schema["enum"], list):
        return f"{pointer}/enum: must be an array"
    required = schema.get("required")
    if required is not None and not (
        isinstance(required, list) and all(isinstance(name, str) for name in required)
        and len(set(required)) == len(required)
    ):
        return f"{pointer}/required: must be an array of distinct strings"
    for key in _SCHEMA_MAPS:
        if key in schema:
            members = schema[key]
            if not isinstance(members, dict):
                return f"{pointer}/{key}: must be an object of schemas"
            for name, member in members.items():
                push(member, f"{pointer}/{key}/{name}")
    for key in _SCHEMA_LISTS:
        if key in schema:
            members = schema[key]
            if not isinstance(members, list) or not members:
                return f"{pointer}/{key}: must be a non-empty array of schemas"
            for index, member in enumerate(members):
                push(member, f"{pointer}/{key}/{index}")
    for key in _SCHEMAS:
        if key in schema:
            push(schema[key], f"{pointer}/{key}")
    if "items" in schema:
        items = schema["items"]
        if isinstance(items, list):
            for index, member in enumerate(items):
                push(member, f"{pointer}/items/{index}")
        else:
            push(items, f"{pointer}/items")
    return None


def schema_problem(schema: Any) -> str | None:
    """The first keyword of ``schema`` (or of a subschema) of the wrong type, as
    ``<JSON pointer>: <why>``, or None when every keyword read has its meta-schema type."""
    stack: list[tuple[Any, str]] = [(schema, "#")]
    push = lambda value, pointer: stack.append((value, pointer))  # noqa: E731
    while stack:
        value, pointer = stack.pop()
        if not _is_schema(value):
            return f"{pointer}: a schema must be an object or a boolean"
        if isinstance(value, dict):
            problem = _keyword_problem(value, push, pointer)
            if problem is not None:
                return problem
    return None
