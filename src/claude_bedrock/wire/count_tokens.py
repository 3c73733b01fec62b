"""CountTokens request body -> the Anthropic Messages body whose input tokens are counted.

Purpose: ``POST /model/{modelId}/count-tokens`` carries a tagged union ``input``: either the
exact InvokeModel body (base64 blob) or the Converse-shaped members ``messages``, ``system``,
``toolConfig`` and ``additionalModelRequestFields``. Both come out as one Anthropic Messages body,
so the token counter has a single input form.

Source: botocore bedrock-runtime 2023-09-30 shapes ``CountTokensRequest``, ``CountTokensInput``,
``InvokeModelTokensRequest``, ``ConverseTokensRequest``; wire-protocol reference 1.6.

Invariants:

* Rule 1: ``input`` holds exactly one member; the converse form goes through the same validation
  and translation as Converse itself, with error paths under ``input.converse``.
* Rule 2: the InvokeModel form is only decoded (base64, then a JSON object), not judged: the
  Anthropic body rules belong to the InvokeModel validation, which the caller applies. The
  caller may pass InvokeModel's own body parser (``parse_body``), so that the blob meets the
  same JSON rules (nesting depth, surrogates) as an InvokeModel body.
* Rule 3: ``max_tokens`` plays no part in counting input; the converse form (whose request has
  no ``inferenceConfig``) gets the caller's ``default_max_tokens``, as Converse gives a request
  without ``maxTokens`` the model's output limit, so that rules tied to it (a thinking budget
  below ``max_tokens``) judge the body as Converse would.

The "Malformed input request" texts follow Bedrock's wording for bad InvokeModel bodies
(reference 3.3); their details are this module's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.wire.converse_request import converse_to_anthropic
from claude_bedrock.wire.converse_shapes import decode_blob, validate

__all__ = ["COUNT_TOKENS_MAX_TOKENS", "count_tokens_input"]

#: ``max_tokens`` of a converse-form body for callers that pass no ``default_max_tokens``
#: (irrelevant to the count; the server passes the model's output limit, see Rule 3).
COUNT_TOKENS_MAX_TOKENS = 1

_CONVERSE_PATH = ("input", "converse")


def _malformed(detail: str) -> ValidationException:
    return ValidationException(
        f"Malformed input request: {detail}, please reformat your input and try again."
    )


def count_tokens_input(
    body: Mapping[str, Any],
    *,
    parse_body: Callable[[bytes], dict[str, Any]] | None = None,
    text_only: Callable[[dict[str, Any], tuple[str, ...]], Any] | None = None,
    default_max_tokens: int = COUNT_TOKENS_MAX_TOKENS,
) -> dict[str, Any]:
    """Parse a CountTokens request body into the Anthropic body to count.

    Args:
        default_max_tokens: the converse form's ``max_tokens`` (Rule 3): the model's output
            limit on a server.
        body: the parsed JSON request body, ``{"input": {"invokeModel": ...}}`` or
            ``{"input": {"converse": ...}}``.
        parse_body: parses the InvokeModel form's decoded blob into a JSON object (raising
            ``ValidationException``); by default, ``json.loads`` and an object check.
        text_only: applied to the converse form's translation and its text-only documents
            (``ConverseTranslation.text_only_documents``), as Converse itself applies it, so
            that a document is counted as the model would read it.

    Returns:
        A fresh Anthropic Messages body.

    Raises:
        ValidationException: the union is not exactly one member, the blob is not base64, the
            decoded body is not a JSON object, or the converse form breaks a Converse rule.
    """
    # Pruning keeps only the ConverseTokensRequest members of the converse form.
    request = validate(body, "CountTokensRequest")["input"]
    if "invokeModel" in request:
        raw = decode_blob(request["invokeModel"]["body"])
        assert raw is not None  # validate() rejected anything that is not base64
        return (parse_body or _parse_body)(raw)
    translation = converse_to_anthropic(
        request["converse"], default_max_tokens=default_max_tokens, field_path=_CONVERSE_PATH
    )
    if text_only is not None and translation.text_only_documents:
        text_only(translation.anthropic_body, translation.text_only_documents)
    return translation.anthropic_body


def _json_type(value: Any) -> str:
    """The JSON-schema validator's (Java) name for a parsed JSON value that is not an object."""
    if isinstance(value, bool):
        return "Boolean"
    for python_type, java_name in _JAVA_TYPE_NAMES:
        if isinstance(value, python_type):
            return java_name
    return "Null"


_JAVA_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (list, "JSONArray"),
    (str, "String"),
    (int, "Integer"),
    (float, "Double"),
)


def _parse_body(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _malformed("#: the body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise _malformed(f"#: expected type: JSONObject, found: {_json_type(parsed)}")
    return parsed
