"""The wording of request-body rejections, in the two dialects Bedrock has been seen to speak.

Bedrock has answered bad Anthropic Messages bodies in two styles, both as ``ValidationException``:

* the **schema** dialect of its JSON-schema front layer (everit-style), wrapped as
  ``Malformed input request: <violations>, please reformat your input and try again.`` where each
  violation is ``#<pointer>: <detail>`` and several violations are simply concatenated
  (``#: extraneous key [stream] is not permitted#: extraneous key [model] is not permitted``);
* the **API** dialect of the Anthropic Messages API behind it (pydantic-style), ``<dotted.path>:
  <detail>`` such as ``anthropic_version: Field required`` or
  ``messages.0.content.0: Input tag 'x' found using 'type' does not match any of the expected
  tags: 'text', 'image'``.

This module only builds those strings and the exceptions that carry them; which rule uses which
dialect is decided by ``validation`` and ``content_rules``. JSON type names follow the Java
classes everit reports (``Integer``, ``Long``, ``Double``, ``String``, ``JSONArray`` ...).

Source: wire-protocol reference 3.3 (observed Bedrock texts); anthropic API error texts as quoted
in public issue threads.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from typing import Any

from claude_bedrock.domain.errors import ValidationException

__all__ = [
    "EXTRA_INPUT",
    "refuse_extra_keys",
    "api_error",
    "expected_tags",
    "json_type_name",
    "one_of",
    "quote_value",
    "schema_error",
    "schema_violation",
]

_MALFORMED_PREFIX = "Malformed input request: "
_MALFORMED_SUFFIX = ", please reformat your input and try again."
_INT32 = 2**31
_INT64 = 2**63
#: Longest rendering of a client-supplied value inside a message; longer values are cut.
_MAX_QUOTED = 100


def json_type_name(value: Any) -> str:
    """The Java class name everit would report for a parsed JSON value."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        if -_INT32 <= value < _INT32:
            return "Integer"
        return "Long" if -_INT64 <= value < _INT64 else "BigInteger"
    if isinstance(value, float):
        return "Double"
    if isinstance(value, str):
        return "String"
    if isinstance(value, dict):
        return "JSONObject"
    if isinstance(value, list):
        return "JSONArray"
    return type(value).__name__


def quote_value(value: Any) -> str:
    """A client value as it appears inside a message, cut to a readable length."""
    text = value if isinstance(value, str) else _render(value)
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 3] + "..."


def _render(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json_type_name(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value) if isinstance(value, float) else str(value)


def schema_violation(pointer: str, detail: str) -> str:
    """One everit violation: ``#/max_tokens: expected type: Integer, found: String``."""
    return f"{pointer}: {detail}"


def schema_error(violations: Iterable[str]) -> ValidationException:
    """Wrap concatenated schema violations in Bedrock's "Malformed input request" envelope."""
    return ValidationException(_MALFORMED_PREFIX + "".join(violations) + _MALFORMED_SUFFIX)


#: pydantic's complaint for a key a model does not declare.
EXTRA_INPUT = "Extra inputs are not permitted"


def refuse_extra_keys(mapping: Mapping[str, Any], allowed: Container[str], path: str) -> None:
    """Refuse the first key of ``mapping`` outside ``allowed`` as pydantic does:
    ``<path>.<key>: Extra inputs are not permitted``."""
    for key in mapping:
        if key not in allowed:
            raise api_error(f"{path}.{quote_value(key)}", EXTRA_INPUT)


def api_error(path: str, detail: str) -> ValidationException:
    """An Anthropic-API-style rejection: ``<path>: <detail>``."""
    return ValidationException(f"{path}: {detail}")


def one_of(values: tuple[str, ...]) -> str:
    """pydantic's literal complaint: ``Input should be 'a', 'b' or 'c'``."""
    quoted = [f"'{value}'" for value in values]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"Input should be {listed}"


def expected_tags(found: Any, tags: Iterable[str]) -> str:
    """pydantic's tagged-union complaint for a ``type`` value outside ``tags``."""
    listed = ", ".join(f"'{tag}'" for tag in tags)
    return (
        f"Input tag '{quote_value(found)}' found using 'type' does not match any of the "
        f"expected tags: {listed}"
    )
