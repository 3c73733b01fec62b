"""Structured outputs: the JSON schema a request asks the answer to follow (pure).

A request names it in ``output_config.format`` (the current form) or in the top-level
``output_format`` of the ``structured-outputs-2025-11-13`` beta (the earlier form); both are
``{"type": "json_schema", "schema": {...}}``. Converse's ``outputConfig.textFormat`` arrives here
as ``output_config.format`` (``wire/converse_request.py``).

* ``check_output_format`` judges the shape, in the pydantic style of the other content rules:
  an object with ``type`` ``"json_schema"`` and a ``schema`` object whose keyword types are
  those of JSON Schema, judged as a tool's ``input_schema`` is (``schema_keywords``; the
  simulator's generator relies on it). Both forms in one request are refused (ours: which one
  would win is not documented).
* ``output_schema`` gives a judged request's schema, or None.

Not judged (no reliable source for the rule or its wording): which models support structured
outputs, and the schema features the real service refuses (recursion, some constraints).

Source: Anthropic "Structured outputs"; the anthropic SDK's ``OutputConfigParam`` and
``JSONOutputFormatParam``; wire reference 3 (Converse ``outputConfig``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claude_bedrock.domain.request_errors import api_error
from claude_bedrock.domain.schema_keywords import schema_problem

__all__ = ["INVALID_OUTPUT_SCHEMA", "check_output_format", "output_schema"]

#: The tools' wording for a schema that is not JSON Schema, the keyword at fault in brackets (ours).
INVALID_OUTPUT_SCHEMA = (
    "JSON schema is invalid. It must match JSON Schema draft 2020-12 "
    "(https://json-schema.org/draft/2020-12). ({problem})"
)
BOTH_FORMS = "output_format and output_config.format cannot both be specified"  # (ours)


def _config_format(body: Mapping[str, Any]) -> Any:
    config = body.get("output_config")
    return config.get("format") if type(config) is dict else None  # a JSON body's objects are dicts


def check_output_format(body: Mapping[str, Any]) -> None:
    """Judge the requested output format, if any.

    Raises:
        ValidationException: ``<path>: <problem>`` for the first problem.
    """
    if "output_config" not in body and "output_format" not in body:  # the usual request: cheap
        return
    current, earlier = _config_format(body), body.get("output_format")
    if current is not None and earlier is not None:
        raise api_error("output_format", BOTH_FORMS)
    if current is not None:
        _check_format(current, "output_config.format")
    elif earlier is not None:
        _check_format(earlier, "output_format")


def _check_format(fmt: Any, path: str) -> None:
    if not isinstance(fmt, dict):
        raise api_error(path, "Input should be a valid dictionary or object to extract fields from")
    if "type" not in fmt:
        raise api_error(f"{path}.type", "Field required")
    if fmt["type"] != "json_schema":
        raise api_error(f"{path}.type", "Input should be 'json_schema'")
    if "schema" not in fmt:
        raise api_error(f"{path}.schema", "Field required")
    schema = fmt["schema"]
    if not isinstance(schema, dict):
        raise api_error(f"{path}.schema", "Input should be a valid dictionary")
    problem = schema_problem(schema)
    if problem is not None:
        raise api_error(f"{path}.schema", INVALID_OUTPUT_SCHEMA.format(problem=problem))


def output_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON schema the answer must follow (of a request ``check_output_format`` passed)."""
    fmt = _config_format(body)
    if fmt is None:
        fmt = body.get("output_format")
    schema = fmt.get("schema") if isinstance(fmt, Mapping) else None
    return schema if isinstance(schema, Mapping) else None
