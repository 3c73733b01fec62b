"""Deterministic tool inputs that validate against a tool's ``input_schema`` (and, with
``schema_value``, structured outputs that validate against the requested schema).

The simulator answers a tool call with an input generated here from the JSON Schema subset
that tool definitions use in practice (hand-written or produced by pydantic / zod):

* ``type`` (object, string, number, integer, boolean, array, null, or a list of them: the first
  non-null wins), ``const``, ``enum`` (a member picked by the draws, among those of the
  schema's ``type``), ``default`` (used as is);
* objects: every ``required`` property, plus a deterministic subset of the optional ones
  (about half, within ``maxProperties``; none below ``MAX_DEPTH`` nesting; none whose schema
  is ``false``), the ``dependentRequired`` ones of those chosen, and more up to
  ``minProperties`` (``property<n>``, or a name a ``patternProperties`` pattern matches when
  ``additionalProperties`` is false); a property ``properties`` does not declare follows the
  ``patternProperties`` entry that matches its name (for a name of its own choosing, the pattern
  it wrote it for; a required name is not tested against a pattern whose search ``fits``
  cannot bound), else ``additionalProperties`` (a string when neither says);
* strings: ``minLength`` / ``maxLength``; ``format`` date-time, date, time, duration, email,
  uri / url, uuid, ipv4, ipv6, hostname (every format structured outputs support);
  otherwise, for location-like property names, the proper noun of
  the user's message (``"Paris"``) when there is one; else a value from a small table keyed by
  the words of the property name (``location``, ``city``, ``email``, ``unit``...); else words of
  the user's last message;
  ``pattern`` (a string it finds a match in, ``pattern_text``; the text above when ``fits``
  finds it already does);
* numbers and integers: ``minimum`` / ``maximum`` / ``exclusiveMinimum`` / ``exclusiveMaximum``
  (draft 6+ numeric form and draft 4 boolean form) and ``multipleOf`` (a float step's multiple
  written with the step's decimals, one whose quotient by the step is whole in floating point);
* arrays: ``items`` (or ``prefixItems``; ``items: false`` closes the tuple), ``minItems`` /
  ``maxItems`` (1–3 items by default), ``uniqueItems`` best effort, ``contains`` (the first
  ``minContains`` items past the prefix, 1 by default, also follow it; ``maxContains`` is not
  checked);
* ``anyOf`` / ``oneOf``: the first option that is not ``{"type": "null"}`` (the null option
  once nesting reaches ``MAX_DEPTH``); ``allOf``: the options merged; local ``$ref``
  (``#/$defs/...``, ``#/definitions/...``); recursion is bounded.

The work is bounded whatever the schema: at most ``MAX_VALUES`` values are generated (a
recursive schema requiring itself three times would otherwise want 3^24), nesting (through
properties, items, ``$ref``, ``anyOf`` / ``oneOf`` / ``allOf``) stops at ``4 * MAX_DEPTH``,
strings stop at ``MAX_STRING_CHARS`` each and ``MAX_TOTAL_CHARS`` in all, arrays at
``MAX_ITEMS``, even when ``minLength`` / ``minItems`` ask for more, and numeric bounds too large for a float fall back to a bound itself. Past those
limits the input may not validate; it could not have been written within any model's
output limit anyway. Keywords of the wrong type (which request validation refuses before
this runs, ``schema_keywords``) are ignored rather than trusted.

Bounds and patterns the anthropic SDK moved into a schema's ``description``
(``{minimum: 5, maximum: 7}``, ``{pattern: ^[A-Z]{3}$}``: what ``messages.parse`` sends for
constrained pydantic fields) are honoured like the keywords.

Anthropic-defined tools (no ``input_schema``; ``type`` such as ``bash_20250124``) get a
canned input from ``BUILTIN_TOOL_INPUTS`` keyed by the tool name.

Invariant: the same schema, draws and hint always give the same value. Source: JSON Schema
2020-12 validation vocabulary; Anthropic "Tool use" (tool definitions).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from claude_bedrock.domain.pattern_text import MAX_TRIED_CHARS, fits, pattern_text
from claude_bedrock.domain.prose import Draws
from claude_bedrock.domain.schema_keywords import as_count

__all__ = ["BUILTIN_TOOL_INPUTS", "MAX_DEPTH", "schema_value", "tool_input"]

MAX_DEPTH = 6
#: Bounds on the work of one input (see the module docstring).
MAX_VALUES = 2_000
MAX_STRING_CHARS = 100_000
MAX_TOTAL_CHARS = 1_000_000
MAX_ITEMS = 1_000

#: Inputs for Anthropic-defined tools, by tool name.
BUILTIN_TOOL_INPUTS: Mapping[str, Mapping[str, Any]] = {
    "bash": {"command": "ls -la"},
    "str_replace_editor": {"command": "view", "path": "/repo/README.md"},
    "str_replace_based_edit_tool": {"command": "view", "path": "/repo/README.md"},
    "computer": {"action": "screenshot"},
    "memory": {"command": "view", "path": "/memories"},
}

#: Property-name fragments -> plausible string values.
_NAMED_STRINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("location", ("San Francisco, CA", "Paris, France", "Tokyo, Japan")),
    ("city", ("Paris", "Seattle", "Berlin")),
    ("country", ("France", "Japan", "Canada")),
    ("email", ("user@example.com",)),
    ("url", ("https://example.com/docs",)),
    ("path", ("/tmp/example.txt",)),
    ("file", ("report.txt",)),
    ("name", ("Alex Smith", "Sam Lee")),
    ("language", ("English", "French")),
    ("currency", ("USD", "EUR")),
    ("unit", ("celsius", "fahrenheit")),
    ("timezone", ("UTC", "Europe/Paris")),
    ("id", ("item-001", "item-042")),
)

_PLACE_WORDS = frozenset({"location", "city", "place", "destination", "address", "town", "where"})
_NAME_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")

_FORMATS: Mapping[str, Callable[[Draws], str]] = {
    "date-time": lambda d: f"2025-{d.between(1, 12):02d}-{d.between(1, 28):02d}"
    f"T{d.between(0, 23):02d}:{d.between(0, 59):02d}:00Z",
    "date": lambda d: f"2025-{d.between(1, 12):02d}-{d.between(1, 28):02d}",
    "time": lambda d: f"{d.between(0, 23):02d}:{d.between(0, 59):02d}:00",
    "duration": lambda d: f"PT{d.between(1, 12)}H{d.between(0, 59)}M",  # ISO 8601 (RFC 3339 App. A)
    "email": lambda d: f"user{d.below(100)}@example.com",
    "uri": lambda d: f"https://example.com/item/{d.below(1000)}",
    "url": lambda d: f"https://example.com/item/{d.below(1000)}",
    "uri-reference": lambda d: f"/item/{d.below(1000)}",
    "hostname": lambda d: f"host{d.below(100)}.example.com",
    "ipv4": lambda d: f"192.0.2.{d.between(1, 254)}",
    "ipv6": lambda d: f"2001:db8::{d.below(65535):x}",
    "uuid": lambda d: _uuid_text(d.take(16)),
}


def _uuid_text(raw: bytes) -> str:
    hexed = raw.hex()
    version = "4" + hexed[13:16]
    variant = "89ab"[raw[8] % 4] + hexed[17:20]
    return f"{hexed[0:8]}-{hexed[8:12]}-{version}-{variant}-{hexed[20:32]}"


def tool_input(tool: Mapping[str, Any], draws: Draws, hint: str, place: str | None = None) -> Any:
    """An input for ``tool`` that validates against its ``input_schema``.

    Args:
        tool: the tool definition from the request.
        draws: the deterministic choice stream.
        hint: words from the user's last message, used for free-text string properties.
        place: a proper noun of the user's message, preferred for location-like properties.
    """
    schema = tool.get("input_schema")
    if not isinstance(schema, Mapping):
        return dict(BUILTIN_TOOL_INPUTS.get(str(tool.get("name")), {}))
    return schema_value(schema, draws, hint, place)


def schema_value(schema: Mapping[str, Any], draws: Draws, hint: str, place: str | None = None) -> Any:
    """A value that validates against ``schema`` (a tool's input, or a structured output);
    the arguments as for ``tool_input``."""
    return _Generator(schema, draws, hint, place).value(schema, "", 0)


class _Generator:
    def __init__(self, root: Mapping[str, Any], draws: Draws, hint: str, place: str | None) -> None:
        self._root = root
        self._draws = draws
        self._hint = hint.strip() or "example"
        self._place = place
        self._values_left = MAX_VALUES
        self._chars_left = MAX_TOTAL_CHARS

    def _resolve(self, schema: Any) -> Mapping[str, Any]:
        if not isinstance(schema, Mapping):  # a boolean schema, or garbage
            return {}
        hops = 0
        while "$ref" in schema and hops < 16:
            target: Any = self._root
            ref = str(schema["$ref"])
            if not ref.startswith("#"):
                return {}
            for part in ref[1:].split("/")[1:] if ref != "#" else ():
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            merged = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**target, **merged} if isinstance(target, Mapping) else merged
            hops += 1
        return schema

    def value(self, schema: Any, name: str, depth: int) -> Any:
        self._values_left -= 1
        if depth > 4 * MAX_DEPTH or self._values_left < 0:  # recursive or huge: give up
            return None
        if not isinstance(schema, Mapping):
            return self._string({}, name)
        schema = _with_described_bounds(self._resolve(schema))
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            members = [m for m in schema["enum"] if _has_type(m, schema.get("type"))] or schema["enum"]
            return members[self._draws.below(len(members))]
        if "default" in schema:
            return schema["default"]
        for combinator in ("anyOf", "oneOf"):
            options = schema.get(combinator)
            if isinstance(options, list) and options:
                nulls = [o for o in options if _is_null_schema(o)]
                if depth >= MAX_DEPTH and nulls:  # end recursive structures where allowed
                    chosen = nulls[0]
                else:
                    chosen = next((o for o in options if not _is_null_schema(o)), options[0])
                base = {k: v for k, v in schema.items() if k != combinator}
                return self.value({**base, **self._resolve(chosen)}, name, depth + 1)
        if isinstance(schema.get("allOf"), list):
            return self.value(_merge_all_of(schema, [self._resolve(s) for s in schema["allOf"]]), name, depth + 1)
        kind = _schema_type(schema)
        return _BUILDERS[kind](self, schema, name, depth)

    def _object(self, schema: Mapping[str, Any], name: str, depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        if not isinstance(properties, Mapping):
            properties = {}
        required = schema.get("required")
        required = [key for key in required if isinstance(key, str)] if isinstance(required, list) else []
        out: dict[str, Any] = {}
        maximum = _count(schema, "maxProperties", -1)
        room = len(properties) if maximum < 0 else maximum - len(set(required))  # optional ones
        for key, subschema in properties.items():
            if key in required:
                out[key] = self.value(subschema, key, depth + 1)
            elif subschema is not False and room > 0 and depth < MAX_DEPTH and self._draws.chance(50):
                out[key] = self.value(subschema, key, depth + 1)
                room -= 1
        for key in required:
            if key not in out:
                out[key] = self.value(_undeclared_schema(schema, key), key, depth + 1)
        minimum = _count(schema, "minProperties", 0)
        for key, subschema in properties.items():
            if len(out) >= minimum:
                break
            if subschema is not False:
                out.setdefault(key, self.value(subschema, key, depth + 1))
        while len(out) < min(minimum, MAX_ITEMS):  # past the declared properties
            named = self._undeclared_name(schema, len(out) + 1)
            if named is None or named[0] in out:
                break
            key, source = named
            out[key] = self.value(_undeclared_schema(schema, key, source), key, depth + 1)
        dependent = schema.get("dependentRequired")
        pending = list(out) if isinstance(dependent, Mapping) else []
        while pending:  # each name added once: bounded by the names the schema holds
            needs = dependent.get(pending.pop())  # type: ignore[union-attr]
            for key in needs if isinstance(needs, list) else ():
                if isinstance(key, str) and key not in out:
                    out[key] = self.value(properties.get(key, _undeclared_schema(schema, key)), key, depth + 1)
                    pending.append(key)
        return out

    def _undeclared_name(self, schema: Mapping[str, Any], number: int) -> tuple[str, str | None] | None:
        """A name for one more property than ``properties`` declares: ``property<number>`` where
        ``additionalProperties`` allows it, else one a ``patternProperties`` pattern matches
        (returned with the name: ``fits`` may not be able to confirm it)."""
        if schema.get("additionalProperties", True) is not False:
            return f"property{number}", None
        patterns = schema.get("patternProperties")
        for pattern in patterns if isinstance(patterns, Mapping) else ():
            # one character longer per name: "x_", "x_2", "x_33"... (distinct names)
            name = pattern_text(pattern, self._draws, number + 1, -1, str(number)) if isinstance(pattern, str) else None
            if name is not None:
                return name, pattern
        return None

    def _array(self, schema: Mapping[str, Any], name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        items = schema.get("items", {})
        low = _count(schema, "minItems", 0)
        high = _count(schema, "maxItems", max(low, 3))
        if items is False:  # no item past the prefixItems (a closed tuple)
            high = min(high, len(prefix))
        count = low if depth >= MAX_DEPTH else min(high, max(low, self._draws.between(1, 3)))
        contains = schema.get("contains")
        wanted = _count(schema, "minContains", 1) if isinstance(contains, Mapping) else 0
        contained: Any = items
        if wanted:  # the first items past the prefix match ``contains`` too
            count = min(high, max(count, len(prefix) + wanted))
            contained = {"allOf": [items if isinstance(items, Mapping) else {}, contains]}
        count = min(count, MAX_ITEMS)
        out: list[Any] = []
        attempts = 0
        while len(out) < count and attempts < count * 4 + 4:
            attempts += 1
            if len(out) < len(prefix):
                item_schema = prefix[len(out)]
            else:
                item_schema = contained if len(out) < len(prefix) + wanted else items
            item = self.value(item_schema if isinstance(item_schema, Mapping) else {}, name, depth + 1)
            if schema.get("uniqueItems") and item in out:
                if isinstance(item, str):
                    item = f"{item} {len(out) + 1}"
                if item in out:
                    continue
            out.append(item)
        return out

    def _string(self, schema: Mapping[str, Any], name: str, depth: int = 0) -> str:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS:
            text = _FORMATS[fmt](self._draws)
        else:
            words = {word.lower() for word in _NAME_WORD_RE.findall(name)}
            if self._place and words & _PLACE_WORDS:
                text = self._place
            else:
                named = next((values for fragment, values in _NAMED_STRINGS if fragment in words), None)
                text = self._draws.choice(named) if named else self._hint
        low = min(_count(schema, "minLength", 0), MAX_STRING_CHARS, max(self._chars_left, 0))
        if len(text) < low:  # repeat the hint: the text, then " hint" as often as needed
            filler = f" {self._hint}"
            text = (text + filler * (-(-(low - len(text)) // len(filler))))[:max(low, len(text))]
        high = _count(schema, "maxLength", -1)
        if 0 <= high < len(text):
            text = text[:high]
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not (len(text) <= MAX_TRIED_CHARS and fits(pattern, text)):
            found = pattern_text(pattern, self._draws, low, high, f" {self._hint}")
            if found is not None:  # "" is a text ``^\d*$`` matches
                text = found
        self._chars_left -= len(text)
        return text

    def _number(self, schema: Mapping[str, Any], name: str, depth: int) -> float | int:
        return self._numeric(schema, integer=False)

    def _integer(self, schema: Mapping[str, Any], name: str, depth: int) -> int:
        return int(self._numeric(schema, integer=True))

    def _numeric(self, schema: Mapping[str, Any], *, integer: bool) -> float | int:
        try:
            return self._numeric_in_range(schema, integer=integer)
        except (OverflowError, ValueError, ZeroDivisionError):  # bounds beyond a float's range
            for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
                bound = schema.get(key)
                if isinstance(bound, int) and not isinstance(bound, bool):
                    return bound
                if isinstance(bound, float) and math.isfinite(bound):  # not 1e400 (inf once read)
                    return bound
            return 0

    def _numeric_in_range(self, schema: Mapping[str, Any], *, integer: bool) -> float | int:
        low, low_open = _bound(schema, "minimum", "exclusiveMinimum")
        high, high_open = _bound(schema, "maximum", "exclusiveMaximum")
        if low is None and high is None:
            low, high = 1.0, 100.0
        elif low is None:
            low = min(1.0, high - 100.0)  # type: ignore[operator]
        elif high is None:
            high = max(100.0, low + 100.0)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0:
            first = math.ceil(low / step) if low is not None else 0
            if low_open and first * step <= low:
                first += 1
            last = math.floor(high / step)
            if high_open and last * step >= high:
                last -= 1
            k = first + self._draws.below(max(1, last - first + 1))
            value = _multiple(k, step, first, last, integer=integer)
            return int(value) if integer or float(value).is_integer() else value
        if integer:
            first = math.floor(low) + 1 if low_open else math.ceil(low)
            last = math.ceil(high) - 1 if high_open else math.floor(high)
            return first + self._draws.below(max(1, last - first + 1))
        fraction = self._draws.below(1000) / 1000
        value = round(low + (high - low) * fraction, 2)
        if (low_open and value <= low) or (high_open and value >= high) or not low <= value <= high:
            value = (low + high) / 2
        return int(value) if float(value).is_integer() else value

    def _boolean(self, schema: Mapping[str, Any], name: str, depth: int) -> bool:
        return self._draws.chance(50)

    def _null(self, schema: Mapping[str, Any], name: str, depth: int) -> None:
        return None


_BUILDERS: Mapping[str, Callable[[_Generator, Mapping[str, Any], str, int], Any]] = {
    "object": _Generator._object,
    "array": _Generator._array,
    "string": _Generator._string,
    "number": _Generator._number,
    "integer": _Generator._integer,
    "boolean": _Generator._boolean,
    "null": _Generator._null,
}


#: Numeric keywords a schema may carry in its description instead (see ``_with_described_bounds``).
_DESCRIBED_BOUNDS = frozenset({
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
    "minItems", "maxItems", "minProperties", "maxProperties",
})
#: String keywords a schema may carry in its description instead.
_DESCRIBED_STRINGS = frozenset({"pattern"})
_DESCRIBED_RE = re.compile(r"\{([^{}]*)\}\s*$")
_DESCRIBED_PAIR_RE = re.compile(r", (?=[A-Za-z]+: )")
_NUMBER_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _with_described_bounds(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema with the numeric bounds its description carries, where it lacks them: the
    anthropic SDK's ``transform_schema`` (``messages.parse``) moves keywords the API does not
    take into the description as ``{minimum: 5, maximum: 7}`` so that the model follows them,
    and the SDK then checks the answer against them."""
    description = schema.get("description")
    if not isinstance(description, str) or not description.endswith("}"):
        return schema
    block = _described_block(description)
    if block is None:
        return schema
    extra: dict[str, Any] = {}
    for pair in _DESCRIBED_PAIR_RE.split(block):
        key, _, text = pair.partition(": ")
        if key in _DESCRIBED_STRINGS and key not in schema:
            extra[key] = text
        elif key in _DESCRIBED_BOUNDS and key not in schema and _NUMBER_RE.fullmatch(text):
            try:
                number = float(text) if any(c in text for c in ".eE") else int(text)
                finite = math.isfinite(number)
            except (ValueError, OverflowError):  # more digits than int() reads or a float holds
                continue
            if finite:  # "1e999" is no bound a JSON schema could hold
                extra[key] = number
    return {**schema, **extra} if extra else schema


def _described_block(description: str) -> str | None:
    """The inside of the ``{key: value, ...}`` that ends ``description``: as the SDK writes it
    (the whole description, or after a blank line: a ``pattern`` may hold braces and commas),
    else the last braces without braces inside."""
    blank = description.rfind("\n\n{")
    if blank >= 0:  # the SDK's block after the field's own description (which may open with "{")
        return description[blank + 3 : -1]
    if description.startswith("{"):
        return description[1:-1]
    found = _DESCRIBED_RE.search(description)
    return found.group(1) if found is not None else None


def _bound(schema: Mapping[str, Any], inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    value = schema.get(inclusive)
    open_value = schema.get(exclusive)
    if isinstance(open_value, bool):  # draft 4: exclusiveMinimum is a flag on minimum
        return (float(value) if isinstance(value, (int, float)) else None), open_value
    if isinstance(open_value, (int, float)):
        if isinstance(value, (int, float)) and value > open_value:
            return float(value), False
        return float(open_value), True
    return (float(value) if isinstance(value, (int, float)) else None), False


def _multiple(k: int, step: float, first: int, last: int, *, integer: bool) -> float:
    """``k * step`` written with ``step``'s decimals, or the nearest such multiple between
    ``first * step`` and ``last * step`` that is whole for an integer and whose quotient by
    ``step`` is whole in floating point, as validators compute it (``0.1 * 3`` is
    ``0.30000000000000004``, and ``0.3 / 0.1`` is ``2.9999999999999996``: neither reads as a
    multiple of 0.1; ``62.5`` is no integer); ``k * step`` when none of the 33 nearest is."""
    decimals = max(0, -Decimal(repr(step)).as_tuple().exponent) if isinstance(step, float) and math.isfinite(step) else 0
    near = sorted(range(max(first, k - 16), min(last, k + 16) + 1), key=lambda c: (abs(c - k), c))
    for candidate in near:
        value = round(candidate * step, decimals) if decimals else candidate * step
        if (not integer or float(value).is_integer()) and (value / step).is_integer():
            return value
    return k * step


def _count(schema: Mapping[str, Any], key: str, default: int) -> int:
    """A non-negative integer keyword (``minLength``...), or ``default`` when absent or not one."""
    count = as_count(schema.get(key))
    return default if count is None else count


def _schema_type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if isinstance(kind, str) and kind in _BUILDERS:
        return str(kind)
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(key in schema for key in ("minimum", "maximum", "multipleOf")):
        return "number"
    return "string"


_JSON_TYPES: Mapping[str, Callable[[Any], bool]] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, Mapping),
}


