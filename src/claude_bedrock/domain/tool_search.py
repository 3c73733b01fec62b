"""The tool search server tool: ``tool_search_tool_regex_20251119`` and ``..._bm25_20251119``.

Tools marked ``defer_loading: true`` stay out of Claude's context until a search finds them;
the search runs on the server, inside one answer, as a ``server_tool_use`` block (input
``{"pattern": ...}`` for regex, ``{"query": ...}`` for BM25) followed by a
``tool_search_tool_result`` block naming the tools found as ``tool_reference`` blocks.

Invariants
    Rule 1: only deferred tools are searched; each is searched by its name, its description and
            the names and descriptions of its arguments (``input_schema.properties``).
    Rule 2: regex: Python ``re.search``, case-insensitive, at most ``MAX_PATTERN_CHARS``; BM25:
            Okapi BM25 (k1 1.2, b 0.75) over lower-cased words (``snake_case`` and
            ``camelCase`` split), at most ``MAX_QUERY_CHARS``. Matches keep the order of
            ``tools`` (regex) or best score first, ties in ``tools`` order (BM25); at most
            ``MAX_REFERENCES`` of them. No match is an empty ``tool_references``, not an error.
    Rule 3: a bad input (not a string, malformed regex, too long) is a
            ``tool_search_tool_result_error`` with ``error_code`` ``invalid_tool_input`` and an
            ``error_message``, never an exception.
    Rule 4: a deferred tool is discovered once a ``tool_reference`` names it in the
            conversation (in a ``tool_search_tool_result`` or a custom tool's ``tool_result``).

Source: Anthropic "Tool search tool" (searched fields, case-insensitive Python regex, the 200-
and 500-character limits, "up to 5" references, the four error codes, the streaming shape,
"at least one tool must stay non-deferred"); anthropic-py 2.x ``BetaServerToolUseBlock``,
``BetaToolSearchToolResultBlock`` and ``BetaToolSearchToolResultErrorObject``. Error messages
other than the malformed-regex one are ours.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "ERROR_CODES",
    "block_references",
    "MAX_PATTERN_CHARS",
    "MAX_QUERY_CHARS",
    "MAX_REFERENCES",
    "SEARCH_TOOL_INPUT_KEYS",
    "referenced_names",
    "is_deferred",
    "run_search",
    "search_tool",
]

#: Search tool type -> the member of its ``server_tool_use`` input.
SEARCH_TOOL_INPUT_KEYS: Mapping[str, str] = {
    "tool_search_tool_regex_20251119": "pattern",
    "tool_search_tool_bm25_20251119": "query",
}
ERROR_CODES = ("invalid_tool_input", "unavailable", "too_many_requests", "execution_time_exceeded")
MAX_PATTERN_CHARS = 200
MAX_QUERY_CHARS = 500
MAX_REFERENCES = 5
BM25_K1 = 1.2
BM25_B = 0.75

_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def is_deferred(tool: Mapping[str, Any]) -> bool:
    return tool.get("defer_loading") is True


def search_tool(tools: Iterable[Any]) -> Mapping[str, Any] | None:
    """The first non-deferred tool search tool of ``tools``, if any."""
    return next(
        (tool for tool in tools
         if isinstance(tool, Mapping) and tool.get("type") in SEARCH_TOOL_INPUT_KEYS and not is_deferred(tool)),
        None,
    )


def block_references(block: Any) -> list[str]:
    """The tool names the ``tool_reference`` blocks inside one content block name."""
    if not isinstance(block, Mapping):
        return []
    inner = block.get("content")
    if block.get("type") == "tool_search_tool_result" and isinstance(inner, Mapping):
        references = inner.get("tool_references")
    elif block.get("type") == "tool_result":
        references = inner
    else:
        return []
    return [str(reference.get("tool_name")) for reference in references if isinstance(reference, Mapping)
            and reference.get("type") == "tool_reference"] if isinstance(references, list) else []


def referenced_names(messages: Iterable[Any]) -> tuple[str, ...]:
    """The tool names ``tool_reference`` blocks of the conversation name, in order (Rule 4)."""
    names: dict[str, None] = {}
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        for block in content if isinstance(content, list) else ():
            names.update(dict.fromkeys(block_references(block)))
    return tuple(names)


def _fields(tool: Mapping[str, Any]) -> list[str]:
    """What a search sees of ``tool`` (Rule 1)."""
    fields = [str(tool.get("name", ""))]
    if isinstance(tool.get("description"), str):
        fields.append(tool["description"])
    schema = tool.get("input_schema")
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if isinstance(properties, Mapping):
        for name, spec in properties.items():
            fields.append(str(name))
            if isinstance(spec, Mapping) and isinstance(spec.get("description"), str):
                fields.append(spec["description"])
    return fields


def _error(message: str) -> dict[str, Any]:
    return {"type": "tool_search_tool_result_error", "error_code": "invalid_tool_input", "error_message": message}


def _references(tools: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "type": "tool_search_tool_search_result",
        "tool_references": [{"type": "tool_reference", "tool_name": tool["name"]} for tool in tools],
    }


def _regex(pattern: str, tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if len(pattern) > MAX_PATTERN_CHARS:
        return _error(f"Pattern exceeds the maximum length of {MAX_PATTERN_CHARS} characters")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        return _error(f"Invalid regular expression pattern: {exc}")
    found = [tool for tool in tools if any(compiled.search(field) for field in _fields(tool))]
    return _references(found[:MAX_REFERENCES])


def _words(text: str) -> list[str]:
    return [word.lower() for word in _WORD_RE.findall(text)]


def _bm25(query: str, tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if len(query) > MAX_QUERY_CHARS:
        return _error(f"Query exceeds the maximum length of {MAX_QUERY_CHARS} characters")
    documents = [_words(" ".join(_fields(tool))) for tool in tools]
    terms = set(_words(query))
    if not documents or not terms:
        return _references([])
    average = sum(map(len, documents)) / len(documents) or 1.0
    frequency = {term: sum(term in document for document in documents) for term in terms}
    scored = []
    for position, (tool, document) in enumerate(zip(tools, documents)):
        score = 0.0
        for term in terms:
            count = document.count(term)
            if count:
                idf = math.log((len(documents) - frequency[term] + 0.5) / (frequency[term] + 0.5) + 1)
                norm = count + BM25_K1 * (1 - BM25_B + BM25_B * len(document) / average)
                score += idf * count * (BM25_K1 + 1) / norm
        if score > 0:
            scored.append((-score, position, tool))
    return _references(tool for _, _, tool in sorted(scored, key=lambda item: item[:2])[:MAX_REFERENCES])


def run_search(search: Mapping[str, Any], tool_input: Any, tools: Iterable[Any]) -> dict[str, Any]:
    """The ``content`` of the ``tool_search_tool_result`` answering ``tool_input`` of the
    search tool ``search`` over the deferred tools of ``tools`` (module docstring)."""
    key = SEARCH_TOOL_INPUT_KEYS[search["type"]]
    value = tool_input.get(key) if isinstance(tool_input, Mapping) else None
    if not isinstance(value, str):
        return _error(f"Input must have a string '{key}'")
    deferred = [tool for tool in tools if isinstance(tool, Mapping) and is_deferred(tool)]
    return _regex(value, deferred) if key == "pattern" else _bm25(value, deferred)
