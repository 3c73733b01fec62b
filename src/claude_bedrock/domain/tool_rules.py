"""Rules for ``tools`` and ``tool_choice`` in an Anthropic Messages body on Bedrock.

Invariants
    Rule 1: tool names are unique; a custom tool (no ``type`` or ``"custom"``) has a name matching
            ``CUSTOM_TOOL_NAME_PATTERN`` and an ``input_schema`` object whose ``type`` is
            ``"object"``; an Anthropic-defined tool has one of ``ANTHROPIC_TOOL_TYPES`` and the
            name its version takes (``ANTHROPIC_TOOL_NAMES``), and the integers it requires
            (``ANTHROPIC_TOOL_INTEGERS``: a computer tool's display size).
    Rule 2: ``tool_choice`` is auto | any | none | tool, with its type's keys only
            (``TOOL_CHOICE_KEYS``); ``any`` and ``tool`` need tools (and
            ``tool`` a name among them) and may not be combined with extended thinking.
    Rule 3: failures raise ``ValidationException`` in Anthropic-API wording; of the input
            schema only the keywords' types are judged (``schema_keywords``: the JSON Schema
            meta-schema's), its meaning is the caller's.
    Rule 4: ``defer_loading`` (tool search) is a boolean; a deferred tool carries no
            ``cache_control``; at least one tool is not deferred (Anthropic "Tool search tool";
            the texts as the API returns them, quoted in public issue threads).

Source: wire-protocol reference 10.1 (tools, tool_choice); Anthropic tool-use documentation for
the versioned tool types. Texts marked "(ours)" were not observed from the real service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from claude_bedrock.domain.content_rules import check_cache_control, tagged_type
from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.request_errors import api_error, expected_tags, one_of, quote_value, refuse_extra_keys
from claude_bedrock.domain.schema_keywords import schema_problem

__all__ = [
    "ANTHROPIC_TOOL_INTEGERS",
    "ANTHROPIC_TOOL_NAMES",
    "ANTHROPIC_TOOL_TYPES",
    "CUSTOM_TOOL_NAME_PATTERN",
    "FORCING_TOOL_CHOICES",
    "TOOL_CHOICE_KEYS",
    "TOOL_CHOICE_TYPES",
    "TOOL_TYPES",
    "check_tool_choice",
    "check_tools",
]

#: Each ``tool_choice`` type and the keys it has (anthropic-py 2.14 ``ToolChoice*Param``); any
#: other key is refused as pydantic refuses extra inputs.
TOOL_CHOICE_KEYS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "auto": frozenset({"type", "disable_parallel_tool_use"}),
        "any": frozenset({"type", "disable_parallel_tool_use"}),
        "tool": frozenset({"type", "name", "disable_parallel_tool_use"}),
        "none": frozenset({"type"}),
    }
)
TOOL_CHOICE_TYPES = tuple(TOOL_CHOICE_KEYS)
#: tool_choice types that need at least one tool and that force tool use.
FORCING_TOOL_CHOICES = frozenset({"any", "tool"})
CUSTOM_TOOL_NAME_PATTERN = "^[a-zA-Z0-9_-]{1,64}$"
_CUSTOM_TOOL_NAME = re.compile(CUSTOM_TOOL_NAME_PATTERN)
#: Anthropic-defined tool versions accepted besides custom tools, and the one name each takes
#: (anthropic-py 2.14 ``Tool*Param`` / ``BetaTool*Param``: ``name: Required[Literal[...]]``).
ANTHROPIC_TOOL_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "bash_20241022": "bash",
        "bash_20250124": "bash",
        "text_editor_20241022": "str_replace_editor",
        "text_editor_20250124": "str_replace_editor",
        "text_editor_20250429": "str_replace_based_edit_tool",
        "text_editor_20250728": "str_replace_based_edit_tool",
        "computer_20241022": "computer",
        "computer_20250124": "computer",
        "computer_20251124": "computer",
        "memory_20250818": "memory",
        "tool_search_tool_regex_20251119": "tool_search_tool_regex",
        "tool_search_tool_bm25_20251119": "tool_search_tool_bm25",
    }
)
ANTHROPIC_TOOL_TYPES = tuple(ANTHROPIC_TOOL_NAMES)
#: The integer members an Anthropic-defined tool version requires (``Required[int]`` there).
_DISPLAY_SIZE = ("display_width_px", "display_height_px")
ANTHROPIC_TOOL_INTEGERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"computer_20241022": _DISPLAY_SIZE, "computer_20250124": _DISPLAY_SIZE, "computer_20251124": _DISPLAY_SIZE}
)
TOOL_TYPES = ("custom", *ANTHROPIC_TOOL_TYPES)

DUPLICATE_TOOL_NAMES = "Tool names must be unique."
TOOL_CHOICE_WITHOUT_TOOLS = "tool_choice may only be specified while providing tools"  # (ours)
TOOL_CHOICE_UNKNOWN_TOOL = "Tool '{name}' not found in the provided tools"  # (ours)
FORCED_TOOL_WITH_THINKING = "Thinking may not be enabled when tool_choice forces tool use."
ALL_TOOLS_DEFERRED = "At least one tool must have defer_loading=false. All tools cannot be deferred."
DEFERRED_TOOL_CACHED = (
    "Tool '{name}' cannot have both defer_loading=true and cache_control set. "
    "Tools with defer_loading cannot use prompt caching."
)
#: The Anthropic API's words; the keyword at fault is added in brackets (ours).
INVALID_INPUT_SCHEMA = (
    "JSON schema is invalid. It must match JSON Schema draft 2020-12 "
    "(https://json-schema.org/draft/2020-12). Learn more about tool use at "
    "https://docs.anthropic.com/en/docs/tool-use. ({problem})"
)


def check_tools(tools: list[Any] | None) -> tuple[frozenset[str], int]:
    """Validate ``tools``; return the tool names and the cache_control breakpoints."""
    names: set[str] = set()
    breakpoints = 0
    loaded = 0
    for index, tool in enumerate(tools or ()):
        path = f"tools.{index}"
        if not isinstance(tool, dict):
            raise api_error(path, "Input should be a valid dictionary or object to extract fields from")
        tool_type = tool.get("type", "custom")
        if tool_type is None:
            tool_type = "custom"
        if not isinstance(tool_type, str) or tool_type not in TOOL_TYPES:
            raise api_error(path, expected_tags(tool_type, TOOL_TYPES))
        tool_path = f"{path}.{tool_type}"
        if "name" not in tool:
            raise api_error(f"{tool_path}.name", "Field required")
        name = tool["name"]
        if not isinstance(name, str):
            raise api_error(f"{tool_path}.name", "Input should be a valid string")
        if tool_type == "custom":
            _check_custom_tool(tool, tool_path, name)
        else:
            _check_anthropic_tool(tool, tool_type, tool_path, name)
        if name in names:
            raise api_error("tools", DUPLICATE_TOOL_NAMES)
        names.add(name)
        breakpoints += check_cache_control(tool.get("cache_control"), f"{tool_path}.cache_control")
        deferred = tool.get("defer_loading")
        if deferred is not None and not isinstance(deferred, bool):
            raise api_error(f"{tool_path}.defer_loading", "Input should be a valid boolean")
        if deferred and tool.get("cache_control") is not None:
            raise ValidationException(DEFERRED_TOOL_CACHED.format(name=name))
        loaded += not deferred
    if names and not loaded:
        raise ValidationException(ALL_TOOLS_DEFERRED)
    return frozenset(names), breakpoints


def _check_anthropic_tool(tool: dict[str, Any], tool_type: str, path: str, name: str) -> None:
    if name != ANTHROPIC_TOOL_NAMES[tool_type]:
        raise api_error(f"{path}.name", one_of((ANTHROPIC_TOOL_NAMES[tool_type],)))
    for member in ANTHROPIC_TOOL_INTEGERS.get(tool_type, ()):
        if member not in tool:
            raise api_error(f"{path}.{member}", "Field required")
        value = tool[member]
        if not isinstance(value, int) or isinstance(value, bool):
            raise api_error(f"{path}.{member}", "Input should be a valid integer")


def _check_custom_tool(tool: dict[str, Any], path: str, name: str) -> None:
    if not _CUSTOM_TOOL_NAME.fullmatch(name):
        raise api_error(f"{path}.name", f"String should match pattern '{CUSTOM_TOOL_NAME_PATTERN}'")
    description = tool.get("description")
    if description is not None and not isinstance(description, str):
        raise api_error(f"{path}.description", "Input should be a valid string")
    if "input_schema" not in tool:
        raise api_error(f"{path}.input_schema", "Field required")
    schema = tool["input_schema"]
    if not isinstance(schema, dict):
        raise api_error(f"{path}.input_schema", "Input should be a valid dictionary")
    if "type" not in schema:
        raise api_error(f"{path}.input_schema.type", "Field required")
    if schema["type"] != "object":
        raise api_error(f"{path}.input_schema.type", "Input should be 'object'")
    problem = schema_problem(schema)
    if problem is not None:
        raise api_error(f"{path}.input_schema", INVALID_INPUT_SCHEMA.format(problem=problem))


def check_tool_choice(
    tool_choice: dict[str, Any] | None, tool_names: frozenset[str], thinking_enabled: bool
) -> None:
    if tool_choice is None:
        return
    choice = tagged_type(tool_choice, "tool_choice", TOOL_CHOICE_TYPES)
    path = f"tool_choice.{choice}"
    refuse_extra_keys(tool_choice, TOOL_CHOICE_KEYS[choice], path)
    parallel = tool_choice.get("disable_parallel_tool_use")
    if parallel is not None and not isinstance(parallel, bool):
        raise api_error(f"{path}.disable_parallel_tool_use", "Input should be a valid boolean")
    if choice == "tool":
        if "name" not in tool_choice:
            raise api_error(f"{path}.name", "Field required")
        if not isinstance(tool_choice["name"], str):
            raise api_error(f"{path}.name", "Input should be a valid string")
    if choice in FORCING_TOOL_CHOICES:
        if not tool_names:
            raise ValidationException(TOOL_CHOICE_WITHOUT_TOOLS)
        if choice == "tool" and tool_choice["name"] not in tool_names:
            raise api_error(
                f"{path}.name", TOOL_CHOICE_UNKNOWN_TOOL.format(name=quote_value(tool_choice["name"]))
            )
        if thinking_enabled:
            raise ValidationException(FORCED_TOOL_WITH_THINKING)
