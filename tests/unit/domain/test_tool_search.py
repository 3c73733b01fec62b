"""The tool search server tool's search (Anthropic "Tool search tool"): which tools are searched,
what regex and BM25 match, the limits and the in-band errors."""

from __future__ import annotations

from typing import Any

import pytest

from claude_bedrock.domain.tool_search import (
    MAX_PATTERN_CHARS,
    MAX_QUERY_CHARS,
    MAX_REFERENCES,
    referenced_names,
    run_search,
    search_tool,
)

REGEX = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
BM25 = {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"}


def deferred(name: str, description: str = "", **properties: Any) -> dict[str, Any]:
    return {"name": name, "description": description, "defer_loading": True,
            "input_schema": {"type": "object", "properties": properties}}


WEATHER = deferred("get_weather", "Get the weather at a specific location", location={"type": "string"})
FILES = deferred("search_files", "Search through files in the workspace",
                 query={"type": "string", "description": "Text to look for"})
LOADED = {"name": "get_forecast", "description": "Weather forecast", "input_schema": {"type": "object"}}
TOOLS = [REGEX, LOADED, WEATHER, FILES]


def names(content: dict[str, Any]) -> list[str]:
    assert content["type"] == "tool_search_tool_search_result"
    return [reference["tool_name"] for reference in content["tool_references"]]


def test_regex_searches_only_deferred_tools_case_insensitively() -> None:
    assert names(run_search(REGEX, {"pattern": "WEATHER"}, TOOLS)) == ["get_weather"]


@pytest.mark.parametrize(
    ("pattern", "found"),
    [("get_.*", ["get_weather"]), ("workspace", ["search_files"]), ("location", ["get_weather"]),
     ("look for", ["search_files"]), ("weather|files", ["get_weather", "search_files"]), ("calendar", [])],
)
def test_regex_matches_names_descriptions_and_arguments(pattern: str, found: list[str]) -> None:
    assert names(run_search(REGEX, {"pattern": pattern}, TOOLS)) == found


def test_bm25_ranks_the_best_match_first() -> None:
    assert names(run_search(BM25, {"query": "text files"}, TOOLS)) == ["search_files"]
    assert names(run_search(BM25, {"query": "weather location files"}, TOOLS))[0] == "get_weather"
    assert names(run_search(BM25, {"query": "calendar"}, TOOLS)) == []


@pytest.mark.parametrize("search", [REGEX, BM25])
def test_a_search_returns_at_most_five_references(search: dict[str, Any]) -> None:
    many = [deferred(f"weather_tool_{i}", "weather") for i in range(8)]
    key = "pattern" if search is REGEX else "query"
    assert len(names(run_search(search, {key: "weather"}, [search, LOADED, *many]))) == MAX_REFERENCES == 5


@pytest.mark.parametrize(
    ("search", "tool_input", "message"),
    [
        (REGEX, {"pattern": "(("}, "Invalid regular expression pattern: missing ), unterminated subpattern at position 1"),
        (REGEX, {"pattern": "a" * (MAX_PATTERN_CHARS + 1)}, "Pattern exceeds the maximum length of 200 characters"),
        (BM25, {"query": "a " * MAX_QUERY_CHARS}, "Query exceeds the maximum length of 500 characters"),
        (REGEX, {"query": "weather"}, "Input must have a string 'pattern'"),
        (BM25, {"query": 3}, "Input must have a string 'query'"),
    ],
)  # fmt: skip
def test_a_bad_search_input_is_an_in_band_error(search: dict[str, Any], tool_input: Any, message: str) -> None:
    assert run_search(search, tool_input, TOOLS) == {
        "type": "tool_search_tool_result_error", "error_code": "invalid_tool_input", "error_message": message}


def test_search_tool_is_the_first_non_deferred_one() -> None:
    assert search_tool(TOOLS) is REGEX
    assert search_tool([LOADED, {**REGEX, "defer_loading": True}, BM25]) is BM25
    assert search_tool([LOADED, WEATHER]) is None


def test_referenced_names_come_from_search_results_and_custom_tool_results() -> None:
    reference = {"type": "tool_reference", "tool_name": "get_weather"}
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_search_tool_result", "tool_use_id": "srvtoolu_1",
                                           "content": {"type": "tool_search_tool_search_result",
                                                       "tool_references": [reference]}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": [{"type": "tool_reference", "tool_name": "search_files"}, reference]}]},
    ]
    assert referenced_names(messages) == ("get_weather", "search_files")
