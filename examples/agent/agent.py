"""A small tool-using agent on Claude on Amazon Bedrock: the example of docs/testing.md.

The agent answers questions about the weather and arithmetic. It sends the conversation to
Claude with two tools, runs the tools Claude asks for, and loops until Claude gives a final
answer. It streams each turn, and retries a turn whose stream breaks midway once (the SDK
already retries errors that arrive before the stream starts, such as throttling).

Nothing in it knows about tests: it builds ``AnthropicBedrock()`` from the environment, so
pointing ``ANTHROPIC_BEDROCK_BASE_URL`` at a claude-bedrock server is enough to test it.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field
from typing import Any

from anthropic import AnthropicBedrock

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
MAX_TOKENS = 1024
SYSTEM = (
    "You are a concise assistant for weather and arithmetic questions. "
    "Use get_weather for the weather and calculate for any arithmetic; never guess either."
)
TOOLS: list[dict[str, Any]] = [
    {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name, e.g. Paris"}},
            "required": ["city"],
        },
    },
    {
        "name": "calculate",
        "description": "Evaluate an arithmetic expression with + - * / ** and parentheses.",
        "input_schema": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
    },
]

_WEATHER = {"paris": "18°C, sunny", "london": "12°C, light rain", "tokyo": "22°C, cloudy"}
_OPERATORS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos,
}


class AgentError(Exception):
    """The agent could not produce an answer (the cause is chained)."""


@dataclass
class AgentResult:
    answer: str
    #: (tool name, input, output) for every tool the agent ran, in order.
    tool_calls: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    turns: int = 0


def get_weather(city: str) -> str:
    return _WEATHER.get(city.strip().lower(), f"no weather data for {city}")


def calculate(expression: str) -> str:
    def evaluate(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](evaluate(node.left), evaluate(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](evaluate(node.operand))
        raise ValueError("unsupported expression")

    try:
        value = evaluate(ast.parse(expression, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError) as exc:
        return f"error: {exc}"
    return str(int(value) if float(value).is_integer() else round(value, 6))


def run_tool(name: str, tool_input: dict[str, Any]) -> str:
    if name == "get_weather":
        return get_weather(str(tool_input.get("city", "")))
    if name == "calculate":
        return calculate(str(tool_input.get("expression", "")))
    return f"error: unknown tool {name}"


def _ask(client: AnthropicBedrock, model: str, messages: list[dict[str, Any]], stream_retries: int) -> Any:
    """One turn, streamed; a stream that breaks midway is retried ``stream_retries`` times."""
    for attempt in range(stream_retries + 1):
        started = False
        try:
            with client.messages.stream(
                model=model, max_tokens=MAX_TOKENS, system=SYSTEM, tools=TOOLS, messages=messages
            ) as stream:
                started = True  # the response has begun: errors from here on are mid-stream
                return stream.get_final_message()
        except Exception as exc:  # noqa: BLE001 - every failure becomes an AgentError
            # Errors before the stream (429, 5xx) were already retried by the SDK; a failure
            # after it started (an error event, a dropped connection) is worth one more try.
            if not started or attempt == stream_retries:
                raise AgentError(f"Claude call failed: {exc}") from exc
    raise AssertionError("unreachable")


def run_agent(
    question: str,
    *,
    client: AnthropicBedrock | None = None,
    model: str = MODEL,
    max_turns: int = 5,
    stream_retries: int = 1,
) -> AgentResult:
    """Answer ``question``, calling tools as Claude asks; at most ``max_turns`` model calls."""
    client = client or AnthropicBedrock()
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    result = AgentResult(answer="")
    for _ in range(max_turns):
        message = _ask(client, model, messages, stream_retries)
        result.turns += 1
        messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True)
                                                           for block in message.content]})
        tool_uses = [block for block in message.content if block.type == "tool_use"]
        if message.stop_reason != "tool_use" or not tool_uses:
            result.answer = "".join(block.text for block in message.content if block.type == "text")
            return result
        results = []
        for block in tool_uses:
            output = run_tool(block.name, dict(block.input))
            result.tool_calls.append((block.name, dict(block.input), output))
            results.append({"type": "tool_result", "tool_use_id": block.id, "content": output})
        messages.append({"role": "user", "content": results})
    raise AgentError(f"no final answer after {max_turns} turns")


if __name__ == "__main__":
    import sys

    print(run_agent(" ".join(sys.argv[1:]) or "What's the weather in Paris?").answer)