def _has_type(value: Any, kind: Any) -> bool:
    """Is ``value`` of the JSON type ``kind`` (a name or a list of names; none: any)?"""
    kinds = kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []
    tests = [_JSON_TYPES[k] for k in kinds if isinstance(k, str) and k in _JSON_TYPES]
    return not tests or any(test(value) for test in tests)


def _undeclared_schema(schema: Mapping[str, Any], key: str, source: str | None = None) -> Any:
    """The schema of property ``key`` of an object schema whose ``properties`` do not declare
    it: the first ``patternProperties`` entry whose pattern finds a match in ``key`` (``fits``:
    not for a pattern whose search it cannot bound; ``source`` is known to match, the pattern
    ``key`` was written for), else ``additionalProperties`` (``{}``, any value: a string is
    written, when absent or false)."""
    patterns = schema.get("patternProperties")
    for pattern, subschema in patterns.items() if isinstance(patterns, Mapping) else ():
        if isinstance(pattern, str) and (pattern == source or fits(pattern, key)):
            return subschema
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else {}


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _merge_all_of(schema: Mapping[str, Any], parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in parts:
        for key, value in part.items():
            if key == "properties" and isinstance(value, Mapping):
                earlier = merged.get("properties")
                merged["properties"] = {**(earlier if isinstance(earlier, Mapping) else {}), **value}
            elif key == "required" and isinstance(value, list):
                earlier = merged.get("required")
                merged["required"] = list(dict.fromkeys([*(earlier if isinstance(earlier, list) else []), *value]))
            else:
                merged.setdefault(key, value)
    return merged
