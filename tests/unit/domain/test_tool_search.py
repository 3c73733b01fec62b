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


def test_regex_limits_are_inclusive() -> None:
    """A pattern of exactly 200 characters and a query of exactly 500 are searched."""
    pattern = "weather" + "z?" * 96 + "?"  # the last "z??" lazy
    assert len(pattern) == MAX_PATTERN_CHARS
    assert names(run_search(REGEX, {"pattern": pattern}, TOOLS)) == ["get_weather"]
    query = "weather " + "x" * (MAX_QUERY_CHARS - 8)
    assert len(query) == MAX_QUERY_CHARS
    assert names(run_search(BM25, {"query": query}, TOOLS)) == ["get_weather"]


def test_searches_read_argument_names() -> None:
    tool = deferred("convert", "Convert an amount", amount_in_cents={"type": "integer"})
    assert names(run_search(REGEX, {"pattern": "cents"}, [REGEX, LOADED, tool])) == ["convert"]
    assert names(run_search(BM25, {"query": "cents"}, [BM25, LOADED, tool])) == ["convert"]


def test_bm25_splits_camel_case_names_into_words() -> None:
    tool = deferred("getWeatherForecast", "")
    assert names(run_search(BM25, {"query": "forecast"}, [BM25, LOADED, tool])) == ["getWeatherForecast"]


def bm25_order(tools: list[dict[str, Any]], query: str) -> list[str]:
    return names(run_search(BM25, {"query": query}, [BM25, LOADED, *tools]))


def test_bm25_ranks_by_score_not_by_position() -> None:
    """Worked out by hand from the BM25 formula (k1 1.2, b 0.75): each case has the better match
    second, and one of the formula's three parts decides it."""
    # length normalization: one "weather" in 2 words outscores one in 14
    long = deferred("long_one", "weather and a great many other words about nothing in particular at all")
    assert bm25_order([long, deferred("short_one", "weather")], "weather") == ["short_one", "long_one"]
    # idf: "rare" (in 1 of 4 tools) outweighs "common" (in 3 of 4), even said twice
    tools = [deferred("a_tool", "common common note"), deferred("b_tool", "rare note note"),
             deferred("c_tool", "common x y"), deferred("d_tool", "common z w")]
    assert bm25_order(tools, "common rare")[:2] == ["b_tool", "a_tool"]
    # length relative to the average: with long tools around, 3 "weather" in 10 words outscore 1 in 2
    filler = [deferred(f"filler_{i}", " ".join(["word"] * 29)) for i in range(3)]
    tools = [deferred("a", "weather"), deferred("b", "weather weather weather one two three four five six"), *filler]
    assert bm25_order(tools, "weather") == ["b", "a"]


def test_referenced_names_skip_other_blocks_of_a_tool_result() -> None:
    messages = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [
        {"type": "text", "text": "found one"}, {"type": "tool_reference", "tool_name": "get_weather"}]}]}]
    assert referenced_names(messages) == ("get_weather",)
